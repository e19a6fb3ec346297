#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "strategy_test_util.h"

namespace tapedeck::strategies {
namespace {

using engine::Side;
using testutil::Want;

// EMA of closes[0..t] by its definition: seed with the mean of the first n, then iterate.
double NaiveEma(const std::vector<double>& xs, size_t t, size_t n) {
  double e = 0;
  for (size_t i = 0; i < n; ++i) e += xs[i];
  e /= static_cast<double>(n);
  const double a = 2.0 / (static_cast<double>(n) + 1);
  for (size_t i = n; i <= t; ++i) e = a * xs[i] + (1 - a) * e;
  return e;
}

// fast 2, slow 4. Flat at 10 until bar 4 (EMAs equal: a tie, flat), then a rise: at bar 5
// EMA2 = 11.33 > EMA4 = 10.8 -> buy at open(6). The fall turns it at bar 9 (EMA2 12.78 <
// EMA4 13.07) -> sell at open(10).
TEST(EmaCrossTest, CraftedSeries) {
  const auto b = testutil::FromCloses({10, 10, 10, 10, 10, 12, 14, 16, 14, 12, 10, 8, 8, 8, 8});
  auto run = testutil::RunBuiltin("ema_cross", {{"fast", 2}, {"slow", 4}}, b);
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  const auto fills = testutil::Fills(*run);
  EXPECT_EQ(testutil::FillBars(fills), (std::vector<size_t>{6, 10}));
  ASSERT_EQ(fills.size(), 2u);
  EXPECT_EQ(fills[0].side, Side::kBuy);
  EXPECT_EQ(fills[0].px, 12.0);  // open(6) = close(5)
  EXPECT_EQ(fills[1].side, Side::kSell);
  EXPECT_EQ(fills[1].px, 12.0);  // open(10) = close(9)
}

TEST(EmaCrossTest, MatchesNaiveReferenceOnRandomWalk) {
  std::mt19937_64 rng(21);
  std::uniform_int_distribution<int> step(-30, 30);
  std::vector<double> closes;
  long cents = 5000;
  for (int i = 0; i < 1500; ++i) {
    cents = std::max(100L, cents + step(rng));
    closes.push_back(static_cast<double>(cents) / 100);
  }
  const auto b = testutil::FromCloses(closes, 0.1);
  const size_t fast = 5, slow = 13;
  std::vector<Want> want(b.size(), Want::kHold);
  for (size_t t = slow - 1; t < b.size(); ++t) {
    const double f = NaiveEma(closes, t, fast), s = NaiveEma(closes, t, slow);
    want[t] = f - s > 1e-10 * std::abs(s) ? Want::kLong : Want::kFlat;
  }
  engine::RunConfig config;
  config.costs.commission = 0.002;
  config.costs.slippage = 0.001;
  const auto ref = testutil::Simulate(b, want, config.cash, 0.002, 0.001);
  auto run = testutil::RunBuiltin("ema_cross", {{"fast", 5}, {"slow", 13}}, b, config);
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  const auto fills = testutil::Fills(*run);
  ASSERT_GT(ref.fills.size(), 10u);
  EXPECT_EQ(testutil::FillBars(fills), testutil::FillBars(ref.fills));
  EXPECT_NEAR(run->stats.final_equity, ref.final_equity, 1e-9 * ref.final_equity);
}

}  // namespace
}  // namespace tapedeck::strategies
