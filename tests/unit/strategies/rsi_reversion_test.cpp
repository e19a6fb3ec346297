#include <gtest/gtest.h>

#include <vector>

#include "strategy_test_util.h"

namespace tapedeck::strategies {
namespace {

using engine::Side;

// period 2, lower 30, upper 70. Changes: +1 -1 -1 -1 +1 +1 +1 +1 -1.
//   t=2: avg gain 0.5, loss 0.5 -> RSI 50, hold (flat).
//   t=3: gain 0.25, loss 0.75 -> 25 < 30 -> buy at open(4).
//   t=4: 12.5 (long, held). t=5: gain 0.5625, loss 0.4375 -> 56.25, hold (stays long).
//   t=6: gain 0.78125, loss 0.21875 -> 78.1 > 70 -> sell at open(7).
//   t=7: 89, flat. t=8: 94.5, flat. t=9: 47.3, hold.
TEST(RsiReversionTest, CraftedSeries) {
  const auto b = testutil::FromCloses({10, 11, 10, 9, 8, 9, 10, 11, 12, 11});
  auto run =
      testutil::RunBuiltin("rsi_reversion", {{"period", 2}, {"lower", 30}, {"upper", 70}}, b);
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  const auto fills = testutil::Fills(*run);
  EXPECT_EQ(testutil::FillBars(fills), (std::vector<size_t>{4, 7}));
  ASSERT_EQ(fills.size(), 2u);
  EXPECT_EQ(fills[0].side, Side::kBuy);
  EXPECT_EQ(fills[0].px, 9.0);
  EXPECT_EQ(fills[1].side, Side::kSell);
  EXPECT_EQ(fills[1].px, 10.0);
}

// Between the levels it holds: a mildly oversold market that never gets overbought stays long.
TEST(RsiReversionTest, HoldsBetweenLevels) {
  const auto b = testutil::FromCloses({10, 9, 8, 7, 7.5, 7.2, 7.6, 7.3, 7.7, 7.4});
  auto run = testutil::RunBuiltin("rsi_reversion", {{"period", 3}}, b);
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  const auto fills = testutil::Fills(*run);
  ASSERT_EQ(fills.size(), 1u);  // RSI 0 at t=3 -> buy at open(4); never above 70 after
  EXPECT_EQ(fills[0].bar, 4u);
  EXPECT_EQ(fills[0].side, Side::kBuy);
}

}  // namespace
}  // namespace tapedeck::strategies
