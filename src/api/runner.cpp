#include "api/runner.h"

#include <sys/resource.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "api/json.h"
#include "strategies/strategies.h"

namespace tapedeck::api {

namespace {

// Per-run timings, printed to stderr when TAPEDECK_RUN_TIMINGS is set (to anything but "0"): a
// developer's view of where POST -> done goes (docs/perf.md). Phases, in order: start (reading
// the run, marking it running), load (the bars), prepare (parameters, the strategy), run
// (engine::Run), complete (Store::CompleteRun: pack, write, commit), notify (the OnFinished
// callbacks: the playback cache's wake-up).
struct RunTimings {
  std::chrono::steady_clock::time_point start;
  double start_ms = 0, load_ms = 0, prepare_ms = 0, run_ms = 0, complete_ms = 0;
  store::Store::CompleteTimings complete;
  bool done = false;  // the run ended done (other ends print nothing)
};

RunTimings& ThisThreadsRunTimings() {
  thread_local RunTimings timings;
  return timings;
}

bool RunTimingsWanted() {
  static const bool wanted = [] {
    const char* v = std::getenv("TAPEDECK_RUN_TIMINGS");
    return v != nullptr && *v != '\0' && std::string_view(v) != "0";
  }();
  return wanted;
}

// `who`: "serve" or "worker"; `end`: where the run's own work ended (total and notify end there);
// `extra`: what the caller adds after the phases (queue mode: the claim and the job's finish).
void PrintRunTimings(const char* who, const std::string& id, const RunTimings& t,
                     std::chrono::steady_clock::time_point end, const std::string& extra) {
  const double total = std::chrono::duration<double, std::milli>(end - t.start).count();
  const double notify =
      total - (t.start_ms + t.load_ms + t.prepare_ms + t.run_ms + t.complete_ms);
  std::fprintf(stderr,
               "tapedeck %s: run %s: start %.2f ms, load %.2f ms, prepare %.2f ms, run %.2f ms, "
               "complete %.2f ms (pack %.2f, write %.2f, commit %.2f), notify %.2f ms, "
               "total %.2f ms%s\n",
               who, id.c_str(), t.start_ms, t.load_ms, t.prepare_ms, t.run_ms, t.complete_ms,
               t.complete.pack_ms, t.complete.write_ms, t.complete.commit_ms, notify, total,
               extra.c_str());
}

// The stored form of a run's failure: a script's error keeps its parts (strategies/script.h:
// details cause, line, time); any other keeps its code and details in the message.
store::RunError ToRunError(const Error& e) {
  store::RunError out;
  const auto detail = [&e](const char* key) -> const std::string* {
    const auto it = e.details.find(key);
    return it == e.details.end() ? nullptr : &it->second;
  };
  if (const std::string* cause = detail("cause")) {
    out.cause = *cause;
    out.msg = e.msg;
  } else {
    out.cause = std::string(Name(e.code));
    for (char& c : out.cause) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.msg = e.ToString();
  }
  if (const std::string* line = detail("line")) {
    int64_t n = 0;
    const auto res = std::from_chars(line->data(), line->data() + line->size(), n);
    if (res.ec == std::errc() && n > 0) out.line = n;
  }
  if (const std::string* time = detail("time")) {
    if (auto t = ParseIso(*time)) out.bar_time = *t;
  }
  return out;
}

// A run's spec as GetRun reads it back from the store: what CreateRun keeps of it and no more
// (RunConfig's other fields at their defaults, `datasets` filled in), for a worker handed the run
// before it can be read.
store::RunSpec AsStored(const store::RunSpec& spec) {
  store::RunSpec out;
  out.dataset = spec.dataset;
  out.datasets = spec.datasets.empty() ? std::vector<std::string>{spec.dataset} : spec.datasets;
  out.symbols = spec.symbols;
  out.strategy = spec.strategy;
  out.strategy_version = spec.strategy_version;
  out.strategy_sha256 = spec.strategy_sha256;
  out.params_json = spec.params_json;
  out.config.cash = spec.config.cash;
  out.config.costs = spec.config.costs;
  out.config.allow_short = spec.config.allow_short;
  out.from = spec.from;
  out.to = spec.to;
  out.request_json = spec.request_json;
  return out;
}

// Lowers the calling thread's scheduling priority. On Linux setpriority(PRIO_PROCESS, tid) sets
// one thread's nice value; a failure (a kernel that refuses) leaves it as it is.
void LowerThisThreadsPriority() {
#ifdef __linux__
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kWorkerNice);
#endif
}

}  // namespace

