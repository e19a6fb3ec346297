// Frames shared between sessions: every frame head, merged ranges included, is cached on the tape
// by (window length, bars), so sessions in step share one encoding; each session's frames must
// still be exactly its own.
#include <gtest/gtest.h>

#include "fake_clock.h"
#include "playback/playback.h"
#include "tape_fixture.h"

namespace tapedeck::playback {
namespace {

using namespace testing;  // NOLINT
using std::chrono::milliseconds;

TapeSpec WithOrders() {
  TapeSpec spec{{Range(3000)}};
  spec.events = {Event(1, 300), Event(2, 600), Event(3, 601), Event(4, 900), Event(5, 1200)};
  return spec;
}

SessionOptions From(uint64_t window) {
  SessionOptions options;
  options.from = SeekTarget{window};
  return options;
}

// One session with its own clock (at the default speed, 60: 292 bars a window); writes complete
// at once.
struct Viewer {
  explicit Viewer(std::shared_ptr<const Tape> tape, SessionOptions options = {}) {
    session.emplace(*Session::Create(std::move(tape), options, clock));
  }
  // Everything the session sends up to `d` from now.
  std::vector<Outgoing> RunFor(std::chrono::nanoseconds d) {
    std::vector<Outgoing> out;
    const auto until = clock.Now() + d;
    for (int guard = 0; guard < 100'000; ++guard) {
      if (auto m = session->Poll()) {
        out.push_back(std::move(*m));
        session->OnWriteDone();
        continue;
      }
      const auto deadline = session->NextDeadline();
      if (deadline > until) break;
      clock.Set(deadline);
    }
    clock.Set(until);
    return out;
  }
  FakeClock clock;
  std::optional<Session> session;
};

// The frame a session sent is the encoding of exactly its bars, with its own dropped count.
void ExpectExact(const Outgoing& m, const Session& s, uint64_t dropped) {
  const Timeline tl = Timeline::Create(s.timeline()->shared_tape(), s.speed());
  EXPECT_EQ(m.Text(), EncodeFrame(tl.BuildFrame(m.bars), tl.tape(), dropped));
}

TEST(SharedFramesTest, SessionsInStepShareMergedFramesAndOthersKeepTheirOwn) {
  auto tape = MakeTape(WithOrders());
  Viewer a(tape), b(tape), later(tape, From(2));
  for (Viewer* v : {&a, &b, &later}) v->RunFor(milliseconds(1));
  // The server woke late for all three: each merges the windows that came due.
  for (Viewer* v : {&a, &b, &later}) v->clock.Advance(kFrameInterval * 3);
  const auto fa = a.RunFor(milliseconds(1)), fb = b.RunFor(milliseconds(1)),
             fl = later.RunFor(milliseconds(1));
  ASSERT_EQ(fa.size(), 1u);
  ASSERT_EQ(fb.size(), 1u);
  ASSERT_EQ(fl.size(), 1u);
  EXPECT_EQ(fa[0].bars, (BarRange{292, 4 * 292}));
  // One encoding for the two in step, the same bytes.
  EXPECT_EQ(fa[0].shared.get(), fb[0].shared.get());
  EXPECT_EQ(fa[0].Text(), fb[0].Text());
  ExpectExact(fa[0], *a.session, 0);
  // The stream elsewhere has its own range and its own bytes.
  EXPECT_EQ(fl[0].bars, (BarRange{3 * 292, 6 * 292}));
  EXPECT_NE(fl[0].shared.get(), fa[0].shared.get());
  ExpectExact(fl[0], *later.session, 0);
  EXPECT_EQ(tape->cache_stats().range_entries, 2u);
  EXPECT_EQ(tape->cache_stats().range_hits, 1u);
}

TEST(SharedFramesTest, AMergeOnlyPartlyTheSameIsNotShared) {
  auto tape = MakeTape(WithOrders());
  Viewer a(tape), b(tape);
  a.RunFor(milliseconds(1));
  b.RunFor(milliseconds(1));
  a.clock.Advance(kFrameInterval * 3);
  b.clock.Advance(kFrameInterval * 4);  // one window more
  const auto fa = a.RunFor(milliseconds(1)), fb = b.RunFor(milliseconds(1));
  ASSERT_EQ(fa.size(), 1u);
  ASSERT_EQ(fb.size(), 1u);
  EXPECT_EQ(fb[0].bars, (BarRange{292, 5 * 292}));
  EXPECT_NE(fa[0].shared.get(), fb[0].shared.get());
  ExpectExact(fa[0], *a.session, 0);
  ExpectExact(fb[0], *b.session, 0);
}

TEST(SharedFramesTest, ADroppedCountStaysPerSession) {
  auto tape = MakeTape(WithOrders());
  Viewer a(tape), b(tape);
  // a's client is slow: windows 1..3 come due while its first write is in flight.
  auto first = a.session->Poll();
  ASSERT_TRUE(first.has_value());
  a.clock.Advance(kFrameInterval * 3);
  a.session->OnWriteDone();
  const auto fa = a.RunFor(milliseconds(1));
  // b merges the same windows because the server was late.
  b.RunFor(milliseconds(1));
  b.clock.Advance(kFrameInterval * 3);
  const auto fb = b.RunFor(milliseconds(1));
  ASSERT_EQ(fa.size(), 1u);
  ASSERT_EQ(fb.size(), 1u);
  EXPECT_EQ(fa[0].bars, fb[0].bars);
  EXPECT_EQ(fa[0].shared.get(), fb[0].shared.get());  // the head is shared...
  ExpectExact(fa[0], *a.session, 2);                   // ...the dropped count is not
  ExpectExact(fb[0], *b.session, 0);
}

TEST(SharedFramesTest, TheRestOfAWindowAfterASpeedChangeIsExact) {
  auto tape = MakeTape(WithOrders());
  Viewer a(tape), b(tape);
  for (Viewer* v : {&a, &b}) {
    v->RunFor(kFrameInterval * 2 + milliseconds(1));
    ASSERT_TRUE(v->session->SetSpeed(Speed::Constant(120)).ok());
  }
  const auto fa = a.RunFor(kFrameInterval * 3), fb = b.RunFor(kFrameInterval * 3);
  ASSERT_FALSE(fa.empty());
  ASSERT_EQ(fa.size(), fb.size());
  for (size_t k = 0; k < fa.size(); ++k) {
    EXPECT_EQ(fa[k].bars, fb[k].bars);
    EXPECT_EQ(fa[k].shared.get(), fb[k].shared.get());
    ExpectExact(fa[k], *a.session, 0);
  }
}

TEST(SharedFramesTest, OtherRangesStayWithinTheirOwnBudget) {
  std::vector<market::Series> series;
  auto run = MakeRun(TapeSpec{{Range(5000)}}, &series);
  auto tape = *Tape::Create(run, series,
                            TapeOptions{.frame_cache_bytes = 1 << 20, .range_cache_bytes = 20'000});
  const Timeline tl = Timeline::Create(tape, SpeedOf(SpeedForMinutes(1)));
  for (size_t k = 0; k < 100; ++k) tl.FrameHead(k);
  for (size_t k = 0; k + 3 < 5000; ++k) {
    EXPECT_EQ(*tl.FrameHead(BarRange{k, k + 3}), EncodeFrameHead(tl.BuildFrame(BarRange{k, k + 3}), *tape));
  }
  EXPECT_LE(tape->cache_stats().range_bytes, 20'000u);
  EXPECT_GT(tape->cache_stats().range_entries, 10u);
  // The whole windows were not pushed out.
  EXPECT_EQ(tape->cache_stats().entries, 100u);
}

TEST(SharedFramesTest, WholeWindowsAndWindowCountsWithoutSearching) {
  // Gaps, windows without bars, a last window cut short.
  auto tape = MakeTape(TapeSpec{{{0, 1, 2, 10, 11, 20, 21, 22, 23, 40, 41, 59, 60, 61}}});
  for (const double minutes : {1.0, 3.0, 7.0, 20.0}) {
    const Timeline tl = Timeline::Create(tape, SpeedOf(SpeedForMinutes(minutes)));
    const size_t bars = tape->total_bars();
    for (size_t b = 0; b < bars; ++b) {
      for (size_t e = b + 1; e <= bars; ++e) {
        const BarRange range{b, e};
        EXPECT_EQ(tl.IsWholeWindow(range), range == tl.Bars(tl.WindowOf(b))) << b << " " << e;
        size_t count = 0;
        for (size_t k = tl.WindowOf(b); k <= tl.WindowOf(e - 1); ++k) count += tl.HasBars(k);
        EXPECT_EQ(tl.CountWindows(range), count) << b << " " << e;
      }
    }
  }
}

TEST(SharedFramesTest, FirstBarOfFromAHintIsFirstBarOf) {
  auto tape = MakeTape(TapeSpec{{{0, 1, 2, 10, 11, 20, 21, 22, 23, 40, 41, 59, 60, 61, 200, 201}}});
  for (const double minutes : {1.0, 3.0, 7.0, 20.0}) {
    const Timeline tl = Timeline::Create(tape, SpeedOf(SpeedForMinutes(minutes)));
    for (size_t k = 0; k <= tl.window_count() + 1; ++k) {
      for (size_t hint = 0; hint <= tape->total_bars() + 1; ++hint) {
        EXPECT_EQ(tl.FirstBarOf(k, hint), tl.FirstBarOf(k)) << k << " " << hint;
      }
    }
  }
}

}  // namespace
}  // namespace tapedeck::playback
