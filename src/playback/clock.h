// Clock: wall time for pacing, injected (after leveldb's Env) so that playback reads time only
// through it and tests drive it by hand (tests/unit/playback/fake_clock.h).
//
// Thread-safety: Now() is const and must be safe to call from any thread; SteadyClock's is.
#pragma once

#include <chrono>

namespace tapedeck::playback {

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  // The current time; never goes backwards.
  virtual TimePoint Now() const = 0;
};

// std::chrono::steady_clock.
class SteadyClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
  // One instance for the whole process; lives until exit.
  static const SteadyClock& Instance();
};

}  // namespace tapedeck::playback
