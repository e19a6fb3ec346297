// Context::DeclarePlot, Plot and Log: what a run records of them, and their bounds.
#include <gtest/gtest.h>

#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "scripted.h"

namespace tapedeck::engine {
namespace {

using testing::MakeSeries;
using testing::Minute;
using testing::Ohlc;
using testing::Scripted;

market::Series Bars(size_t n) {
  std::vector<Ohlc> rows;
  for (size_t i = 0; i < n; ++i) {
    const double p = 100 + static_cast<double>(i);
    rows.push_back({p, p + 1, p - 1, p});
  }
  return MakeSeries(rows);
}

Result<RunResult> RunIt(const market::Series& s, Strategy& st, RunConfig config = {}) {
  return Run(std::span<const market::Series>(&s, 1), st, config);
}

TEST(Plots, SeriesHoldAValuePerBarAndNaNWhereNothingWasPlotted) {
  const market::Series s = Bars(5);
  PlotId a = 99, b = 99;
  Scripted st;
  st.AtStart([&](Context& c) {
    a = c.DeclarePlot("a", PlotPane::kPrice);
    b = c.DeclarePlot("b", PlotPane::kOwn);
  });
  st.At(0, [&](Context& c) { c.Plot(a, 1.5); });
  st.At(2, [&](Context& c) {
    c.Plot(a, 2.5);
    c.Plot(a, 3.5);  // the last one at a bar stays
    c.Plot(b, -1);
  });
  // A series declared mid-run, and a second declaration of a known name with another pane.
  st.At(3, [&](Context& c) {
    const PlotId late = c.DeclarePlot("late", PlotPane::kOwn);
    EXPECT_EQ(late, 2u);
    c.Plot(late, 7);
    EXPECT_EQ(c.DeclarePlot("a", PlotPane::kOwn), a);
  });
  auto r = RunIt(s, st);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(a, 0u);
  EXPECT_EQ(b, 1u);
  ASSERT_EQ(r->plots.size(), 3u);
  EXPECT_EQ(r->plots[0].name, "a");
  EXPECT_EQ(r->plots[0].pane, PlotPane::kPrice);  // the first declaration's pane wins
  EXPECT_EQ(r->plots[1].pane, PlotPane::kOwn);
  EXPECT_EQ(r->plots[2].name, "late");
  const auto& va = r->plots[0].values;
  ASSERT_EQ(va.size(), 5u);
  EXPECT_EQ(va[0], 1.5);
  EXPECT_TRUE(std::isnan(va[1]));
  EXPECT_EQ(va[2], 3.5);
  EXPECT_TRUE(std::isnan(va[3]) && std::isnan(va[4]));
  EXPECT_EQ(r->plots[1].values[2], -1);
  EXPECT_TRUE(std::isnan(r->plots[2].values[2]));
  EXPECT_EQ(r->plots[2].values[3], 7);
}

TEST(Plots, LogsAreRecordedAtTheirBar) {
  const market::Series s = Bars(4);
  Scripted st;
  st.AtStart([](Context& c) { c.Log("start"); });
  st.At(2, [](Context& c) {
    c.Log("two");
    c.Log("two again");
  });
  auto r = RunIt(s, st);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->logs.size(), 3u);
  EXPECT_EQ(r->logs[0].msg, "start");
  EXPECT_EQ(r->logs[0].bar, 0u);
  EXPECT_EQ(r->logs[0].ts, Minute(0));
  EXPECT_EQ(r->logs[1].msg, "two");
  EXPECT_EQ(r->logs[2].bar, 2u);
  EXPECT_EQ(r->logs[2].ts, Minute(2));
}

TEST(Plots, LogsAreBoundedAndSayHowManyWereDropped) {
  const market::Series s = Bars(3);
  Scripted st;
  st.At(1, [](Context& c) {
    for (size_t i = 0; i < kMaxLogs + 25; ++i) c.Log("m" + std::to_string(i));
    c.Log(std::string(kMaxLogBytes + 10, 'x'));  // dropped as well: the bound is reached
  });
  auto r = RunIt(s, st);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->logs.size(), kMaxLogs + 1);
  EXPECT_EQ(r->logs[kMaxLogs - 1].msg, "m" + std::to_string(kMaxLogs - 1));
  const LogEntry& last = r->logs.back();
  EXPECT_EQ(last.msg, "26 more messages dropped (a run keeps at most 10000)");
  EXPECT_EQ(last.bar, 2u);
  EXPECT_EQ(last.ts, Minute(2));
}

TEST(Plots, LongMessagesAreCutOutsideAUtf8Sequence) {
  const market::Series s = Bars(2);
  Scripted st;
  // "é" is two bytes; an odd prefix puts a sequence across the cut.
  std::string msg = "a";
  while (msg.size() < kMaxLogBytes + 8) msg += "\xC3\xA9";
  st.At(0, [&](Context& c) { c.Log(msg); });
  auto r = RunIt(s, st);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->logs.size(), 1u);
  EXPECT_EQ(r->logs[0].msg.size(), kMaxLogBytes - 1);
  EXPECT_EQ(r->logs[0].msg, msg.substr(0, kMaxLogBytes - 1));
}

TEST(Plots, RecordPlotsOffRecordsNothingAndIdsStillWork) {
  const market::Series s = Bars(4);
  Scripted st;
  PlotId a = 0, b = 0;
  st.AtStart([&](Context& c) {
    a = c.DeclarePlot("a", PlotPane::kPrice);
    b = c.DeclarePlot("b", PlotPane::kPrice);
    EXPECT_EQ(c.DeclarePlot("a", PlotPane::kOwn), a);
  });
  st.At(1, [&](Context& c) {
    c.Plot(a, 1);
    c.Plot(b, 2);
    c.Log("x");
  });
  RunConfig config;
  config.record_plots = false;
  auto r = RunIt(s, st, config);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(a, 0u);
  EXPECT_EQ(b, 1u);
  EXPECT_TRUE(r->plots.empty());
  EXPECT_TRUE(r->logs.empty());
}

}  // namespace
}  // namespace tapedeck::engine
