// The Runner's queue mode (runner.h): jobs claimed from the deployment's shared queue, held by
// leases, executed on this process's workers.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <span>

#include "api/runner.h"

namespace tapedeck::api {

namespace {

using Millis = std::chrono::milliseconds;

// A sweep's context holds its datasets' bars: a few sweeps' worth is kept per process.
constexpr size_t kSweepContexts = 4;
constexpr Millis kRetryFirst{100};
constexpr Millis kRetryMax{2000};
// Idle workers look at the queue this often even without a notification.
constexpr Millis kIdlePoll{1000};
constexpr auto kReapEvery = std::chrono::seconds(30);
constexpr auto kReapGrace = std::chrono::seconds(60);

std::string DefaultWorkerName() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return std::string(host[0] != '\0' ? host : "localhost") + ":" + std::to_string(::getpid());
}

bool IsUnavailable(const Error& e) { return e.code == ErrorCode::kUnavailable; }

// The stored form of a sweep's failure (as runner.cpp's ToRunError, for what fails a sweep here:
// its context, its records, its summary).
store::RunError SweepError(const Error& e) {
  store::RunError out;
  const auto cause = e.details.find("cause");
  if (cause != e.details.end()) {
    out.cause = cause->second;
    out.msg = e.msg;
  } else {
    out.cause = std::string(Name(e.code));
    for (char& c : out.cause) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.msg = e.ToString();
  }
  return out;
}

}  // namespace

Runner::JobEnd Runner::GoneOrLater(const Error& e) {
  return e.code == ErrorCode::kNotFound ? JobEnd::kFinish : JobEnd::kAbandoned;
}

Runner::Runner(store::Store& store, store::JobQueue& queue, size_t workers,
               const strategies::ScriptBudgets& budgets, QueueOptions options)
    : store_(store),
      budgets_(budgets),
      workers_(workers),
      job_queue_(&queue),
      queue_options_(std::move(options)) {
  if (queue_options_.name.empty()) queue_options_.name = DefaultWorkerName();
  if (queue_options_.lease < Millis(30)) queue_options_.lease = Millis(30);
  StartQueueMode(workers);
}

void Runner::StartQueueMode(size_t workers) {
  gate_ = std::make_shared<ListenGate>();
  gate_->runner = this;
  job_queue_->Listen([gate = gate_](std::string_view channel, std::string_view payload) {
    std::lock_guard lock(gate->mu);
    if (gate->runner != nullptr) gate->runner->OnNotification(channel, payload);
  });
  if (workers == 0) return;
  held_.resize(workers);
  for (size_t i = 0; i < workers; ++i) {
    std::string worker = queue_options_.name + "/" + std::to_string(i);
    threads_.emplace_back([this, i, worker = std::move(worker)] { QueueWorkerLoop(i, worker); });
  }
  lease_thread_ = std::thread([this] { LeaseLoop(); });
}

void Runner::StopQueueMode() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && threads_.empty() && !lease_thread_.joinable() && gate_ == nullptr) return;
    stopping_ = true;
    // Work being done stops where it is; each worker then gives its job back.
    for (auto& held : held_) {
      if (held) held->cancel->store(true);
    }
    for (auto& [id, cached] : sweep_cache_) cached.job->Cancel();
  }
  cv_.notify_all();
  lease_cv_.notify_all();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  if (lease_thread_.joinable()) lease_thread_.join();
  if (gate_ != nullptr) {
    // Waits for a notification being delivered; none reaches this Runner after.
    std::lock_guard lock(gate_->mu);
    gate_->runner = nullptr;
  }
  gate_.reset();
  std::lock_guard lock(mu_);
  sweep_cache_.clear();
}

bool Runner::PauseBeforeRetry(Millis delay, const std::atomic<bool>& cancel) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, delay, [&] { return stopping_ || cancel.load(); });
  return !stopping_ && !cancel.load();
}

