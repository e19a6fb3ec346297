// The sweep resources: POST/GET /sweeps, GET/DELETE /sweeps/{id}, its trials and their daily
// returns, and POST /sweeps/{id}/trials/{k}/run (a trial opened as a normal run), as routes of
// the server's Router. The sweeps run on the Runner (api/runner.h).
#pragma once

#include <string>

#include "api/json.h"
#include "api/options.h"
#include "api/runner.h"
#include "server/router.h"
#include "store/store.h"

namespace tapedeck::api {

// Thread-safety: shared by all I/O threads once its routes are registered.
class SweepResources {
 public:
  // `check_script` resolves a sweep's script as POST /backtests' does (Resources::CheckScriptRun).
  // `store` and `runner` must outlive it. Uses options.max_sweep_trials, max_queued,
  // max_queued_per_client and script_budgets.
  SweepResources(store::Store& store, Runner& runner, const Options& options,
                 ScriptCheck check_script);

  // Registers the routes on `router` (access as the /backtests routes'). They refer to this
  // object: it must outlive the router.
  void RegisterRoutes(server::Router& router);

  // Prometheus families: sweeps in the store by status, trial runs done.
  void RenderMetrics(std::string& out) const;

 private:
  server::HttpResponse PostSweep(const server::Request& req);
  server::HttpResponse ListSweeps(const server::Request& req);
  server::HttpResponse GetSweep(const server::Request& req);
  server::HttpResponse DeleteSweep(const server::Request& req);
  server::HttpResponse ListTrials(const server::Request& req);
  server::HttpResponse GetTrial(const server::Request& req);
  server::HttpResponse GetTrialReturns(const server::Request& req);
  server::HttpResponse PostTrialRun(const server::Request& req);
  // Trial k's parameters, made from the sweep's stored plan as its runs were.
  Result<strategies::Params> TrialParams(const store::SweepInfo& sweep, size_t k) const;

  store::Store& store_;
  Runner& runner_;
  const Options options_;
  const ScriptCheck check_script_;
};

// Appends the gauge `name`{status} of the store's runs or sweeps in each status; nothing when the
// store could not count them (its errors show in the database metrics and the log).
void AppendStatusCounts(std::string& out, std::string_view name, std::string_view help,
                        const Result<store::StatusCounts>& counts);

}  // namespace tapedeck::api
