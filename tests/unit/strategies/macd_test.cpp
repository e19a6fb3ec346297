#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "strategy_test_util.h"

namespace tapedeck::strategies {
namespace {

using testutil::Want;

// EMA by its definition over xs[0..t]: seed with the mean of the first n, then iterate.
double NaiveEma(const std::vector<double>& xs, size_t t, size_t n) {
  double e = 0;
  for (size_t i = 0; i < n; ++i) e += xs[i];
  e /= static_cast<double>(n);
  const double a = 2.0 / (static_cast<double>(n) + 1);
  for (size_t i = n; i <= t; ++i) e = a * xs[i] + (1 - a) * e;
  return e;
}

std::vector<Want> NaiveMacdSignal(const std::vector<double>& closes, size_t fast, size_t slow,
                                  size_t sig) {
  std::vector<Want> want(closes.size(), Want::kHold);
  std::vector<double> line;
  for (size_t t = slow - 1; t < closes.size(); ++t) {
    line.push_back(NaiveEma(closes, t, fast) - NaiveEma(closes, t, slow));
    if (line.size() < sig) continue;
    const double s = NaiveEma(line, line.size() - 1, sig);
    want[t] = line.back() - s > 1e-10 * std::abs(s) ? Want::kLong : Want::kFlat;
  }
  return want;
}

// A rise, a fall, a rise: long during the upswings' momentum, flat in the fall.
TEST(MacdTest, CraftedSeriesTradesTheSwings) {
  std::vector<double> closes;
  for (int i = 0; i < 10; ++i) closes.push_back(100);
  for (int i = 1; i <= 10; ++i) closes.push_back(100 + 2 * i);  // to 120
  for (int i = 1; i <= 10; ++i) closes.push_back(120 - 3 * i);  // to 90
  for (int i = 1; i <= 10; ++i) closes.push_back(90 + 2 * i);   // to 110
  const auto b = testutil::FromCloses(closes);
  auto run = testutil::RunBuiltin("macd", {{"fast", 3}, {"slow", 6}, {"signal", 3}}, b);
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  const auto fills = testutil::Fills(*run);
  const auto ref = testutil::Simulate(b, NaiveMacdSignal(closes, 3, 6, 3), 100'000, 0, 0);
  EXPECT_EQ(testutil::FillBars(fills), testutil::FillBars(ref.fills));
  // Flat until the first rise (line = signal = 0 there: a tie), in during the first rise, out
  // during the fall, in again in the second rise.
  ASSERT_GE(fills.size(), 3u);
  EXPECT_GT(fills[0].bar, 10u);
  EXPECT_LE(fills[0].bar, 12u);
  EXPECT_EQ(fills[0].side, engine::Side::kBuy);
  EXPECT_GT(fills[1].bar, 20u);
  EXPECT_LE(fills[1].bar, 23u);
  EXPECT_EQ(fills[1].side, engine::Side::kSell);
  EXPECT_GT(fills[2].bar, 30u);
  EXPECT_EQ(fills[2].side, engine::Side::kBuy);
}

TEST(MacdTest, MatchesNaiveReferenceOnRandomWalk) {
  std::mt19937_64 rng(31);
  std::uniform_int_distribution<int> step(-40, 40);
  std::vector<double> closes;
  long cents = 20'000;
  for (int i = 0; i < 1500; ++i) {
    cents = std::max(100L, cents + step(rng));
    closes.push_back(static_cast<double>(cents) / 100);
  }
  const auto b = testutil::FromCloses(closes, 0.2);
  engine::RunConfig config;
  config.costs.commission = 0.001;
  config.costs.slippage = 0.0002;
  const auto ref =
      testutil::Simulate(b, NaiveMacdSignal(closes, 12, 26, 9), config.cash, 0.001, 0.0002);
  auto run = testutil::RunBuiltin("macd", {}, b, config);
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  ASSERT_GT(ref.fills.size(), 10u);
  EXPECT_EQ(testutil::FillBars(testutil::Fills(*run)), testutil::FillBars(ref.fills));
  EXPECT_NEAR(run->stats.final_equity, ref.final_equity, 1e-9 * ref.final_equity);
}

}  // namespace
}  // namespace tapedeck::strategies