void Runner::QueueWorkerLoop(size_t index, const std::string& worker) {
#ifdef __linux__
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kWorkerNice);
#endif
  Millis backoff = kRetryFirst;
  for (;;) {
    uint64_t seen = 0;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      seen = pokes_;
    }
    const auto claim_start = std::chrono::steady_clock::now();
    auto claimed = job_queue_->Claim(worker, queue_options_.lease);
    const auto claim_end = std::chrono::steady_clock::now();
    if (!claimed.ok() || !claimed->has_value()) {
      // The database away (try again, backing off) or nothing to do (wait for a job's
      // notification, or the safety poll).
      const Millis wait = claimed.ok() ? kIdlePoll : backoff;
      backoff = claimed.ok() ? kRetryFirst : std::min(backoff * 2, kRetryMax);
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, wait, [&] { return stopping_ || (claimed.ok() && pokes_ != seen); });
      continue;
    }
    backoff = kRetryFirst;
    const store::Job job = std::move(**claimed);
    auto cancel = std::make_shared<std::atomic<bool>>(false);
    bool stopping = false;
    {
      std::lock_guard lock(mu_);
      stopping = stopping_;
      if (!stopping) {
        held_[index] = Held{job.id, job.target, worker, cancel};
        ++running_;
        if (job.kind == store::JobKind::kBatch) ++sweep_batches_running_;
      }
    }
    if (stopping) {
      (void)job_queue_->Release(job.id, worker);
      return;
    }
    const auto started = std::chrono::steady_clock::now();
    const JobEnd end = ExecuteJob(job, worker, *cancel);
    const auto executed = std::chrono::steady_clock::now();
    {
      std::lock_guard lock(mu_);
      held_[index].reset();
      --running_;
      if (job.kind == store::JobKind::kBatch) --sweep_batches_running_;
      stopping = stopping_;
    }
    const auto latency = job.waited + std::chrono::duration_cast<std::chrono::microseconds>(
                                          std::chrono::steady_clock::now() - started);
    switch (end) {
      case JobEnd::kFinish: {
        Status finished = job_queue_->Finish(job.id, worker);
        for (Millis delay = kRetryFirst; !finished.ok() && IsUnavailable(finished.error());
             delay = std::min(delay * 2, kRetryMax)) {
          if (!PauseBeforeRetry(delay, *cancel)) break;
          finished = job_queue_->Finish(job.id, worker);
        }
        // CONFLICT: the lease ran out under us and another worker has it (it will find the
        // work done), or the job went with its run or sweep.
        if (finished.ok()) RecordJobDone(latency);
        if (job.kind == store::JobKind::kRun) {
          using Ms = std::chrono::duration<double, std::milli>;
          PrintQueueRunTimings(job.target, executed,
                               static_cast<double>(job.waited.count()) / 1000.0,
                               Ms(claim_end - claim_start).count(),
                               Ms(std::chrono::steady_clock::now() - executed).count());
        }
        break;
      }
      case JobEnd::kFinished:
        RecordJobDone(latency);
        break;
      case JobEnd::kAbandoned:
        // Stopping: queued again at once for another worker. Otherwise (a lost lease, a
        // deleted sweep) it is not ours any more; or (a database error) it waits for its lease.
        if (stopping) (void)job_queue_->Release(job.id, worker);
        break;
      case JobEnd::kNotHeld:
        break;
    }
  }
}

void Runner::RecordJobDone(std::chrono::microseconds latency) {
  jobs_done_.fetch_add(1, std::memory_order_relaxed);
  const double seconds = static_cast<double>(latency.count()) / 1e6;
  size_t bucket = 0;
  while (bucket < kJobLatencyBuckets.size() && seconds > kJobLatencyBuckets[bucket]) ++bucket;
  latency_counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  latency_sum_us_.fetch_add(static_cast<uint64_t>(std::max<int64_t>(0, latency.count())),
                            std::memory_order_relaxed);
}

Runner::JobLatency Runner::job_latency() const {
  JobLatency out;
  for (size_t i = 0; i < out.counts.size(); ++i) out.counts[i] = latency_counts_[i].load();
  out.sum_seconds = static_cast<double>(latency_sum_us_.load()) / 1e6;
  return out;
}

size_t Runner::leases_held() const {
  std::lock_guard lock(mu_);
  return static_cast<size_t>(std::count_if(
      held_.begin(), held_.end(), [](const std::optional<Held>& h) { return h.has_value(); }));
}

