// ComputeStats against values worked out by hand for tiny equity curves, and its return moments
// against the scalar form they replaced.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "engine/engine.h"
#include "scripted.h"

namespace tapedeck::engine {
namespace {

using std::chrono::hours;
using testing::kT0;
using testing::MakeSeries;

Trade MakeTrade(size_t entry_bar, size_t exit_bar, double pnl, bool open = false,
                SymbolId symbol = 0) {
  Trade t;
  t.symbol = symbol;
  t.entry_bar = entry_bar;
  t.exit_bar = exit_bar;
  t.pnl = pnl;
  t.open = open;
  return t;
}

OrderEvent Event(OrderStatus status) {
  OrderEvent e;
  e.status = status;
  return e;
}

// Four marks over exactly one calendar year (365.25 days = 8766 hours):
//   t:      0      100 d   200 d   365.25 d
//   equity: 100    110     99      121
RunResult TinyRun() {
  RunResult r;
  r.times = {kT0, kT0 + hours(2400), kT0 + hours(4800), kT0 + hours(8766)};
  r.equity = {100, 110, 99, 121};
  r.trades = {MakeTrade(0, 2, 30), MakeTrade(1, 2, -10, false, 1), MakeTrade(3, 3, 5, true)};
  r.events = {Event(OrderStatus::kSubmitted), Event(OrderStatus::kFilled),
              Event(OrderStatus::kFilled), Event(OrderStatus::kRejected)};
  return r;
}

TEST(Stats, TinyCurveAgainstHandComputedValues) {
  const RunResult r = TinyRun();
  const std::vector<market::Series> data = {
      MakeSeries({{50, 50, 50, 50}, {55, 55, 55, 55}, {60, 60, 60, 60}})};
  const Stats s = ComputeStats(r, data, 100);

  EXPECT_EQ(s.bars, 4u);
  EXPECT_EQ(s.fills, 2u);
  EXPECT_EQ(s.trades, 3u);
  EXPECT_DOUBLE_EQ(s.start_equity, 100);
  EXPECT_DOUBLE_EQ(s.final_equity, 121);
  EXPECT_DOUBLE_EQ(s.total_return, 0.21);
  // Span 1 year: 3 periods per year, CAGR = total return.
  EXPECT_DOUBLE_EQ(s.periods_per_year, 3);
  EXPECT_NEAR(s.cagr, 0.21, 1e-12);

  // Returns 1/10, -1/10, 2/9; mean 2/27. Deviations 7/270, -47/270, 40/270: sample variance
  // (49 + 2209 + 1600) / 72900 / 2 = 1929/72900, sd = sqrt(1929)/270 = 0.162668083...
  // volatility = sd * sqrt(3) = sqrt(5787)/270 = 0.281749385...
  EXPECT_NEAR(s.volatility, 0.2817493851801326, 1e-12);
  // sharpe = (2/27) / (sqrt(1929)/270) * sqrt(3) = 20 sqrt(3/1929) = 0.788723006...
  EXPECT_NEAR(s.sharpe, 0.788723006725099, 1e-12);
  // downside deviation = sqrt(0.01 / 3); sortino = (2/27) / sqrt(0.01/3) * sqrt(3) = 20/9.
  EXPECT_NEAR(s.sortino, 20.0 / 9, 1e-12);

  // Peak 110 at day 100, trough 99: 1 - 99/110 = 0.1; recovered (121) at day 365.25.
  EXPECT_NEAR(s.max_drawdown, 0.1, 1e-15);
  EXPECT_EQ(s.max_drawdown_duration, hours(8766 - 2400));
  EXPECT_NEAR(s.calmar, 2.1, 1e-12);

  // Trades +30, -10, +5 (open): 2 of 3 win, PF 35/10, expectancy 25/3.
  EXPECT_DOUBLE_EQ(s.win_rate, 2.0 / 3);
  EXPECT_DOUBLE_EQ(s.profit_factor, 3.5);
  EXPECT_DOUBLE_EQ(s.expectancy, 25.0 / 3);
  // Held at the closes of bars 0, 1 ([0,2) and [1,2) overlap) and 3 (open from 3): 3 of 4.
  EXPECT_DOUBLE_EQ(s.exposure, 0.75);
  // Buy-and-hold of the first symbol: 60/50 - 1.
  EXPECT_DOUBLE_EQ(s.buy_and_hold_return, 0.2);
}

TEST(Stats, DrawdownThatNeverRecoversLastsToTheEnd) {
  RunResult r;
  // Peak 120 at hour 1; underwater for the rest, deepest at 90: 1 - 90/120 = 0.25.
  r.times = {kT0, kT0 + hours(1), kT0 + hours(2), kT0 + hours(5), kT0 + hours(9)};
  r.equity = {100, 120, 90, 110, 100};
  const Stats s = ComputeStats(r, {}, 100);
  EXPECT_DOUBLE_EQ(s.max_drawdown, 0.25);
  EXPECT_EQ(s.max_drawdown_duration, hours(8));
}

TEST(Stats, LongestDrawdownIsNotTheDeepest) {
  RunResult r;
  // A 50% dip recovered within 1 hour, then a 1% dip lasting 10 hours.
  r.times = {kT0, kT0 + hours(1), kT0 + hours(2), kT0 + hours(3), kT0 + hours(13)};
  r.equity = {100, 50, 100, 99, 100};
  const Stats s = ComputeStats(r, {}, 100);
  EXPECT_DOUBLE_EQ(s.max_drawdown, 0.5);
  EXPECT_EQ(s.max_drawdown_duration, hours(11));  // from the peak at hour 2 to hour 13
}

TEST(Stats, ProfitFactorIsInfiniteWithoutLossesAndZeroWithoutTrades) {
  RunResult r;
  r.times = {kT0, kT0 + hours(24)};
  r.equity = {100, 100};
  EXPECT_EQ(ComputeStats(r, {}, 100).profit_factor, 0);
  EXPECT_EQ(ComputeStats(r, {}, 100).win_rate, 0);
  r.trades = {MakeTrade(0, 1, 3), MakeTrade(0, 1, 0)};
  const Stats s = ComputeStats(r, {}, 100);
  EXPECT_EQ(s.profit_factor, std::numeric_limits<double>::infinity());
  EXPECT_DOUBLE_EQ(s.win_rate, 0.5);
  EXPECT_DOUBLE_EQ(s.expectancy, 1.5);
}

TEST(Stats, ConstantReturnHasNoVolatilityAndFlatCurveHasNoRatios) {
  RunResult r;
  r.times = {kT0, kT0 + hours(24), kT0 + hours(48), kT0 + hours(72)};
  r.equity = {100, 200, 400, 800};  // +100% a day, exactly
  Stats s = ComputeStats(r, {}, 100);
  EXPECT_EQ(s.volatility, 0);
  EXPECT_EQ(s.sharpe, 0);
  EXPECT_EQ(s.sortino, 0);
  EXPECT_EQ(s.max_drawdown, 0);
  EXPECT_EQ(s.calmar, 0);
  // 3 returns over 3 days: 365.25 periods per year.
  EXPECT_DOUBLE_EQ(s.periods_per_year, 365.25);

  r.equity = {100, 100, 100, 100};
  s = ComputeStats(r, {}, 100);
  EXPECT_EQ(s.total_return, 0);
  EXPECT_EQ(s.cagr, 0);
  EXPECT_EQ(s.volatility, 0);
  EXPECT_EQ(s.max_drawdown_duration, Micros{0});
}

TEST(Stats, SingleBarHasNoAnnualisation) {
  RunResult r;
  r.times = {kT0};
  r.equity = {100};
  const Stats s = ComputeStats(r, {}, 100);
  EXPECT_EQ(s.bars, 1u);
  EXPECT_EQ(s.periods_per_year, 0);
  EXPECT_EQ(s.cagr, 0);
  EXPECT_EQ(s.volatility, 0);
}

// The return moments as ComputeStats took them before they were vectorised: two scalar lanes,
// odd bars in lane 0 and even bars in lane 1, added up in that order. The vector form must give
// the same volatility, Sharpe and Sortino bit for bit.
struct OldMoments {
  double shift = 0, sum = 0, sum_sq = 0, down_sq = 0;
};
OldMoments OldReturnMoments(const std::vector<double>& e) {
  const size_t n = e.size();
  auto ret_of = [](double prev, double cur) { return prev != 0 ? cur / prev - 1 : 0; };
  OldMoments m;
  if (n < 2) return m;
  m.shift = ret_of(e[0], e[1]);
  double sum[2] = {0, 0}, sum_sq[2] = {0, 0}, down_sq[2] = {0, 0};
  auto add = [&](int lane, size_t i) {
    const double ret = ret_of(e[i - 1], e[i]);
    const double d = ret - m.shift;
    sum[lane] += d;
    sum_sq[lane] += d * d;
    const double loss = (ret - std::abs(ret)) * 0.5;
    down_sq[lane] += loss * loss;
  };
  size_t i = 1;
  for (; i + 1 < n; i += 2) {
    add(0, i);
    add(1, i + 1);
  }
  if (i < n) add(0, i);
  m.sum = sum[0] + sum[1];
  m.sum_sq = sum_sq[0] + sum_sq[1];
  m.down_sq = down_sq[0] + down_sq[1];
  return m;
}

TEST(Stats, VolatilitySharpeSortinoBitForBitAsTheScalarLanes) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> step(-0.01, 0.01);
  for (size_t n : {2, 3, 4, 5, 1'001, 100'000, 100'001}) {
    std::vector<double> equity(n);
    double e = 1000;
    for (size_t i = 0; i < n; ++i) {
      // Flat stretches (returns of exactly 0), a zero mark now and then (a return taken as 0).
      if (i % 7 != 0) e *= 1 + step(rng);
      equity[i] = (i % 997 == 500) ? 0.0 : e;
    }
    RunResult r;
    for (size_t i = 0; i < n; ++i) r.times.push_back(kT0 + std::chrono::minutes(i));
    r.equity = equity;
    const Stats s = ComputeStats(r, {}, 1000);
    const OldMoments mo = OldReturnMoments(equity);
    const double m = static_cast<double>(n - 1);
    const double mean = mo.shift + mo.sum / m;
    const double var = n >= 3 ? std::max(0.0, (mo.sum_sq - mo.sum * mo.sum / m) / (m - 1)) : 0;
    const double sd = std::sqrt(var);
    const double down = std::sqrt(mo.down_sq / m);
    const double scale = std::sqrt(s.periods_per_year);
    EXPECT_EQ(s.volatility, sd * scale) << "n=" << n;
    EXPECT_EQ(s.sharpe, sd > 0 ? mean / sd * scale : 0) << "n=" << n;
    EXPECT_EQ(s.sortino, down > 0 ? mean / down * scale : 0) << "n=" << n;
  }
}

}  // namespace
}  // namespace tapedeck::engine
