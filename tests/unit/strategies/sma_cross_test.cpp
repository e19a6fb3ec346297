// sma_cross against an independent calculation: its pinned rules (docs/strategies.md) as a plain
// loop (means recomputed from scratch every bar, a hand-written broker), compared fill by fill with
// engine::Run + strategies::Make("sma_cross").
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "strategies/indicators.h"
#include "strategies/moving_average_cross.h"
#include "strategy_test_util.h"

namespace tapedeck::strategies {
namespace {

using engine::Side;
using testutil::Fill;
using testutil::Ohlc;
using testutil::Want;

// Bars on a 0.01 tick grid, held as integer cents so the test can also decide crossings exactly.
struct TickBars {
  std::vector<int64_t> close_cents;
  Ohlc ohlc;
};

TickBars MakeTickBars(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> step(-25, 25), gap(-5, 5), wick(0, 20), regime(0, 99);
  TickBars b;
  int64_t close = 10'000;  // 100.00
  int flat_left = 0;
  for (size_t t = 0; t < n; ++t) {
    const int64_t open = std::max<int64_t>(100, close + (t == 0 ? 0 : gap(rng)));
    // Now and then a flat stretch longer than the slow window, where the means are equal on
    // paper: the tie rule decides those bars.
    if (flat_left == 0 && regime(rng) < 3) flat_left = 40;
    if (flat_left > 0) {
      --flat_left;
    } else {
      close = std::max<int64_t>(100, open + step(rng));
    }
    const int64_t high = std::max(open, close) + wick(rng);
    const int64_t low = std::max<int64_t>(1, std::min(open, close) - wick(rng));
    b.close_cents.push_back(close);
    b.ohlc.open.push_back(static_cast<double>(open) / 100);
    b.ohlc.high.push_back(static_cast<double>(high) / 100);
    b.ohlc.low.push_back(static_cast<double>(low) / 100);
    b.ohlc.close.push_back(static_cast<double>(close) / 100);
  }
  return b;
}

double NaiveMean(const std::vector<double>& xs, size_t t, size_t n) {
  double s = 0;
  for (size_t i = t + 1 - n; i <= t; ++i) s += xs[i];
  return s / static_cast<double>(n);
}

// The pinned signal: at bar t >= slow - 1, long when mean(fast) - mean(slow) > 1e-10 *
// |mean(slow)|.
std::vector<Want> PinnedSignal(const TickBars& b, size_t fast, size_t slow, size_t* ties) {
  std::vector<Want> want(b.ohlc.size(), Want::kHold);
  for (size_t t = slow - 1; t < b.ohlc.size(); ++t) {
    const double f = NaiveMean(b.ohlc.close, t, fast);
    const double s = NaiveMean(b.ohlc.close, t, slow);
    want[t] = f - s > 1e-10 * std::abs(s) ? Want::kLong : Want::kFlat;
    // The same decision in exact integer arithmetic: sum_f / fast > sum_s / slow.
    int64_t sum_f = 0, sum_s = 0;
    for (size_t i = t + 1 - fast; i <= t; ++i) sum_f += b.close_cents[i];
    for (size_t i = t + 1 - slow; i <= t; ++i) sum_s += b.close_cents[i];
    const int64_t lhs = sum_f * static_cast<int64_t>(slow);
    const int64_t rhs = sum_s * static_cast<int64_t>(fast);
    EXPECT_EQ(want[t] == Want::kLong, lhs > rhs) << "tolerance rule disagrees with exact at " << t;
    if (lhs == rhs) ++*ties;
  }
  return want;
}

void ExpectSameFills(const std::vector<Fill>& got, const std::vector<Fill>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].bar, want[i].bar) << "fill " << i;
    EXPECT_EQ(got[i].side, want[i].side) << "fill " << i;
    EXPECT_NEAR(got[i].px, want[i].px, 1e-12 * want[i].px) << "fill " << i;
    EXPECT_NEAR(got[i].qty, want[i].qty, 1e-12 * want[i].qty) << "fill " << i;
  }
}

