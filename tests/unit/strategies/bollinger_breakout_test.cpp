#include <gtest/gtest.h>

#include <vector>

#include "strategy_test_util.h"

namespace tapedeck::strategies {
namespace {

using engine::Side;

// period 3, k 1.
//   t=2: 10 10 10: σ 0, upper = middle = 10 = close: neither above nor below, hold.
//   t=3: 10 10 13: mean 11, σ 1.41, upper 12.41 < 13 -> buy at open(4).
//   t=4: 10 13 14: mean 12.33, upper 14.03; close 14 is between middle and upper: hold (long).
//   t=5: 13 14 15: mean 14; close 15 above middle: hold.
//   t=6: 14 15 13: mean 14; close 13 below middle -> sell at open(7).
TEST(BollingerBreakoutTest, CraftedSeries) {
  const auto b = testutil::FromCloses({10, 10, 10, 13, 14, 15, 13, 12, 11, 11});
  auto run = testutil::RunBuiltin("bollinger_breakout", {{"period", 3}, {"k", 1}}, b);
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  const auto fills = testutil::Fills(*run);
  EXPECT_EQ(testutil::FillBars(fills), (std::vector<size_t>{4, 7}));
  ASSERT_EQ(fills.size(), 2u);
  EXPECT_EQ(fills[0].side, Side::kBuy);
  EXPECT_EQ(fills[0].px, 13.0);
  EXPECT_EQ(fills[1].side, Side::kSell);
  EXPECT_EQ(fills[1].px, 13.0);
}

// A close that equals the middle band is not below it: the position is kept.
TEST(BollingerBreakoutTest, CloseAtMiddleKeepsPosition) {
  // period 2, k 0.5: t=1: 10 12, mean 11, σ 1, upper 11.5 < 12 -> buy at open(2).
  // t=2: 12 11 -> mean 11.5, close 11 < 11.5 -> sell. So use a close equal to the mean instead:
  // t=2: 12 12 -> mean 12 = close: hold; t=3: 12 11 -> mean 11.5 > 11 -> sell at open(4).
  const auto b = testutil::FromCloses({10, 12, 12, 11, 11});
  auto run = testutil::RunBuiltin("bollinger_breakout", {{"period", 2}, {"k", 0.5}}, b);
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  EXPECT_EQ(testutil::FillBars(testutil::Fills(*run)), (std::vector<size_t>{2, 4}));
}

}  // namespace
}  // namespace tapedeck::strategies
