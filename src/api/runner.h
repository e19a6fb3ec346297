// The worker pool that executes backtests and sweeps, off the I/O threads.
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

#include "api/sweep_job.h"
#include "common/error.h"
#include "store/store.h"
#include "strategies/script.h"

namespace tapedeck::api {

// How long a client refused by the queue limits is told to wait (Retry-After): about a short
// backtest's time.
inline constexpr int kQueueRetryAfterSeconds = 5;

// Trial runs a worker takes of a sweep at a time: a backtest posted during a sweep waits at most
// about this many trials' time before a worker is free for it.
inline constexpr size_t kSweepBatch = 8;

// The workers' nice value (Linux, per thread): backtests and sweeps yield the cores to the I/O
// threads that play streams when both want them, and take the cores whole when alone.
inline constexpr int kWorkerNice = 5;

// Executes queued runs and sweeps on its own threads (never on I/O threads), at a lower priority
// (kWorkerNice). A run moves queued -> running -> done | failed in the store; progress is written
// a few times a second. A script run (RunSpec::strategy_sha256 set) runs the stored source of that
// SHA-256 in a sandbox of its own; a failure records the error's cause, script line and bar time
// (store::RunError).
//
// A sweep moves queued -> running when a worker takes it and builds its context (SweepJob); its
// trial runs then go through the pool in batches of kSweepBatch, each batch's records stored with
// PutTrials. Waiting jobs (runs, sweeps not started) come before batches, and the batches of
// several sweeps take turns, so a run posted during a sweep starts once a worker ends its batch.
// The worker that ends a sweep's last batch summarises it (CompleteSweep). A failed trial is
// recorded, not a failed sweep; a sweep whose context cannot be built or whose records cannot be
// stored is failed (FailSweep).
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

  // Queues a sweep already created in the store, as Enqueue does a run: it counts as one job
  // toward both limits (same errors), toward its client's until it ends (done, failed or
  // cancelled), not only while it waits: a client cannot keep more sweeps going than its limit.
  Status EnqueueSweep(const std::string& id, const std::string& client, size_t max_per_client,
                      size_t max_total);

  // Stops a sweep (after DeleteSweep): a waiting sweep leaves the queue, a running one's batches
  // not started are dropped and its trials being run stop (within 64 bars each). Nothing more
  // of it is written. Unknown ids are ignored.
  void CancelSweep(const std::string& id);

  // While `active()` is true (streams are playing), sweep batches run on at most workers - 1 of
  // the workers at once (one when there is one): trials fill every core otherwise, and on a
  // 2-core machine the streams' frames then come hundreds of milliseconds late, nice or not
  // (docs/perf.md, "Sweeps"). Runs still take any free worker. Call before work arrives; `active`
  // is called on worker threads, under the runner's lock: it must be cheap and lock-free.
  void SetPlaybackActive(std::function<bool()> active);

  // Called (on a worker thread) when a run reaches done or failed.
  void OnFinished(std::function<void(const std::string& id)> callback);

  // Jobs waiting (runs, and sweeps not started), and being executed (runs, sweep batches).
  size_t queued() const;
  size_t running() const;
  // Of those, sweep batches (SetPlaybackActive's cap counts these).
  size_t sweep_batches_running() const;
  // Trial runs of sweeps this runner has stored since it started.
  uint64_t trial_runs_done() const { return trial_runs_done_.load(); }

  // Stops taking work and joins the workers.
  void Stop();

 private:
  enum class Kind : uint8_t { kRun, kSweep };
  struct Task {
    Kind kind = Kind::kRun;
    std::string id;
    std::shared_ptr<SweepJob> sweep;  // a batch [begin, end) of this sweep's trial runs
    size_t begin = 0, end = 0;
  };
  Status Admit(Kind kind, const std::string& id, const std::string& client, size_t max_per_client,
               size_t max_total);
  void WorkerLoop();
  // A sweep batch may start now (SetPlaybackActive's cap). REQUIRES: mu_ held.
  bool SweepBatchMayStart() const;
  void Execute(const std::string& id);
  void StartSweep(const std::string& id);
  // StartSweep's work: false when the sweep did not get into executing_.
  bool EnterSweep(const std::string& id);
  // Gives the sweep's place back to its client (once; later calls do nothing). REQUIRES: mu_.
  void ReleaseSweep(const std::string& id);
  void RunSweepBatch(const std::shared_ptr<SweepJob>& job, size_t begin, size_t end);
  // Marks the sweep failed once (with retries as Fail) and stops its other batches.
  void FailSweepJob(const std::shared_ptr<SweepJob>& job, const Error& error);
  void FailSweepId(const std::string& id, const Error& error);
  // Marks the run failed with `error`. A store that cannot write at the moment (a full disk) gets
  // more tries, backing off from 50 ms for about 12 s in all, so that the run does not stay
  // `running` until the next start.
  void Fail(const std::string& id, const Error& error);

  store::Store& store_;
  const strategies::ScriptBudgets budgets_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  struct Waiting {
    Kind kind = Kind::kRun;
    std::string id;
    std::string client;
  };
  std::deque<Waiting> queue_;  // GUARDED_BY(mu_)
  // Running sweeps with batches not handed out yet, taking turns (front first).
  std::deque<std::shared_ptr<SweepJob>> sweeps_;  // GUARDED_BY(mu_)
  // Every running sweep, until its last batch ends: for CancelSweep and Stop.
  std::unordered_map<std::string, std::shared_ptr<SweepJob>> executing_;  // GUARDED_BY(mu_)
  // Per client: runs waiting and sweeps not ended.
  std::unordered_map<std::string, size_t> waiting_by_client_;  // GUARDED_BY(mu_)
  std::unordered_map<std::string, std::string> sweep_client_;  // sweep id -> client; GUARDED_BY(mu_)
  size_t running_ = 0;                                                    // GUARDED_BY(mu_)
  size_t sweep_batches_running_ = 0;                                      // GUARDED_BY(mu_)
  size_t workers_ = 1;
  std::function<bool()> playback_active_;  // set before work arrives

  bool stopping_ = false;                                                 // GUARDED_BY(mu_)
  std::vector<std::function<void(const std::string&)>> on_finished_;      // set before start
  std::atomic<bool> cancel_{false};
  std::atomic<uint64_t> trial_runs_done_{0};
  std::vector<std::thread> threads_;
};

}  // namespace tapedeck::api
