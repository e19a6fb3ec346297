#include <gtest/gtest.h>

#include <vector>

#include "strategy_test_util.h"

namespace tapedeck::strategies {
namespace {

using engine::Side;
using testutil::Ohlc;

// entry 3, exit 2; high = close + 0.5, low = close - 0.5 (open = close, to keep the arithmetic
// plain).
//   t=3: highest high of bars 0..2 is 10.7; close 10.3: hold.
//   t=4: highest high of bars 1..3 is 10.8; close 11 above -> buy at open(5). Had the current
//        bar been included (its high 11.5), the close could never have broken out.
//   t=5: highest of 2..4 is 11.5 = close: a tie, not above; the exit low (bars 3..4) is 9.8.
//   t=7: lowest low of bars 5..6 is 10.7; close 10.4 below -> sell at open(8).
TEST(DonchianBreakoutTest, CraftedSeriesExcludesCurrentBar) {
  const std::vector<double> closes = {10, 10.2, 10.1, 10.3, 11, 11.5, 11.2, 10.4, 10, 10};
  Ohlc b;
  for (double c : closes) {
    b.open.push_back(c);
    b.close.push_back(c);
    b.high.push_back(c + 0.5);
    b.low.push_back(c - 0.5);
  }
  auto run = testutil::RunBuiltin("donchian_breakout", {{"entry", 3}, {"exit", 2}}, b);
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  const auto fills = testutil::Fills(*run);
  EXPECT_EQ(testutil::FillBars(fills), (std::vector<size_t>{5, 8}));
  ASSERT_EQ(fills.size(), 2u);
  EXPECT_EQ(fills[0].side, Side::kBuy);
  EXPECT_EQ(fills[0].px, 11.5);
  EXPECT_EQ(fills[1].side, Side::kSell);
  EXPECT_EQ(fills[1].px, 10.0);
}

// No entry before `entry` earlier bars exist, however far the close runs.
TEST(DonchianBreakoutTest, NoSignalDuringWarmUp) {
  const auto b = testutil::FromCloses({1, 2, 3, 4, 5, 6, 7, 8}, 0.1);
  auto run = testutil::RunBuiltin("donchian_breakout", {{"entry", 5}, {"exit", 5}}, b);
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  ASSERT_FALSE(run->events.empty());
  EXPECT_EQ(run->events.front().bar, 5u);  // first decision with 5 earlier bars
}

}  // namespace
}  // namespace tapedeck::strategies