Runner::Runner(store::Store& store, size_t workers, const strategies::ScriptBudgets& budgets)
    : store_(store), budgets_(budgets), workers_(workers == 0 ? 1 : workers) {
  if (workers == 0) workers = 1;
  for (size_t i = 0; i < workers; ++i) threads_.emplace_back([this] { WorkerLoop(); });
}

Runner::~Runner() { Stop(); }

void Runner::Stop() {
  if (job_queue_ != nullptr) return StopQueueMode();
  {
    std::lock_guard lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
    // Sweeps stop where they are and stay `running`: the next start's recovery fails them.
    for (auto& [id, job] : executing_) job->Cancel();
  }
  cancel_ = true;
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

Status Runner::Enqueue(const std::string& id, const std::string& client, size_t max_per_client,
                       size_t max_total) {
  if (job_queue_ != nullptr) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return MakeError(ErrorCode::kUnavailable, "the server is shutting down");
    }
    return job_queue_->EnqueueRun(id, client, max_per_client, max_total);
  }
  return Admit(Kind::kRun, id, client, max_per_client, max_total);
}

Result<std::string> Runner::CreateAndEnqueue(const store::RunSpec& spec, const std::string& client,
                                             size_t max_per_client, size_t max_total) {
  if (job_queue_ != nullptr) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return MakeError(ErrorCode::kUnavailable, "the server is shutting down");
    }
    return job_queue_->CreateAndEnqueueRun(store_, spec, client, max_per_client, max_total);
  }
  if (!spec.strategy_sha256.empty() || !spec.script_source.empty()) {
    // A script's source is read from the store by the worker: queued once it is committed.
    TD_ASSIGN_OR_RETURN(std::string id, store_.CreateRun(spec));
    if (Status queued = Admit(Kind::kRun, id, client, max_per_client, max_total); !queued.ok()) {
      (void)store_.DeleteRun(id);
      return queued.take_error();
    }
    return id;
  }
  auto handoff = std::make_shared<Handoff>();
  handoff->spec = AsStored(spec);
  TD_ASSIGN_OR_RETURN(std::string id,
                      store_.CreateRunAdmitted(spec, [&](const std::string& created) {
                        return Admit(Kind::kRun, created, client, max_per_client, max_total,
                                     handoff);
                      }));
  handoff->committed.store(true, std::memory_order_release);
  return id;
}

Status Runner::EnqueueSweep(const std::string& id, const std::string& client, size_t max_per_client,
                            size_t max_total) {
  if (job_queue_ != nullptr) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return MakeError(ErrorCode::kUnavailable, "the server is shutting down");
    }
    return job_queue_->EnqueueSweep(id, client, max_per_client, max_total);
  }
  return Admit(Kind::kSweep, id, client, max_per_client, max_total);
}

Status Runner::Admit(Kind kind, const std::string& id, const std::string& client,
                     size_t max_per_client, size_t max_total,
                     std::shared_ptr<const Handoff> handoff) {
  const std::string retry_after = std::to_string(kQueueRetryAfterSeconds);
  {
    std::lock_guard lock(mu_);
    if (stopping_) return MakeError(ErrorCode::kUnavailable, "the server is shutting down");
    size_t& mine = waiting_by_client_[client];
    if (mine >= max_per_client) {
      return MakeError(
          ErrorCode::kRateLimited,
          "you have " + std::to_string(mine) +
              " backtests waiting or sweeps unfinished already; wait for them",
          {{"limit", std::to_string(max_per_client)}, {"retry_after", retry_after}});
    }
    if (queue_.size() >= max_total) {
      if (mine == 0) waiting_by_client_.erase(client);
      return MakeError(ErrorCode::kUnavailable,
                       "too many backtests waiting (" + std::to_string(queue_.size()) + ")",
                       {{"queued", std::to_string(queue_.size())},
                        {"limit", std::to_string(max_total)},
                        {"retry_after", retry_after}});
    }
    ++mine;
    if (kind == Kind::kSweep) sweep_client_[id] = client;
    queue_.push_back({kind, id, client, std::move(handoff)});
  }
  cv_.notify_one();
  return Ok();
}

