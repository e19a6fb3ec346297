#include "playback/tape.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace tapedeck::playback {

namespace {

// What Create checks of a run and its series (see tape.h).
// `times`: the run's timeline (run->times, or series[0]'s: TapeLean); `plots`: TapeLean::plots.
Status Validate(const engine::RunResult* run, const std::vector<market::Series>& series,
                std::span<const Timestamp> times,
                const std::vector<std::shared_ptr<const engine::PlotValues>>& plots) {
  if (series.size() != run->symbols.size()) {
    return MakeError(ErrorCode::kValidation, "one series per symbol of the run is required",
                     {{"field", "series"},
                      {"symbols", std::to_string(run->symbols.size())},
                      {"series", std::to_string(series.size())}});
  }
  for (size_t s = 0; s < series.size(); ++s) {
    if (!series[s].symbol().empty() && series[s].symbol() != run->symbols[s]) {
      return MakeError(
          ErrorCode::kValidation, "series symbol differs from the run's",
          {{"field", "series"}, {"expected", run->symbols[s]}, {"got", series[s].symbol()}});
    }
  }
  if (run->equity.size() != times.size()) {
    return MakeError(ErrorCode::kValidation, "equity and times differ in length",
                     {{"field", "equity"}});
  }
  // A frame's windows are found by binary search over the times, so order must hold.
  for (size_t i = 1; i < times.size(); ++i) {
    if (times[i] <= times[i - 1]) {
      return MakeError(ErrorCode::kValidation, "times are not strictly increasing",
                       {{"field", "times"}, {"index", std::to_string(i)}});
    }
  }
  size_t prev_bar = 0;
  for (size_t e = 0; e < run->events.size(); ++e) {
    const engine::OrderEvent& ev = run->events[e];
    if (ev.bar >= times.size() || ev.symbol >= run->symbols.size() || ev.bar < prev_bar) {
      return MakeError(ErrorCode::kValidation, "order event out of range or out of order",
                       {{"field", "events"}, {"index", std::to_string(e)}});
    }
    prev_bar = ev.bar;
  }
  if (!plots.empty() && plots.size() != run->plots.size()) {
    return MakeError(ErrorCode::kValidation, "one computed series per plotted series is required",
                     {{"field", "plots"}});
  }
  for (size_t p = 0; p < run->plots.size(); ++p) {
    const bool computed = p < plots.size() && plots[p] != nullptr;
    if (computed ? (plots[p]->size() != times.size() || !run->plots[p].values.empty())
                 : run->plots[p].values.size() != times.size()) {
      return MakeError(ErrorCode::kValidation, "a plotted series and times differ in length",
                       {{"field", "plots"}, {"index", std::to_string(p)}});
    }
  }
  prev_bar = 0;
  for (size_t l = 0; l < run->logs.size(); ++l) {
    const engine::LogEntry& log = run->logs[l];
    if (log.bar >= times.size() || log.bar < prev_bar) {
      return MakeError(ErrorCode::kValidation, "log entry out of range or out of order",
                       {{"field", "logs"}, {"index", std::to_string(l)}});
    }
    prev_bar = log.bar;
  }
  return Ok();
}

// Equal bit for bit (NaN equity included).
bool SamePrefix(std::span<const double> head, std::span<const double> whole) {
  return head.size() <= whole.size() &&
         std::memcmp(head.data(), whole.data(), head.size() * sizeof(double)) == 0;
}

}  // namespace

Status Tape::Fill(Data& d, std::shared_ptr<const engine::RunResult> run,
                  std::vector<market::Series> series, TapeLean lean) {
  if (!run) return MakeError(ErrorCode::kValidation, "no run to play", {{"field", "run"}});
  std::span<const Timestamp> times = run->times;
  if (lean.times_from_series) {
    if (!run->times.empty() || series.empty() || series[0].size() < run->equity.size()) {
      return MakeError(ErrorCode::kValidation, "the run's times are not its first series'",
                       {{"field", "times"}});
    }
    // A span into the columns' storage, which the Series in d.series keeps alive.
    times = series[0].times().first(run->equity.size());
  }
  TD_TRY(Validate(run.get(), series, times, lean.plots));
  d.run = std::move(run);
  d.series = std::move(series);
  d.times = times;
  d.lean = lean.times_from_series ||
           std::any_of(lean.plots.begin(), lean.plots.end(), [](const auto& p) { return p; });
  d.plots = std::move(lean.plots);
  return Ok();
}

Result<std::shared_ptr<const Tape>> Tape::Create(std::shared_ptr<const engine::RunResult> run,
                                                 std::vector<market::Series> series,
                                                 TapeOptions options, TapeLean lean) {
  auto tape = std::shared_ptr<Tape>(new Tape());
  TD_TRY(Fill(tape->head_, std::move(run), std::move(series), std::move(lean)));
  const auto times = tape->head_.times;
  tape->total_bars_ = times.size();
  if (!times.empty()) {
    tape->last_time_ = times.back();
    tape->head_times_empty_ = false;
    tape->head_last_ = times.back();
  }
  tape->options_ = options;
  tape->whole_.store(&tape->head_, std::memory_order_release);
  return std::shared_ptr<const Tape>(std::move(tape));
}

