#include "api/store_run_source.h"

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

#include "strategies/strategies.h"

namespace tapedeck::api {
namespace {

// The nice value of the threads reading the rest of a tape.
constexpr int kLoaderNice = 10;
// The bytes of times a tape lets go (Lean) past which the heap is trimmed at once.
constexpr size_t kTrimAfter = size_t{1} << 20;

// A built-in's series stored as derivations get their values from the bars of symbol 0, the
// run's first series: the whole run's, or a head's from the bars up to its end.
// The error a plotted series' derivation gives, said as the tape's.
Error PlotsError(Error e) {
  e.msg = "the plotted series cannot be computed: " + e.msg;
  return e;
}

Status Materialise(engine::RunResult& result, const std::vector<market::Series>& series) {
  if (series.empty()) return Ok();
  Status st = strategies::MaterialisePlots(result, series.front());
  if (st.ok()) return st;
  return PlotsError(st.take_error());
}

// A one-symbol run whose timeline is its series' bars (the run's period of the dataset, or a head's
// first bars of it): the tape reads its times from the series and computes its derived plots per
// window (playback::TapeLean), so result.times is let go and the plots get no values. Any other
// run's plots are materialised, as before.
Result<playback::TapeLean> Lean(engine::RunResult& result,
                                const std::vector<market::Series>& series) {
  playback::TapeLean lean;
  const auto& times = result.times;
  const bool same = series.size() == 1 && result.symbols.size() == 1 &&
                    result.equity.size() == times.size() && series[0].size() >= times.size() &&
                    std::equal(times.begin(), times.end(), series[0].times().begin());
  if (!same) {
    TD_TRY(Materialise(result, series));
    return lean;
  }
  auto plots = strategies::DerivePlotValues(result, times.size(), series[0]);
  if (!plots.ok()) return PlotsError(plots.take_error());
  lean.plots = std::move(plots).value();
  [[maybe_unused]] const size_t freed = result.times.capacity() * sizeof(Timestamp);
  std::vector<Timestamp>().swap(result.times);
  lean.times_from_series = true;
#if defined(__GLIBC__)
  // The times were decoded first, so they leave a hole below the rest of the result: glibc gives
  // its pages back in malloc_trim only, which the server's heap trimmer calls for 16 MB freed or
  // more. A whole run's (4.2 MB for a year of minutes, read by a tape's background loader) is
  // given back now; a head's few kilobytes are not worth the walk over every arena.
  if (freed >= kTrimAfter) malloc_trim(0);
#endif
  return lean;
}

// Once a tape is whole its bars' pages go out of the resident set: the checksum, the run and the
// plots' derivation read every one of them, a stream only those of the windows it plays (on the
// file mapping, ~25 MB for a year of minutes, most of an idle server's RSS). A later reader takes
// them back from the page cache.
void ReleaseBars(const std::vector<market::Series>& series) {
  for (const market::Series& s : series) s.ReleaseResidentPages();
}

}  // namespace

StoreRunSource::StoreRunSource(store::Store& store, size_t capacity,
                               std::chrono::milliseconds recheck, size_t head_bars)
    : store_(store),
      capacity_(std::max<size_t>(capacity, 1)),
      head_bars_(std::max<size_t>(head_bars, 1)),
      recheck_(recheck) {}

StoreRunSource::~StoreRunSource() {
  std::vector<Loader> loaders;
  {
    std::lock_guard lock(mu_);
    loaders.swap(loaders_);
  }
  for (Loader& l : loaders) l.thread.join();
}

StoreRunSource::FirstRead::FirstRead(StoreRunSource& source) : source_(source) {
  std::lock_guard lock(source_.reads_mu_);
  ++source_.first_reads_;
}

StoreRunSource::FirstRead::~FirstRead() {
  {
    std::lock_guard lock(source_.reads_mu_);
    --source_.first_reads_;
  }
  source_.reads_cv_.notify_all();
}

StoreRunSource::BackgroundRead::BackgroundRead(StoreRunSource& source) : source_(source) {
  std::unique_lock lock(source_.reads_mu_);
  Take(lock);
}

void StoreRunSource::BackgroundRead::Take(std::unique_lock<std::mutex>& lock) {
  // One background read at a time, and none while first reads are under way, unless they have
  // kept it waiting for kMaxYield (a steady stream of them must not stall the rest for ever).
  const auto yield_until = SteadyClock::now() + kMaxYield;
  source_.reads_cv_.wait_until(lock, yield_until, [&] {
    return !source_.background_busy_ && source_.first_reads_ == 0;
  });
  source_.reads_cv_.wait(lock, [&] { return !source_.background_busy_; });
  source_.background_busy_ = true;
}

void StoreRunSource::BackgroundRead::Yield() {
  std::unique_lock lock(source_.reads_mu_);
  if (source_.first_reads_ == 0) return;
  source_.background_busy_ = false;
  source_.reads_cv_.notify_all();
  Take(lock);
}

StoreRunSource::BackgroundRead::~BackgroundRead() {
  {
    std::lock_guard lock(source_.reads_mu_);
    source_.background_busy_ = false;
  }
  source_.reads_cv_.notify_all();
}

size_t StoreRunSource::loading_tapes() const {
  std::lock_guard lock(mu_);
  return static_cast<size_t>(std::count_if(loaders_.begin(), loaders_.end(), [](const Loader& l) {
    return !l.done->load(std::memory_order_acquire);
  }));
}

Result<std::shared_ptr<const playback::Tape>> StoreRunSource::Open(std::string_view id) {
  uint64_t epoch = 0;
  {
    std::unique_lock lock(mu_);
    for (;;) {
      auto it = std::find_if(cache_.begin(), cache_.end(),
                             [&](const auto& entry) { return entry.first == id; });
      if (it != cache_.end()) {
        std::rotate(cache_.begin(), it, it + 1);
        return cache_.front().second;
      }
      if (const auto pending = pending_.find(std::string(id));
          pending != pending_.end() && SteadyClock::now() < pending->second) {
        return std::shared_ptr<const playback::Tape>();
      }
      // Another connection is reading this run from the store: wait for its answer rather than
      // read the same tape again (the viewers of a run that just ended all ask at once). Should
      // it fail, each waiter asks the store itself and gets the error first-hand.
      if (!loading_.contains(std::string(id))) break;
      loaded_.wait(lock);
    }
    loading_.insert(std::string(id));
    epoch = finished_epoch_;
  }
  struct Loading {
    StoreRunSource* source;
    std::string_view id;
    ~Loading() {
      {
        std::lock_guard lock(source->mu_);
        source->loading_.erase(std::string(id));
      }
      source->loaded_.notify_all();
    }
  } loading{this, id};
  // A first read (what a first frame waits for): loaders of other tapes' rest hold back meanwhile.
  FirstRead first_read(*this);
  auto got = store_.GetRunAndHead(id, head_bars_);
  if (!got.ok()) return got.take_error();
  const store::RunInfo* run = &got->run;
  switch (run->status) {
    case store::RunStatus::kQueued:
    case store::RunStatus::kRunning: {
      pending_reads_.fetch_add(1, std::memory_order_relaxed);
      std::lock_guard lock(mu_);
      const auto now = SteadyClock::now();
      if (pending_.size() >= kMaxPending) {
        std::erase_if(pending_, [&](const auto& entry) { return entry.second <= now; });
      }
      // A run that ended while the store was being read may have been read as running: then
      // the next Open asks again rather than waiting out a recheck for a notification that has
      // already come and gone.
      if (finished_epoch_ == epoch && pending_.size() < kMaxPending) {
        pending_[std::string(id)] = now + recheck_;
      } else {
        pending_.erase(std::string(id));
      }
      return std::shared_ptr<const playback::Tape>();
    }
    case store::RunStatus::kFailed:
      Forget(id);
      return MakeError(ErrorCode::kRunFailed, "run " + run->id + " failed: " + run->error.msg,
                       {{"id", run->id}, {"error", run->error.msg}});
    case store::RunStatus::kDone:
      break;
  }
  {
    std::lock_guard lock(mu_);
    pending_.erase(std::string(id));
  }
  auto tape = got->head ? LoadProgressively(*run, std::move(*got->head)) : LoadWhole(*run);
  if (!tape.ok()) return tape.take_error();
  Cache(run->id, *tape);
  return *tape;
}

void StoreRunSource::Cache(const std::string& id, std::shared_ptr<const playback::Tape> tape) {
  std::lock_guard lock(mu_);
  std::erase_if(cache_, [&](const auto& entry) { return entry.first == id; });
  cache_.insert(cache_.begin(), {id, std::move(tape)});
  if (cache_.size() > capacity_) cache_.pop_back();
}

Result<std::vector<market::Series>> StoreRunSource::LoadSeries(const store::RunInfo& run,
                                                               std::optional<Timestamp> to) {
  const Timestamp from = run.spec.from.value_or(FromMicros(INT64_MIN));
  Timestamp end = run.spec.to.value_or(FromMicros(INT64_MAX));
  if (to) end = std::min(end, *to);
  std::vector<market::Series> series;
  for (const std::string& dataset : run.spec.datasets) {
    auto bars = to ? store_.LoadBarsBetween(dataset, from, end) : store_.LoadBars(dataset);
    if (!bars.ok() && bars.error().code != ErrorCode::kNotFound) {
      // Unreadable or corrupt (the checksum): say so, with the file, rather than "deleted".
      Error e = bars.take_error();
      e.msg = "the bars of run " + run.id + " cannot be read: " + e.msg;
      e.details["id"] = run.id;
      return e;
    }
    if (!bars.ok()) {
      return MakeError(
          ErrorCode::kRunFailed,
          "the bars of run " + run.id + " are gone (dataset '" + dataset + "' was deleted)",
          {{"id", run.id}, {"dataset", dataset}});
    }
    market::Series one = *bars;
    if (!to && (run.spec.from || run.spec.to)) one = one.Slice(from, end);
    series.push_back(std::move(one));
  }
  return series;
}

Result<std::shared_ptr<const playback::Tape>> StoreRunSource::LoadWhole(const store::RunInfo& run) {
  auto result = store_.LoadRunResult(run.id);
  if (!result.ok()) return result.take_error();
  auto series = LoadSeries(run, std::nullopt);
  if (!series.ok()) return series.take_error();
  auto lean = Lean(*result, *series);
  if (!lean.ok()) return lean.take_error();
  auto shared = std::make_shared<const engine::RunResult>(std::move(result).value());
  auto tape = playback::Tape::Create(shared, *series, {}, std::move(lean).value());
  if (tape.ok()) ReleaseBars(*series);
  return tape;
}

Result<std::shared_ptr<const playback::Tape>> StoreRunSource::LoadProgressively(
    const store::RunInfo& run, store::RunHead head) {
  if (head.result.times.size() >= head.total_bars) return LoadWhole(run);
  // The bars up to the head's last: the series' bars after it belong to bars still to come.
  const Timestamp head_end = head.result.times.back() + Micros{1};
  auto series = LoadSeries(run, head_end);
  if (!series.ok()) return series.take_error();
  auto lean = Lean(head.result, *series);
  if (!lean.ok()) return lean.take_error();
  const size_t total = head.total_bars;
  const Timestamp last = head.last_time;
  auto tape = playback::Tape::CreatePartial(
      std::make_shared<const engine::RunResult>(std::move(head.result)), std::move(series).value(),
      total, last, {}, std::move(lean).value());
  if (!tape.ok()) return tape.take_error();
  std::shared_ptr<playback::Tape> partial = *tape;
  // The head's bars are a mapping of their own, touched by the head's checks and plots.
  std::vector<market::Series> head_series(partial->series().begin(), partial->series().end());
  auto done = std::make_shared<std::atomic<bool>>(false);
  std::lock_guard lock(mu_);
  // Reap the loaders that finished: a join that does not wait.
  std::erase_if(loaders_, [](Loader& l) {
    if (!l.done->load(std::memory_order_acquire)) return false;
    l.thread.join();
    return true;
  });
  loaders_.push_back(Loader{std::thread([this, run, partial, head_series, done] {
                              // Behind the frames: below the threads that send them (Linux
                              // nice applies per thread). Best effort.
                              (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()),
                                                  kLoaderNice);
                              LoadRest(run, partial);
                              if (partial->complete()) ReleaseBars(head_series);
                              done->store(true, std::memory_order_release);
                            }),
                            done});
  return std::shared_ptr<const playback::Tape>(partial);
}