void Runner::CancelSweep(const std::string& id) {
  // DeleteSweep removed its jobs; its trials running here stop now rather than at the
  // notification.
  if (job_queue_ != nullptr) return DropSweepContext(id, /*cancel=*/true);
  std::lock_guard lock(mu_);
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    if (it->kind != Kind::kSweep || it->id != id) continue;
    queue_.erase(it);
    break;
  }
  ReleaseSweep(id);
  const auto job = executing_.find(id);
  if (job == executing_.end()) return;
  job->second->Cancel();
  std::erase(sweeps_, job->second);
  // With no batch being run, nothing else would let go of it (a worker summarising it holds its
  // own reference).
  if (job->second->in_flight == 0) executing_.erase(job);
}

void Runner::OnFinished(std::function<void(const std::string&)> callback) {
  std::lock_guard lock(mu_);
  on_finished_.push_back(std::move(callback));
}

size_t Runner::queued() const {
  if (job_queue_ != nullptr) return CachedStats().queued;
  std::lock_guard lock(mu_);
  return queue_.size();
}

size_t Runner::running() const {
  if (job_queue_ != nullptr) return CachedStats().running;
  std::lock_guard lock(mu_);
  return running_;
}

size_t Runner::sweep_batches_running() const {
  std::lock_guard lock(mu_);
  return sweep_batches_running_;
}

void Runner::SetPlaybackActive(std::function<bool()> active) {
  std::lock_guard lock(mu_);
  playback_active_ = std::move(active);
}

bool Runner::SweepBatchMayStart() const {
  if (sweeps_.empty()) return false;
  const size_t cap = playback_active_ && playback_active_() ? std::max<size_t>(1, workers_ - 1)
                                                            : workers_;
  return sweep_batches_running_ < cap;
}

void Runner::WorkerLoop() {
  LowerThisThreadsPriority();
  for (;;) {
    Task task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty() || SweepBatchMayStart(); });
      if (stopping_) return;
      if (!queue_.empty()) {
        // Waiting jobs first: a run posted during a sweep waits for one batch, not the sweep.
        Waiting& next = queue_.front();
        task.kind = next.kind;
        task.id = std::move(next.id);
        task.handoff = std::move(next.handoff);
        // A sweep holds its client's place until it ends (ReleaseSweep), a run until it starts.
        const auto mine = waiting_by_client_.find(next.client);
        if (next.kind == Kind::kRun && mine != waiting_by_client_.end() && --mine->second == 0) {
          waiting_by_client_.erase(mine);
        }
        queue_.pop_front();
      } else {
        // The next batch of the sweep whose turn it is; it goes to the back if it has more.
        task.kind = Kind::kSweep;
        task.sweep = sweeps_.front();
        sweeps_.pop_front();
        SweepJob& job = *task.sweep;
        task.id = job.id();
        task.begin = job.next;
        task.end = std::min(job.next + kSweepBatch, job.tasks());
        job.next = task.end;
        ++job.in_flight;
        if (job.next < job.tasks()) sweeps_.push_back(task.sweep);
        ++sweep_batches_running_;
      }
      ++running_;
    }
    if (task.kind == Kind::kRun) {
      Execute(task.id, task.handoff.get());
    } else if (task.sweep) {
      RunSweepBatch(task.sweep, task.begin, task.end);
    } else {
      StartSweep(task.id);
    }
    std::vector<std::function<void(const std::string&)>> callbacks;
    {
      std::lock_guard lock(mu_);
      --running_;
      if (task.kind == Kind::kRun) callbacks = on_finished_;
      if (task.sweep) --sweep_batches_running_;
    }
    // A worker held back by the cap may take the next batch now.
    if (task.sweep) cv_.notify_all();
    for (auto& cb : callbacks) cb(task.id);
    if (task.kind == Kind::kRun && ThisThreadsRunTimings().done && RunTimingsWanted()) {
      PrintRunTimings("serve", task.id, ThisThreadsRunTimings(), std::chrono::steady_clock::now(),
                      "");
    }
  }
}

void Runner::ReleaseSweep(const std::string& id) {
  const auto it = sweep_client_.find(id);
  if (it == sweep_client_.end()) return;
  const auto mine = waiting_by_client_.find(it->second);
  if (mine != waiting_by_client_.end() && --mine->second == 0) waiting_by_client_.erase(mine);
  sweep_client_.erase(it);
}

