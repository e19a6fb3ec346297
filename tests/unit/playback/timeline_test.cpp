#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "playback/playback.h"
#include "tape_fixture.h"

namespace tapedeck::playback {
namespace {

using namespace testing;  // NOLINT

Timeline MakeTimeline(std::shared_ptr<const Tape> tape, double speed) {
  return Timeline::Create(std::move(tape), SpeedOf(speed));
}

TEST(TimelineTest, WindowLengthIsSpeedTimes292Seconds) {
  auto tape = MinuteTape(10);
  EXPECT_EQ(MakeTimeline(tape, 0.01).window_length(), Micros{2'920'000});
  EXPECT_EQ(MakeTimeline(tape, 1).window_length(), std::chrono::seconds(292));
  EXPECT_EQ(MakeTimeline(tape, 60).window_length(), std::chrono::minutes(292));
  EXPECT_EQ(MakeTimeline(tape, 3600).window_length(), std::chrono::seconds(292 * 3600));
  EXPECT_EQ(MakeTimeline(tape, 100000).window_length(), std::chrono::seconds(29'200'000));
}

TEST(TimelineTest, OneYearAtSpeed60IsEighteenHundredWindows) {
  auto tape = MinuteTape(525'600);
  const Timeline tl = MakeTimeline(tape, 60);
  EXPECT_EQ(tl.window_count(), 1800u);  // 60 s at 30 FPS
  EXPECT_EQ(tl.Bars(0), (BarRange{0, 292}));
  EXPECT_EQ(tl.Bars(1799), (BarRange{1799 * 292, 525'600}));
  EXPECT_EQ(tl.WindowOf(525'599), 1799u);
  // One year at speed 3600 plays in one second: 30 windows.
  EXPECT_EQ(MakeTimeline(tape, 3600).window_count(), 30u);
  // At the slowest speed every minute bar has a window of its own among ~10.8 M windows.
  const Timeline slow = MakeTimeline(tape, 0.01);
  EXPECT_EQ(slow.window_count(), static_cast<size_t>(525'599LL * 60'000'000 / 2'920'000 + 1));
  EXPECT_EQ(slow.Bars(slow.WindowOf(1000)), (BarRange{1000, 1001}));
  EXPECT_FALSE(slow.HasBars(slow.WindowOf(1000) + 1));
}

TEST(TimelineTest, PartialLastWindowCoversTheLastBar) {
  const Timeline tl = MakeTimeline(MinuteTape(1000), 60);
  EXPECT_EQ(tl.window_count(), 4u);  // 292 * 3 = 876 < 1000 <= 1168
  EXPECT_EQ(tl.Bars(3), (BarRange{876, 1000}));
  EXPECT_TRUE(tl.Bars(4).empty());
  EXPECT_EQ(tl.WindowStart(1), Minute(292));
}

// Bars at minutes 0,1,2,10,11,20; one window per minute.
Timeline Gapped() {
  return MakeTimeline(MakeTape(TapeSpec{{{0, 1, 2, 10, 11, 20}}}), SpeedForMinutes(1));
}

TEST(TimelineTest, WindowsWithoutBarsAreFoundByBinarySearch) {
  const Timeline tl = Gapped();
  EXPECT_EQ(tl.window_length(), std::chrono::minutes(1));
  EXPECT_EQ(tl.window_count(), 21u);
  EXPECT_EQ(tl.Bars(10), (BarRange{3, 4}));
  EXPECT_TRUE(tl.Bars(5).empty());
  EXPECT_EQ(tl.NextWindowWithBars(3), 10u);
  EXPECT_EQ(tl.PrevWindowWithBars(9), 2u);
  EXPECT_EQ(tl.NextWindowWithBars(21), std::nullopt);
  EXPECT_EQ(tl.CountWindows({0, 6}), 6u);
  EXPECT_EQ(tl.CountWindows({2, 5}), 3u);
}

TEST(TimelineTest, SnapGoesToTheNearestWindowWithBarsAndTheLaterOnATie) {
  const Timeline tl = Gapped();
  EXPECT_EQ(tl.Snap(1), 1u);
  EXPECT_EQ(tl.Snap(5), 2u);   // 3 back, 5 ahead
  EXPECT_EQ(tl.Snap(6), 10u);  // 4 and 4: the later
  EXPECT_EQ(tl.Snap(7), 10u);
  EXPECT_EQ(tl.Snap(15), 11u);  // 4 back, 5 ahead
  EXPECT_EQ(tl.Snap(16), 20u);
}

TEST(TimelineTest, LocateByIndexAndTime) {
  const Timeline tl = Gapped();
  EXPECT_EQ(*tl.Locate(SeekTarget{uint64_t{6}}), 10u);
  EXPECT_EQ(*tl.Locate(SeekTarget{uint64_t{20}}), 20u);
  EXPECT_EQ(*tl.Locate(SeekTarget{Minute(6) + std::chrono::seconds(30)}), 10u);
  EXPECT_EQ(*tl.Locate(SeekTarget{Minute(20) + std::chrono::seconds(59)}), 20u);
}

TEST(TimelineTest, LocateOutsideTheRunIsRangeNamingTheField) {
  const Timeline tl = Gapped();
  auto past = tl.Locate(SeekTarget{uint64_t{21}}, "from");
  ASSERT_FALSE(past.ok());
  EXPECT_EQ(past.error().code, ErrorCode::kRange);
  EXPECT_EQ(past.error().details.at("field"), "from");
  EXPECT_EQ(past.error().details.at("n"), "21");
  auto before = tl.Locate(SeekTarget{kT0 - Micros{1}});
  ASSERT_FALSE(before.ok());
  EXPECT_EQ(before.error().code, ErrorCode::kRange);
  EXPECT_EQ(before.error().details.at("field"), "pos");
  EXPECT_EQ(before.error().details.at("first"), "2023-01-01T00:00:00Z");
  EXPECT_EQ(tl.Locate(SeekTarget{Minute(21)}).error().code, ErrorCode::kRange);
}

TEST(SeekTargetTest, ParsesIndicesAndIsoTimes) {
  EXPECT_EQ(std::get<uint64_t>(*ParseSeekTarget("12")), 12u);
  EXPECT_EQ(std::get<Timestamp>(*ParseSeekTarget("2023-01-01T00:05:00Z")), Minute(5));
  for (const char* bad : {"", "-1", "1.5", "abc", "12a", "99999999999999999999999"}) {
    auto pos = ParseSeekTarget(bad, "from");
    ASSERT_FALSE(pos.ok()) << bad;
    EXPECT_EQ(pos.error().code, ErrorCode::kValidation);
    EXPECT_EQ(pos.error().details.at("field"), "from");
  }
  EXPECT_EQ(*ParseLastEventId("41"), 41u);
  EXPECT_EQ(ParseLastEventId("x").error().details.at("field"), "Last-Event-ID");
  EXPECT_FALSE(ParseLastEventId("").ok());
}

TEST(TapeTest, InconsistentRunsAreValidation) {
  TapeSpec spec{{Range(5)}};
  {
    std::vector<market::Series> series;
    auto run = MakeRun(spec, &series);
    series.push_back(series[0]);
    EXPECT_EQ(Tape::Create(run, series).error().details.at("field"), "series");
  }
  {
    std::vector<market::Series> series;
    auto run = MakeRun(spec, &series);
    run->equity.pop_back();
    EXPECT_EQ(Tape::Create(run, series).error().details.at("field"), "equity");
  }
  {
    std::vector<market::Series> series;
    auto run = MakeRun(spec, &series);
    std::swap(run->times[1], run->times[2]);
    EXPECT_EQ(Tape::Create(run, series).error().details.at("field"), "times");
  }
  {
    std::vector<market::Series> series;
    auto run = MakeRun(spec, &series);
    run->events.push_back(Event(1, 5));
    EXPECT_EQ(Tape::Create(run, series).error().details.at("field"), "events");
  }
  {
    std::vector<market::Series> series;
    auto run = MakeRun(spec, &series);
    run->events = {Event(1, 3), Event(2, 1)};
    EXPECT_EQ(Tape::Create(run, series).error().code, ErrorCode::kValidation);
  }
  EXPECT_EQ(Tape::Create(nullptr, {}).error().code, ErrorCode::kValidation);
}

TEST(TapeTest, AnEmptyRunHasNoWindows) {
  auto tape = MakeTape(TapeSpec{{{}}});
  const Timeline tl = MakeTimeline(tape, 60);
  EXPECT_EQ(tl.window_count(), 0u);
  EXPECT_EQ(tl.Locate(SeekTarget{uint64_t{0}}).error().code, ErrorCode::kRange);
  EXPECT_EQ(EncodeHistory(tape, Speed::Constant(60)), "[]");
}

}  // namespace
}  // namespace tapedeck::playback
