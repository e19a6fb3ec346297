// Plots and logs in playback: which values a window carries, and their encoding on every channel.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>

#include "playback/playback.h"
#include "tape_fixture.h"

namespace tapedeck::playback {
namespace {

using namespace testing;  // NOLINT
namespace json = boost::json;

// A one-symbol tape of `bars` minutes whose run plotted `plots` and logged `logs`.
std::shared_ptr<const Tape> PlotTape(int64_t bars, std::vector<engine::PlotSeries> plots,
                                     std::vector<engine::LogEntry> logs = {}) {
  std::vector<market::Series> series;
  auto run = MakeRun(TapeSpec{{Range(bars)}}, &series);
  for (auto& p : plots) p.values.resize(run->times.size(), NAN);
  run->plots = std::move(plots);
  for (auto& l : logs) l.ts = run->times[l.bar];
  run->logs = std::move(logs);
  auto tape = Tape::Create(run, std::move(series));
  EXPECT_TRUE(tape.ok()) << tape.error().ToString();
  return *tape;
}

engine::PlotSeries Plot(std::string name, std::vector<double> values,
                        engine::PlotPane pane = engine::PlotPane::kPrice) {
  return engine::PlotSeries{std::move(name), pane, std::move(values)};
}

engine::LogEntry Log(size_t bar, std::string msg) {
  return engine::LogEntry{{}, bar, std::move(msg)};
}

TEST(PlotFrames, EachSeriesGivesItsValueAtTheLastBarOfTheWindowThatHasOne) {
  // Windows of 4 bars: [0,4) [4,8) [8,12).
  auto tape = PlotTape(
      12, {Plot("dense", {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}),
           Plot("sparse", {NAN, 1.5, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 9.5}), Plot("never", {})});
  const Timeline tl = Timeline::Create(tape, SpeedOf(SpeedForMinutes(4)));
  ASSERT_EQ(tl.window_count(), 3u);
  const Frame f0 = tl.BuildFrame(0);
  EXPECT_EQ(f0.plots, (std::vector<PlotValue>{{0, 3}, {1, 1.5}}));
  const Frame f1 = tl.BuildFrame(1);
  EXPECT_EQ(f1.plots, (std::vector<PlotValue>{{0, 7}}));  // sparse: nothing in [4,8)
  const Frame f2 = tl.BuildFrame(2);
  EXPECT_EQ(f2.plots, (std::vector<PlotValue>{{0, 11}, {1, 9.5}}));
  // A coalesced frame of windows 1 and 2 takes the last value over both.
  EXPECT_EQ(tl.BuildFrame(BarRange{4, 12}).plots, (std::vector<PlotValue>{{0, 11}, {1, 9.5}}));
}

TEST(PlotFrames, LogsLandInTheWindowOfTheirBarInOrder) {
  auto tape = PlotTape(12, {}, {Log(1, "a"), Log(3, "b"), Log(3, "c"), Log(9, "d")});
  const Timeline tl = Timeline::Create(tape, SpeedOf(SpeedForMinutes(4)));
  auto msgs = [](const Frame& f) {
    std::vector<std::string> out;
    for (const auto& l : f.logs) out.push_back(l.msg);
    return out;
  };
  EXPECT_EQ(msgs(tl.BuildFrame(0)), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(msgs(tl.BuildFrame(1)).empty());
  EXPECT_EQ(msgs(tl.BuildFrame(2)), std::vector<std::string>{"d"});
}

TEST(PlotFrames, EncodesPlotsAndLogsAfterEquity) {
  auto tape =
      PlotTape(2, {Plot("fast", {100.5, 101.25}), Plot("r\"si", {NAN, 42}, engine::PlotPane::kOwn)},
               {Log(1, "bought \"1\"\n")});
  const Timeline tl = Timeline::Create(tape, SpeedOf(SpeedForMinutes(2)));
  const std::string text = EncodeFrame(tl.BuildFrame(0), *tape, 3);
  EXPECT_EQ(text, R"({"t":"frame","ts":"2023-01-01T00:01:00Z","i":0,"n":1,)"
                  R"("ohlc":{"BTCUSDT":{"o":100,"h":101.5,"l":99.5,"c":100.375,"v":3}},)"
                  R"("orders":[],"equity":10001.5,"plots":{"fast":101.25,"r\"si":42},)"
                  R"("logs":[{"ts":"2023-01-01T00:01:00Z","msg":"bought \"1\"\n"}],"dropped":3})");
  // SSE: the same JSON on one data: line (the message's newline is escaped).
  std::string prefix, suffix;
  EncodeFrameEnvelope(Channel::kSse, 0, 3, prefix, suffix);
  const std::string sse = prefix + EncodeFrameHead(tl.BuildFrame(0), *tape) + suffix;
  EXPECT_EQ(sse, "event: frame\nid: 0\ndata: " + text + "\n\n");
  // /frames: the same frames, dropped 0.
  const auto history = json::parse(EncodeHistory(tape, SpeedOf(SpeedForMinutes(2)))).as_array();
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].as_object().at("plots").as_object().at("fast").as_double(), 101.25);
  EXPECT_EQ(history[0].as_object().at("logs").as_array().size(), 1u);
}

TEST(PlotFrames, WindowsWithoutPlotValuesOrLogsEncodeAsARunWithoutPlots) {
  // The same bars; one run declared a series it never plotted, the other has no plots at all.
  auto with = PlotTape(30, {Plot("empty", {})});
  auto without = PlotTape(30, {});
  const Speed speed = SpeedOf(SpeedForMinutes(4));
  const Timeline a = Timeline::Create(with, speed), b = Timeline::Create(without, speed);
  ASSERT_EQ(a.window_count(), b.window_count());
  for (size_t k = 0; k < a.window_count(); ++k) {
    if (!a.HasBars(k)) continue;
    EXPECT_EQ(*a.FrameHead(k), *b.FrameHead(k)) << k;
    EXPECT_EQ(a.FrameHead(k)->find("plots"), std::string::npos);
    EXPECT_EQ(a.FrameHead(k)->find("logs"), std::string::npos);
  }
  EXPECT_EQ(EncodeHistory(with, speed), EncodeHistory(without, speed));
}

TEST(PlotFrames, TapeRefusesPlotsOrLogsThatDoNotFitTheRun) {
  std::vector<market::Series> series;
  auto run = MakeRun(TapeSpec{{Range(3)}}, &series);
  run->plots = {Plot("short", {1, 2})};
  auto bad = Tape::Create(run, series);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().details.at("field"), "plots");
  run->plots.clear();
  run->logs = {Log(2, "x"), Log(1, "y")};
  bad = Tape::Create(run, series);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().details.at("field"), "logs");
  run->logs = {Log(3, "past the end")};
  EXPECT_FALSE(Tape::Create(run, series).ok());
}

}  // namespace
}  // namespace tapedeck::playback
