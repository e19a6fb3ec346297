// The worker pool that executes backtests and sweeps, off the I/O threads.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "api/sweep_job.h"
#include "common/error.h"
#include "store/job_queue.h"
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

// Queue mode (a PostgreSQL deployment): how this process's workers hold the jobs they claim.
struct QueueOptions {
  // A claimed job's lease, renewed every lease / 3; a worker that dies loses its jobs this long
  // after its last renewal.
  std::chrono::milliseconds lease{10000};
  // Worker name prefix (each thread adds "/N"); empty: host:pid.
  std::string name;
};

// Upper bounds, in seconds, of the job latency histogram's buckets (+Inf is implied): from a job's
// queueing to its end on this process's workers.
inline constexpr std::array<double, 12> kJobLatencyBuckets = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                              1,    2.5,   5,    10,  30,   60};

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
// Queue mode (the second constructor; store/job_queue.h): the queue is shared by every process
// of the deployment. Enqueue and EnqueueSweep queue jobs there (the same limits, counted over the
// whole deployment, with the same errors). With workers > 0 this process also claims jobs on
// `workers` threads, holds each by a lease renewed every lease / 3 and executes it:
//   run      MarkRunning (a run left `running` by a dead worker is taken over), the backtest,
//            CompleteRun (CONFLICT: a duplicate finished it first, fine), then the job is finished;
//   sweep    MarkSweepRunning, its context built (cached per sweep in this process), its batches
//            of kSweepBatch trial runs queued in place of the job (one transaction);
//   batch    its trial runs, PutTrials (CONFLICT: stored already), and when every trial run of
//            the sweep is stored its summary job queued;
//   summary  Summarize and CompleteSweep.
// A store or queue call that is UNAVAILABLE (the database restarting, a cut network) is tried
// again with backoff while the job is held. A job whose lease is lost (Renew says so) is cancelled
// here: another worker has it. Idle workers wait for a tapedeck_job notification (or 1 s). Every
// ~30 s, the queue's Reap(60 s) fails work that lost its job. A sweep deleted elsewhere (its
// tapedeck_sweep notification, GetSweep NOT_FOUND) has its trials here stopped. OnFinished
// callbacks fire from tapedeck_run notifications (any process's runs), and with an empty id after
// the notification connection was re-established (any run may have ended meanwhile). In queue mode
// SetPlaybackActive's cap does not apply (a worker cannot choose which job it claims).
//
// Thread-safety: every method may be called from any thread.
class Runner {
 public:
  // Script runs get `budgets` each.
  Runner(store::Store& store, size_t workers, const strategies::ScriptBudgets& budgets = {});
  // Queue mode (see above). `queue` must outlive the Runner; the Runner calls queue.Listen, which
  // no one else may call. workers == 0: a serve node that executes nothing.
  Runner(store::Store& store, store::JobQueue& queue, size_t workers,
         const strategies::ScriptBudgets& budgets = {}, QueueOptions options = {});
  // Stops: the run being executed is cancelled and left queued/running for recovery (queue mode:
  // its job released, queued again at once for any worker).
  ~Runner();

  // Queues a run already created in the store for `client` (server::Request::client). Errors,
  // with details["retry_after"]: RATE_LIMITED when `max_per_client` of this client's runs are
  // waiting (checked first: it is this client's doing), UNAVAILABLE when `max_total` are, or the
  // runner is stopping. Runs being executed do not count.
  Status Enqueue(const std::string& id, const std::string& client, size_t max_per_client,
                 size_t max_total);

  // Creates run `spec` in the store and queues it (Store::CreateRun, then Enqueue's limits and
  // errors); returns its id. A refused run leaves no trace (it is deleted again). Queue mode: one
  // transaction where the queue can (JobQueue::CreateAndEnqueueRun): one durable commit, and a
  // refused run is never written. Local mode, a built-in strategy: queued from inside the run's
  // transaction (Store::CreateRunAdmitted, a refusal rolls it back), its spec handed to the worker
  // as the store keeps it, so that the worker loads the bars and runs the engine while the commit
  // is still being synced; the run is marked running once that commit has returned (MarkRunning
  // waits for it, on a thread of its own when it had not returned yet), and its result is
  // committed after both. Returns once the run is durable, as before.
  Result<std::string> CreateAndEnqueue(const store::RunSpec& spec, const std::string& client,
                                       size_t max_per_client, size_t max_total);

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

  // Jobs waiting (runs, and sweeps not started), and being executed (runs, sweep batches). Queue
  // mode: the whole queue's (store::QueueStats queued and running), read at most once a second.
  size_t queued() const;
  size_t running() const;
  // Of those, sweep batches (SetPlaybackActive's cap counts these).
  size_t sweep_batches_running() const;
  // Trial runs of sweeps this runner has stored since it started.
  uint64_t trial_runs_done() const { return trial_runs_done_.load(); }

  // ---- Queue mode, this process's workers (for /metrics) ----
  // Jobs held (claimed and not yet finished or given back) now.
  size_t leases_held() const;
  // Jobs finished since start.
  uint64_t jobs_done() const { return jobs_done_.load(); }
  // Finished jobs by latency (queued to finished): counts per kJobLatencyBuckets bucket, +Inf
  // last, not cumulative; and their sum.
  struct JobLatency {
    std::array<uint64_t, kJobLatencyBuckets.size() + 1> counts{};
    double sum_seconds = 0;
  };
  JobLatency job_latency() const;

  // Stops taking work and joins the workers.
  void Stop();

