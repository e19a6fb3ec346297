// api: tapedeck's REST resources — datasets, backtests (runs), their trades, equity and frames,
// strategies — and the worker pool that executes backtests. It joins store, engine, strategies
// and playback; src/server only moves the bytes.
//
// Thread-safety: an App is shared by all I/O threads; every method may be called concurrently.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "server/router.h"
#include "server/run_source.h"
#include "server/serve.h"
#include "store/store.h"

namespace tapedeck::api {

struct Options {
  size_t workers = 1;                 // backtests executing at once
  size_t max_queued = 256;            // runs waiting, in total; beyond: UNAVAILABLE
  size_t max_queued_per_client = 16;  // runs waiting of one client; beyond: RATE_LIMITED
  size_t max_upload_bytes = 64u << 20;
};

// How long a client refused by the queue limits is told to wait (Retry-After): about a short
// backtest's time.
inline constexpr int kQueueRetryAfterSeconds = 5;

// Executes queued runs on its own threads (never on I/O threads). A run moves queued -> running
// -> done | failed in the store; progress is written a few times a second.
class Runner {
 public:
  Runner(store::Store& store, size_t workers);
  ~Runner();  // stops: the run being executed is cancelled and left queued/running for recovery

  // Queues a run already created in the store for `client` (server::Request::client). Errors,
  // with details["retry_after"]: RATE_LIMITED when `max_per_client` of this client's runs are
  // waiting (checked first: it is this client's doing), UNAVAILABLE when `max_total` are, or the
  // runner is stopping. Runs being executed do not count.
  Status Enqueue(const std::string& id, const std::string& client, size_t max_per_client,
                 size_t max_total);

  // Called (on a worker thread) when a run reaches done or failed.
  void OnFinished(std::function<void(const std::string& id)> callback);

  // Runs waiting, and being executed.
  size_t queued() const;
  size_t running() const;

  // Stops taking work and joins the workers.
  void Stop();

 private:
  void WorkerLoop();
  void Execute(const std::string& id);
  // Marks the run failed with `error`. A store that cannot write at the moment (a full disk) gets
  // more tries, backing off from 50 ms for about 12 s in all, so that the run does not stay
  // `running` until the next start.
  void Fail(const std::string& id, const Error& error);

  store::Store& store_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  struct Waiting {
    std::string id;
    std::string client;
  };
  std::deque<Waiting> queue_;                                  // GUARDED_BY(mu_)
  std::unordered_map<std::string, size_t> waiting_by_client_;  // GUARDED_BY(mu_)
  size_t running_ = 0;                                         // GUARDED_BY(mu_)
  bool stopping_ = false;                                      // GUARDED_BY(mu_)
  std::vector<std::function<void(const std::string&)>> on_finished_;  // set before start
  std::atomic<bool> cancel_{false};
  std::vector<std::thread> threads_;
};

// Playback's view of the store: a done run's Tape (its result and the bars of its dataset over the
// run's period), loaded once and kept for the next viewers (the least recently used of more than
// `capacity` runs are let go; sessions still playing one keep it alive).
class StoreRunSource final : public server::RunSource {
 public:
  StoreRunSource(store::Store& store, size_t capacity = 8);

  // nullptr while queued or running; RUN_NOT_FOUND; RUN_FAILED (details: error).
  Result<std::shared_ptr<const playback::Tape>> Open(std::string_view id) override;
  // Drops a cached tape (the run was deleted).
  void Forget(std::string_view id);

 private:
  store::Store& store_;
  size_t capacity_;
  std::mutex mu_;
  std::vector<std::pair<std::string, std::shared_ptr<const playback::Tape>>> cache_;  // MRU first
};

class App {
 public:
  App(store::Store& store, Options options);

  // Registers every REST route on `router`.
  void RegisterRoutes(server::Router& router);

  // Imports `csv_path` as dataset `name` unless a dataset of that name exists (the embedded
  // default: the bundled sample is there at first start).
  Status EnsureDataset(const std::string& name, const std::string& symbol,
                       const std::string& csv_path);

  store::Store& store() { return store_; }
  Runner& runner() { return runner_; }
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

  store::Store& store_;
  Options options_;
  std::shared_ptr<StoreRunSource> runs_;
  Runner runner_;
};

// The `tapedeck serve` application: opens the store at settings.db_path (recovering runs a crash
// interrupted), imports the bundled sample as dataset "sp500" when `sample_csv` is given and the
// dataset is absent, and wires the REST routes, playback's run source and the metrics.
// Errors: whatever opening the store or importing the sample reports.
Result<server::Application> MakeApplication(const server::Settings& settings,
                                            server::Metrics& metrics,
                                            const std::string& sample_csv);

}  // namespace tapedeck::api
