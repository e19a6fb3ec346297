#include <gtest/gtest.h>

#include <vector>

#include "strategy_test_util.h"

namespace tapedeck::strategies {
namespace {

TEST(BuyAndHoldTest, BuysAtSecondOpenAndNeverSells) {
  const auto b = testutil::FromCloses({100, 104, 90, 120, 80, 110});
  engine::RunConfig config;
  config.cash = 10'000;
  config.costs.commission = 0.001;
  config.costs.slippage = 0.002;
  auto run = testutil::RunBuiltin("buy_and_hold", {}, b, config);
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  const auto fills = testutil::Fills(*run);
  ASSERT_EQ(fills.size(), 1u);
  EXPECT_EQ(fills[0].bar, 1u);
  EXPECT_EQ(fills[0].side, engine::Side::kBuy);
  const double px = 100 * 1.002;  // open(1) = close(0)
  const double qty = 10'000 / (px * 1.001);
  EXPECT_DOUBLE_EQ(fills[0].px, px);
  EXPECT_DOUBLE_EQ(fills[0].qty, qty);
  EXPECT_NEAR(run->stats.final_equity, qty * 110, 1e-9);
  size_t submitted = 0;
  for (const auto& e : run->events) submitted += e.status == engine::OrderStatus::kSubmitted;
  EXPECT_EQ(submitted, 1u);
}

TEST(BuyAndHoldTest, NoOrderWhenTheFirstBarIsTheLast) {
  const auto b = testutil::FromCloses({100});
  auto run = testutil::RunBuiltin("buy_and_hold", {}, b);
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  EXPECT_TRUE(run->events.empty());
  EXPECT_EQ(run->stats.final_equity, 100'000);
}

}  // namespace
}  // namespace tapedeck::strategies
