// `tapedeck sweep`: a parameter sweep in this process, on all cores, with the same plan, trials,
// statistics and robustness figures as POST /sweeps (src/sweep).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/json.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "cli/run_inputs.h"
#include "common/json_writer.h"
#include "common/strings.h"
#include "sweep/local.h"
#include "sweep/plan.h"

namespace tapedeck::cli {
namespace {

// The serve default of --max-sweep-trials: a sweep this large is a mistake more often than not.
constexpr uint64_t kDefaultMaxTrials = 100'000;
constexpr size_t kTopTrials = 10;

Error GridError(const std::string& spec, const std::string& why) {
  return MakeError(ErrorCode::kValidation, "--grid " + spec + ": " + why,
                   {{"option", "grid"}, {"got", spec}});
}

// "fast=5:50:5" (a range with its step), "fast=5:50" (a range drawn from in a random sweep),
// "slow=20,30,50" (a list), "x=3" (a fixed value).
Result<sweep::Axis> ParseGrid(const std::string& spec) {
  const size_t eq = spec.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
    return GridError(spec, "expected NAME=FROM:TO:STEP, NAME=V1,V2,... or NAME=VALUE");
  }
  sweep::Axis axis;
  axis.name = spec.substr(0, eq);
  const std::string value = spec.substr(eq + 1);
  auto number = [&](const std::string& text) -> Result<double> {
    if (auto v = ParseDouble(text)) return *v;
    return GridError(spec, "'" + text + "' is not a number");
  };
  if (value.find(':') != std::string::npos) {
    const std::vector<std::string_view> parts = Split(value, ':');
    if (parts.size() != 2 && parts.size() != 3) return GridError(spec, "a range is FROM:TO:STEP");
    axis.kind = sweep::Axis::Kind::kRange;
    std::vector<double> v;
    for (std::string_view p : parts) {
      auto n = number(std::string(p));
      if (!n.ok()) return n.error();
      v.push_back(*n);
    }
    axis.from = v[0];
    axis.to = v[1];
    axis.step = v.size() == 3 ? v[2] : 0;
    return axis;
  }
  axis.kind = value.find(',') != std::string::npos ? sweep::Axis::Kind::kList
                                                    : sweep::Axis::Kind::kFixed;
  for (std::string_view p : Split(value, ',')) {
    auto n = number(std::string(p));
    if (!n.ok()) return n.error();
    axis.values.push_back(*n);
  }
  return axis;
}

Result<sweep::PlanSpec> ParsePlan(const Args& args) {
  sweep::PlanSpec plan;
  for (const std::string& spec : args.GetAll("grid")) {
    auto axis = ParseGrid(spec);
    if (!axis.ok()) return axis.error();
    for (const sweep::Axis& other : plan.axes) {
      if (other.name == axis->name) return GridError(spec, "'" + axis->name + "' is given twice");
    }
    plan.axes.push_back(std::move(*axis));
  }
  if (plan.axes.empty()) {
    return MakeError(ErrorCode::kValidation, "at least one --grid NAME=VALUES is required",
                     {{"option", "grid"}});
  }
  const std::string method = args.Get("method").value_or("grid");
  if (method == "random") {
    plan.method = sweep::Method::kRandom;
    auto trials = args.GetInt("trials", 0);
    if (!trials.ok()) return trials.error();
    if (*trials <= 0) {
      return MakeError(ErrorCode::kValidation, "--method random needs --trials N (N >= 1)",
                       {{"option", "trials"}});
    }
    plan.random_trials = static_cast<size_t>(*trials);
    auto seed = args.GetInt("seed", 1);
    if (!seed.ok()) return seed.error();
    plan.seed = static_cast<uint64_t>(*seed);
  } else if (method != "grid") {
    return MakeError(ErrorCode::kValidation,
                     "--method must be grid or random, got '" + method + "'",
                     {{"option", "method"}});
  } else if (args.Has("trials") || args.Has("seed")) {
    return MakeError(ErrorCode::kValidation, "--trials and --seed go with --method random",
                     {{"option", args.Has("trials") ? "trials" : "seed"}});
  }
  const std::string objective = args.Get("objective").value_or("sharpe");
  auto parsed = sweep::ParseObjective(objective);
  if (!parsed) {
    return MakeError(ErrorCode::kValidation,
                     "--objective must be one of sharpe, total_return, cagr, sortino, calmar, "
                     "profit_factor; got '" + objective + "'",
                     {{"option", "objective"}});
  }
  plan.objective = *parsed;
  auto folds = args.GetInt("walk-forward", 0);
  if (!folds.ok()) return folds.error();
  if (*folds < 0 || *folds > 20) {
    return MakeError(ErrorCode::kValidation, "--walk-forward takes 1 to 20 folds",
                     {{"option", "walk-forward"}});
  }
  if (*folds > 0) plan.walk_forward = sweep::WalkForward{static_cast<size_t>(*folds),
                                                         args.Has("anchored")};
  if (args.Has("anchored") && !plan.walk_forward) {
    return MakeError(ErrorCode::kValidation, "--anchored goes with --walk-forward K",
                     {{"option", "anchored"}});
  }
  auto blocks = args.GetInt("pbo-blocks", 16);
  if (!blocks.ok()) return blocks.error();
  if (*blocks < 2 || *blocks > 20 || *blocks % 2 != 0) {
    return MakeError(ErrorCode::kValidation, "--pbo-blocks must be even, from 2 to 20",
                     {{"option", "pbo-blocks"}});
  }
  plan.pbo_blocks = static_cast<size_t>(*blocks);
  return plan;
}

std::string ParamsText(const strategies::Params& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s%s=%g", out.empty() ? "" : " ", name.c_str(), value);
    out += buf;
  }
  return out;
}