struct Case {
  size_t fast, slow;
  uint64_t seed;
};

class SmaCrossReferenceTest : public ::testing::TestWithParam<Case> {};

TEST_P(SmaCrossReferenceTest, MatchesIndependentCalculationFillByFill) {
  const Case c = GetParam();
  const TickBars bars = MakeTickBars(4000, c.seed);
  engine::RunConfig config;
  config.cash = 100'000;
  config.costs.commission = 0.001;
  config.costs.slippage = 0.0005;

  size_t ties = 0;
  const auto want = PinnedSignal(bars, c.fast, c.slow, &ties);
  EXPECT_GT(ties, 0u) << "the data should exercise the tie rule";
  const auto ref = testutil::Simulate(bars.ohlc, want, config.cash, config.costs.commission,
                                      config.costs.slippage);
  ASSERT_GT(ref.fills.size(), 20u);

  auto run = testutil::RunBuiltin(
      "sma_cross", {{"fast", static_cast<double>(c.fast)}, {"slow", static_cast<double>(c.slow)}},
      bars.ohlc, config);
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  ExpectSameFills(testutil::Fills(*run), ref.fills);
  EXPECT_EQ(run->stats.fills, ref.fills.size());
  EXPECT_NEAR(run->stats.final_equity, ref.final_equity, 1e-9 * ref.final_equity);
  EXPECT_NEAR(run->equity.back(), ref.final_equity, 1e-9 * ref.final_equity);
}

INSTANTIATE_TEST_SUITE_P(Windows, SmaCrossReferenceTest,
                         ::testing::Values(Case{10, 30, 1}, Case{2, 4, 2}, Case{3, 6, 3},
                                           Case{1, 2, 4}, Case{5, 50, 5}),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return "fast" + std::to_string(info.param.fast) + "_slow" +
                                  std::to_string(info.param.slow);
                         });

// A series small enough to work out by hand (fast 2, slow 3):
//   t      0   1   2   3     4     5     6    7    8    9
//   close 10  10  10  11    12    11    10    9    9   10
//   open  10  10  10  10.5  11.5  11.5  10.5  9.5  9   9.5
//   fast  -   -   10  10.5  11.5  11.5  10.5  9.5  9   9.5
//   slow  -   -   10  10.33 11    11.33 11    10   9.33 9.33
// t=2 is a tie (flat, no order); t=3 long -> buy at open(4); t=6 flat -> sell at open(7);
// t=9 wants long but is the last bar: no order.
TEST(SmaCrossTest, HandWorkedSeries) {
  Ohlc b;
  b.close = {10, 10, 10, 11, 12, 11, 10, 9, 9, 10};
  b.open = {10, 10, 10, 10.5, 11.5, 11.5, 10.5, 9.5, 9, 9.5};
  for (size_t t = 0; t < b.close.size(); ++t) {
    b.high.push_back(std::max(b.open[t], b.close[t]) + 0.25);
    b.low.push_back(std::min(b.open[t], b.close[t]) - 0.25);
  }
  engine::RunConfig config;
  config.cash = 1000;
  config.costs.commission = 0.01;
  config.costs.slippage = 0.001;
  auto run = testutil::RunBuiltin("sma_cross", {{"fast", 2}, {"slow", 3}}, b, config);
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  const auto fills = testutil::Fills(*run);
  ASSERT_EQ(fills.size(), 2u);

  const double buy_px = 11.5 * 1.001;
  const double qty = 1000 / (buy_px * 1.01);
  EXPECT_EQ(fills[0].bar, 4u);
  EXPECT_EQ(fills[0].side, Side::kBuy);
  EXPECT_DOUBLE_EQ(fills[0].px, buy_px);
  EXPECT_DOUBLE_EQ(fills[0].qty, qty);
  EXPECT_NEAR(qty, 86.00956, 1e-5);

  const double sell_px = 9.5 * 0.999;
  EXPECT_EQ(fills[1].bar, 7u);
  EXPECT_EQ(fills[1].side, Side::kSell);
  EXPECT_DOUBLE_EQ(fills[1].px, sell_px);
  EXPECT_DOUBLE_EQ(fills[1].qty, qty);

  const double final_equity = qty * sell_px * (1 - 0.01);
  EXPECT_NEAR(run->stats.final_equity, final_equity, 1e-9);
  EXPECT_NEAR(final_equity, 808.1110, 1e-4);
  // Nothing was submitted at the last bar, though the fast mean is above the slow one there.
  for (const auto& e : run->events) EXPECT_LT(e.bar, 9u);
}

