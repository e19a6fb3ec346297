// The built-ins plot their indicators: each series holds, bar by bar, the numbers the rule decides
// on, computed here again from the indicators of strategies/indicators.h fed by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "strategies/indicators.h"
#include "strategy_test_util.h"

namespace tapedeck::strategies {
namespace {

using testutil::Ohlc;

Ohlc Walk(size_t n, uint64_t seed) { return testutil::RandomWalk(n, seed, 50.0, 5.0); }

// The run's series named `name`, checked to be on `pane`.
const engine::PlotSeries& Series(const engine::RunResult& r, const std::string& name,
                                 engine::PlotPane pane) {
  for (const auto& p : r.plots) {
    if (p.name == name) {
      EXPECT_EQ(p.pane, pane) << name;
      EXPECT_EQ(p.values.size(), r.times.size()) << name;
      return p;
    }
  }
  ADD_FAILURE() << "no series " << name;
  static const engine::PlotSeries none;
  return none;
}

std::vector<std::string> Names(const engine::RunResult& r) {
  std::vector<std::string> out;
  for (const auto& p : r.plots) out.push_back(p.name);
  return out;
}

// want[t]: the value expected at bar t, NaN for none. Exact equality: the same arithmetic.
void ExpectValues(const engine::PlotSeries& s, const std::vector<double>& want) {
  ASSERT_EQ(s.values.size(), want.size()) << s.name;
  for (size_t t = 0; t < want.size(); ++t) {
    if (std::isnan(want[t])) {
      EXPECT_TRUE(std::isnan(s.values[t])) << s.name << " bar " << t << ": " << s.values[t];
    } else {
      EXPECT_EQ(s.values[t], want[t]) << s.name << " bar " << t;
    }
  }
}

constexpr size_t kBars = 300;

TEST(BuiltinPlots, SmaCrossPlotsItsAverages) {
  const Ohlc bars = Walk(kBars, 1);
  auto r = testutil::RunBuiltin("sma_cross", {{"fast", 5}, {"slow", 12}}, bars);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(Names(*r), (std::vector<std::string>{"fast", "slow"}));
  Sma fast(5), slow(12);
  std::vector<double> wf, ws;
  for (double c : bars.close) {
    fast.Update(c);
    slow.Update(c);
    wf.push_back(fast.ready() ? fast.value() : NAN);
    ws.push_back(slow.ready() ? slow.value() : NAN);
  }
  ExpectValues(Series(*r, "fast", engine::PlotPane::kPrice), wf);
  ExpectValues(Series(*r, "slow", engine::PlotPane::kPrice), ws);
  // And the trades follow them: long exactly while fast is above slow (decided at the close).
  ASSERT_FALSE(r->trades.empty());
  for (const auto& t : r->trades) {
    const size_t decided = t.entry_bar - 1;
    EXPECT_GT(wf[decided], ws[decided]) << "entry decided at bar " << decided;
  }
}

TEST(BuiltinPlots, EmaCrossPlotsItsAverages) {
  const Ohlc bars = Walk(kBars, 2);
  auto r = testutil::RunBuiltin("ema_cross", {{"fast", 4}, {"slow", 9}}, bars);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  Ema fast(4), slow(9);
  std::vector<double> wf, ws;
  for (double c : bars.close) {
    fast.Update(c);
    slow.Update(c);
    wf.push_back(fast.ready() ? fast.value() : NAN);
    ws.push_back(slow.ready() ? slow.value() : NAN);
  }
  ExpectValues(Series(*r, "fast", engine::PlotPane::kPrice), wf);
  ExpectValues(Series(*r, "slow", engine::PlotPane::kPrice), ws);
}

TEST(BuiltinPlots, RsiReversionPlotsRsiInItsOwnPane) {
  const Ohlc bars = Walk(kBars, 3);
  auto r = testutil::RunBuiltin("rsi_reversion", {{"period", 6}}, bars);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(Names(*r), std::vector<std::string>{"rsi"});
  Rsi rsi(6);
  std::vector<double> want;
  for (double c : bars.close) {
    rsi.Update(c);
    want.push_back(rsi.ready() ? rsi.value() : NAN);
  }
  ExpectValues(Series(*r, "rsi", engine::PlotPane::kOwn), want);
}

TEST(BuiltinPlots, BollingerPlotsItsBands) {
  const Ohlc bars = Walk(kBars, 4);
  auto r = testutil::RunBuiltin("bollinger_breakout", {{"period", 10}, {"k", 1.5}}, bars);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(Names(*r), (std::vector<std::string>{"middle", "upper", "lower"}));
  Bollinger b(10, 1.5);
  std::vector<double> wm, wu, wl;
  for (double c : bars.close) {
    b.Update(c);
    wm.push_back(b.ready() ? b.middle() : NAN);
    wu.push_back(b.ready() ? b.upper() : NAN);
    wl.push_back(b.ready() ? b.lower() : NAN);
  }
  ExpectValues(Series(*r, "middle", engine::PlotPane::kPrice), wm);
  ExpectValues(Series(*r, "upper", engine::PlotPane::kPrice), wu);
  ExpectValues(Series(*r, "lower", engine::PlotPane::kPrice), wl);
}

TEST(BuiltinPlots, DonchianPlotsThePreviousBarsChannels) {
  const Ohlc bars = Walk(kBars, 5);
  auto r = testutil::RunBuiltin("donchian_breakout", {{"entry", 8}, {"exit", 4}}, bars);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(Names(*r), (std::vector<std::string>{"upper", "lower"}));
  // The channel a close at bar t is compared with: bars t-n .. t-1, so bar t's own high is out.
  std::vector<double> wu(bars.size(), NAN), wl(bars.size(), NAN);
  for (size_t t = 8; t < bars.size(); ++t) {
    wu[t] = *std::max_element(bars.high.begin() + static_cast<ptrdiff_t>(t - 8),
                              bars.high.begin() + static_cast<ptrdiff_t>(t));
  }
  for (size_t t = 4; t < bars.size(); ++t) {
    wl[t] = *std::min_element(bars.low.begin() + static_cast<ptrdiff_t>(t - 4),
                              bars.low.begin() + static_cast<ptrdiff_t>(t));
  }
  ExpectValues(Series(*r, "upper", engine::PlotPane::kPrice), wu);
  ExpectValues(Series(*r, "lower", engine::PlotPane::kPrice), wl);
}

TEST(BuiltinPlots, MacdPlotsLineSignalAndHistogramInItsOwnPane) {
  const Ohlc bars = Walk(kBars, 6);
  auto r = testutil::RunBuiltin("macd", {{"fast", 3}, {"slow", 7}, {"signal", 4}}, bars);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(Names(*r), (std::vector<std::string>{"macd", "signal", "histogram"}));
  Macd m(3, 7, 4);
  std::vector<double> wl, ws, wh;
  for (double c : bars.close) {
    m.Update(c);
    wl.push_back(m.ready() ? m.value() : NAN);
    ws.push_back(m.ready() ? m.signal() : NAN);
    wh.push_back(m.ready() ? m.histogram() : NAN);
  }
  ExpectValues(Series(*r, "macd", engine::PlotPane::kOwn), wl);
  ExpectValues(Series(*r, "signal", engine::PlotPane::kOwn), ws);
  ExpectValues(Series(*r, "histogram", engine::PlotPane::kOwn), wh);
}

TEST(BuiltinPlots, BuyAndHoldPlotsNothing) {
  auto r = testutil::RunBuiltin("buy_and_hold", {}, Walk(50, 7));
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_TRUE(r->plots.empty());
  EXPECT_TRUE(r->logs.empty());
}

TEST(BuiltinPlots, NothingIsRecordedWithPlotsOff) {
  engine::RunConfig config;
  config.record_plots = false;
  const Ohlc bars = Walk(kBars, 1);
  auto off = testutil::RunBuiltin("sma_cross", {{"fast", 5}, {"slow", 12}}, bars, config);
  auto on = testutil::RunBuiltin("sma_cross", {{"fast", 5}, {"slow", 12}}, bars);
  ASSERT_TRUE(off.ok() && on.ok());
  EXPECT_TRUE(off->plots.empty());
  // The same trading either way.
  EXPECT_EQ(off->stats.final_equity, on->stats.final_equity);
  EXPECT_EQ(off->events.size(), on->events.size());
}

}  // namespace
}  // namespace tapedeck::strategies
