// A Clock that moves only when told to, so tests (and the fuzz targets and benchmarks that drive a
// Session) decide what time it is.
#pragma once

#include <chrono>

#include "playback/clock.h"

namespace tapedeck::playback {

// Not thread-safe: set and read from one thread.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = TimePoint{} + std::chrono::hours(1)) : now_(start) {}
  TimePoint Now() const override { return now_; }
  void Advance(std::chrono::nanoseconds d) { now_ += d; }
  void Set(TimePoint t) { now_ = t; }

 private:
  TimePoint now_;
};

}  // namespace tapedeck::playback