// Equal means while long are a tie, and a tie is "not above": the position is closed.
TEST(SmaCrossTest, TieWhileLongGoesFlat) {
  // fast 1, slow 2: long when close(t) > close(t-1); flat when equal or lower.
  const Ohlc b = testutil::FromCloses({10, 11, 11, 12, 13, 13, 13});
  auto run = testutil::RunBuiltin("sma_cross", {{"fast", 1}, {"slow", 2}}, b);
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  const auto fills = testutil::Fills(*run);
  EXPECT_EQ(testutil::FillBars(fills), (std::vector<size_t>{2, 3, 4, 6}));
  ASSERT_EQ(fills.size(), 4u);
  EXPECT_EQ(fills[0].side, Side::kBuy);
  EXPECT_EQ(fills[1].side, Side::kSell);
  EXPECT_EQ(fills[2].side, Side::kBuy);
  EXPECT_EQ(fills[3].side, Side::kSell);
}

TEST(SmaCrossTest, NoOrderBeforeSlowWindowIsFull) {
  // Rising from the start: fast > slow as soon as both exist, at t = slow - 1 = 4.
  const Ohlc b = testutil::FromCloses({1, 2, 3, 4, 5, 6, 7, 8});
  auto run = testutil::RunBuiltin("sma_cross", {{"fast", 2}, {"slow", 5}}, b);
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  ASSERT_FALSE(run->events.empty());
  EXPECT_EQ(run->events.front().bar, 4u);  // submitted at the close of bar 4
  EXPECT_EQ(testutil::FillBars(testutil::Fills(*run)), (std::vector<size_t>{5}));
}

// With a second symbol whose bars fall between symbol 0's, the strategy sees symbol 0's bars only
// (no stale close fed twice into the means), so it trades exactly as it does alone.
TEST(SmaCrossTest, IgnoresTimesWhereSymbolZeroHasNoBar) {
  const TickBars bars = MakeTickBars(600, 9);
  const market::Series alone = testutil::ToSeries(bars.ohlc);
  std::vector<Timestamp> other_times;
  for (Timestamp t : alone.times()) other_times.push_back(t + std::chrono::hours(12));
  other_times.pop_back();  // so that symbol 0 also has the last bar of the aligned timeline
  const size_t m = other_times.size();
  const std::vector<double> flat(m, 50.0);
  const std::vector<market::Series> both = {
      alone, market::Series::FromColumns("OTHER", other_times, flat, flat, flat, flat, flat)};

  auto run_alone = testutil::RunBuiltin("sma_cross", {{"fast", 3}, {"slow", 8}}, bars.ohlc);
  ASSERT_TRUE(run_alone.ok()) << run_alone.error().ToString();
  auto strategy = Make("sma_cross", {{"fast", 3}, {"slow", 8}});
  ASSERT_TRUE(strategy.ok());
  auto run_both = engine::Run(both, **strategy, {});
  ASSERT_TRUE(run_both.ok()) << run_both.error().ToString();

  std::vector<std::pair<Timestamp, double>> fills_alone, fills_both;
  for (const auto& e : run_alone->events) {
    if (e.status == engine::OrderStatus::kFilled) fills_alone.emplace_back(e.ts, e.px);
  }
  for (const auto& e : run_both->events) {
    EXPECT_EQ(e.symbol, 0u);
    if (e.status == engine::OrderStatus::kFilled) fills_both.emplace_back(e.ts, e.px);
  }
  ASSERT_GT(fills_alone.size(), 10u);
  EXPECT_EQ(fills_both, fills_alone);
  EXPECT_NEAR(run_both->stats.final_equity, run_alone->stats.final_equity,
              1e-9 * run_alone->stats.final_equity);
}


