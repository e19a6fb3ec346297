// store: the job queue a PostgreSQL deployment shares (table `jobs`, pg_schema.cpp). Serve nodes
// queue work; `tapedeck worker` processes claim it, hold it by a lease they renew, and finish it.
// A worker that dies stops renewing: once its lease has expired the job is claimed again by
// another worker (runs and trial runs are deterministic, so a re-run gives the same result), and
// the store's own checks make the second completion harmless (CompleteRun of a done run and
// PutTrials of stored records are CONFLICT, which the worker takes as "already done").
//
// Claiming is one statement: UPDATE ... WHERE id = COALESCE((SELECT id ... FOR UPDATE SKIP LOCKED
// LIMIT 1), ...) RETURNING ..., so two workers never claim the same job and never wait for each
// other. Waiting work (runs, sweeps to start) comes before sweep batches, oldest first (within a
// priority, a job whose lease expired before a queued one).
//
// Notifications (LISTEN/NOTIFY, ids only): tapedeck_job (a job was queued: idle workers wake),
// tapedeck_run (a run ended: PgStore sends it), tapedeck_sweep (a sweep changed or was deleted:
// PgStore sends it). Listen() delivers them on a thread of its own.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "store/store.h"

namespace tapedeck::store {

enum class JobKind : uint8_t { kRun, kSweep, kBatch, kSummary };
std::string_view ToString(JobKind kind);  // "run", "sweep", "batch", "summary"

struct Job {
  int64_t id = 0;
  JobKind kind = JobKind::kRun;
  std::string target;       // the run's id (kRun) or the sweep's id (the others)
  size_t first = 0;         // kBatch: trial runs [first, last) of the sweep
  size_t last = 0;
  int attempts = 0;         // claims so far, this one included (2+: a worker died holding it)
  std::chrono::microseconds waited{0};  // from queued to this claim
};

struct QueueStats {
  size_t queued = 0;   // jobs waiting
  size_t running = 0;  // jobs under a live lease
  size_t expired = 0;  // jobs whose lease has expired and that no one has claimed again yet
};

class JobQueue {
 public:
  virtual ~JobQueue() = default;

  // Queues run `id` (already created in the store) for `client`. Errors, with
  // details["retry_after"] (seconds): RATE_LIMITED when `max_per_client` of this client's jobs
  // are waiting, UNAVAILABLE when `max_total` jobs are; RUN_NOT_FOUND when the run is not there.
  virtual Status EnqueueRun(std::string_view id, std::string_view client, size_t max_per_client,
                            size_t max_total) = 0;
  // Creates run `spec` in `store` (Store::CreateRun) and queues it as EnqueueRun does; returns its
  // id. The limits are checked first, with EnqueueRun's errors; a refused run leaves no trace.
  // Either both the run and its job are there once this returns, durably, or neither is. This
  // default makes the two calls (the run deleted again when refused); the PostgreSQL queue, given
  // the PostgreSQL store of its own database, does it in one transaction: one durable commit and
  // fewer round trips for a POST.
  virtual Result<std::string> CreateAndEnqueueRun(Store& store, const RunSpec& spec,
                                                  std::string_view client, size_t max_per_client,
                                                  size_t max_total);
  // The same for sweep `id` (a kSweep job). NOT_FOUND (details `sweep`) when it is not there.
  virtual Status EnqueueSweep(std::string_view id, std::string_view client, size_t max_per_client,
                              size_t max_total) = 0;

  // Claims the next job for `worker` (a name unique to the process and thread) with a lease of
  // `lease`, or nullopt when none is waiting (an expired lease counts as waiting).
  virtual Result<std::optional<Job>> Claim(std::string_view worker,
                                           std::chrono::milliseconds lease) = 0;
  // Extends the leases of these jobs held by `worker` to now + `lease`. Returns the ids of those
  // it no longer holds (expired and claimed by another, or finished/deleted): their work should
  // stop.
  virtual Result<std::vector<int64_t>> Renew(std::string_view worker, std::span<const int64_t> jobs,
                                             std::chrono::milliseconds lease) = 0;
  // Finishes (deletes) job `job` held by `worker`. CONFLICT when `worker` no longer holds it.
  virtual Status Finish(int64_t job, std::string_view worker) = 0;
  // Gives a job back unfinished (a worker stopping): queued again at once, for any worker, and
  // the attempt does not count (Job::attempts). CONFLICT when `worker` no longer holds it.
  virtual Status Release(int64_t job, std::string_view worker) = 0;

  // Finishes kSweep job `job` and queues the sweep's batches [first, last) in one transaction.
  // CONFLICT (nothing queued) when `worker` no longer holds it or it is not `sweep`'s.
  virtual Status QueueBatches(int64_t job, std::string_view worker, std::string_view sweep,
                              std::span<const std::pair<size_t, size_t>> batches) = 0;
  // Queues the sweep's kSummary job unless it has one (idempotent), or is not running (done,
  // failed: nothing to do). NOT_FOUND (details `sweep`) when the sweep is not there.
  virtual Status QueueSummary(std::string_view sweep) = 0;

  // Fails runs and sweeps that are queued or running with no job for longer than `grace` (their
  // serve node died between creating and queueing them, or a job was lost): error "interrupted",
  // as SQLite's RecoverOnStart. Returns how many.
  virtual Result<size_t> Reap(std::chrono::milliseconds grace) = 0;

  virtual Result<QueueStats> Stats() = 0;
  // Lease expiries this process has seen (jobs it claimed whose lease had expired).
  virtual uint64_t lease_expiries() const = 0;

  // Delivers every notification (channel, payload) to `callback`, on a thread of its own that
  // keeps one connection listening (reconnecting with backoff; after a reconnect it delivers
  // ("", "") once: anything may have been missed). Call once, before work arrives.
  virtual void Listen(std::function<void(std::string_view channel, std::string_view payload)>
                          callback) = 0;
};

// Opens the queue on the PostgreSQL database at `url` (its schema made by OpenPostgresStore).
Result<std::unique_ptr<JobQueue>> OpenPostgresJobQueue(const std::string& url);

}  // namespace tapedeck::store