store::QueueStats Runner::CachedStats() const {
  std::lock_guard lock(stats_mu_);
  const auto now = std::chrono::steady_clock::now();
  if (now - stats_at_ >= std::chrono::seconds(1)) {
    // A database away: the last figures stand until it is back.
    if (auto stats = job_queue_->Stats(); stats.ok()) stats_ = *stats;
    stats_at_ = now;
  }
  return stats_;
}

void Runner::LeaseLoop() {
  const Millis every = std::max(Millis(10), queue_options_.lease / 3);
  auto next_reap = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    std::vector<Held> held;
    {
      std::unique_lock lock(mu_);
      lease_cv_.wait_for(lock, every, [this] { return stopping_; });
      if (stopping_) return;
      for (const auto& h : held_) {
        if (h) held.push_back(*h);
      }
    }
    for (const Held& h : held) {
      auto lost =
          job_queue_->Renew(h.worker, std::span<const int64_t>(&h.job, 1), queue_options_.lease);
      // An error (the database away) says nothing: the job stays ours until Renew says otherwise.
      if (lost.ok() && !lost->empty()) {
        h.cancel->store(true);
        cv_.notify_all();  // a worker retrying a store call for it gives up now
      }
    }
    if (std::chrono::steady_clock::now() >= next_reap) {
      (void)job_queue_->Reap(kReapGrace);
      next_reap = std::chrono::steady_clock::now() + kReapEvery;
    }
  }
}

void Runner::OnNotification(std::string_view channel, std::string_view payload) {
  if (channel == "tapedeck_job" || channel.empty()) {
    {
      std::lock_guard lock(mu_);
      ++pokes_;
    }
    cv_.notify_all();
  }
  if (channel == "tapedeck_run" || channel.empty()) {
    std::vector<std::function<void(const std::string&)>> callbacks;
    {
      std::lock_guard lock(mu_);
      callbacks = on_finished_;
    }
    const std::string id(payload);
    for (auto& cb : callbacks) cb(id);
  }
  if (channel == "tapedeck_sweep") {
    const std::string id(payload);
    {
      std::lock_guard lock(mu_);
      if (!sweep_cache_.contains(id)) return;
    }
    auto sweep = store_.GetSweep(id);
    if (!sweep.ok() && sweep.error().code == ErrorCode::kNotFound) {
      DropSweepContext(id, /*cancel=*/true);  // deleted: its trials here stop
    } else if (sweep.ok() && (sweep->status == store::SweepStatus::kFailed ||
                              sweep->status == store::SweepStatus::kDone)) {
      // Nothing more of it will be written.
      DropSweepContext(id, /*cancel=*/sweep->status == store::SweepStatus::kFailed);
    }
  }
}

void Runner::DropSweepContext(const std::string& id, bool cancel) {
  std::lock_guard lock(mu_);
  const auto it = sweep_cache_.find(id);
  if (cancel) {
    // Its batches being run here watch their own flags (SweepJob::RunBatch).
    for (auto& held : held_) {
      if (held && held->target == id) held->cancel->store(true);
    }
  }
  if (it == sweep_cache_.end()) return;
  if (cancel) it->second.job->Cancel();
  sweep_cache_.erase(it);
}

Result<std::shared_ptr<SweepJob>> Runner::SweepContext(const store::SweepInfo& sweep) {
  {
    std::lock_guard lock(mu_);
    const auto it = sweep_cache_.find(sweep.id);
    if (it != sweep_cache_.end() && !it->second.job->cancelled()) {
      it->second.used = ++cache_tick_;
      return it->second.job;
    }
  }
  auto made = SweepJob::Make(store_, sweep, budgets_);
  if (!made.ok()) return made;
  std::lock_guard lock(mu_);
  if (stopping_) (*made)->Cancel();
  auto& slot = sweep_cache_[sweep.id];
  // Another worker built it meanwhile: one context per sweep.
  if (slot.job != nullptr && !slot.job->cancelled()) {
    slot.used = ++cache_tick_;
    return slot.job;
  }
  slot = Cached{*made, ++cache_tick_};
  while (sweep_cache_.size() > kSweepContexts) {
    auto oldest = std::min_element(
        sweep_cache_.begin(), sweep_cache_.end(),
        [](const auto& a, const auto& b) { return a.second.used < b.second.used; });
    // Batches still running it hold their own reference.
    sweep_cache_.erase(oldest);
  }
  return *made;
}

