// Tape: a finished run (engine::RunResult) with the bars of its symbols, indexed for playback.
//
// Built once per run, immutable, shared by every viewer (shared_ptr<const Tape>). It memoizes
// encoded frame heads, so a frame at a given (window length, window) is encoded once for all
// viewers.
//
// A tape may also start with only its first bars (CreatePartial) while the rest is read from the
// store behind it: the frames of those bars can go out at once, and Complete() (or FailLoad())
// later makes it whole. Every bar of the head stays what it was: the whole tape only adds bars.
//
// Thread-safety: a Tape, its frame cache included, may be used from any number of threads; so
// may Complete and FailLoad, while others read it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "common/time.h"
#include "engine/plot_values.h"
#include "engine/run_result.h"
#include "market/market.h"

namespace tapedeck::playback {

// A half-open range of indices into the run's aligned timeline (engine::RunResult::times).
struct BarRange {
  size_t begin = 0, end = 0;
  bool empty() const { return begin >= end; }
  size_t size() const { return empty() ? 0 : end - begin; }
  friend bool operator==(const BarRange&, const BarRange&) = default;
};

struct TapeOptions {
  // Upper bound on the bytes of encoded frames the tape keeps; least recently used go first.
  size_t frame_cache_bytes = 64u << 20;
  // The same for frames of other bar ranges than one whole window (windows merged by a late
  // server or a slow client, the rest of a window after a speed change), kept apart so that they
  // never push the whole windows out. Streams that play in step merge the same windows at the
  // same time: they share one encoding.
  size_t range_cache_bytes = 2u << 20;
  // Every this many bars read to build frames (cache misses), the series' pages leave the
  // process's resident set again (market::Series::ReleaseResidentPages: a no-op unless they are
  // a file mapping). The bars of a window are read to build its frame, which is then cached, so
  // the windows already played need none of them: without this, every bar played stays resident
  // (a year of 1-minute bars: up to 25 MB). A bar read again (the next window's, a merged range
  // of played windows) is a minor fault from the page cache; no value changes. 0: never.
  size_t release_bars_every = 16384;
};

// What a tape reads or computes rather than holds in its run (a one-symbol run's tape from the
// store: StoreRunSource), given to Create, CreatePartial and Complete with the run it belongs to.
struct TapeLean {
  // The run's timeline is series[0]'s first bars (as many as run->equity has): run->times is
  // empty, and the tape reads the times from series[0].times() (the dataset's mapping, released
  // with the rest of the bars: TapeOptions::release_bars_every).
  bool times_from_series = false;
  // Empty, or one per run->plots: where non-null, run->plots[p].values is empty and this computes
  // them when a frame needs them (size(): the run's bar count).
  std::vector<std::shared_ptr<const engine::PlotValues>> plots;
};

class Tape {
 public:
  // Indexes a finished run for playback. `series` holds the bars of run->symbols, same order
  // (a series with a non-empty symbol() must match the name). The tape shares `run` and the
  // series' columns; nothing is copied. O(bars) to validate.
  // Errors: VALIDATION when run is null, series and symbols differ in count or name, equity and
  // times differ in length, times are not strictly increasing, or an event's bar or symbol is out
  // of range or events are not ordered by bar, a plotted series' values and times differ in
  // length, or a log's bar is out of range or logs are not ordered by bar. An empty run (no bars)
  // is valid: 0 windows. With `lean` (TapeLean), also when run->times is not empty or series[0]
  // has fewer bars than run->equity while times_from_series, or lean.plots is not one per plot,
  // or a computed series has values or another length than the bars.
  static Result<std::shared_ptr<const Tape>> Create(std::shared_ptr<const engine::RunResult> run,
                                                    std::vector<market::Series> series,
                                                    TapeOptions options = {}, TapeLean lean = {});

