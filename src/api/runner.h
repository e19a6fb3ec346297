// The worker pool that executes backtests, off the I/O threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "store/store.h"
#include "strategies/script.h"

namespace tapedeck::api {

// How long a client refused by the queue limits is told to wait (Retry-After): about a short
// backtest's time.
inline constexpr int kQueueRetryAfterSeconds = 5;

// Executes queued runs on its own threads (never on I/O threads). A run moves queued -> running
// -> done | failed in the store; progress is written a few times a second. A script run
// (RunSpec::strategy_sha256 set) runs the stored source of that SHA-256 in a sandbox of its own;
// a failure records the error's cause, script line and bar time (store::RunError).
//
// Thread-safety: every method may be called from any thread.
class Runner {
 public:
  // Script runs get `budgets` each.
  Runner(store::Store& store, size_t workers, const strategies::ScriptBudgets& budgets = {});
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
  const strategies::ScriptBudgets budgets_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  struct Waiting {
    std::string id;
    std::string client;
  };
  std::deque<Waiting> queue_;                                         // GUARDED_BY(mu_)
  std::unordered_map<std::string, size_t> waiting_by_client_;         // GUARDED_BY(mu_)
  size_t running_ = 0;                                                // GUARDED_BY(mu_)
  bool stopping_ = false;                                             // GUARDED_BY(mu_)
  std::vector<std::function<void(const std::string&)>> on_finished_;  // set before start
  std::atomic<bool> cancel_{false};
  std::vector<std::thread> threads_;
};

}  // namespace tapedeck::api
