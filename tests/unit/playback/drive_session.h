// Internal to the playback tests: plays the server for one Session on a FakeClock.
#pragma once

#include <gtest/gtest.h>

#include <utility>

#include "fake_clock.h"
#include "playback/session.h"

namespace tapedeck::playback {

// Polls `session` and moves `clock` from deadline to deadline until it reaches `until`, every
// write completing at once; each message goes to on_sent(time sent, message). A deadline in the
// past with nothing to send, or more than `max_steps` steps, fails the test.
template <typename OnSent>
void DriveSessionUntil(Session& session, FakeClock& clock, Clock::TimePoint until, OnSent on_sent,
                       int max_steps = 10'000'000) {
  for (int step = 0; step < max_steps; ++step) {
    if (auto m = session.Poll()) {
      on_sent(clock.Now(), std::move(*m));
      session.OnWriteDone();
      continue;
    }
    const Clock::TimePoint deadline = session.NextDeadline();
    if (deadline > until) {
      clock.Set(until);
      return;
    }
    if (deadline <= clock.Now()) {
      ADD_FAILURE() << "a deadline in the past but nothing to send";
      return;
    }
    clock.Set(deadline);
  }
  ADD_FAILURE() << "runaway";
}

}  // namespace tapedeck::playback