std::string Pct(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", v * 100);
  return std::isfinite(v) ? buf : "n/a";
}

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return std::isfinite(v) ? buf : (std::isinf(v) && v > 0 ? "inf" : "n/a");
}

// The valid trials by the objective, best first (ties: the lower index).
std::vector<const sweep::TrialResult*> Ranked(const sweep::PlanSpec& plan,
                                              const std::vector<sweep::TrialResult>& trials) {
  std::vector<const sweep::TrialResult*> out;
  for (const auto& t : trials) {
    if (t.stats) out.push_back(&t);
  }
  auto value = [&](const sweep::TrialResult* t) {
    const double v = sweep::ObjectiveValue(*t->stats, plan.objective);
    return std::isnan(v) ? -INFINITY : v;
  };
  std::stable_sort(out.begin(), out.end(), [&](auto* a, auto* b) { return value(a) > value(b); });
  return out;
}

std::string Reading(const sweep::Summary& s) {
  std::string out = "How much of this is luck\n";
  if (s.dsr.value) {
    out += "  DSR " + Num(*s.dsr.value) + ": the chance that the best trial's Sharpe ratio is " +
           "truly above zero, once the " + std::to_string(s.dsr.trials) +
           " trials tried are accounted for (0.95 or more is the usual bar).\n";
  } else {
    out += "  DSR: not computed (" + s.dsr.reason + ")\n";
  }
  if (s.pbo.value) {
    out += "  PBO " + Num(*s.pbo.value) + ": in " + Pct(*s.pbo.value) + " of the " +
           std::to_string(s.pbo.combinations) +
           " ways of splitting the history in two halves, the trial best in one half was below "
           "the median trial in the other (0.5 is what pure luck gives; near 0 is a real edge).\n";
  } else {
    out += "  PBO: not computed (" + s.pbo.reason + ")\n";
  }
  return out;
}

std::string FoldsText(const sweep::PlanSpec& plan, const sweep::Summary& s) {
  if (!plan.walk_forward) return "";
  std::string out = "\nWalk-forward (" + std::to_string(plan.walk_forward->folds) + " folds, " +
                    (plan.walk_forward->anchored ? "anchored" : "rolling") + ")\n";
  for (const sweep::Fold& f : s.folds) {
    out += "  fold " + std::to_string(f.fold) + "  in sample " + FormatIso(f.in_sample.from) +
           " .. " + FormatIso(f.in_sample.to) + "  chose " +
           (f.trial ? "#" + std::to_string(*f.trial) + " " + ParamsText(f.params) : "nothing") +
           "\n          out of sample " + FormatIso(f.out_of_sample.from) + " .. " +
           FormatIso(f.out_of_sample.to) + "  " +
           (f.stats ? "return " + Pct(f.stats->total_return) + ", sharpe " + Num(f.stats->sharpe)
                    : "failed: " + f.error) +
           "\n";
  }
  if (s.stitched) {
    out += "  stitched out of sample: return " + Pct(s.stitched->total_return) +
           ", daily Sharpe " + Num(s.stitched->sharpe) + ", max drawdown " +
           Pct(s.stitched->max_drawdown) + " over " + std::to_string(s.stitched->returns.size()) +
           " days\n";
  }
  return out;
}