// The built-in computes its means a chunk ahead (SmaFill) and skips the bars where it has nothing
// to do; before that it was MovingAverageCross<Sma>, one bar at a time. The two must give the same
// run bit for bit: every event, the equity curve, the trades, the statistics and the plotted means.
void ExpectSameBits(double got, double want, const std::string& what) {
  EXPECT_EQ(std::memcmp(&got, &want, sizeof got), 0) << what << ": " << got << " vs " << want;
}

void ExpectSameRun(const engine::RunResult& got, const engine::RunResult& want) {
  ASSERT_EQ(got.times, want.times);
  ASSERT_EQ(got.equity.size(), want.equity.size());
  EXPECT_EQ(std::memcmp(got.equity.data(), want.equity.data(),
                        want.equity.size() * sizeof(double)),
            0)
      << "equity curves differ";
  ASSERT_EQ(got.events.size(), want.events.size());
  for (size_t i = 0; i < want.events.size(); ++i) {
    const auto &g = got.events[i], &w = want.events[i];
    const std::string at = "event " + std::to_string(i);
    EXPECT_EQ(g.id, w.id) << at;
    EXPECT_EQ(g.ts, w.ts) << at;
    EXPECT_EQ(g.bar, w.bar) << at;
    EXPECT_EQ(g.symbol, w.symbol) << at;
    EXPECT_EQ(g.side, w.side) << at;
    EXPECT_EQ(g.type, w.type) << at;
    EXPECT_EQ(g.status, w.status) << at;
    EXPECT_EQ(g.qty.has_value(), w.qty.has_value()) << at;
    if (g.qty && w.qty) ExpectSameBits(*g.qty, *w.qty, at + " qty");
    ExpectSameBits(g.px, w.px, at + " px");
    ExpectSameBits(g.commission, w.commission, at + " commission");
    EXPECT_EQ(g.reason, w.reason) << at;
  }
  ASSERT_EQ(got.trades.size(), want.trades.size());
  for (size_t i = 0; i < want.trades.size(); ++i) {
    const auto &g = got.trades[i], &w = want.trades[i];
    const std::string at = "trade " + std::to_string(i);
    EXPECT_EQ(g.entry_bar, w.entry_bar) << at;
    EXPECT_EQ(g.exit_bar, w.exit_bar) << at;
    EXPECT_EQ(g.open, w.open) << at;
    ExpectSameBits(g.qty, w.qty, at + " qty");
    ExpectSameBits(g.entry_px, w.entry_px, at + " entry_px");
    ExpectSameBits(g.exit_px, w.exit_px, at + " exit_px");
    ExpectSameBits(g.pnl, w.pnl, at + " pnl");
  }
  const auto &gs = got.stats, &ws = want.stats;
  EXPECT_EQ(gs.fills, ws.fills);
  EXPECT_EQ(gs.trades, ws.trades);
  EXPECT_EQ(gs.max_drawdown_duration, ws.max_drawdown_duration);
  const std::pair<const char*, std::pair<double, double>> stats[] = {
      {"final_equity", {gs.final_equity, ws.final_equity}},
      {"total_return", {gs.total_return, ws.total_return}},
      {"cagr", {gs.cagr, ws.cagr}},
      {"volatility", {gs.volatility, ws.volatility}},
      {"sharpe", {gs.sharpe, ws.sharpe}},
      {"sortino", {gs.sortino, ws.sortino}},
      {"calmar", {gs.calmar, ws.calmar}},
      {"max_drawdown", {gs.max_drawdown, ws.max_drawdown}},
      {"win_rate", {gs.win_rate, ws.win_rate}},
      {"profit_factor", {gs.profit_factor, ws.profit_factor}},
      {"expectancy", {gs.expectancy, ws.expectancy}},
      {"exposure", {gs.exposure, ws.exposure}},
  };
  for (const auto& [name, v] : stats) ExpectSameBits(v.first, v.second, name);
  ASSERT_EQ(got.plots.size(), want.plots.size());
  for (size_t p = 0; p < want.plots.size(); ++p) {
    EXPECT_EQ(got.plots[p].name, want.plots[p].name);
    ASSERT_EQ(got.plots[p].values.size(), want.plots[p].values.size());
    for (size_t t = 0; t < want.plots[p].values.size(); ++t) {
      ExpectSameBits(got.plots[p].values[t], want.plots[p].values[t],
                     want.plots[p].name + " at bar " + std::to_string(t));
      if (::testing::Test::HasFailure()) return;
    }
  }
}

