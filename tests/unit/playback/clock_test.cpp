// SteadyClock's pin: one clock read for many sessions driven at one instant, on the pinning thread
// only, nested pins restored in order, the real clock back once the pin ends.
#include "playback/clock.h"

#include <gtest/gtest.h>

#include <thread>

namespace tapedeck::playback {
namespace {

using std::chrono::milliseconds;

TEST(SteadyClockTest, NowIsThePinnedInstantWhileAPinLives) {
  const SteadyClock& clock = SteadyClock::Instance();
  const auto at = std::chrono::steady_clock::now();
  {
    const SteadyClock::Pin pin(at);
    EXPECT_EQ(clock.Now(), at);
    std::this_thread::sleep_for(milliseconds(2));
    EXPECT_EQ(clock.Now(), at);  // the clock was not read again
  }
  EXPECT_GE(clock.Now() - at, milliseconds(2));  // the real clock once the pin is gone
}

TEST(SteadyClockTest, PinsNestAndRestoreTheOuterOne) {
  const SteadyClock& clock = SteadyClock::Instance();
  const auto outer = std::chrono::steady_clock::now();
  const SteadyClock::Pin a(outer);
  {
    const auto inner = outer + milliseconds(1);
    const SteadyClock::Pin b(inner);
    EXPECT_EQ(clock.Now(), inner);
  }
  EXPECT_EQ(clock.Now(), outer);
}

TEST(SteadyClockTest, APinHoldsOnlyOnItsOwnThread) {
  const SteadyClock& clock = SteadyClock::Instance();
  const auto at = std::chrono::steady_clock::now() - milliseconds(50);
  const SteadyClock::Pin pin(at);
  std::chrono::steady_clock::time_point seen{};
  std::thread other([&] { seen = clock.Now(); });
  other.join();
  EXPECT_GE(seen - at, milliseconds(50));
  EXPECT_EQ(clock.Now(), at);
}

}  // namespace
}  // namespace tapedeck::playback