std::string SweepText(const std::string& name, const sweep::PlanSpec& plan,
                      const sweep::LocalResult& r) {
  const sweep::Summary& s = r.summary;
  const auto& trials = r.phases.front();
  std::string out = "sweep " + name + ": " + std::to_string(s.trials) + " trials (" +
                    std::string(sweep::ToString(plan.method)) + "), objective " +
                    std::string(sweep::ToString(plan.objective)) + "; " +
                    std::to_string(s.valid) + " valid, " + std::to_string(s.failed) +
                    " failed\n\n";
  const auto ranked = Ranked(plan, trials);
  out += "  rank  trial  objective  total_return  max_drawdown  trades  params\n";
  for (size_t i = 0; i < ranked.size() && i < kTopTrials; ++i) {
    const sweep::TrialResult& t = *ranked[i];
    char line[160];
    std::snprintf(line, sizeof line, "  %4zu  %5zu  %9s  %12s  %12s  %6zu  ", i + 1, t.index,
                  Num(sweep::ObjectiveValue(*t.stats, plan.objective)).c_str(),
                  Pct(t.stats->total_return).c_str(), Pct(t.stats->max_drawdown).c_str(),
                  t.stats->trades);
    out += line + ParamsText(t.params) + "\n";
  }
  if (ranked.empty()) {
    const auto failed = std::find_if(trials.begin(), trials.end(),
                                     [](const auto& t) { return !t.stats; });
    out += "  every trial failed";
    if (failed != trials.end()) out += "; the first: " + failed->error;
    out += "\n";
  }
  out += "\n" + Reading(s) + FoldsText(plan, s);
  return out;
}

std::string SweepJson(const std::string& name, const RunInputs& in, const sweep::PlanSpec& plan,
                      const sweep::LocalResult& r) {
  JsonWriter w;
  w.BeginObject().Key("strategy").String(name);
  w.Key("csv").BeginArray();
  for (const std::string& csv : in.csvs) w.String(csv);
  w.EndArray();
  sweep::WritePlanFields(w, plan);
  sweep::WriteSummaryFields(w, plan, r.summary, r.phases.front());
  w.Key("results").BeginArray();
  for (const sweep::TrialResult& t : r.phases.front()) {
    w.BeginObject().Key("index").Int(static_cast<int64_t>(t.index)).Key("params");
    sweep::WriteParams(w, t.params);
    if (t.stats) {
      w.Key("objective").Number(sweep::ObjectiveValue(*t.stats, plan.objective));
      w.Key("stats");
      api::WriteStats(w, *t.stats);
    } else {
      w.Key("objective").Null().Key("stats").Null().Key("error").String(t.error);
    }
    w.EndObject();
  }
  w.EndArray().EndObject();
  return w.Take() + "\n";
}

}  // namespace

int SweepCommand(int argc, char** argv) {
  std::set<std::string> options = kRunInputOptions;
  options.insert({"grid", "method", "trials", "seed", "objective", "walk-forward", "pbo-blocks",
                  "threads", "max-trials"});
  std::set<std::string> repeatable = kRunInputRepeatable;
  repeatable.insert("grid");
  auto args = Args::Parse(argc, argv, 2, options, {"json", "no-short", "anchored"}, repeatable);
  if (!args.ok()) return Fail(args.error(), 2);
  auto in = ParseRunInputs(*args);
  if (!in.ok()) return Fail(in.error(), 2);
  auto plan = ParsePlan(*args);
  if (!plan.ok()) return Fail(plan.error(), 2);
  auto threads = args->GetInt("threads", std::max(1u, std::thread::hardware_concurrency()));
  if (!threads.ok() || *threads < 1) {
    return Fail(MakeError(ErrorCode::kValidation, "--threads must be at least 1",
                          {{"option", "threads"}}),
                2);
  }
  auto max_trials = args->GetInt("max-trials", static_cast<long long>(kDefaultMaxTrials));
  if (!max_trials.ok() || *max_trials < 1) {
    return Fail(MakeError(ErrorCode::kValidation, "--max-trials must be at least 1",
                          {{"option", "max-trials"}}),
                2);
  }
  auto specs = StrategyParams(*in);
  if (!specs.ok()) return Fail(specs.error(), 2);
  auto trials = sweep::MakeTrials(*plan, *specs, static_cast<uint64_t>(*max_trials));
  if (!trials.ok()) return Fail(trials.error(), 2);
  auto inputs = LoadRunInputs(*in);
  if (!inputs.ok()) return Fail(inputs.error());

  const std::string name = StrategyName(*in);
  ProgressBar bar("sweep " + name);
  sweep::LocalOptions local;
  local.threads = static_cast<size_t>(*threads);
  local.progress = [&bar](size_t done, size_t total) { bar.Update(done, total); };
  const RunInputs& inputs_spec = *in;
  const sweep::StrategyFactory factory = [&inputs_spec](const strategies::Params& params) {
    return MakeStrategy(inputs_spec, params);
  };
  auto result = sweep::RunLocally(*plan, *trials, *inputs, in->from, in->to, factory, in->config,
                                  local);
  if (!result.ok()) return Fail(result.error());
  const std::string text =
      args->Has("json") ? SweepJson(name, *in, *plan, *result) : SweepText(name, *plan, *result);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return result->summary.valid > 0 ? 0 : 1;
}

}  // namespace tapedeck::cli