void Runner::StartSweep(const std::string& id) {
  if (!EnterSweep(id)) {
    // It never got going (deleted, failed, or the runner stops): its client's place is free.
    std::lock_guard lock(mu_);
    ReleaseSweep(id);
  }
}

bool Runner::EnterSweep(const std::string& id) {
  auto sweep = store_.GetSweep(id);
  if (!sweep.ok()) return false;  // deleted while queued
  if (Status started = store_.MarkSweepRunning(id); !started.ok()) {
    // Deleted meanwhile (NOT_FOUND) or no longer queued (CONFLICT): not ours to finish.
    const ErrorCode code = started.error().code;
    if (code != ErrorCode::kNotFound && code != ErrorCode::kConflict)
      FailSweepId(id, started.error());
    return false;
  }
  auto job = SweepJob::Make(store_, *sweep, budgets_);
  if (!job.ok()) {
    FailSweepId(id, job.error());
    return false;
  }
  bool empty = false;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return false;  // left running: recovery's
    executing_[id] = *job;
    empty = (*job)->tasks() == 0;
    if (!empty) sweeps_.push_back(*job);
  }
  // From here its place is given back where executing_ lets go of it.
  // Deleted while its context was being built: CancelSweep found nothing to stop then.
  if (!store_.GetSweep(id).ok()) {
    CancelSweep(id);
  } else if (empty) {
    RunSweepBatch(*job, 0, 0);
  } else {
    cv_.notify_all();
  }
  return true;
}

void Runner::RunSweepBatch(const std::shared_ptr<SweepJob>& job, size_t begin, size_t end) {
  if (begin < end) {
    auto records = job->RunBatch(begin, end);
    if (records) {
      const Status stored = store_.PutTrials(job->id(), *records);
      if (stored.ok()) {
        trial_runs_done_ += records->size();
      } else if (stored.error().code == ErrorCode::kNotFound) {
        job->Cancel();  // deleted: nothing more to write
      } else {
        FailSweepJob(job, stored.error());
      }
    }
  }
  bool last = false;
  {
    std::lock_guard lock(mu_);
    if (begin < end) --job->in_flight;
    job->finished += end - begin;
    if (job->cancelled() || job->failed) {
      std::erase(sweeps_, job);
      if (job->in_flight == 0) {
        executing_.erase(job->id());
        ReleaseSweep(job->id());
      }
      return;
    }
    last = job->finished == job->tasks();
  }
  if (!last) return;
  auto summary = job->Summarize(store_);
  if (summary.ok()) {
    if (Status done = store_.CompleteSweep(job->id(), *summary); !done.ok()) {
      const ErrorCode code = done.error().code;
      if (code != ErrorCode::kNotFound && code != ErrorCode::kConflict) {
        FailSweepJob(job, done.error());
      }
    }
  } else if (!job->cancelled()) {
    FailSweepJob(job, summary.error());
  }
  std::lock_guard lock(mu_);
  executing_.erase(job->id());
  ReleaseSweep(job->id());
}

void Runner::FailSweepJob(const std::shared_ptr<SweepJob>& job, const Error& error) {
  {
    std::lock_guard lock(mu_);
    if (job->failed) return;
    job->failed = true;
    std::erase(sweeps_, job);
  }
  job->Cancel();
  FailSweepId(job->id(), error);
}

void Runner::FailSweepId(const std::string& id, const Error& error) {
  const store::RunError stored = ToRunError(error);
  auto delay = std::chrono::milliseconds(50);
  for (int attempt = 0; attempt < 8; ++attempt) {
    const Status failed = store_.FailSweep(id, stored);
    if (failed.ok()) return;
    const ErrorCode code = failed.error().code;
    if (code == ErrorCode::kNotFound || code == ErrorCode::kConflict) return;
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, delay, [this] { return stopping_; })) return;  // recovery's job now
    delay *= 2;
  }
}

void Runner::PrintQueueRunTimings(const std::string& id,
                                  std::chrono::steady_clock::time_point ended, double waited_ms,
                                  double claim_ms, double finish_ms) {
  if (!ThisThreadsRunTimings().done || !RunTimingsWanted()) return;
  char extra[160];
  std::snprintf(extra, sizeof extra,
                "; queued -> claimed %.2f ms (the database's clock), claim %.2f ms, finish %.2f ms",
                waited_ms, claim_ms, finish_ms);
  PrintRunTimings("worker", id, ThisThreadsRunTimings(), ended, extra);
}

