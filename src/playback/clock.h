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

// std::chrono::steady_clock, or on a thread inside a Pin's scope the instant it pinned.
class SteadyClock final : public Clock {
 public:
  TimePoint Now() const override {
    return pinned_ != nullptr ? *pinned_ : std::chrono::steady_clock::now();
  }
  // One instance for the whole process; lives until exit.
  static const SteadyClock& Instance();

  // While a Pin lives, Now() on its thread returns `at` (which must be steady_clock::now() when
  // the Pin is made, so that time still never goes backwards): a caller that drives many sessions
  // at one instant (a pacer's pass) reads the clock once for all of them. Pins nest (the inner
  // one wins until it ends). Not movable; make and end it on the same thread.
  class Pin {
   public:
    explicit Pin(TimePoint at) : at_(at), outer_(pinned_) { pinned_ = &at_; }
    ~Pin() { pinned_ = outer_; }
    Pin(const Pin&) = delete;
    Pin& operator=(const Pin&) = delete;

   private:
    TimePoint at_;
    const TimePoint* outer_;
  };

 private:
  static inline thread_local const TimePoint* pinned_ = nullptr;
};

}  // namespace tapedeck::playback