void Runner::FailSweepQueued(const std::string& id, const Error& error, std::atomic<bool>& cancel) {
  const store::RunError stored = SweepError(error);
  Status failed = store_.FailSweep(id, stored);
  for (Millis delay = kRetryFirst; !failed.ok() && IsUnavailable(failed.error());
       delay = std::min(delay * 2, kRetryMax)) {
    if (!PauseBeforeRetry(delay, cancel)) return;
    failed = store_.FailSweep(id, stored);
  }
  DropSweepContext(id, /*cancel=*/true);
}

Runner::JobEnd Runner::ExecuteJob(const store::Job& job, const std::string& worker,
                                  std::atomic<bool>& cancel) {
  switch (job.kind) {
    case store::JobKind::kRun:
      return RunJob(job, cancel);
    case store::JobKind::kSweep:
      return SweepStartJob(job, worker, cancel);
    case store::JobKind::kBatch:
      return BatchJob(job, cancel);
    case store::JobKind::kSummary:
      return SummaryJob(job, cancel);
  }
  return JobEnd::kAbandoned;
}

Runner::JobEnd Runner::RunJob(const store::Job& job, std::atomic<bool>& cancel) {
  for (Millis delay = kRetryFirst;; delay = std::min(delay * 2, kRetryMax)) {
    switch (ExecuteRun(job.target, cancel, /*queue_mode=*/true)) {
      case RunEnd::kEnded:
      case RunEnd::kGone:
        return JobEnd::kFinish;
      case RunEnd::kCancelled:
        return JobEnd::kAbandoned;
      case RunEnd::kUnavailable:
        if (!PauseBeforeRetry(delay, cancel)) return JobEnd::kAbandoned;
        break;
    }
  }
}

// Calls `op` again while it returns UNAVAILABLE and the job is held (a database restarting).
#define TD_QUEUE_RETRY(var, op)                                                \
  auto var = (op);                                                             \
  for (Millis td_delay = kRetryFirst; !var.ok() && IsUnavailable(var.error()); \
       td_delay = std::min(td_delay * 2, kRetryMax)) {                         \
    if (!PauseBeforeRetry(td_delay, cancel)) return JobEnd::kAbandoned;        \
    var = (op);                                                                \
  }

Runner::JobEnd Runner::SweepStartJob(const store::Job& job, const std::string& worker,
                                     std::atomic<bool>& cancel) {
  const std::string& id = job.target;
  TD_QUEUE_RETRY(sweep, store_.GetSweep(id));
  if (!sweep.ok()) return GoneOrLater(sweep.error());
  if (sweep->status == store::SweepStatus::kDone || sweep->status == store::SweepStatus::kFailed) {
    return JobEnd::kFinish;
  }
  if (sweep->status == store::SweepStatus::kQueued) {
    TD_QUEUE_RETRY(started, store_.MarkSweepRunning(id));
    if (!started.ok()) {
      const ErrorCode code = started.error().code;
      const auto status = started.error().details.find("status");
      const bool running = code == ErrorCode::kConflict &&
                           status != started.error().details.end() && status->second == "running";
      if (code == ErrorCode::kNotFound || (code == ErrorCode::kConflict && !running)) {
        return JobEnd::kFinish;
      }
      if (!running) {
        FailSweepQueued(id, started.error(), cancel);
        return JobEnd::kFinish;
      }
    }
  }
  // Running: ours, or a dead worker's that marked it and died before queueing its batches.
  auto context = SweepContext(*sweep);
  if (!context.ok()) {
    if (IsUnavailable(context.error())) return JobEnd::kAbandoned;  // tried again after its lease
    FailSweepQueued(id, context.error(), cancel);
    return JobEnd::kFinish;
  }
  const size_t tasks = (*context)->tasks();
  if (tasks == 0) {
    TD_QUEUE_RETRY(queued, job_queue_->QueueSummary(id));
    return JobEnd::kFinish;
  }
  std::vector<std::pair<size_t, size_t>> batches;
  for (size_t first = 0; first < tasks; first += kSweepBatch) {
    batches.emplace_back(first, std::min(first + kSweepBatch, tasks));
  }
  TD_QUEUE_RETRY(queued, job_queue_->QueueBatches(job.id, worker, id, batches));
  if (queued.ok()) return JobEnd::kFinished;
  return queued.error().code == ErrorCode::kConflict ? JobEnd::kNotHeld : JobEnd::kAbandoned;
}