Result<std::shared_ptr<Tape>> Tape::CreatePartial(std::shared_ptr<const engine::RunResult> head,
                                                  std::vector<market::Series> series,
                                                  size_t total_bars, Timestamp last_time,
                                                  TapeOptions options, TapeLean lean) {
  auto tape = std::shared_ptr<Tape>(new Tape());
  TD_TRY(Fill(tape->head_, std::move(head), std::move(series), std::move(lean)));
  const auto times = tape->head_.times;
  const size_t bars = times.size();
  if (bars == 0 || bars > total_bars || times.back() > last_time ||
      (bars == total_bars && times.back() != last_time)) {
    return MakeError(ErrorCode::kValidation, "the head does not begin a run of these bars",
                     {{"field", "head"},
                      {"bars", std::to_string(bars)},
                      {"total_bars", std::to_string(total_bars)}});
  }
  tape->total_bars_ = total_bars;
  tape->last_time_ = last_time;
  tape->head_times_empty_ = false;
  tape->head_last_ = times.back();
  tape->options_ = options;
  if (bars == total_bars) tape->whole_.store(&tape->head_, std::memory_order_release);
  return tape;
}

Status Tape::Complete(std::shared_ptr<const engine::RunResult> run,
                      std::vector<market::Series> series, TapeLean lean) {
  if (complete()) return Ok();
  auto whole = std::make_unique<Data>();
  Status valid = Fill(*whole, std::move(run), std::move(series), std::move(lean));
  if (valid.ok()) {
    const engine::RunResult& head = *head_.run;
    const auto head_times = head_.times, times = whole->times;
    const bool continues = whole->run->symbols == head.symbols && times.size() == total_bars_ &&
                           !times.empty() && times.back() == last_time_ &&
                           head_times.size() <= times.size() &&
                           std::equal(head_times.begin(), head_times.end(), times.begin()) &&
                           SamePrefix(head.equity, whole->run->equity);
    if (!continues) {
      valid = MakeError(ErrorCode::kValidation, "the whole run does not continue its first bars",
                        {{"field", "run"}});
    }
  }
  if (!valid.ok()) {
    FailLoad(valid.error());
    return valid;
  }
  {
    std::lock_guard lock(load_mutex_);
    if (whole_owner_ || load_error_) return Ok();
    whole_owner_ = std::move(whole);
    whole_.store(whole_owner_.get(), std::memory_order_release);
  }
  load_cv_.notify_all();
  return Ok();
}

const engine::RunResult& Tape::run() const {
  const Data& d = data();
  if (!d.lean) return *d.run;
  std::call_once(d.full_once, [&d] {
    auto full = std::make_unique<engine::RunResult>(*d.run);
    full->times.assign(d.times.begin(), d.times.end());
    for (size_t p = 0; p < d.plots.size(); ++p) {
      if (!d.plots[p]) continue;
      full->plots[p].values.resize(d.times.size());
      d.plots[p]->Fill(0, d.times.size(), full->plots[p].values.data());
    }
    d.full = std::move(full);
  });
  return *d.full;
}

std::optional<double> Tape::LastPlotValue(size_t plot, BarRange bars) const {
  const Data& d = data();
  if (plot < d.plots.size() && d.plots[plot]) {
    // From the end, a chunk at a time, each from where the series resumes at no extra cost: a
    // dense series needs one.
    const engine::PlotValues& computed = *d.plots[plot];
    const size_t chunk = std::max<size_t>(computed.resume_every(), 1);
    std::vector<double> values;
    for (size_t end = bars.end; end > bars.begin;) {
      const size_t begin = std::max(bars.begin, (end - 1) / chunk * chunk);
      values.resize(end - begin);
      computed.Fill(begin, end, values.data());
      for (size_t i = end - begin; i > 0; --i) {
        if (std::isfinite(values[i - 1])) return values[i - 1];
      }
      end = begin;
    }
    return std::nullopt;
  }
  // From the last bar back: a dense series stops at once, a sparse one scans its gaps.
  const double* values = d.run->plots[plot].values.data();
  for (size_t i = bars.end; i > bars.begin; --i) {
    if (std::isfinite(values[i - 1])) return values[i - 1];
  }
  return std::nullopt;
}

void Tape::FailLoad(Error error) {
  {
    std::lock_guard lock(load_mutex_);
    if (complete() || load_error_) return;
    load_error_ = std::move(error);
  }
  load_cv_.notify_all();
}

Status Tape::WaitComplete(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(load_mutex_);
  const auto done = [&] { return complete() || load_error_.has_value(); };
  if (timeout == std::chrono::milliseconds::max()) {
    load_cv_.wait(lock, done);
  } else {
    load_cv_.wait_for(lock, timeout, done);
  }
  if (load_error_) return *load_error_;
  return Ok();
}

