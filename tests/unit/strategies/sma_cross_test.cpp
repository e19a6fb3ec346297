// sma_cross against an independent calculation: its pinned rules (docs/strategies.md) as a plain
// loop (means recomputed from scratch every bar, a hand-written broker), compared fill by fill with
// engine::Run + strategies::Make("sma_cross").
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

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

}  // namespace
}  // namespace tapedeck::strategies