void StoreRunSource::LoadRest(const store::RunInfo& run,
                              const std::shared_ptr<playback::Tape>& tape) {
  Status st = [&]() -> Status {
    Result<engine::RunResult> result = [&] {
      BackgroundRead turn(*this);
      return store_.LoadRunResultInPieces(run.id, [&turn] { turn.Yield(); });
    }();
    if (!result.ok()) return result.take_error();
    Result<std::vector<market::Series>> series = [&] {
      BackgroundRead turn(*this);
      return LoadSeries(run, std::nullopt);
    }();
    if (!series.ok()) return series.take_error();
    auto lean = Lean(*result, *series);
    if (!lean.ok()) return lean.take_error();
    TD_TRY(tape->Complete(std::make_shared<const engine::RunResult>(std::move(result).value()),
                          *series, std::move(lean).value()));
    ReleaseBars(*series);
    return Ok();
  }();
  if (st.ok()) return;
  // Not kept (dropped before anyone hears of the failure): the next Open reads the run again,
  // and gets the error first-hand, or the tape.
  {
    std::lock_guard lock(mu_);
    std::erase_if(cache_, [&](const auto& entry) { return entry.second.get() == tape.get(); });
  }
  tape->FailLoad(st.error());
}

void StoreRunSource::Forget(std::string_view id) {
  std::lock_guard lock(mu_);
  std::erase_if(cache_, [&](const auto& entry) { return entry.first == id; });
  pending_.erase(std::string(id));
}

void StoreRunSource::Finished(std::string_view id) {
  std::lock_guard lock(mu_);
  ++finished_epoch_;
  if (id.empty()) {
    pending_.clear();
  } else {
    pending_.erase(std::string(id));
  }
}

}  // namespace tapedeck::api
