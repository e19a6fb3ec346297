#include "api/sweeps.h"

#include <charconv>
#include <map>

#include "api/query.h"
#include "api/resources.h"
#include "api/sweep_json.h"
#include "server/metrics.h"
#include "strategies/script.h"
#include "sweep/summary.h"

namespace tapedeck::api {
namespace {

using server::ErrorResponse;
using server::HttpResponse;
using server::JsonResponse;
using server::Request;
namespace http = server::http;

// {k} of a trial route: an index below the sweep's trial count, else NOT_FOUND.
Result<size_t> TrialIndex(const Request& req, const store::SweepInfo& sweep) {
  const std::string& text = req.path_params.at("k");
  size_t k = 0;
  const auto res = std::from_chars(text.data(), text.data() + text.size(), k);
  if (text.empty() || res.ec != std::errc() || res.ptr != text.data() + text.size() ||
      k >= sweep.spec.trials) {
    return MakeError(ErrorCode::kNotFound,
                     "sweep " + sweep.id + " has no trial '" + text + "' (its trials are 0.." +
                         std::to_string(sweep.spec.trials == 0 ? 0 : sweep.spec.trials - 1) + ")",
                     {{"sweep", sweep.id}, {"trial", text}});
  }
  return k;
}

}  // namespace

SweepResources::SweepResources(store::Store& store, Runner& runner, const Options& options,
                               ScriptCheck check_script)
    : store_(store), runner_(runner), options_(options), check_script_(std::move(check_script)) {}

void SweepResources::RegisterRoutes(server::Router& router) {
  auto bind = [this](HttpResponse (SweepResources::*fn)(const Request&)) {
    return [this, fn](const Request& req) { return (this->*fn)(req); };
  };
  router.Add(http::verb::post, "/sweeps", bind(&SweepResources::PostSweep));
  router.Add(http::verb::get, "/sweeps", bind(&SweepResources::ListSweeps));
  router.Add(http::verb::get, "/sweeps/{id}", bind(&SweepResources::GetSweep));
  router.Add(http::verb::delete_, "/sweeps/{id}", bind(&SweepResources::DeleteSweep));
  router.Add(http::verb::get, "/sweeps/{id}/trials", bind(&SweepResources::ListTrials));
  router.Add(http::verb::get, "/sweeps/{id}/trials/{k}", bind(&SweepResources::GetTrial));
  router.Add(http::verb::get, "/sweeps/{id}/trials/{k}/returns",
             bind(&SweepResources::GetTrialReturns));
  router.Add(http::verb::post, "/sweeps/{id}/trials/{k}/run", bind(&SweepResources::PostTrialRun));
}

HttpResponse SweepResources::PostSweep(const Request& req) {
  auto parsed = ParseSweepRequest(req.http.body(), check_script_, options_.max_sweep_trials);
  if (!parsed.ok()) {
    const Error& e = parsed.error();
    const auto field = e.details.find("field");
    if (e.details.contains("limit") && field != e.details.end() && field->second == "script") {
      // A script over the size limit: 413, as POST /backtests answers it.
      return JsonResponse(req.http, http::status::payload_too_large, server::ErrorJson(e));
    }
    return ErrorResponse(req.http, e);
  }
  store::SweepSpec& spec = parsed->spec;
  const std::string field =
      spec.base.datasets.size() > 1 || req.http.body().find("\"datasets\"") != std::string::npos
          ? "datasets"
          : "dataset";
  if (Status s = ResolveSymbols(store_, spec.base, field); !s.ok()) {
    return ErrorResponse(req.http, s.error());
  }
  auto id = store_.CreateSweep(spec);
  if (!id.ok()) return ErrorResponse(req.http, id.error());
  if (auto queued = runner_.EnqueueSweep(*id, req.client, options_.max_queued_per_client,
                                         options_.max_queued);
      !queued.ok()) {
    // Refused: leave no trace, as a refused run leaves none.
    (void)store_.DeleteSweep(*id);
    return ErrorResponse(req.http, queued.error());
  }
  JsonWriter w;
  w.BeginObject().Key("id").String(*id).Key("status").String("queued");
  w.Key("trials").Int(static_cast<int64_t>(spec.trials)).EndObject();
  HttpResponse res = JsonResponse(req.http, http::status::accepted, w.Take());
  res.set(http::field::location, "/sweeps/" + *id);
  return res;
}

HttpResponse SweepResources::ListSweeps(const Request& req) {
  auto limit = SizeParam(req, "limit", 0);
  if (!limit.ok()) return ErrorResponse(req.http, limit.error());
  auto offset = SizeParam(req, "offset", 0);
  if (!offset.ok()) return ErrorResponse(req.http, offset.error());
  auto sweeps = store_.ListSweeps(*limit, *offset);
  if (!sweeps.ok()) return ErrorResponse(req.http, sweeps.error());
  JsonWriter w;
  w.BeginArray();
  for (const store::SweepInfo& s : *sweeps) w.Raw(SweepJson(s));
  w.EndArray();
  return JsonResponse(req.http, http::status::ok, w.Take());
}

HttpResponse SweepResources::GetSweep(const Request& req) {
  auto sweep = store_.GetSweep(req.path_params.at("id"));
  if (!sweep.ok()) return ErrorResponse(req.http, sweep.error());
  return JsonResponse(req.http, http::status::ok, SweepJson(*sweep));
}

HttpResponse SweepResources::DeleteSweep(const Request& req) {
  const std::string& id = req.path_params.at("id");
  if (Status done = store_.DeleteSweep(id); !done.ok())
    return ErrorResponse(req.http, done.error());
  runner_.CancelSweep(id);
  return NoContent(req);
}

HttpResponse SweepResources::ListTrials(const Request& req) {
  auto sweep = store_.GetSweep(req.path_params.at("id"));
  if (!sweep.ok()) return ErrorResponse(req.http, sweep.error());
  const sweep::Objective objective = SweepObjective(*sweep);
  store::TrialQuery query;
  query.phase = 0;
  query.sort = req.Query("sort").value_or("index");
  bool descending = query.sort != "index";
  if (query.sort == "objective") query.sort = std::string(sweep::ToString(objective));
  if (auto order = req.Query("order")) {
    if (*order != "asc" && *order != "desc") {
      return ErrorResponse(req.http, MakeError(ErrorCode::kValidation,
                                               "order must be asc or desc, got '" + *order + "'",
                                               {{"field", "order"}}));
    }
    descending = *order == "desc";
  }
  query.descending = descending;
  auto limit = SizeParam(req, "limit", 100);
  if (!limit.ok()) return ErrorResponse(req.http, limit.error());
  auto offset = SizeParam(req, "offset", 0);
  if (!offset.ok()) return ErrorResponse(req.http, offset.error());
  query.limit = *limit;
  query.offset = *offset;
  auto page = store_.ListTrials(sweep->id, query);
  if (!page.ok()) return ErrorResponse(req.http, page.error());
  JsonWriter w;
  w.BeginObject().Key("total").Int(static_cast<int64_t>(page->total));
  w.Key("trials").BeginArray();
  for (const store::TrialRecord& t : page->trials) WriteTrial(w, t, objective);
  w.EndArray().EndObject();
  return JsonResponse(req.http, http::status::ok, w.Take());
}

namespace {

// The sweep of a trial route, and its trial {k} (phase 0, with its daily returns).
struct FoundTrial {
  store::SweepInfo sweep;
  store::TrialRecord trial;
};

Result<FoundTrial> FindTrial(store::Store& store, const Request& req) {
  auto sweep = store.GetSweep(req.path_params.at("id"));
  if (!sweep.ok()) return sweep.take_error();
  auto k = TrialIndex(req, *sweep);
  if (!k.ok()) return k.take_error();
  auto trial = store.GetTrial(sweep->id, 0, *k);
  if (!trial.ok()) return trial.take_error();
  return FoundTrial{std::move(*sweep), std::move(*trial)};
}

}  // namespace

HttpResponse SweepResources::GetTrial(const Request& req) {
  auto found = FindTrial(store_, req);
  if (!found.ok()) return ErrorResponse(req.http, found.error());
  JsonWriter w;
  WriteTrial(w, found->trial, SweepObjective(found->sweep));
  return JsonResponse(req.http, http::status::ok, w.Take());
}

HttpResponse SweepResources::GetTrialReturns(const Request& req) {
  auto found = FindTrial(store_, req);
  if (!found.ok()) return ErrorResponse(req.http, found.error());
  const store::TrialRecord* trial = &found->trial;
  if (WantsCsv(req)) {
    std::string out = "day,ret\n";
    out.reserve(out.size() + trial->returns.size() * 32);
    for (const sweep::DailyReturn& r : trial->returns) {
      out += sweep::FormatDay(r.day);
      out += ',';
      AppendJsonNumber(out, r.ret);
      out += '\n';
    }
    return server::TextResponse(req.http, http::status::ok, out, "text/csv; charset=utf-8");
  }
  JsonWriter w;
  w.BeginArray();
  for (const sweep::DailyReturn& r : trial->returns) {
    w.BeginObject().Key("day").String(sweep::FormatDay(r.day)).Key("ret").Number(r.ret);
    w.EndObject();
  }
  w.EndArray();
  return JsonResponse(req.http, http::status::ok, w.Take());
}

Result<strategies::Params> SweepResources::TrialParams(const store::SweepInfo& sweep,
                                                       size_t k) const {
  // A trial done already says its parameters (the plan's, as the worker made them).
  if (auto done = store_.GetTrial(sweep.id, 0, k); done.ok()) {
    auto params = ParseParams(done->params_json);
    if (params.ok()) return params;
  }
  auto plan = sweep::ParsePlanJson(sweep.spec.plan_json);
  if (!plan.ok()) return plan.take_error();
  std::vector<strategies::ParamSpec> schema;
  const store::RunSpec& base = sweep.spec.base;
  if (!base.strategy_sha256.empty()) {
    auto source = store_.GetScriptSource(base.strategy_sha256);
    if (!source.ok()) return source.take_error();
    // Its top level passed this check when the sweep was posted.
    strategies::ScriptBudgets budgets = options_.script_budgets;
    budgets.instructions = std::min<uint64_t>(budgets.instructions, kCheckInstructions);
    budgets.wall_seconds = std::min(budgets.wall_seconds, kCheckSeconds);
    auto info = strategies::CompileScript(
        *source, base.strategy == store::kInlineStrategy ? "script" : base.strategy, budgets);
    if (!info.ok()) return info.take_error();
    schema = std::move(info->params);
  } else {
    auto info = strategies::Find(base.strategy);
    if (!info.ok()) return info.take_error();
    schema = (*info)->params;
  }
  return api::TrialParams(*plan, schema, k);
}

HttpResponse SweepResources::PostTrialRun(const Request& req) {
  auto sweep = store_.GetSweep(req.path_params.at("id"));
  if (!sweep.ok()) return ErrorResponse(req.http, sweep.error());
  auto k = TrialIndex(req, *sweep);
  if (!k.ok()) return ErrorResponse(req.http, k.error());
  auto params = TrialParams(*sweep, *k);
  if (!params.ok()) return ErrorResponse(req.http, params.error());
  // The sweep's request with the trial's parameters: the same datasets, strategy version, costs
  // and period, so the run's statistics are the trial's.
  store::RunSpec spec = sweep->spec.base;
  spec.script_source.clear();  // the source is stored already, under spec.strategy_sha256
  JsonWriter pw;
  sweep::WriteParams(pw, *params);
  spec.params_json = pw.Take();
  JsonWriter rw;
  rw.BeginObject().Key("sweep").String(sweep->id).Key("trial").Int(static_cast<int64_t>(*k));
  rw.EndObject();
  spec.request_json = rw.Take();
  return AcceptRun(req, runner_, options_, spec);
}

void AppendStatusCounts(std::string& out, std::string_view name, std::string_view help,
                        const Result<store::StatusCounts>& counts) {
  if (!counts.ok()) return;
  const auto n = [](size_t v) { return static_cast<double>(v); };
  server::AppendFamily(out, name, "gauge", help,
                       {{{{"status", "queued"}}, n(counts->queued)},
                        {{{"status", "running"}}, n(counts->running)},
                        {{{"status", "done"}}, n(counts->done)},
                        {{{"status", "failed"}}, n(counts->failed)}});
}

void SweepResources::RenderMetrics(std::string& out) const {
  AppendStatusCounts(out, "tapedeck_sweeps", "Sweeps in the store, by status.",
                     store_.CountSweeps());
  server::AppendCounter(out, "tapedeck_sweep_trial_runs_total",
                        "Trial runs of sweeps stored by this process's worker pool.",
                        static_cast<double>(runner_.trial_runs_done()));
}

}  // namespace tapedeck::api
