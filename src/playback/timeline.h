// Timeline: a Tape cut into windows at a Speed S, and the seek targets that name a place in it.
//
// Window k covers sim time [T0 + k*D, T0 + (k+1)*D), D = S * 8760 / 30 seconds (rounded to whole
// microseconds), T0 the first bar's time; n windows cover the last bar. One window is played per
// 1/30 s of wall time. A Timeline is a cheap value (O(1) to make, nothing allocated per window):
// windows are found on demand by binary search over the bar times, so S = 0.01 (millions of
// windows) costs nothing.
//
// Thread-safety: Timeline is an immutable value; its const calls may run on any number of threads
// (the frame cache they reach is the Tape's, which is thread-safe). Free functions are re-entrant.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/error.h"
#include "common/time.h"
#include "playback/frame.h"
#include "playback/speed.h"
#include "playback/tape.h"

namespace tapedeck::playback {

inline constexpr int kFramesPerSecond = 30;
// Sim seconds one wall second plays at speed 1 (a year in an hour); at speed S, S times as many,
// so a window covers S * kSimSecondsPerSecond / kFramesPerSecond sim seconds.
inline constexpr int kSimSecondsPerSecond = 8760;

// Wall time between two consecutive windows: 1/30 s.
inline constexpr std::chrono::nanoseconds kFrameInterval{1'000'000'000 / kFramesPerSecond};

// Where a client asks playback to go (a control message's `pos`, a URL's `?from=`): a window index
// or a time. Timeline::Locate turns it into the window to play.
using SeekTarget = std::variant<uint64_t /*window index*/, Timestamp>;

// "123" -> window index 123; an ISO-8601 time (common/time.h's ParseIso) -> that time. Anything
// else (a sign, a fraction, garbage, empty): VALIDATION "position must be an ISO-8601 time or a
// window index" {"field": field, "got": text cut to 64 bytes}. `field` is the wire name the
// client used ("pos" or "from").
Result<SeekTarget> ParseSeekTarget(std::string_view text, std::string_view field = "pos");

class Timeline {
 public:
  // REQUIRES: tape != nullptr.
  static Timeline Create(std::shared_ptr<const Tape> tape, Speed speed);

  const Tape& tape() const { return *tape_; }
  const std::shared_ptr<const Tape>& shared_tape() const { return tape_; }
  Speed speed() const { return speed_; }
  Micros window_length() const { return delta_; }  // D
  size_t window_count() const { return n_; }       // n

  Timestamp WindowStart(size_t k) const;
  // The window holding aligned bar `bar`. REQUIRES: bar < tape().bar_count().
  size_t WindowOf(size_t bar) const;
  // The first aligned bar in window k or later (bar_count() when none): the start of window k in
  // bar indices.
  size_t FirstBarOf(size_t k) const;
  // The same, searched from aligned bar `hint` (Tape::LowerBound's): cheap when the answer is near.
  size_t FirstBarOf(size_t k, size_t hint) const;
  // The bars of window k (empty when it holds none or k >= n).
  BarRange Bars(size_t k) const;
  bool HasBars(size_t k) const { return !Bars(k).empty(); }
  // The first window >= k holding bars / the last window <= k holding bars, if any.
  std::optional<size_t> NextWindowWithBars(size_t k) const;
  std::optional<size_t> PrevWindowWithBars(size_t k) const;
  // The nearest window with bars to k (on a tie, the later). REQUIRES: k < n.
  size_t Snap(size_t k) const;
  // True when the bars of windows 0..k are all on the tape (so Bars(k), FirstBarOf(k + 1) and a
  // Snap or Locate to k are the whole run's answers): always on a complete tape; on a partial
  // one, when k < n and its bars reach past window k's end.
  bool Known(size_t k) const;
  // The window `target` names before Snap: nullopt when Locate refuses it.
  std::optional<size_t> TargetWindow(const SeekTarget& target) const;
  // How many distinct windows hold the bars in `bars`. O(result * log bars); O(1) for one.
  size_t CountWindows(BarRange bars) const;
  // Whether `bars` is exactly Bars(k) for its window k. O(1) unless its end is past the bars
  // loaded so far.
  bool IsWholeWindow(BarRange bars) const;

  // The window with bars to play for `target`: an index k < n, or a time in [T0, T0 + n*D),
  // snapped (Snap). Errors: RANGE {"field": field, "got": ..., "n" or "first"/"end": ...} outside
  // that (every target is outside an empty tape).
  Result<size_t> Locate(const SeekTarget& target, std::string_view field = "pos") const;

  // Aggregates window k / any bar range (i = window of its last bar); a range of several windows
  // is their coalesced frame. REQUIRES: the range is non-empty.
  Frame BuildFrame(size_t k) const { return BuildFrame(Bars(k)); }
  Frame BuildFrame(BarRange bars) const;

  // EncodeFrameHead of window k, through the tape's shared cache. Never null.
  // REQUIRES: HasBars(k).
  std::shared_ptr<const std::string> FrameHead(size_t k) const;
  // EncodeFrameHead of any bar range, through the same cache (whole windows and other ranges
  // have a budget each: TapeOptions).
  // REQUIRES: !bars.empty().
  std::shared_ptr<const std::string> FrameHead(BarRange bars) const;

 private:
  Timeline() = default;

  std::shared_ptr<const Tape> tape_;
  Speed speed_;
  Micros delta_{0};
  size_t n_ = 0;
};

}  // namespace tapedeck::playback
