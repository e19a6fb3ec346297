// Phase-aligned pacing (SessionSettings::pacing_phases): the frames after an at-once frame fall
// on the clock's grid of kFrameInterval / phases, and the protocol's timing rules still hold.
#include <gtest/gtest.h>

#include <set>

#include "drive_session.h"
#include "fake_clock.h"
#include "playback/playback.h"
#include "tape_fixture.h"

namespace tapedeck::playback {
namespace {

using namespace testing;  // NOLINT
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;
using TimePoint = Clock::TimePoint;

// The FakeClock's default start (one hour) is not on any grid of these: 3,600 s is 108,000.0011
// intervals.
constexpr TimePoint kOffGrid = TimePoint{} + std::chrono::hours(1);

SessionSettings Aligned(int phases) {
  SessionSettings settings;
  settings.pacing_phases = phases;
  return settings;
}

bool OnGrid(TimePoint t, int phases) { return PacingTick(t, phases) == t; }

struct Sent {
  TimePoint at;
  Outgoing msg;
};

// Plays the server: writes complete at once.
class Harness {
 public:
  Harness(std::shared_ptr<const Tape> tape, SessionSettings settings, TimePoint start = kOffGrid,
          SessionOptions options = {})
      : clock(start) {
    auto created = Session::Create(std::move(tape), std::move(options), clock, settings);
    EXPECT_TRUE(created.ok()) << (created.ok() ? "" : created.error().ToString());
    session.emplace(std::move(*created));
  }

  void RunUntil(TimePoint until) {
    DriveSessionUntil(
        *session, clock, until,
        [this](TimePoint at, Outgoing m) {
          sent.push_back({at, std::move(m)});
        },
        1'000'000);
  }
  void RunFor(nanoseconds d) { RunUntil(clock.Now() + d); }

  std::vector<const Sent*> Frames() const {
    std::vector<const Sent*> out;
    for (const Sent& s : sent) {
      if (s.msg.kind == Outgoing::Kind::kFrame) out.push_back(&s);
    }
    return out;
  }

