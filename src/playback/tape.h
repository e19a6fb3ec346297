// Tape: a finished run (engine::RunResult) with the bars of its symbols, indexed for playback.
//
// Built once per run, immutable, shared by every viewer (shared_ptr<const Tape>). It memoizes
// encoded frame heads, so a frame at a given (window length, window) is encoded once for all
// viewers.
//
// Thread-safety: a Tape, its frame cache included, may be used from any number of threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "common/time.h"
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
  // is valid: 0 windows.
  static Result<std::shared_ptr<const Tape>> Create(std::shared_ptr<const engine::RunResult> run,
                                                    std::vector<market::Series> series,
                                                    TapeOptions options = {});

  const engine::RunResult& run() const { return *run_; }
  const std::vector<std::string>& symbols() const { return run_->symbols; }
  std::span<const market::Series> series() const { return series_; }
  std::span<const Timestamp> times() const { return run_->times; }
  size_t bar_count() const { return run_->times.size(); }
  bool empty() const { return run_->times.empty(); }
  // REQUIRES: !empty().
  Timestamp first_time() const { return run_->times.front(); }
  Timestamp last_time() const { return run_->times.back(); }

  // The first aligned bar at or after `t` (bar_count() if none).
  size_t LowerBound(Timestamp t) const;
  // The events whose bar lies in `bars`, oldest first (a view into run().events).
  std::span<const engine::OrderEvent> EventsIn(BarRange bars) const;
  // The log messages whose bar lies in `bars`, oldest first (a view into run().logs).
  std::span<const engine::LogEntry> LogsIn(BarRange bars) const;

  // The shared part of window `window`'s frame at window length `delta` (frame.h's
  // EncodeFrameHead), from the cache or built by `build` (a callable returning std::string) and
  // cached. Never null. Thread-safe; concurrent misses may both build, and one result is kept.
  template <typename Build>
  std::shared_ptr<const std::string> CachedFrame(Micros delta, size_t window, Build&& build) const;

  struct CacheStats {
    size_t hits = 0, misses = 0, entries = 0, bytes = 0;
  };
  CacheStats cache_stats() const;

 private:
  Tape() = default;

  struct Key {
    int64_t delta_us;
    size_t window;
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const noexcept {
      return std::hash<int64_t>()(k.delta_us) * 31 ^ std::hash<size_t>()(k.window);
    }
  };
  struct Entry {
    Key key;
    std::shared_ptr<const std::string> text;
  };

  std::shared_ptr<const std::string> Lookup(const Key& key) const;
  std::shared_ptr<const std::string> Insert(const Key& key,
                                            std::shared_ptr<const std::string> text) const;

  std::shared_ptr<const engine::RunResult> run_;
  std::vector<market::Series> series_;
  TapeOptions options_;

  // Memoization only: logically const, hence mutable, guarded by cache_mutex_.
  mutable std::mutex cache_mutex_;
  mutable std::list<Entry> lru_;  // most recent first
  mutable std::unordered_map<Key, std::list<Entry>::iterator, KeyHash> index_;
  mutable size_t cache_bytes_ = 0;
  mutable size_t hits_ = 0, misses_ = 0;
};

template <typename Build>
std::shared_ptr<const std::string> Tape::CachedFrame(Micros delta, size_t window,
                                                     Build&& build) const {
  const Key key{delta.count(), window};
  if (auto hit = Lookup(key)) return hit;
  // Built outside the lock: a wide window (high speed) takes a while to aggregate.
  return Insert(key, std::make_shared<const std::string>(build()));
}

}  // namespace tapedeck::playback