Runner::JobEnd Runner::BatchJob(const store::Job& job, std::atomic<bool>& cancel) {
  const std::string& id = job.target;
  TD_QUEUE_RETRY(sweep, store_.GetSweep(id));
  if (!sweep.ok()) return GoneOrLater(sweep.error());
  if (sweep->status != store::SweepStatus::kRunning) return JobEnd::kFinish;
  auto context = SweepContext(*sweep);
  if (!context.ok()) {
    if (IsUnavailable(context.error())) return JobEnd::kAbandoned;
    FailSweepQueued(id, context.error(), cancel);
    return JobEnd::kFinish;
  }
  const std::shared_ptr<SweepJob> ctx = *context;
  const size_t last = std::min(job.last, ctx->tasks());
  auto records = ctx->RunBatch(std::min(job.first, last), last, &cancel);
  if (!records) {
    // Deleted (or failed) meanwhile: its job went with it. Else a lost lease or a stop.
    return JobEnd::kAbandoned;
  }
  TD_QUEUE_RETRY(stored, store_.PutTrials(id, *records));
  if (stored.ok()) {
    trial_runs_done_ += records->size();
  } else if (stored.error().code == ErrorCode::kNotFound) {
    DropSweepContext(id, /*cancel=*/true);  // deleted: nothing more to write
    return JobEnd::kFinish;
  } else if (stored.error().code != ErrorCode::kConflict) {
    // CONFLICT: stored already (a duplicate of this batch), or the sweep ended: fine.
    FailSweepQueued(id, stored.error(), cancel);
    return JobEnd::kFinish;
  }
  // The batch that stores the last trial runs queues the summary (more than one may see it:
  // QueueSummary keeps one).
  TD_QUEUE_RETRY(now, store_.GetSweep(id));
  if (now.ok() && now->status == store::SweepStatus::kRunning && now->done >= now->spec.tasks) {
    TD_QUEUE_RETRY(queued, job_queue_->QueueSummary(id));
  }
  return JobEnd::kFinish;
}

Runner::JobEnd Runner::SummaryJob(const store::Job& job, std::atomic<bool>& cancel) {
  const std::string& id = job.target;
  TD_QUEUE_RETRY(sweep, store_.GetSweep(id));
  if (!sweep.ok()) return GoneOrLater(sweep.error());
  if (sweep->status != store::SweepStatus::kRunning) return JobEnd::kFinish;  // done by a duplicate
  auto context = SweepContext(*sweep);
  if (!context.ok()) {
    if (IsUnavailable(context.error())) return JobEnd::kAbandoned;
    FailSweepQueued(id, context.error(), cancel);
    return JobEnd::kFinish;
  }
  const std::shared_ptr<SweepJob> ctx = *context;
  Result<std::string> summary = ctx->Summarize(store_);
  for (Millis delay = kRetryFirst; !summary.ok(); delay = std::min(delay * 2, kRetryMax)) {
    if (ctx->cancelled() || cancel) return JobEnd::kAbandoned;
    if (!IsUnavailable(summary.error())) {
      FailSweepQueued(id, summary.error(), cancel);
      return JobEnd::kFinish;
    }
    if (!PauseBeforeRetry(delay, cancel)) return JobEnd::kAbandoned;
    summary = ctx->Summarize(store_);
  }
  TD_QUEUE_RETRY(done, store_.CompleteSweep(id, *summary));
  if (!done.ok() && done.error().code != ErrorCode::kNotFound &&
      done.error().code != ErrorCode::kConflict) {
    FailSweepQueued(id, done.error(), cancel);
  }
  DropSweepContext(id, /*cancel=*/false);
  return JobEnd::kFinish;
}

#undef TD_QUEUE_RETRY

}  // namespace tapedeck::api