 private:
  enum class Kind : uint8_t { kRun, kSweep };
  // A built-in's run queued from inside its creating transaction (CreateAndEnqueue, local mode):
  // its spec as GetRun would read it, and whether that transaction's commit has returned.
  struct Handoff {
    store::RunSpec spec;
    std::atomic<bool> committed{false};
  };
  struct Task {
    Kind kind = Kind::kRun;
    std::string id;
    std::shared_ptr<const Handoff> handoff;  // a run's, or null: the worker reads the run
    std::shared_ptr<SweepJob> sweep;  // a batch [begin, end) of this sweep's trial runs
    size_t begin = 0, end = 0;
  };
  Status Admit(Kind kind, const std::string& id, const std::string& client, size_t max_per_client,
               size_t max_total, std::shared_ptr<const Handoff> handoff = nullptr);
  void WorkerLoop();
  // A sweep batch may start now (SetPlaybackActive's cap). REQUIRES: mu_ held.
  bool SweepBatchMayStart() const;
  void Execute(const std::string& id, const Handoff* handoff);
  // How ExecuteRun ended: the run ended (done or failed, by us or before us), is gone (deleted,
  // or not ours to execute), its work was cut short by `cancel`, or the store was unavailable.
  enum class RunEnd : uint8_t { kEnded, kGone, kCancelled, kUnavailable };
  // Execute's work with a cancel flag of its own. `queue_mode`: a run left `running` is taken
  // over, and an unavailable store leaves the run for another attempt instead of failing it.
  // `handoff` (local mode): the run's spec, read from the store when null.
  RunEnd ExecuteRun(const std::string& id, std::atomic<bool>& cancel, bool queue_mode,
                    const Handoff* handoff = nullptr);
  // Queue mode's TAPEDECK_RUN_TIMINGS line (runner.cpp) for the run this thread last completed:
  // its phases up to `ended`, then the claim's wait and round trip and the job's finish.
  static void PrintQueueRunTimings(const std::string& id,
                                   std::chrono::steady_clock::time_point ended, double waited_ms,
                                   double claim_ms, double finish_ms);
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
    std::shared_ptr<const Handoff> handoff;
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

  // ---- Queue mode (runner_queue.cpp) ----
  // What a job's execution left to do with the job.
  enum class JobEnd : uint8_t {
    kFinish,     // call Finish
    kFinished,   // the queue finished it already (QueueBatches)
    kAbandoned,  // cut short: released when stopping, else left to its lease
    kNotHeld,    // someone else holds it (or it is gone)
  };
  struct Held {
    int64_t job = 0;
    std::string target;  // the run's or sweep's id
    std::string worker;
    std::shared_ptr<std::atomic<bool>> cancel;
  };
  // Lets the queue's listener thread reach the Runner only while it lives.
  struct ListenGate {
    std::mutex mu;
    Runner* runner = nullptr;  // GUARDED_BY(mu)
  };
  void StartQueueMode(size_t workers);
  void StopQueueMode();
  void QueueWorkerLoop(size_t index, const std::string& worker);
  void LeaseLoop();
  void OnNotification(std::string_view channel, std::string_view payload);
  JobEnd ExecuteJob(const store::Job& job, const std::string& worker, std::atomic<bool>& cancel);
  JobEnd RunJob(const store::Job& job, std::atomic<bool>& cancel);
  JobEnd SweepStartJob(const store::Job& job, const std::string& worker, std::atomic<bool>& cancel);
  JobEnd BatchJob(const store::Job& job, std::atomic<bool>& cancel);
  JobEnd SummaryJob(const store::Job& job, std::atomic<bool>& cancel);
  // The sweep's context, from this process's cache or built (and cached).
  Result<std::shared_ptr<SweepJob>> SweepContext(const store::SweepInfo& sweep);
  void DropSweepContext(const std::string& id, bool cancel);
  // Fails the sweep (trying again while the store is unavailable and the job held).
  void FailSweepQueued(const std::string& id, const Error& error, std::atomic<bool>& cancel);
  // Waits `delay` before another try of an unavailable call; false when it should not be tried
  // again (cancelled or stopping).
  bool PauseBeforeRetry(std::chrono::milliseconds delay, const std::atomic<bool>& cancel);
  void RecordJobDone(std::chrono::microseconds latency);
  // After a failed read of a job's sweep: deleted (its job went with it), or a database error
  // that a later attempt may not meet (the job waits for its lease to run out).
  static JobEnd GoneOrLater(const Error& e);
  store::QueueStats CachedStats() const;

  store::JobQueue* job_queue_ = nullptr;
  QueueOptions queue_options_;
  std::shared_ptr<ListenGate> gate_;
  std::vector<std::optional<Held>> held_;  // per worker thread; GUARDED_BY(mu_)
  uint64_t pokes_ = 0;                     // tapedeck_job notifications heard; GUARDED_BY(mu_)
  struct Cached {
    std::shared_ptr<SweepJob> job;
    uint64_t used = 0;
  };
  std::unordered_map<std::string, Cached> sweep_cache_;  // GUARDED_BY(mu_)
  uint64_t cache_tick_ = 0;                              // GUARDED_BY(mu_)
  std::condition_variable lease_cv_;                     // with mu_
  std::thread lease_thread_;
  std::atomic<uint64_t> jobs_done_{0};
  std::array<std::atomic<uint64_t>, kJobLatencyBuckets.size() + 1> latency_counts_{};
  std::atomic<uint64_t> latency_sum_us_{0};
  mutable std::mutex stats_mu_;
  mutable store::QueueStats stats_;                           // GUARDED_BY(stats_mu_)
  mutable std::chrono::steady_clock::time_point stats_at_{};  // GUARDED_BY(stats_mu_)
};

}  // namespace tapedeck::api
