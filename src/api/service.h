// The service behind `tapedeck serve`: the store, the REST resources and their worker pool over it,
// and the runs playback plays. The command line opens it from api::Options and hands its routes,
// runs and metrics to a server::Server (src/cli/serve_command.cpp).
#pragma once

#include <memory>
#include <string>

#include "api/options.h"
#include "api/queue_metrics.h"
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
  // Opens the store options.store names (store::OpenStore). SQLite: marks failed the runs a crash
  // interrupted (said on stderr). PostgreSQL: also opens the shared job queue, through which the
  // Runner queues work and hears of runs ending (LISTEN/NOTIFY); nothing is recovered (workers
  // elsewhere may be executing it). Then imports options.sample_csv as dataset "sp500" when that
  // dataset is absent (another node importing it at the same moment is fine; a failed import is
  // said on stderr and not fatal), starts the worker pool (options.workers threads; none for a
  // stateless PostgreSQL node), and builds the synthetic runs.
  // Errors: whatever opening or recovering the store, or opening the queue, reports; a synthetic
  // run that cannot be built (its id in details["id"]).
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

  // The REST side's /metrics families (runs by status, queue depth) and, on PostgreSQL, the
  // database's and the job queue's (api/queue_metrics.h). Refers to this Service.
  server::Metrics::Collector MetricsCollector() const;

  // Stops the worker pool: the run being executed is cancelled and left for recovery at the next
  // start. Call once the server has stopped (no request can queue a run any more). Idempotent.
  void Stop();

 private:
  Service() = default;

  // Members go in reverse order: the resources (and their workers) before the queue and the
  // store.
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<MeteredJobQueue> queue_;  // PostgreSQL only
  std::unique_ptr<Resources> resources_;
  std::shared_ptr<server::RunSource> runs_;
};

}  // namespace tapedeck::api
