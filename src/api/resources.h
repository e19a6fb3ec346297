// The REST resources: datasets, backtests (runs), their trades, equity and frames, strategies
// (the built-ins, and scripts saved as immutable versions) and sweeps (api/sweeps.h), as routes of
// the server's Router over one store.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "api/options.h"
#include "api/runner.h"
#include "api/store_run_source.h"
#include "api/sweeps.h"
#include "common/error.h"
#include "server/router.h"
#include "store/job_queue.h"
#include "store/store.h"

namespace tapedeck::api {

// The datasets of `spec` checked (they exist; VALIDATION naming `field` otherwise) and their
// symbols filled into spec.symbols, which must be distinct (else VALIDATION).
Status ResolveSymbols(store::Store& store, store::RunSpec& spec, const std::string& field);

// A run created in the runner's store and queued for the request's client
// (Runner::CreateAndEnqueue), answered as POST /backtests does: 202 {"id","status":"queued"} +
// Location, or the refusal (nothing left in the store).
server::HttpResponse AcceptRun(const server::Request& req, Runner& runner, const Options& options,
                               const store::RunSpec& spec);

// 204 No Content.
server::HttpResponse NoContent(const server::Request& req);

// Owns the worker pool (Runner) that executes posted backtests and the StoreRunSource whose cached
// tapes a deleted run is dropped from, and which learns from the Runner when a run ends. `store`
// (and `queue`, when given) must outlive it.
//
// Thread-safety: shared by all I/O threads once its routes are registered; every method may be
// called concurrently.
class Resources {
 public:
  // Uses options.workers, max_queued, max_queued_per_client, max_upload_bytes, max_script_bytes
  // and script_budgets. Without `queue` the Runner executes the work on options.workers threads
  // of this process (SQLite); with it (PostgreSQL) the work goes through the shared job queue
  // and this process executes it on options.workers threads, none for a stateless node.
  Resources(store::Store& store, const Options& options, store::JobQueue* queue = nullptr);

  // Registers every REST route on `router`. The handlers refer to this object: it must outlive
  // the router and the server that serves it.
  void RegisterRoutes(server::Router& router);

  // Imports `csv_path` as dataset `name` unless a dataset of that name exists (the embedded
  // default: the bundled sample is there at first start). A dataset of that name stored by
  // another process meanwhile (PutDataset's CONFLICT) is success too.
  Status EnsureDataset(const std::string& name, const std::string& symbol,
                       const std::string& csv_path);

  store::Store& store() { return store_; }
  Runner& runner() { return *runner_; }
  const std::shared_ptr<StoreRunSource>& runs() const { return runs_; }

  // Prometheus families of the REST side (runs by status, queue depth), for /metrics.
  void RenderMetrics(std::string& out) const;

 private:
  server::HttpResponse PostDataset(const server::Request& req);
  server::HttpResponse ListDatasets(const server::Request& req);
  server::HttpResponse GetDataset(const server::Request& req);
  server::HttpResponse DeleteDataset(const server::Request& req);
  server::HttpResponse PostBacktest(const server::Request& req);
  server::HttpResponse ListBacktests(const server::Request& req);
  server::HttpResponse GetBacktest(const server::Request& req);
  server::HttpResponse DeleteBacktest(const server::Request& req);
  server::HttpResponse GetTrades(const server::Request& req);
  server::HttpResponse GetEquity(const server::Request& req);
  server::HttpResponse GetFrames(const server::Request& req);
  server::HttpResponse ListStrategies(const server::Request& req);
  server::HttpResponse PostStrategy(const server::Request& req);
  server::HttpResponse GetStrategy(const server::Request& req);
  // VALIDATION (with details `limit`) when `source` is over options.max_script_bytes.
  Status CheckSourceSize(std::string_view source, const char* field) const;
  strategies::ScriptBudgets CheckBudgets() const;
  // POST /backtests' check of a script run (ScriptCheck in api/json.h).
  Status CheckScriptRun(store::RunSpec& spec, const std::optional<std::string>& script,
                        const strategies::Params& params,
                        std::vector<strategies::ParamSpec>* schema = nullptr);

  store::Store& store_;
  Options options_;
  std::shared_ptr<StoreRunSource> runs_;
  std::unique_ptr<Runner> runner_;
  SweepResources sweeps_;
};

}  // namespace tapedeck::api