  FakeClock clock;
  std::optional<Session> session;
  std::vector<Sent> sent;
};

TEST(PacingGridTest, TicksAreTheFirstGridInstantAtOrAfter) {
  for (int phases : {1, 2, 3, 4}) {
    const nanoseconds step = kFrameInterval / phases;
    TimePoint t = kOffGrid;
    for (int i = 0; i < 1000; ++i) {
      t += nanoseconds(7'777'777);
      const TimePoint tick = PacingTick(t, phases);
      ASSERT_GE(tick, t);
      ASSERT_LE(tick - t, step);
      ASSERT_TRUE(OnGrid(tick, phases));
      // One whole interval after a grid instant is one too (the frames after it stay on it).
      ASSERT_TRUE(OnGrid(tick + kFrameInterval, phases));
      ASSERT_TRUE(OnGrid(tick + kFrameInterval * 37, phases));
      // Grid instants are a step apart (to the nanosecond: kFrameInterval / phases is not whole).
      ASSERT_EQ(PacingTick(tick - nanoseconds(1), phases), tick);
      const nanoseconds gap = PacingTick(tick + nanoseconds(1), phases) - tick;
      ASSERT_GE(gap, step - nanoseconds(1));
      ASSERT_LE(gap, step + nanoseconds(1));
    }
  }
  EXPECT_EQ(PacingTick(TimePoint{}, 1), TimePoint{});
  EXPECT_EQ(PacingTick(TimePoint{} + nanoseconds(1), 1), TimePoint{} + kFrameInterval);
  EXPECT_EQ(PacingTick(TimePoint{} + kFrameInterval, 2), TimePoint{} + kFrameInterval);
}

TEST(PacingGridTest, FirstFrameAtOnceThenOnTheGridAnIntervalApart) {
  for (int phases : {1, 2, 4}) {
    Harness h(MinuteTape(525'600), Aligned(phases));
    h.RunFor(seconds(5));
    const auto frames = h.Frames();
    ASSERT_GE(frames.size(), 140u);
    EXPECT_EQ(frames[0]->at, kOffGrid);  // at once
    EXPECT_FALSE(OnGrid(frames[0]->at, phases));
    // The second is moved later, by less than one grid step, never sooner than an interval.
    EXPECT_EQ(frames[1]->at, PacingTick(kOffGrid + kFrameInterval, phases));
    EXPECT_GE(frames[1]->at - frames[0]->at, kFrameInterval);
    EXPECT_LT(frames[1]->at - frames[0]->at, kFrameInterval + kFrameInterval / phases);
    for (size_t i = 1; i < frames.size(); ++i) {
      ASSERT_TRUE(OnGrid(frames[i]->at, phases)) << i;
      ASSERT_EQ(frames[i]->msg.window, i);  // nothing merged, nothing skipped
      ASSERT_EQ(frames[i]->msg.bars.begin, frames[i - 1]->msg.bars.end);
      if (i > 1) {
        ASSERT_EQ(frames[i]->at - frames[i - 1]->at, kFrameInterval);
      }
    }
    EXPECT_EQ(h.session->dropped(), 0u);
    EXPECT_EQ(h.session->lag_merged(), 0u);
  }
}

TEST(PacingGridTest, SessionsStartedApartComeDueTogether) {
  Harness a(MinuteTape(525'600), Aligned(1), kOffGrid);
  Harness b(MinuteTape(525'600), Aligned(1), kOffGrid + milliseconds(13));
  Harness c(MinuteTape(525'600), Aligned(1), kOffGrid + milliseconds(29));
  const TimePoint until = kOffGrid + seconds(2);
  a.RunUntil(until);
  b.RunUntil(until);
  c.RunUntil(until);
  const auto fa = a.Frames(), fb = b.Frames(), fc = c.Frames();
  ASSERT_GT(fa.size(), 50u);
  std::set<TimePoint> instants;
  for (size_t i = 1; i < fa.size(); ++i) instants.insert(fa[i]->at);
  for (size_t i = 1; i < fb.size(); ++i) EXPECT_TRUE(instants.count(fb[i]->at)) << i;
  for (size_t i = 1; i < fc.size(); ++i) EXPECT_TRUE(instants.count(fc[i]->at)) << i;
}

TEST(PacingGridTest, SeekSendsAtOnceThenAlignsAgain) {
  Harness h(MinuteTape(200'000), Aligned(2));
  h.RunFor(milliseconds(300));
  h.clock.Advance(milliseconds(5));  // a control message between two ticks
  const TimePoint asked = h.clock.Now();
  ASSERT_TRUE(h.session->Seek(SeekTarget{uint64_t{500}}).ok());
  h.RunFor(seconds(1));
  const auto frames = h.Frames();
  size_t s = 0;
  while (s < frames.size() && frames[s]->msg.window != 500) ++s;
  ASSERT_LT(s + 2, frames.size());
  EXPECT_EQ(frames[s]->at, asked);  // at once
  EXPECT_GE(frames[s + 1]->at - frames[s]->at, kFrameInterval);
  EXPECT_LT(frames[s + 1]->at - frames[s]->at, kFrameInterval + kFrameInterval / 2);
  EXPECT_TRUE(OnGrid(frames[s + 1]->at, 2));
  EXPECT_EQ(frames[s + 1]->msg.window, 501u);
  for (size_t i = s + 2; i < frames.size(); ++i) {
    ASSERT_EQ(frames[i]->at - frames[i - 1]->at, kFrameInterval);
  }
}

TEST(PacingGridTest, PlayAndSpeedNeverSoonerThanAnIntervalThenAlign) {
  Harness h(MinuteTape(200'000), Aligned(1));
  h.RunFor(milliseconds(200));
  ASSERT_TRUE(h.session->Pause().ok());
  h.clock.Advance(milliseconds(3));
  ASSERT_TRUE(h.session->Play().ok());  // sooner than an interval after the last frame
  h.RunFor(milliseconds(200));
  h.clock.Advance(milliseconds(11));
  ASSERT_TRUE(h.session->SetSpeed(SpeedOf(SpeedForMinutes(3))).ok());
  h.RunFor(milliseconds(300));
  for (int i = 0; i < 20; ++i) {  // pause/play toggling
    ASSERT_TRUE(h.session->Pause().ok());
    ASSERT_TRUE(h.session->Play().ok());
    h.RunFor(milliseconds(9));
  }
  h.RunFor(milliseconds(300));
  const auto frames = h.Frames();
  ASSERT_GT(frames.size(), 20u);
  size_t off_grid = 0;
  for (size_t i = 1; i < frames.size(); ++i) {
    ASSERT_GE(frames[i]->at - frames[i - 1]->at, kFrameInterval) << i;
    ASSERT_EQ(frames[i]->msg.bars.begin, frames[i - 1]->msg.bars.end) << i;
    if (!OnGrid(frames[i]->at, 1)) ++off_grid;
  }
  // Off the grid: only the first and the at-once frames of play/speed (a resume one interval after
  // a frame on the grid is on it again).
  EXPECT_LE(off_grid, 2u);
  EXPECT_TRUE(OnGrid(frames.back()->at, 1));
  EXPECT_EQ(h.session->dropped(), 0u);
  EXPECT_EQ(h.session->lag_merged(), 0u);
}

TEST(PacingGridTest, ALateServerStillMergesRatherThanShifts) {
  Harness h(MinuteTape(200'000), Aligned(4));
  h.RunFor(milliseconds(100));
  const size_t before = h.Frames().size();
  // The server wakes three intervals late: the windows due meanwhile go out as one frame, and
  // the ones after are due on the same grid as before.
  h.clock.Advance(kFrameInterval * 3);
  h.RunFor(milliseconds(200));
  const auto frames = h.Frames();
  ASSERT_GT(frames.size(), before + 2);
  EXPECT_GT(h.session->lag_merged(), 0u);
  EXPECT_EQ(h.session->dropped(), 0u);
  for (size_t i = 1; i < frames.size(); ++i) {
    ASSERT_EQ(frames[i]->msg.bars.begin, frames[i - 1]->msg.bars.end) << i;
    ASSERT_TRUE(OnGrid(frames[i]->at, 4) || i == before) << i;
  }
  EXPECT_TRUE(OnGrid(frames.back()->at, 4));
}

TEST(PacingGridTest, OffByDefault) {
  Harness h(MinuteTape(10'000), SessionSettings{});
  h.RunFor(milliseconds(500));
  const auto frames = h.Frames();
  ASSERT_GT(frames.size(), 10u);
  for (size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(frames[i]->at - kOffGrid, kFrameInterval * static_cast<int64_t>(i));
  }
}

}  // namespace
}  // namespace tapedeck::playback
