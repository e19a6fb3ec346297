// plot() and log() in scripts: they go through engine::Context into the run's result.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "strategies/indicators.h"
#include "strategies/script.h"
#include "strategy_test_util.h"

namespace tapedeck::strategies {
namespace {

std::vector<double> Closes(size_t n) {
  std::vector<double> c;
  for (size_t i = 0; i < n; ++i)
    c.push_back(100 + static_cast<double>(i % 17) - 0.25 * static_cast<double>(i % 5));
  return c;
}

Result<engine::RunResult> RunScript(const std::string& source, size_t bars = 50,
                                    const ScriptBudgets& budgets = {}) {
  auto strategy = MakeScriptStrategy(source, "plots.lua", {}, budgets);
  if (!strategy.ok()) return strategy.take_error();
  const market::Series series = testutil::ToSeries(testutil::FromCloses(Closes(bars)));
  return engine::Run(std::span<const market::Series>(&series, 1), **strategy, {});
}

TEST(ScriptPlots, SeriesGetTheScriptsValuesPerBar) {
  auto run = RunScript(
      "local s = ta.sma(3)\n"
      "function on_bar(b)\n"
      "  plot('sma', s(b.close))\n"
      "  plot('idx', b.index % 2 == 0 and b.index or nil, {pane='own'})\n"
      "  if b.index == 5 then plot('sma', 1, {pane='own'}); plot('sma', nil) end\n"
      "end\n",
      20);
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  ASSERT_EQ(run->plots.size(), 2u);
  const auto& sma = run->plots[0];
  const auto& idx = run->plots[1];
  EXPECT_EQ(sma.name, "sma");
  EXPECT_EQ(sma.pane, engine::PlotPane::kPrice);  // the first call's pane stays
  EXPECT_EQ(idx.pane, engine::PlotPane::kOwn);
  Sma want(3);
  const std::vector<double> closes = Closes(20);
  for (size_t i = 0; i < 20; ++i) {
    want.Update(closes[i]);
    if (i == 5) {
      // The last call at a bar wins: nil there.
      EXPECT_TRUE(std::isnan(sma.values[i]));
    } else if (want.ready()) {
      EXPECT_EQ(sma.values[i], want.value()) << i;
    } else {
      EXPECT_TRUE(std::isnan(sma.values[i])) << i;
    }
    if (i % 2 == 0) {
      EXPECT_EQ(idx.values[i], static_cast<double>(i));
    } else {
      EXPECT_TRUE(std::isnan(idx.values[i])) << i;
    }
  }
}

TEST(ScriptPlots, BadArgumentsFailTheRunWithAClearError) {
  struct Case {
    std::string call, says;
  };
  const std::vector<Case> cases = {
      {"plot('x', 1, {pane='left'})", "pane must be \"price\" or \"own\", not left"},
      {"plot('x', 1, {pane=3})", "pane must be \"price\" or \"own\", not 3"},
      {"plot('x', 1, 'own')", "table expected"},
      {"plot('', 1)", "1 to 64 bytes"},
      {"plot(string.rep('n', 65), 1)", "1 to 64 bytes"},
      {"plot(12, 1)", "string expected"},
      {"plot('x', 'high')", "number expected"},
      {"for i = 1, 65 do plot('s' .. i, i) end", "at most 64 series"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.call);
    auto r = RunScript("function on_bar(b) " + c.call + " end\n");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kRunFailed);
    EXPECT_NE(r.error().msg.find(c.says), std::string::npos) << r.error().msg;
  }
  // At the top level there is no run to plot into.
  auto top = MakeScriptStrategy("plot('x', 1)\nfunction on_bar(b) end\n", "plots.lua", {});
  ASSERT_FALSE(top.ok());
  EXPECT_NE(top.error().msg.find("only available in init() and on_bar()"), std::string::npos);
}

TEST(ScriptPlots, ASeriesIsChargedToTheMemoryBudget) {
  // 20,000 bars: 160 KB a series; 16 of them do not fit 2 MiB, 2 do.
  ScriptBudgets budgets;
  budgets.memory_bytes = 2u << 20;
  auto many =
      RunScript("function on_bar(b) for i = 1, 16 do plot('s' .. i, i) end end\n", 20'000, budgets);
  ASSERT_FALSE(many.ok());
  EXPECT_EQ(many.error().details.at("cause"), "memory") << many.error().ToString();
  auto two = RunScript("function on_bar(b) plot('a', 1); plot('b', 2) end\n", 20'000, budgets);
  ASSERT_TRUE(two.ok()) << two.error().ToString();
  EXPECT_EQ(two->plots.size(), 2u);
}

TEST(ScriptPlots, LogsPastTheRunsBoundAreCountedNotCharged) {
  // 100,000 messages would be ~7 MB of records; the 10,000 kept fit 4 MiB.
  ScriptBudgets budgets;
  budgets.memory_bytes = 4u << 20;
  auto r = RunScript(
      "function on_bar(b) if b.index == 1 then for i = 1, 100000 do log('msg', i) end end end\n", 5,
      budgets);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_EQ(r->logs.size(), engine::kMaxLogs + 1);
  EXPECT_EQ(r->logs[0].msg, "msg 1");
  EXPECT_EQ(r->logs[0].bar, 1u);
  EXPECT_EQ(r->logs.back().msg, "90000 more messages dropped (a run keeps at most 10000)");
  EXPECT_EQ(r->logs.back().bar, 4u);
}

}  // namespace
}  // namespace tapedeck::strategies