std::optional<Error> Tape::load_error() const {
  std::lock_guard lock(load_mutex_);
  return load_error_;
}

size_t Tape::LowerBound(Timestamp t) const {
  const auto times = data().times;
  return static_cast<size_t>(std::lower_bound(times.begin(), times.end(), t) - times.begin());
}

size_t Tape::LowerBound(Timestamp t, size_t hint) const {
  const auto times = data().times;
  const size_t size = times.size();
  if (hint > size) hint = size;
  if (hint < size && times[hint] < t) {
    // Forward: the answer is past hint; double the step until a time at or past t.
    size_t lo = hint + 1, step = 1;
    size_t hi = lo;
    while (hi < size && times[hi] < t) {
      lo = hi + 1;
      hi = lo + step;
      step *= 2;
    }
    hi = std::min(hi, size);
    return static_cast<size_t>(std::lower_bound(times.begin() + static_cast<ptrdiff_t>(lo),
                                                times.begin() + static_cast<ptrdiff_t>(hi), t) -
                               times.begin());
  }
  if (hint == 0 || times[hint - 1] < t) return hint;
  return static_cast<size_t>(
      std::lower_bound(times.begin(), times.begin() + static_cast<ptrdiff_t>(hint), t) -
      times.begin());
}

std::span<const engine::OrderEvent> Tape::EventsIn(BarRange bars) const {
  const auto& events = data().run->events;
  const auto by_bar = [](const engine::OrderEvent& ev, size_t bar) { return ev.bar < bar; };
  const auto first = std::lower_bound(events.begin(), events.end(), bars.begin, by_bar);
  const auto last = std::lower_bound(first, events.end(), bars.end, by_bar);
  return {first, last};
}

std::span<const engine::LogEntry> Tape::LogsIn(BarRange bars) const {
  const auto& logs = data().run->logs;
  const auto by_bar = [](const engine::LogEntry& log, size_t bar) { return log.bar < bar; };
  const auto first = std::lower_bound(logs.begin(), logs.end(), bars.begin, by_bar);
  const auto last = std::lower_bound(first, logs.end(), bars.end, by_bar);
  return {first, last};
}

std::shared_ptr<const std::string> Tape::Lookup(const Key& key, bool whole_window) const {
  std::lock_guard lock(cache_mutex_);
  Cache& cache = whole_window ? windows_ : ranges_;
  // Streams in step ask for the same frame one after another: the entry used last is the front.
  if (!cache.lru.empty() && cache.lru.front().key == key) {
    ++cache.hits;
    return cache.lru.front().text;
  }
  const auto it = cache.index.find(key);
  if (it == cache.index.end()) {
    ++cache.misses;
    return nullptr;
  }
  ++cache.hits;
  cache.lru.splice(cache.lru.begin(), cache.lru, it->second);
  return it->second->text;
}

std::shared_ptr<const std::string> Tape::Insert(const Key& key, bool whole_window,
                                                std::shared_ptr<const std::string> text) const {
  // A rough per-entry overhead, so many tiny frames still count against the budget.
  constexpr size_t kOverhead = 96;
  const size_t budget = whole_window ? options_.frame_cache_bytes : options_.range_cache_bytes;
  std::lock_guard lock(cache_mutex_);
  Cache& cache = whole_window ? windows_ : ranges_;
  if (const auto it = cache.index.find(key); it != cache.index.end()) return it->second->text;
  const size_t bytes = text->size() + kOverhead;
  if (bytes > budget) return text;  // larger than the whole budget: uncached
  cache.lru.push_front(Entry{key, text});
  cache.index.emplace(key, cache.lru.begin());
  cache.bytes += bytes;
  while (cache.bytes > budget && !cache.lru.empty()) {
    const Entry& victim = cache.lru.back();
    cache.bytes -= victim.text->size() + kOverhead;
    cache.index.erase(victim.key);
    cache.lru.pop_back();
  }
  return text;
}

void Tape::NoteBarsRead(size_t bars) const {
  const size_t every = options_.release_bars_every;
  if (every == 0) return;
  if (bars_read_.fetch_add(bars, std::memory_order_relaxed) + bars < every) return;
  // Of the threads that crossed the mark together, the one that takes the count releases.
  if (bars_read_.exchange(0, std::memory_order_relaxed) < every) return;
  for (const market::Series& s : data().series) s.ReleaseResidentPages();
  releases_.fetch_add(1, std::memory_order_relaxed);
}

Tape::CacheStats Tape::cache_stats() const {
  std::lock_guard lock(cache_mutex_);
  return {windows_.hits,   windows_.misses,     windows_.index.size(), windows_.bytes,
          ranges_.hits,    ranges_.misses,      ranges_.index.size(),  ranges_.bytes,
          releases_.load(std::memory_order_relaxed)};
}

}  // namespace tapedeck::playback