void Runner::Execute(const std::string& id, const Handoff* handoff) {
  (void)ExecuteRun(id, cancel_, /*queue_mode=*/false, handoff);
}

Runner::RunEnd Runner::ExecuteRun(const std::string& id, std::atomic<bool>& cancel,
                                  bool queue_mode, const Handoff* handoff) {
  RunTimings& timings = ThisThreadsRunTimings();
  timings = {};
  timings.start = std::chrono::steady_clock::now();
  auto lap = [&timings, last = timings.start](double* ms) mutable {
    const auto now = std::chrono::steady_clock::now();
    *ms = std::chrono::duration<double, std::milli>(now - last).count();
    last = now;
  };
  // MarkRunning failed: how the run ends, or nullopt to carry on (a dead worker's, taken over).
  auto not_started = [&](const Error& e) -> std::optional<RunEnd> {
    // Deleted meanwhile (RUN_NOT_FOUND) or no longer queued (CONFLICT): not ours to finish.
    // In queue mode a run left `running` is a dead worker's: ours now (we hold its job).
    const ErrorCode code = e.code;
    const auto status = e.details.find("status");
    const bool take_over = queue_mode && code == ErrorCode::kConflict &&
                           status != e.details.end() && status->second == "running";
    if (take_over) return std::nullopt;
    if (queue_mode && code == ErrorCode::kUnavailable) return RunEnd::kUnavailable;
    if (code != ErrorCode::kRunNotFound && code != ErrorCode::kConflict) {
      Fail(id, e);
      return RunEnd::kEnded;
    }
    return code == ErrorCode::kConflict ? RunEnd::kEnded : RunEnd::kGone;
  };
  // A run handed over before its creating commit returned: MarkRunning (which waits for that
  // commit, on the store's write lock) on a thread of its own, beside the bars' load and the
  // engine; settled before anything is stored for the run. No thread to be had: marked here.
  std::future<Status> marking;
  auto settle_marking = [&]() -> std::optional<RunEnd> {
    if (!marking.valid()) return std::nullopt;
    const Status started = marking.get();
    if (started.ok()) return std::nullopt;
    return not_started(started.error());
  };
  std::optional<store::RunInfo> read;
  const store::RunSpec* spec = nullptr;
  if (handoff != nullptr) {
    spec = &handoff->spec;
    if (!handoff->committed.load(std::memory_order_acquire)) {
      try {
        marking = std::async(std::launch::async, [this, &id] { return store_.MarkRunning(id); });
      } catch (const std::system_error&) {
      }
    }
  } else {
    auto run = store_.GetRun(id);
    if (!run.ok()) {
      // Deleted while queued; in queue mode a database away for a moment is not a deletion.
      const bool away = queue_mode && run.error().code == ErrorCode::kUnavailable;
      return away ? RunEnd::kUnavailable : RunEnd::kGone;
    }
    if (queue_mode &&
        (run->status == store::RunStatus::kDone || run->status == store::RunStatus::kFailed)) {
      return RunEnd::kEnded;  // a worker that died after ending it, before finishing its job
    }
    read = std::move(*run);
    spec = &read->spec;
  }
  if (!marking.valid()) {
    if (Status started = store_.MarkRunning(id); !started.ok()) {
      if (const std::optional<RunEnd> end = not_started(started.error())) return *end;
    }
  }
  lap(&timings.start_ms);
  // Stopped (or the job lost) while it was being marked: another worker takes it over.
  if (queue_mode && cancel) return RunEnd::kCancelled;
  auto fail = [&](const Error& e) {
    if (const std::optional<RunEnd> end = settle_marking()) return *end;
    // In queue mode a database away for a moment (loading the bars, the source) does not fail
    // the run: the job is tried again.
    if (queue_mode && e.code == ErrorCode::kUnavailable) return RunEnd::kUnavailable;
    Fail(id, e);
    return RunEnd::kEnded;
  };

  // One series per dataset, in the run's order; each cut to the requested period.
  std::vector<market::Series> inputs;
  for (const std::string& dataset : spec->datasets) {
    auto bars = store_.LoadBars(dataset);
    if (!bars.ok()) return fail(bars.error());
    market::Series data = *bars;
    if (spec->from || spec->to) {
      data = data.Slice(spec->from.value_or(FromMicros(INT64_MIN)),
                        spec->to.value_or(FromMicros(INT64_MAX)));
    }
    if (data.empty()) {
      std::string msg = "no bars in the requested period";
      if (spec->datasets.size() > 1) msg += " in dataset '" + dataset + "'";
      return fail(MakeError(ErrorCode::kRange, msg, {{"dataset", dataset}}));
    }
    inputs.push_back(std::move(data));
  }
  lap(&timings.load_ms);
  auto params = ParseParams(spec->params_json);
  if (!params.ok()) return fail(params.error());
  std::unique_ptr<engine::Strategy> strategy;
  if (!spec->strategy_sha256.empty()) {
    auto source = store_.GetScriptSource(spec->strategy_sha256);
    if (!source.ok()) return fail(source.error());
    const std::string chunk =
        spec->strategy == store::kInlineStrategy ? "script" : spec->strategy;
    strategies::ScriptBudgets budgets = budgets_;
    budgets.cancel = &cancel;  // a stop does not wait for a heavy bar's end
    auto script = strategies::MakeScriptStrategy(*source, chunk, *params, budgets);
    if (!script.ok()) return fail(script.error());
    strategy = std::move(*script);
  } else {
    auto builtin = strategies::Make(spec->strategy, *params);
    if (!builtin.ok()) return fail(builtin.error());
    strategy = std::move(*builtin);
  }

  // Progress goes to the store a few times a second at most: each update is a commit.
  auto last = std::chrono::steady_clock::now();
  engine::RunHooks hooks;
  hooks.cancel = &cancel;
  hooks.progress = [&](size_t done, size_t total) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last < std::chrono::milliseconds(200) || total == 0) return;
    last = now;
    (void)store_.UpdateProgress(id, static_cast<double>(done) / static_cast<double>(total));
  };
  // A built-in's plotted indicators are kept as what they are, not as a value per bar: the run
  // does not compute them, the store does not write them, and playback computes them from the
  // bars (StoreRunSource, strategies::MaterialisePlots). A script's plots are recorded as before.
  engine::RunConfig config = spec->config;
  config.derive_plots = true;
  lap(&timings.prepare_ms);
  auto result = engine::Run(inputs, *strategy, config, hooks);
  strategy.reset();  // a script's sandbox (its whole Lua heap) goes now, not after the store write
  if (!spec->strategy_sha256.empty()) GiveBackScriptHeap();
  lap(&timings.run_ms);
  if (!result.ok()) {
    // A cancelled run (shutdown) stays `running`: the next start's recovery marks it interrupted
    // (queue mode: another worker runs it again).
    if (cancel) return RunEnd::kCancelled;
    return fail(result.error());
  }
  if (marking.valid()) {
    // The wait for the creating commit that the run did not hide counts as start.
    if (const std::optional<RunEnd> end = settle_marking()) return *end;
    double waited_ms = 0;
    lap(&waited_ms);
    timings.start_ms += waited_ms;
  }
  Status done = store_.CompleteRun(id, *result);
  if (queue_mode) {
    // A database away for a while: the result is written when it is back, while the job is ours.
    for (auto delay = std::chrono::milliseconds(100);
         !done.ok() && done.error().code == ErrorCode::kUnavailable;
         delay = std::min(delay * 2, std::chrono::milliseconds(2000))) {
      if (!PauseBeforeRetry(delay, cancel)) return RunEnd::kCancelled;
      done = store_.CompleteRun(id, *result);
    }
    // CONFLICT: a duplicate of this job (a lease that ran out under us) ended it first.
    if (!done.ok() && done.error().code == ErrorCode::kRunNotFound) return RunEnd::kGone;
    if (!done.ok() && done.error().code == ErrorCode::kConflict) return RunEnd::kEnded;
  }
  if (!done.ok()) return fail(done.error());
  lap(&timings.complete_ms);
  timings.complete = store::Store::LastCompleteTimings();
  timings.done = true;
  return RunEnd::kEnded;
}

void Runner::Fail(const std::string& id, const Error& error) {
  const store::RunError stored = ToRunError(error);
  auto delay = std::chrono::milliseconds(50);
  for (int attempt = 0; attempt < 8; ++attempt) {
    const Status failed = store_.FailRun(id, stored);
    if (failed.ok()) return;
    const ErrorCode code = failed.error().code;
    if (code == ErrorCode::kRunNotFound || code == ErrorCode::kConflict) return;
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, delay, [this] { return stopping_; })) return;  // recovery's job now
    delay *= 2;
  }
}

}  // namespace tapedeck::api
