// api: tapedeck's REST resources — datasets, backtests (runs), their trades, equity and frames,
// strategies — and the worker pool that executes backtests. It joins store, engine, strategies
// and playback; src/server only moves the bytes.
//
// Thread-safety: an App is shared by all I/O threads; every method may be called concurrently.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "server/router.h"
#include "store/store.h"

namespace tapedeck::api {

struct Options {
  size_t workers = 1;            // backtests executing at once
  size_t max_queued = 1000;      // runs waiting; beyond: UNAVAILABLE
  size_t max_upload_bytes = 64u << 20;
};

// Executes queued runs on its own threads (never on I/O threads). A run moves queued -> running
// -> done | failed in the store; progress is written a few times a second.
class Runner {
 public:
  Runner(store::Store& store, size_t workers);
  ~Runner();  // stops: the run being executed is cancelled and left queued/running for recovery

  // Queues a run already created in the store. UNAVAILABLE when `max_queued` are waiting.
  Status Enqueue(const std::string& id, size_t max_queued);

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

  store::Store& store_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;         // GUARDED_BY(mu_)
  size_t running_ = 0;                    // GUARDED_BY(mu_)
  bool stopping_ = false;                 // GUARDED_BY(mu_)
  std::vector<std::function<void(const std::string&)>> on_finished_;  // set before start
  std::atomic<bool> cancel_{false};
  std::vector<std::thread> threads_;
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
  server::HttpResponse ListStrategies(const server::Request& req);

  store::Store& store_;
  Options options_;
  Runner runner_;
};

}  // namespace tapedeck::api
