// The service behind `tapedeck serve`: the store, the REST resources and their worker pool over it,
// and the runs playback plays. The command line opens it from api::Options and hands its routes,
// runs and metrics to a server::Server (src/cli/serve_command.cpp).
#pragma once

#include <memory>
#include <string>

#include "api/options.h"
#include "api/resources.h"
#include "common/error.h"
#include "server/metrics.h"
#include "server/router.h"
#include "server/run_source.h"
#include "store/store.h"

namespace tapedeck::api {

// Thread-safety: Open, RegisterRoutes, runs(), Stop and the destructor from one thread; the routes,
// the run source and the metrics collector are then called by the server's I/O threads.
class Service {
 public:
  // Opens the store at options.db_path (marking failed the runs a crash interrupted, said on
  // stderr), imports options.sample_csv as dataset "sp500" when that dataset is absent (a failed
  // import is said on stderr and not fatal), starts the worker pool, and builds the synthetic runs.
  // Errors: whatever opening or recovering the store reports; a synthetic run that cannot be built
  // (its id in details["id"]).
  static Result<std::unique_ptr<Service>> Open(const Options& options);

  // Stop()s, then releases the resources before the store they refer to.
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Registers every REST route on `router`. This Service must outlive the router and its server.
  void RegisterRoutes(server::Router& router) { resources_->RegisterRoutes(router); }
  Runner& runner() { return resources_->runner(); }

  // The runs playback plays: the synthetic ones first, then the store's.
  const std::shared_ptr<server::RunSource>& runs() const { return runs_; }

  // The REST side's /metrics families (runs by status, queue depth). Refers to this Service.
  server::Metrics::Collector MetricsCollector() const;

  // Stops the worker pool: the run being executed is cancelled and left for recovery at the next
  // start. Call once the server has stopped (no request can queue a run any more). Idempotent.
  void Stop();

 private:
  Service() = default;

  // Members go in reverse order: the resources (and their workers) before the store.
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Resources> resources_;
  std::shared_ptr<server::RunSource> runs_;
};

}  // namespace tapedeck::api