  // A tape of which only the first bars are here: `head` is the run's result cut after its first
  // bars (times, equity and plots of those bars, the events and logs of those bars, symbols;
  // trades and stats are not read from it), `series` the bars of its symbols up to the last of
  // them, `total_bars` and `last_time` the whole run's bar count and last bar time. Errors: as
  // Create (over the head), and VALIDATION when the head has no bar, more bars than total_bars
  // or a last bar after last_time, or is already whole with another last time.
  static Result<std::shared_ptr<Tape>> CreatePartial(std::shared_ptr<const engine::RunResult> head,
                                                     std::vector<market::Series> series,
                                                     size_t total_bars, Timestamp last_time,
                                                     TapeOptions options = {}, TapeLean lean = {});
  // Makes a partial tape whole: `run` and `series` as Create takes them. Errors (the tape then
  // fails, as FailLoad): as Create, and VALIDATION when they do not continue the head (other
  // symbols, bar count, last time, or head bars whose times or equity differ). A no-op on a
  // tape that is already whole.
  Status Complete(std::shared_ptr<const engine::RunResult> run, std::vector<market::Series> series,
                  TapeLean lean = {});
  // The rest of a partial tape cannot be had: WaitComplete and load_error() say `error` from now.
  void FailLoad(Error error);

  // True once every bar is here (always, for a tape made by Create).
  bool complete() const { return whole_.load(std::memory_order_acquire) != nullptr; }
  // Blocks until the tape is complete or its load failed, or `timeout` passed. Ok when complete
  // or timed out (check complete()); the load's error when it failed.
  Status WaitComplete(std::chrono::milliseconds timeout = std::chrono::milliseconds::max()) const;
  // Why the rest of a partial tape will not come, if it will not.
  std::optional<Error> load_error() const;
  // True when every bar at or before `t` is here (so a search for `t` in times() is the whole
  // tape's answer): the tape is complete, or `t` is at or before the last bar loaded.
  bool Knows(Timestamp t) const { return complete() || (!head_times_empty_ && t <= head_last_); }

  // What is here: the whole run once complete, the head before, with its times and every plotted
  // series' values. A lean tape's (TapeLean) is made whole on the first call and then held for
  // the tape's life (its times and plots copied out: a whole-run view for tests and tools);
  // playback reads times(), equity(), plot_name() and LastPlotValue() instead, which hold nothing.
  const engine::RunResult& run() const;
  const std::vector<std::string>& symbols() const { return head_.run->symbols; }
  std::span<const market::Series> series() const { return data().series; }
  // The run's timeline (run().times' values; a lean tape's read from series[0]).
  std::span<const Timestamp> times() const { return data().times; }
  std::span<const double> equity() const { return data().run->equity; }
  size_t plot_count() const { return data().run->plots.size(); }
  const std::string& plot_name(size_t plot) const { return data().run->plots[plot].name; }
  // The last finite value of plotted series `plot` (< plot_count()) among `bars` (the latest
  // bar's first), if any: run().plots[plot].values' there. A computed series (TapeLean) is
  // computed over the last bars of `bars` only, back to the bar before where it resumes
  // (engine::PlotValues::resume_every), and so on back until one is finite.
  std::optional<double> LastPlotValue(size_t plot, BarRange bars) const;
  // The bars here (all of them once complete); total_bars() is the whole run's.
  size_t bar_count() const { return data().times.size(); }
  size_t total_bars() const { return total_bars_; }
  bool empty() const { return total_bars_ == 0; }
  // REQUIRES: !empty(). last_time() is the whole run's, also while partial.
  Timestamp first_time() const { return head_.times.front(); }
  Timestamp last_time() const { return last_time_; }

  // The first aligned bar at or after `t` (bar_count() if none).
  size_t LowerBound(Timestamp t) const;
  // The same, searched from `hint` outwards (galloping): O(log distance), and only the bars near
  // `hint` are touched, when the answer is close to it (the next window of a stream's cursor).
  size_t LowerBound(Timestamp t, size_t hint) const;
  // The events whose bar lies in `bars`, oldest first (a view into run().events).
  std::span<const engine::OrderEvent> EventsIn(BarRange bars) const;
  // The log messages whose bar lies in `bars`, oldest first (a view into run().logs).
  std::span<const engine::LogEntry> LogsIn(BarRange bars) const;