// Runs the built-in and the one-bar-at-a-time form over `data` and compares them; returns the
// built-in's number of fills.
size_t CompareWithOneBarAtATime(std::span<const market::Series> data, size_t fast, size_t slow,
                                const engine::RunConfig& config) {
  auto built_in =
      Make("sma_cross", {{"fast", static_cast<double>(fast)}, {"slow", static_cast<double>(slow)}});
  EXPECT_TRUE(built_in.ok());
  if (!built_in.ok()) return 0;
  internal::MovingAverageCross<Sma> one_at_a_time(fast, slow);
  auto got = engine::Run(data, **built_in, config);
  auto want = engine::Run(data, one_at_a_time, config);
  EXPECT_TRUE(got.ok() && want.ok());
  if (!got.ok() || !want.ok()) return 0;
  ExpectSameRun(*got, *want);
  return got->stats.fills;
}

engine::RunConfig CostlyConfig(bool plots) {
  engine::RunConfig config;
  config.costs.commission = 0.0001;
  config.costs.slippage = 0.00005;
  config.record_plots = plots;
  return config;
}

// A year of one-minute bars as `tapedeck gen` makes them (whole 0.01 ticks, so equal means on
// paper are common), for several seeds, one of them new at every run and printed on failure.
TEST(SmaCrossTest, SameRunAsOneBarAtATimeOnGeneratedYears) {
  std::vector<uint64_t> seeds = {42, 7};
  seeds.push_back(std::random_device{}());
  for (uint64_t seed : seeds) {
    SCOPED_TRACE("tapedeck gen --seed " + std::to_string(seed));
    market::GenOptions o;
    o.seed = seed;
    const market::Series year = market::Generate(o);
    EXPECT_GT(CompareWithOneBarAtATime(std::span(&year, 1), 10, 30, CostlyConfig(true)), 1'000u);
    EXPECT_GT(CompareWithOneBarAtATime(std::span(&year, 1), 10, 30, CostlyConfig(false)), 1'000u);
    if (seed == 42) {
      // Other windows: the shortest, one wider than the fill's 4,096-bar chunk, odd sizes.
      for (const auto& [fast, slow] : std::vector<std::pair<size_t, size_t>>{
               {1, 2}, {5, 50}, {7, 211}, {50, 5'000}, {3'000, 9'000}}) {
        SCOPED_TRACE("fast " + std::to_string(fast) + " slow " + std::to_string(slow));
        CompareWithOneBarAtATime(std::span(&year, 1), fast, slow, CostlyConfig(true));
      }
    }
  }
}

// The same with long flat stretches (the tie rule decides many bars), and with a second symbol
// (the built-in then steps through symbol 0's bars one call at a time).
TEST(SmaCrossTest, SameRunAsOneBarAtATimeWithTiesAndTwoSymbols) {
  const TickBars bars = MakeTickBars(30'000, 21);
  const market::Series alone = testutil::ToSeries(bars.ohlc);
  for (bool plots : {true, false}) {
    EXPECT_GT(CompareWithOneBarAtATime(std::span(&alone, 1), 10, 30, CostlyConfig(plots)), 100u);
    CompareWithOneBarAtATime(std::span(&alone, 1), 2, 4, CostlyConfig(plots));
  }
  std::vector<Timestamp> other_times;
  for (Timestamp t : alone.times()) other_times.push_back(t + std::chrono::hours(12));
  const std::vector<double> flat(other_times.size(), 50.0);
  const std::vector<market::Series> both = {
      alone, market::Series::FromColumns("OTHER", other_times, flat, flat, flat, flat, flat)};
  for (bool plots : {true, false}) {
    EXPECT_GT(CompareWithOneBarAtATime(both, 10, 30, CostlyConfig(plots)), 100u);
  }
}

// With one symbol and derived plots the built-in decides from the windows' sums, estimating each
// mean by a multiplication and dividing only where the estimate is too near the tolerance to be
// sure. Closes that climb at about the rate where fast - slow is 1e-10·|slow|, each step off it by
// a random relative amount from 1e-9 to 0.1, put many bars at and around that edge; every event,
// the equity and the statistics must be those of the one-bar-at-a-time form's divided means.
TEST(SmaCrossTest, DerivedRunDecidesAtTheToleranceAsTheDividedMeans) {
  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  for (const auto& [fast, slow] :
       std::vector<std::pair<size_t, size_t>>{{1, 2}, {2, 5}, {10, 30}, {7, 211}}) {
    SCOPED_TRACE("fast " + std::to_string(fast) + " slow " + std::to_string(slow));
    std::mt19937_64 rng(seed + fast);
    std::uniform_real_distribution<double> exponent(-9, -1);
    std::bernoulli_distribution negative(0.5);
    Ohlc bars;
    double x = 100;
    for (size_t t = 0; t < 20'000; ++t) {
      const double off = std::pow(10.0, exponent(rng)) * (negative(rng) ? -1 : 1);
      x += x * 2e-10 / static_cast<double>(slow - fast) * (1 + off);
      for (auto* column : {&bars.open, &bars.high, &bars.low, &bars.close}) column->push_back(x);
    }
    const market::Series series = testutil::ToSeries(bars);
    engine::RunConfig config = CostlyConfig(true);
    config.derive_plots = true;
    EXPECT_GT(CompareWithOneBarAtATime(std::span(&series, 1), fast, slow, config), 100u);
  }
}

// The pinned rule's means computed the plain way, from scratch at every bar, decide every bar as
// the built-in's plotted means do, over a generated year with its ties.
TEST(SmaCrossTest, PlottedMeansDecideAsNaiveMeansOnAGeneratedYear) {
  market::GenOptions o;
  o.seed = std::random_device{}();
  SCOPED_TRACE("tapedeck gen --seed " + std::to_string(o.seed));
  const market::Series year = market::Generate(o);
  auto s = Make("sma_cross", {});
  ASSERT_TRUE(s.ok());
  auto run = engine::Run(std::span(&year, 1), **s, {});
  ASSERT_TRUE(run.ok());
  ASSERT_EQ(run->plots.size(), 2u);
  const auto& fast = run->plots[0].values;
  const auto& slow = run->plots[1].values;
  const auto closes = year.close();
  const std::vector<double> xs(closes.begin(), closes.end());
  size_t ties = 0;
  for (size_t t = 29; t < xs.size(); ++t) {
    const double f = NaiveMean(xs, t, 10), sl = NaiveMean(xs, t, 30);
    ASSERT_EQ(Above(fast[t], slow[t]), Above(f, sl)) << "bar " << t;
    // Exactly equal means on the 0.01 grid: 3 * the fast window's ticks == the slow window's.
    int64_t sum_f = 0, sum_s = 0;
    for (size_t i = t + 1 - 10; i <= t; ++i) sum_f += std::llround(xs[i] * 100);
    for (size_t i = t + 1 - 30; i <= t; ++i) sum_s += std::llround(xs[i] * 100);
    if (3 * sum_f == sum_s) {
      ++ties;
      ASSERT_FALSE(Above(fast[t], slow[t])) << "a tie at bar " << t << " must not be above";
    }
  }
  EXPECT_GT(ties, 10u);
}

}  // namespace
}  // namespace tapedeck::strategies
