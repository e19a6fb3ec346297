#include "api/sweep_json.h"

#include <boost/json.hpp>
#include <cmath>
#include <optional>

#include "sweep/summary.h"

namespace tapedeck::api {
namespace json = boost::json;

namespace {

bool IsPlanField(std::string_view key) {
  return key == "params" || key == "method" || key == "trials" || key == "seed" ||
         key == "objective" || key == "walk_forward" || key == "pbo_blocks";
}

std::optional<double> NumberOf(const json::value& v) {
  if (!v.is_number()) return std::nullopt;
  const double d = v.to_number<double>();
  if (!std::isfinite(d)) return std::nullopt;
  return d;
}

// A non-negative integer field of `o` within [min, max]; `fallback` when absent or null.
Result<uint64_t> CountField(const json::object& o, const char* key, const std::string& field,
                            uint64_t fallback, uint64_t min, uint64_t max) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return fallback;
  const json::value& v = it->value();
  uint64_t n = 0;
  if (v.is_uint64()) {
    n = v.as_uint64();
  } else if (v.is_int64() && v.as_int64() >= 0) {
    n = static_cast<uint64_t>(v.as_int64());
  } else if (v.is_double() && v.as_double() >= 0 && v.as_double() <= 1.8e19 &&
             std::floor(v.as_double()) == v.as_double()) {
    n = static_cast<uint64_t>(v.as_double());
  } else {
    return FieldError(field, "must be a non-negative integer");
  }
  if (n < min || n > max) {
    return FieldError(field,
                      "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return n;
}

Result<sweep::Axis> ParseAxis(const std::string& name, const json::value& v) {
  const std::string field = "params." + name;
  sweep::Axis axis;
  axis.name = name;
  if (auto n = NumberOf(v)) {
    axis.kind = sweep::Axis::Kind::kFixed;
    axis.values = {*n};
    return axis;
  }
  if (v.is_array()) {
    axis.kind = sweep::Axis::Kind::kList;
    if (v.as_array().empty()) return FieldError(field, "must list at least one value");
    for (const json::value& e : v.as_array()) {
      auto n = NumberOf(e);
      if (!n) return FieldError(field, "must list numbers");
      axis.values.push_back(*n);
    }
    return axis;
  }
  if (v.is_object()) {
    axis.kind = sweep::Axis::Kind::kRange;
    const json::object& r = v.as_object();
    for (const auto& kv : r) {
      if (kv.key() != "from" && kv.key() != "to" && kv.key() != "step") {
        return FieldError(field, "has an unknown key '" + std::string(kv.key()) +
                                     "' (a range is {\"from\",\"to\",\"step\"})");
      }
    }
    double* targets[3] = {&axis.from, &axis.to, &axis.step};
    const char* keys[3] = {"from", "to", "step"};
    for (int i = 0; i < 3; ++i) {
      auto it = r.find(keys[i]);
      if (it == r.end()) {
        if (i == 2) continue;  // step 0: a random sweep's continuous range; a grid refuses it
        return FieldError(field, std::string("needs \"") + keys[i] + "\"");
      }
      auto n = NumberOf(it->value());
      if (!n) return FieldError(field, std::string("\"") + keys[i] + "\" must be a number");
      *targets[i] = *n;
    }
    if (axis.from > axis.to) return FieldError(field, "has from > to");
    return axis;
  }
  return FieldError(field,
                    "must be a range {\"from\",\"to\",\"step\"}, a list of values, or a number");
}

Result<sweep::PlanSpec> ParsePlan(const json::object& o) {
  sweep::PlanSpec plan;
  if (auto it = o.find("params"); it != o.end() && !it->value().is_null()) {
    if (!it->value().is_object()) {
      return FieldError("params", "must be an object: each parameter a range, a list or a value");
    }
    for (const auto& kv : it->value().as_object()) {
      auto axis = ParseAxis(std::string(kv.key()), kv.value());
      if (!axis.ok()) return axis.take_error();
      plan.axes.push_back(std::move(*axis));
    }
  }
  if (auto it = o.find("method"); it != o.end() && !it->value().is_null()) {
    const json::value& v = it->value();
    if (v.is_string() && v.as_string() == "grid") {
      plan.method = sweep::Method::kGrid;
    } else if (v.is_string() && v.as_string() == "random") {
      plan.method = sweep::Method::kRandom;
    } else {
      return FieldError("method", "must be \"grid\" or \"random\"");
    }
  }
  if (plan.method == sweep::Method::kRandom) {
    if (!o.contains("trials") || o.at("trials").is_null()) {
      return FieldError("trials", "is required for a random sweep");
    }
    auto trials = CountField(o, "trials", "trials", 0, 1, UINT64_MAX);
    if (!trials.ok()) return trials.take_error();
    plan.random_trials = *trials;
    auto seed = CountField(o, "seed", "seed", 1, 0, UINT64_MAX);
    if (!seed.ok()) return seed.take_error();
    plan.seed = *seed;
  }
  if (auto it = o.find("objective"); it != o.end() && !it->value().is_null()) {
    const json::value& v = it->value();
    std::optional<sweep::Objective> objective;
    if (v.is_string()) objective = sweep::ParseObjective(std::string_view(v.as_string()));
    if (!objective) {
      return FieldError("objective",
                        "must be one of sharpe, total_return, cagr, sortino, calmar, "
                        "profit_factor");
    }
    plan.objective = *objective;
  }
  if (auto it = o.find("walk_forward"); it != o.end() && !it->value().is_null()) {
    if (!it->value().is_object()) {
      return FieldError("walk_forward", "must be an object {\"folds\", \"anchored\"} or null");
    }
    const json::object& wf = it->value().as_object();
    for (const auto& kv : wf) {
      if (kv.key() != "folds" && kv.key() != "anchored") {
        return FieldError("walk_forward." + std::string(kv.key()), "is not a known field");
      }
    }
    if (!wf.contains("folds")) return FieldError("walk_forward.folds", "is required");
    auto folds = CountField(wf, "folds", "walk_forward.folds", 0, 1, kMaxFolds);
    if (!folds.ok()) return folds.take_error();
    sweep::WalkForward walk;
    walk.folds = *folds;
    if (auto a = wf.find("anchored"); a != wf.end() && !a->value().is_null()) {
      if (!a->value().is_bool())
        return FieldError("walk_forward.anchored", "must be true or false");
      walk.anchored = a->value().as_bool();
    }
    plan.walk_forward = walk;
  }
  auto blocks = CountField(o, "pbo_blocks", "pbo_blocks", 16, 2, kMaxPboBlocks);
  if (!blocks.ok()) return blocks.take_error();
  if (*blocks % 2 != 0) return FieldError("pbo_blocks", "must be even");
  plan.pbo_blocks = *blocks;
  return plan;
}

// The fields of a JSON object's text, without its braces ("" for "{}").
std::string_view InnerFields(std::string_view object) {
  const size_t open = object.find('{');
  const size_t close = object.rfind('}');
  if (open == std::string_view::npos || close == std::string_view::npos || close <= open) {
    return {};
  }
  std::string_view inner = object.substr(open + 1, close - open - 1);
  while (!inner.empty() && std::isspace(static_cast<unsigned char>(inner.front()))) {
    inner.remove_prefix(1);
  }
  return inner;
}

}  // namespace

Result<SweepRequest> ParseSweepRequest(std::string_view body, const ScriptCheck& check_script,
                                       uint64_t max_trials) {
  auto parsed = ParseBodyObject(body);
  if (!parsed.ok()) return parsed.take_error();
  const json::object& o = *parsed;
  for (const auto& kv : o) {
    if (!IsRunField(kv.key()) && !IsPlanField(kv.key())) {
      return FieldError(std::string(kv.key()), "is not a known field");
    }
  }
  auto fields = ParseRunFields(o);
  if (!fields.ok()) return fields.take_error();
  SweepRequest out;
  store::RunSpec& base = out.spec.base;
  base = std::move(fields->spec);
  auto plan = ParsePlan(o);
  if (!plan.ok()) return plan.take_error();
  out.plan = std::move(*plan);

  // Counted before anything is built: a grid of a billion points is refused at once.
  const uint64_t n = sweep::TrialCount(out.plan);
  if (n > max_trials) {
    return MakeError(ErrorCode::kValidation,
                     "the sweep has " + std::to_string(n) + " trials; at most " +
                         std::to_string(max_trials) + " are allowed",
                     {{"field", "params"},
                      {"trials", std::to_string(n)},
                      {"limit", std::to_string(max_trials)}});
  }

  // The strategy's parameter schema: a built-in's, or the script's (resolved and compiled with
  // its defaults by the caller).
  std::vector<strategies::ParamSpec> schema;
  if (fields->script || (!strategies::Find(base.strategy).ok() && check_script)) {
    if (!check_script) return FieldError("script", "is not accepted here");
    if (Status s = check_script(base, fields->script, {}, &schema); !s.ok()) {
      return s.take_error();
    }
  } else {
    auto info = strategies::Find(base.strategy);
    if (!info.ok()) return StrategyFieldError(info.take_error());
    schema = (*info)->params;
  }
  if (Status s = CheckTrials(out.plan, schema, max_trials); !s.ok()) return s.take_error();

  base.params_json = "{}";
  base.request_json.clear();
  JsonWriter pw;
  pw.BeginObject();
  sweep::WritePlanFields(pw, out.plan);
  pw.EndObject();
  out.spec.plan_json = pw.Take();
  out.spec.request_json = std::string(body);
  out.spec.trials = n;
  out.spec.tasks = n * sweep::PhaseCount(out.plan);
  return out;
}

namespace {

// A grid of one of `plan`'s axes (grids only): the axis' values in order, as MakeTrials makes them.
Result<std::vector<strategies::Params>> AxisValues(const sweep::PlanSpec& plan, size_t axis,
                                                   const std::vector<strategies::ParamSpec>& schema,
                                                   uint64_t max_trials) {
  sweep::PlanSpec one = plan;
  one.axes = {plan.axes[axis]};
  return sweep::MakeTrials(one, schema, max_trials);
}

bool ByAxis(const sweep::PlanSpec& plan) {
  return plan.method == sweep::Method::kGrid && !plan.axes.empty();
}

}  // namespace

Status CheckTrials(const sweep::PlanSpec& plan, const std::vector<strategies::ParamSpec>& schema,
                   uint64_t max_trials) {
  if (!ByAxis(plan) || sweep::TrialCount(plan) > max_trials) {
    auto all = sweep::MakeTrials(plan, schema, max_trials);
    if (!all.ok()) return all.take_error();
    return Ok();
  }
  // MakeTrials' checks are per axis, but for a name given twice.
  for (size_t i = 0; i < plan.axes.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (plan.axes[j].name == plan.axes[i].name) {
        return FieldError("params." + plan.axes[i].name, "is given twice");
      }
    }
    auto values = AxisValues(plan, i, schema, max_trials);
    if (!values.ok()) return values.take_error();
  }
  return Ok();
}

Result<strategies::Params> TrialParams(const sweep::PlanSpec& plan,
                                       const std::vector<strategies::ParamSpec>& schema, size_t k) {
  const auto absent = [k] {
    return MakeError(ErrorCode::kNotFound, "no trial " + std::to_string(k),
                     {{"trial", std::to_string(k)}});
  };
  if (k >= sweep::TrialCount(plan)) return absent();
  if (!ByAxis(plan)) {
    auto all = sweep::MakeTrials(plan, schema, UINT64_MAX);
    if (!all.ok()) return all.take_error();
    if (k >= all->size()) return absent();
    return std::move((*all)[k]);
  }
  // k in the mixed radix of the axes' value counts, the last axis the fastest digit.
  strategies::Params out;
  size_t rest = k;
  for (size_t i = plan.axes.size(); i-- > 0;) {
    auto values = AxisValues(plan, i, schema, UINT64_MAX);
    if (!values.ok()) return values.take_error();
    if (values->empty()) return absent();
    for (const auto& [name, value] : (*values)[rest % values->size()]) out[name] = value;
    rest /= values->size();
  }
  return out;
}

sweep::Objective SweepObjective(const store::SweepInfo& sweep) {
  std::error_code ec;
  const json::value v = json::parse(sweep.spec.plan_json, ec);
  if (!ec && v.is_object()) {
    if (const json::value* o = v.as_object().if_contains("objective"); o && o->is_string()) {
      if (auto parsed = sweep::ParseObjective(std::string_view(o->as_string()))) return *parsed;
    }
  }
  return sweep::Objective::kSharpe;
}

std::string SweepJson(const store::SweepInfo& s) {
  JsonWriter w;
  w.BeginObject();
  w.Key("id").String(s.id);
  w.Key("status").String(store::ToString(s.status));
  w.Key("created").String(FormatIso(s.created));
  if (s.started) w.Key("started").String(FormatIso(*s.started));
  if (s.finished) w.Key("finished").String(FormatIso(*s.finished));
  WriteSpecFields(w, s.spec.base);
  w.Key("progress").BeginObject();
  w.Key("done").Int(static_cast<int64_t>(s.done));
  w.Key("total").Int(static_cast<int64_t>(s.spec.tasks));
  w.EndObject();
  if (s.status == store::SweepStatus::kFailed && !s.error.msg.empty()) WriteRunError(w, s.error);
  // The plan's fields, then the summary's, spliced in as the server wrote them; the writer's
  // object is closed by hand after them.
  std::string out = w.Take();
  const std::string_view parts[2] = {
      InnerFields(s.spec.plan_json),
      s.status == store::SweepStatus::kDone ? InnerFields(s.summary_json) : std::string_view()};
  for (std::string_view inner : parts) {
    if (inner.empty()) continue;
    out += ',';
    out += inner;
  }
  out += '}';
  return out;
}

void WriteTrial(JsonWriter& w, const store::TrialRecord& t, sweep::Objective objective) {
  w.BeginObject();
  w.Key("index").Int(static_cast<int64_t>(t.index));
  w.Key("params").Raw(t.params_json);
  w.Key("objective");
  if (t.stats) {
    w.Number(sweep::ObjectiveValue(*t.stats, objective));  // NaN is written as null
  } else {
    w.Null();
  }
  w.Key("stats");
  if (t.stats) {
    WriteStats(w, *t.stats);
  } else {
    w.Null();
  }
  if (!t.error.empty()) w.Key("error").String(t.error);
  w.EndObject();
}

}  // namespace tapedeck::api