  // The shared part of the frame of `bars` at window length `delta` (frame.h's EncodeFrameHead:
  // the two determine its bytes), from the cache or built by `build` (a callable returning
  // std::string) and cached: among the whole windows when `whole_window`, else among the other
  // ranges (TapeOptions). Never null. Thread-safe; concurrent misses may both build, and one
  // result is kept.
  template <typename Build>
  std::shared_ptr<const std::string> CachedFrame(Micros delta, BarRange bars, bool whole_window,
                                                 Build&& build) const;

  // Whole windows' entries; range_* the other ranges'.
  struct CacheStats {
    size_t hits = 0, misses = 0, entries = 0, bytes = 0;
    size_t range_hits = 0, range_misses = 0, range_entries = 0, range_bytes = 0;
    // How many times the series' pages were released (TapeOptions::release_bars_every).
    size_t releases = 0;
  };
  CacheStats cache_stats() const;

 private:
  Tape() = default;

  struct Data {
    std::shared_ptr<const engine::RunResult> run;
    std::vector<market::Series> series;
    std::span<const Timestamp> times;  // run->times, or series[0]'s (TapeLean)
    std::vector<std::shared_ptr<const engine::PlotValues>> plots;  // TapeLean::plots
    bool lean = false;
    // run(), made whole once (lean only).
    mutable std::once_flag full_once;
    mutable std::unique_ptr<const engine::RunResult> full;
  };
  // Validates `run` and `series` (with `lean`) and fills `d` with them.
  static Status Fill(Data& d, std::shared_ptr<const engine::RunResult> run,
                     std::vector<market::Series> series, TapeLean lean);
  const Data& data() const {
    const Data* whole = whole_.load(std::memory_order_acquire);
    return whole != nullptr ? *whole : head_;
  }

  struct Key {
    int64_t delta_us;
    size_t begin, end;  // the bars
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const noexcept {
      return (std::hash<int64_t>()(k.delta_us) * 31 ^ std::hash<size_t>()(k.begin)) * 31 ^
             std::hash<size_t>()(k.end);
    }
  };
  struct Entry {
    Key key;
    std::shared_ptr<const std::string> text;
  };
  // One LRU: the whole windows', or the other ranges'.
  struct Cache {
    std::list<Entry> lru;  // most recent first
    std::unordered_map<Key, std::list<Entry>::iterator, KeyHash> index;
    size_t bytes = 0;
    size_t hits = 0, misses = 0;
  };

  std::shared_ptr<const std::string> Lookup(const Key& key, bool whole_window) const;
  std::shared_ptr<const std::string> Insert(const Key& key, bool whole_window,
                                            std::shared_ptr<const std::string> text) const;
  // Counts `bars` read to build a frame; releases the series' pages every release_bars_every.
  void NoteBarsRead(size_t bars) const;

  // The head (for a tape made by Create: everything); whole_ points at it or, once Complete
  // published it, at *whole_owner_. Both live as long as the tape, so a span taken from the head
  // stays valid after the switch.
  Data head_;
  std::unique_ptr<Data> whole_owner_;
  std::atomic<const Data*> whole_{nullptr};
  size_t total_bars_ = 0;
  Timestamp last_time_{};
  bool head_times_empty_ = true;
  Timestamp head_last_{};
  TapeOptions options_;

  mutable std::mutex load_mutex_;
  mutable std::condition_variable load_cv_;
  std::optional<Error> load_error_;  // GUARDED_BY(load_mutex_)

  // Memoization only: logically const, hence mutable, guarded by cache_mutex_.
  mutable std::mutex cache_mutex_;
  mutable Cache windows_, ranges_;
  // Bars read by frame builds since the last release, and the releases (NoteBarsRead).
  mutable std::atomic<size_t> bars_read_{0};
  mutable std::atomic<size_t> releases_{0};
};

template <typename Build>
std::shared_ptr<const std::string> Tape::CachedFrame(Micros delta, BarRange bars,
                                                     bool whole_window, Build&& build) const {
  const Key key{delta.count(), bars.begin, bars.end};
  if (auto hit = Lookup(key, whole_window)) return hit;
  // Built outside the lock: a wide window (high speed) takes a while to aggregate.
  auto text = std::make_shared<const std::string>(build());
  NoteBarsRead(bars.size());
  return Insert(key, whole_window, std::move(text));
}

}  // namespace tapedeck::playback
