// The simulated broker's fill rules (engine.h), costs, sizing, rejections, shorting and trades.
#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <span>

#include "engine/engine.h"
#include "scripted.h"

namespace tapedeck::engine {
namespace {

using testing::EventsOf;
using testing::Limit;
using testing::MakeSeries;
using testing::Minute;
using testing::Ohlc;
using testing::RunScript;
using testing::Scripted;
using testing::Stop;
using testing::StopLimit;

// A quiet first bar at which orders are placed; what happens after is up to each test.
constexpr Ohlc kFlat{100, 100, 100, 100};

// Places `request` at the close of bar 0 and runs over `bars`.
RunResult RunOne(const std::vector<Ohlc>& bars, const OrderRequest& request,
                 RunConfig config = {}) {
  Scripted script;
  script.At(0, [request](Context& c) { c.Order(request); });
  return RunScript(bars, script, config);
}

// The fill event of order `id`, if it filled.
std::optional<OrderEvent> FillOf(const RunResult& r, OrderId id = 1) {
  for (const auto& e : EventsOf(r, id)) {
    if (e.status == OrderStatus::kFilled) return e;
  }
  return std::nullopt;
}

RunConfig WithSlippage(double slippage) {
  RunConfig c;
  c.costs.slippage = slippage;
  return c;
}

// --- market orders ---------------------------------------------------------------------------

TEST(Broker, MarketBuyFillsAtNextOpenWithSlippageAndPaysCosts) {
  RunConfig config;
  config.cash = 10'000;
  config.costs = {.commission = 0.001, .fixed_fee = 1, .slippage = 0.01};
  Scripted script;
  script.At(0, [](Context& c) { c.Buy(10); });
  script.At(1, [](Context& c) { c.Sell(); });
  const RunResult r =
      RunScript({{100, 101, 99, 100}, {102, 103, 101, 102}, {104, 105, 103, 104}}, script, config);

  // Buy: 102 * 1.01 = 103.02; notional 1030.2; fee 0.001 * 1030.2 + 1 = 2.0302;
  // cash 10000 - 1030.2 - 2.0302 = 8967.7698; equity at bar 1 = 8967.7698 + 10 * 102.
  const auto buy = FillOf(r, 1);
  ASSERT_TRUE(buy);
  EXPECT_EQ(buy->bar, 1u);
  EXPECT_EQ(buy->ts, Minute(1));
  EXPECT_DOUBLE_EQ(buy->px, 103.02);
  EXPECT_DOUBLE_EQ(*buy->qty, 10);
  EXPECT_DOUBLE_EQ(buy->commission, 2.0302);
  EXPECT_DOUBLE_EQ(script.cash[1], 8967.7698);
  EXPECT_DOUBLE_EQ(r.equity[1], 9987.7698);

  // Sell (sized: the whole long): 104 * 0.99 = 102.96; notional 1029.6; fee 2.0296;
  // cash 8967.7698 + 1029.6 - 2.0296 = 9995.3402.
  const auto sell = FillOf(r, 2);
  ASSERT_TRUE(sell);
  EXPECT_EQ(sell->bar, 2u);
  EXPECT_DOUBLE_EQ(sell->px, 102.96);
  EXPECT_DOUBLE_EQ(*sell->qty, 10);
  EXPECT_DOUBLE_EQ(sell->commission, 2.0296);
  EXPECT_DOUBLE_EQ(r.equity[2], 9995.3402);

  // The round trip: pnl 1029.6 - 1030.2 - (2.0302 + 2.0296) = -4.6598.
  ASSERT_EQ(r.trades.size(), 1u);
  const Trade& t = r.trades[0];
  EXPECT_EQ(t.side, Side::kBuy);
  EXPECT_EQ(t.entry_bar, 1u);
  EXPECT_EQ(t.exit_bar, 2u);
  EXPECT_EQ(t.entry_time, Minute(1));
  EXPECT_EQ(t.exit_time, Minute(2));
  EXPECT_DOUBLE_EQ(t.qty, 10);
  EXPECT_DOUBLE_EQ(t.entry_px, 103.02);
  EXPECT_DOUBLE_EQ(t.exit_px, 102.96);
  EXPECT_NEAR(t.pnl, -4.6598, 1e-9);
  EXPECT_NEAR(t.ret, -4.6598 / 1030.2, 1e-12);
  EXPECT_FALSE(t.open);
}

TEST(Broker, EventsRecordSubmissionAtPlacementAndFillAtTheFillBar) {
  Scripted script;
  script.At(0, [](Context& c) { EXPECT_EQ(c.Buy(1), 1); });
  script.At(1, [](Context& c) {
    EXPECT_EQ(c.Buy(), 2);
    EXPECT_EQ(c.Sell(1), 3);
  });
  const RunResult r = RunScript({kFlat, kFlat, kFlat}, script);
  ASSERT_EQ(r.events.size(), 6u);
  const struct {
    OrderId id;
    OrderStatus status;
    size_t bar;
  } want[] = {{1, OrderStatus::kSubmitted, 0}, {1, OrderStatus::kFilled, 1},
              {2, OrderStatus::kSubmitted, 1}, {3, OrderStatus::kSubmitted, 1},
              {2, OrderStatus::kFilled, 2},    {3, OrderStatus::kFilled, 2}};
  for (size_t i = 0; i < 6; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(r.events[i].id, want[i].id);
    EXPECT_EQ(r.events[i].status, want[i].status);
    EXPECT_EQ(r.events[i].bar, want[i].bar);
    EXPECT_EQ(r.events[i].ts, Minute(static_cast<int64_t>(want[i].bar)));
  }
  // A sized order's submission carries no quantity; its fill carries what it came to.
  EXPECT_FALSE(r.events[2].qty.has_value());
  EXPECT_TRUE(r.events[4].qty.has_value());
  EXPECT_TRUE(std::isnan(r.events[0].px));
}

TEST(Broker, OrderPlacedAtABarNeverFillsAtThatBar) {
  // Bar 0's own range would satisfy the limit; the order must wait for a later bar that does.
  const RunResult r = RunOne({{100, 101, 95, 100}, {100, 101, 99.5, 100}, {100, 101, 98, 99}},
                             Limit(Side::kBuy, 1, 99));
  const auto fill = FillOf(r);
  ASSERT_TRUE(fill);
  EXPECT_EQ(fill->bar, 2u);
  EXPECT_DOUBLE_EQ(fill->px, 99);
}

TEST(Broker, OrderPlacedAtStartFillsAtFirstOpen) {
  Scripted script;
  script.AtStart([](Context& c) {
    EXPECT_EQ(c.bars_seen(), 0u);
    c.Buy(2);
  });
  const RunResult r = RunScript({{50, 51, 49, 50.5}, kFlat}, script);
  const auto fill = FillOf(r);
  ASSERT_TRUE(fill);
  EXPECT_EQ(fill->bar, 0u);
  EXPECT_DOUBLE_EQ(fill->px, 50);
  EXPECT_DOUBLE_EQ(r.equity[0], 100'000 - 100 + 2 * 50.5);
}

TEST(Broker, OrdersOnTheLastBarNeverFill) {
  Scripted script;
  script.At(1, [](Context& c) {
    EXPECT_TRUE(c.is_last_bar());
    c.Buy(1);
  });
  const RunResult r = RunScript({kFlat, kFlat}, script);
  EXPECT_FALSE(FillOf(r));
  EXPECT_EQ(r.events.size(), 1u);
}

// --- limit orders ----------------------------------------------------------------------------

TEST(Broker, LimitBuyGapThroughFillsAtOpen) {
  const auto fill =
      FillOf(RunOne({kFlat, {98, 99, 97, 98}}, Limit(Side::kBuy, 1, 100), WithSlippage(0.01)));
  ASSERT_TRUE(fill);
  EXPECT_DOUBLE_EQ(fill->px, 98);  // no slippage on limit fills
}

TEST(Broker, LimitBuyFillsAtLimitWhenLowReachesIt) {
  const auto fill =
      FillOf(RunOne({kFlat, {102, 103, 99.5, 101}}, Limit(Side::kBuy, 1, 100), WithSlippage(0.01)));
  ASSERT_TRUE(fill);
  EXPECT_DOUBLE_EQ(fill->px, 100);
}

TEST(Broker, LimitBuyRestsUntilReached) {
  Scripted script;
  script.At(0, [](Context& c) { c.Order(Limit(Side::kBuy, 1, 100)); });
  script.At(1, [](Context& c) { EXPECT_EQ(c.open_orders(), 1u); });
  script.At(2, [](Context& c) { EXPECT_EQ(c.open_orders(), 0u); });
  const RunResult r = RunScript({kFlat, {102, 103, 100.5, 101}, {101, 101, 99, 100}}, script);
  const auto fill = FillOf(r);
  ASSERT_TRUE(fill);
  EXPECT_EQ(fill->bar, 2u);
  EXPECT_DOUBLE_EQ(fill->px, 100);
}

TEST(Broker, LimitSellFillRules) {
  RunConfig c = WithSlippage(0.01);
  // Gap through: opens above the limit.
  auto fill = FillOf(RunOne({kFlat, {106, 107, 105.5, 106}}, Limit(Side::kSell, 1, 105), c));
  ASSERT_TRUE(fill);
  EXPECT_DOUBLE_EQ(fill->px, 106);
  // Touch: the high reaches it.
  fill = FillOf(RunOne({kFlat, {103, 105.5, 102, 104}}, Limit(Side::kSell, 1, 105), c));
  ASSERT_TRUE(fill);
  EXPECT_DOUBLE_EQ(fill->px, 105);
  // Not reached.
  EXPECT_FALSE(FillOf(RunOne({kFlat, {103, 104.9, 102, 104}}, Limit(Side::kSell, 1, 105), c)));
}

// --- stop orders -----------------------------------------------------------------------------

TEST(Broker, StopBuyFillRulesWithSlippage) {
  RunConfig c = WithSlippage(0.01);
  // Gap through: at the open, plus slippage: 106 * 1.01.
  auto fill = FillOf(RunOne({kFlat, {106, 107, 105.5, 106}}, Stop(Side::kBuy, 1, 105), c));
  ASSERT_TRUE(fill);
  EXPECT_DOUBLE_EQ(fill->px, 106 * 1.01);
  // The high reaches the stop: 105 * 1.01.
  fill = FillOf(RunOne({kFlat, {103, 105.5, 102, 104}}, Stop(Side::kBuy, 1, 105), c));
  ASSERT_TRUE(fill);
  EXPECT_DOUBLE_EQ(fill->px, 105 * 1.01);
  EXPECT_FALSE(FillOf(RunOne({kFlat, {103, 104.9, 102, 104}}, Stop(Side::kBuy, 1, 105), c)));
}

TEST(Broker, StopSellFillRulesWithSlippage) {
  RunConfig c = WithSlippage(0.01);
  auto fill = FillOf(RunOne({kFlat, {94, 94.5, 93, 94}}, Stop(Side::kSell, 1, 95), c));
  ASSERT_TRUE(fill);
  EXPECT_DOUBLE_EQ(fill->px, 94 * 0.99);
  fill = FillOf(RunOne({kFlat, {97, 98, 94.5, 96}}, Stop(Side::kSell, 1, 95), c));
  ASSERT_TRUE(fill);
  EXPECT_DOUBLE_EQ(fill->px, 95 * 0.99);
  EXPECT_FALSE(FillOf(RunOne({kFlat, {97, 98, 95.1, 96}}, Stop(Side::kSell, 1, 95), c)));
}

TEST(Broker, StopRestsAcrossBars) {
  const RunResult r =
      RunOne({kFlat, {101, 102, 100, 101}, {103, 104, 102, 103}, {104, 106, 103, 105}},
             Stop(Side::kBuy, 1, 105));
  const auto fill = FillOf(r);
  ASSERT_TRUE(fill);
  EXPECT_EQ(fill->bar, 3u);
  EXPECT_DOUBLE_EQ(fill->px, 105);
}

// --- stop-limit orders -----------------------------------------------------------------------

TEST(Broker, StopLimitBuyTriggeredWithinLimitFillsAtStopWithoutSlippage) {
  const auto fill = FillOf(RunOne({kFlat, {103, 105.5, 102, 104}},
                                  StopLimit(Side::kBuy, 1, 105, 106), WithSlippage(0.01)));
  ASSERT_TRUE(fill);
  EXPECT_EQ(fill->bar, 1u);
  EXPECT_DOUBLE_EQ(fill->px, 105);
}

TEST(Broker, StopLimitBuyGapPastLimitFillsAtLimitWhenBarComesBack) {
  // Opens at 107, above stop 105 and limit 106; the low 105.5 comes back to the limit.
  const auto fill =
      FillOf(RunOne({kFlat, {107, 108, 105.5, 107}}, StopLimit(Side::kBuy, 1, 105, 106)));
  ASSERT_TRUE(fill);
  EXPECT_EQ(fill->bar, 1u);
  EXPECT_DOUBLE_EQ(fill->px, 106);
}

TEST(Broker, StopLimitBuyGapPastLimitRestsAsLimit) {
  // Bar 1 gaps past the limit and stays above it: triggered, not filled. Bar 2 trades through
  // the limit from above: a plain limit fill at 106 (its stop is not checked again).
  RunResult r = RunOne({kFlat, {107, 108, 106.5, 107}, {106.8, 107, 105.8, 106}},
                       StopLimit(Side::kBuy, 1, 105, 106));
  auto fill = FillOf(r);
  ASSERT_TRUE(fill);
  EXPECT_EQ(fill->bar, 2u);
  EXPECT_DOUBLE_EQ(fill->px, 106);
  // Bar 2 opens below the limit: gap through the resting limit, at the open.
  fill = FillOf(RunOne({kFlat, {107, 108, 106.5, 107}, {104, 104.5, 103, 104}},
                       StopLimit(Side::kBuy, 1, 105, 106)));
  ASSERT_TRUE(fill);
  EXPECT_EQ(fill->bar, 2u);
  EXPECT_DOUBLE_EQ(fill->px, 104);
}

TEST(Broker, StopLimitTriggeredInsideBarOutsideLimitWaitsForNextBar) {
  // Stop 105, limit 104: bar 1 reaches 105 inside the bar; its low 102.5 is below the limit but
  // may have come before the trigger, so it rests as a limit and fills on bar 2 at 104.
  const RunResult r = RunOne({kFlat, {103, 105.5, 102.5, 104}, {104.5, 105, 103.5, 104}},
                             StopLimit(Side::kBuy, 1, 105, 104));
  const auto fill = FillOf(r);
  ASSERT_TRUE(fill);
  EXPECT_EQ(fill->bar, 2u);
  EXPECT_DOUBLE_EQ(fill->px, 104);
}

TEST(Broker, StopLimitNotTriggeredNeverFills) {
  // The limit is reached on bar 2 but the stop never is.
  EXPECT_FALSE(FillOf(RunOne({kFlat, {103, 104.9, 102, 104}, {103, 104, 101, 102}},
                             StopLimit(Side::kBuy, 1, 105, 106))));
}

TEST(Broker, StopLimitSellGapPastLimitFillsAtLimit) {
  // Stop 95, limit 94: opens at 93 (below both), the high 94.5 comes back to 94.
  auto fill = FillOf(RunOne({kFlat, {93, 94.5, 92, 93}}, StopLimit(Side::kSell, 1, 95, 94)));
  ASSERT_TRUE(fill);
  EXPECT_DOUBLE_EQ(fill->px, 94);
  // Triggered inside the bar, within the limit: at the stop.
  fill = FillOf(RunOne({kFlat, {97, 98, 94.5, 95}}, StopLimit(Side::kSell, 1, 95, 94)));
  ASSERT_TRUE(fill);
  EXPECT_DOUBLE_EQ(fill->px, 95);
}

// --- cancel ----------------------------------------------------------------------------------

TEST(Broker, CancelRemovesARestingOrderAtTheBarItHappens) {
  OrderId id = 0;
  Scripted script;
  script.At(0, [&](Context& c) { id = c.Order(Limit(Side::kBuy, 1, 50)); });
  script.At(2, [&](Context& c) {
    EXPECT_EQ(c.open_orders(), 1u);
    EXPECT_TRUE(c.Cancel(id));
    EXPECT_EQ(c.open_orders(), 0u);
    EXPECT_FALSE(c.Cancel(id));
    EXPECT_FALSE(c.Cancel(999));
  });
  const RunResult r = RunScript({kFlat, kFlat, kFlat, {49, 50, 40, 45}}, script);
  const auto events = EventsOf(r, id);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].status, OrderStatus::kCancelled);
  EXPECT_EQ(events[1].bar, 2u);
  EXPECT_EQ(events[1].ts, Minute(2));
  EXPECT_DOUBLE_EQ(*events[1].qty, 1);
  EXPECT_FALSE(FillOf(r, id));  // bar 3 would have filled it
}

TEST(Broker, CancelOfAFilledOrderIsFalse) {
  Scripted script;
  script.At(0, [](Context& c) { c.Buy(1); });
  script.At(1, [](Context& c) { EXPECT_FALSE(c.Cancel(1)); });
  RunScript({kFlat, kFlat}, script);
}

// --- sizing and costs ------------------------------------------------------------------------

TEST(Broker, SizedBuySpendsAllCashAfterFixedFee) {
  RunConfig config;
  config.cash = 10'000;
  config.costs = {.commission = 0.001, .fixed_fee = 5, .slippage = 0};
  Scripted script;
  script.At(0, [](Context& c) { c.Buy(); });
  const RunResult r = RunScript({kFlat, {100, 101, 99, 100}}, script, config);
  // qty = (10000 - 5) / (100 * 1.001); cost 100 * qty * 1.001 + 5 = 10000.
  const auto fill = FillOf(r);
  ASSERT_TRUE(fill);
  EXPECT_DOUBLE_EQ(*fill->qty, 9995 / 100.1);
  EXPECT_NEAR(r.equity[1] - *fill->qty * 100, 0, 1e-9);  // cash left
}

TEST(Broker, PinnedSmaCrossArithmetic) {
  // Issue 2's sizing: buy at open * (1 + slippage) for cash / (price * (1 + commission)); sell
  // the whole position at open * (1 - slippage); each fill pays commission * price * qty.
  RunConfig config;
  config.costs = {.commission = 0.001, .fixed_fee = 0, .slippage = 0.0005};
  Scripted script;
  script.At(0, [](Context& c) { c.Buy(); });
  script.At(2, [](Context& c) { c.Sell(); });
  const RunResult r = RunScript(
      {kFlat, {100, 102, 99, 101}, {103, 104, 102, 104}, {110, 111, 109, 110}}, script, config);
  const double buy_px = 100 * 1.0005;
  const double qty = 100'000 / (buy_px * 1.001);
  const double cash_after_buy = 100'000 - qty * buy_px - 0.001 * buy_px * qty;
  const double sell_px = 110 * (1 - 0.0005);
  const double final_cash = cash_after_buy + qty * sell_px - 0.001 * sell_px * qty;
  EXPECT_NEAR(r.equity[1], cash_after_buy + qty * 101, 1e-8);
  EXPECT_NEAR(r.equity[2], cash_after_buy + qty * 104, 1e-8);
  EXPECT_NEAR(r.equity[3], final_cash, 1e-8);
  EXPECT_DOUBLE_EQ(FillOf(r, 2)->px, sell_px);
  EXPECT_DOUBLE_EQ(*FillOf(r, 2)->qty, qty);
}

// --- rejections ------------------------------------------------------------------------------

TEST(Broker, NonPositiveQtyIsRejectedAtPlacement) {
  Scripted script;
  script.At(1, [](Context& c) {
    c.Buy(0);
    c.Sell(-1);
    c.Buy(NAN);
  });
  const RunResult r = RunScript({kFlat, kFlat, kFlat}, script);
  for (OrderId id : {1, 2, 3}) {
    const auto events = EventsOf(r, id);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[1].status, OrderStatus::kRejected);
    EXPECT_EQ(events[1].bar, 1u);
    EXPECT_EQ(events[1].reason, "qty <= 0");
  }
}

TEST(Broker, BadPricesAreRejectedAtPlacement) {
  Scripted script;
  script.At(0, [](Context& c) {
    c.Order(Limit(Side::kBuy, 1, 0));
    c.Order(Stop(Side::kBuy, 1, -5));
  });
  const RunResult r = RunScript({kFlat, kFlat}, script);
  EXPECT_EQ(EventsOf(r, 1).back().status, OrderStatus::kRejected);
  EXPECT_EQ(EventsOf(r, 1).back().reason, "limit price must be positive");
  EXPECT_EQ(EventsOf(r, 2).back().reason, "stop price must be positive");
}

TEST(Broker, ExplicitBuyBeyondCashIsRejectedAtFill) {
  RunConfig config;
  config.cash = 10'000;
  Scripted script;
  script.At(0, [](Context& c) { c.Buy(101); });  // 101 * 100 > 10000
  const RunResult r = RunScript({kFlat, kFlat}, script, config);
  const auto events = EventsOf(r, 1);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].status, OrderStatus::kRejected);
  EXPECT_EQ(events[1].bar, 1u);
  EXPECT_EQ(events[1].reason, "insufficient cash");
  EXPECT_DOUBLE_EQ(r.equity[1], 10'000);
}

TEST(Broker, CommissionCountsTowardsCash) {
  RunConfig config;
  config.cash = 10'000;
  config.costs.commission = 0.01;
  Scripted script;
  script.At(0, [](Context& c) { c.Buy(100); });  // 10000 + 100 commission > 10000
  const RunResult r = RunScript({kFlat, kFlat}, script, config);
  EXPECT_EQ(EventsOf(r, 1).back().reason, "insufficient cash");
}

TEST(Broker, ShortIsRejectedWhenShortingIsOff) {
  RunConfig config;
  config.allow_short = false;
  Scripted script;
  script.At(0, [](Context& c) { c.Buy(5); });
  script.At(1, [](Context& c) { c.Sell(6); });  // would leave -1
  script.At(2, [](Context& c) { c.Sell(5); });  // flattens: fine
  const RunResult r = RunScript({kFlat, kFlat, kFlat, kFlat}, script, config);
  EXPECT_EQ(EventsOf(r, 2).back().status, OrderStatus::kRejected);
  EXPECT_EQ(EventsOf(r, 2).back().reason, "shorting is not allowed");
  EXPECT_EQ(EventsOf(r, 3).back().status, OrderStatus::kFilled);
}

TEST(Broker, SizedSellWithoutLongIsRejected) {
  Scripted script;
  script.At(0, [](Context& c) { c.Sell(); });
  const RunResult r = RunScript({kFlat, kFlat}, script);
  EXPECT_EQ(EventsOf(r, 1).back().status, OrderStatus::kRejected);
  EXPECT_EQ(EventsOf(r, 1).back().reason, "no long position to sell");
}

// --- shorting, reversal, close ---------------------------------------------------------------

TEST(Broker, ShortThenReversalClosesOneTradeAndOpensAnother) {
  RunConfig config;
  config.cash = 10'000;
  config.costs.commission = 0.001;
  Scripted script;
  script.At(0, [](Context& c) { c.Sell(10); });
  script.At(1, [](Context& c) {
    EXPECT_DOUBLE_EQ(c.position(), -10);
    c.Buy(15);
  });
  const RunResult r =
      RunScript({{100, 101, 99, 100}, {100, 101, 97, 98}, {96, 97, 95, 96.5}, {97, 98, 96, 97}},
                script, config);
  // Short 10 at 100: cash 10000 + 1000 - 1 = 10999; equity at bar 1 = 10999 - 10 * 98.
  EXPECT_DOUBLE_EQ(r.equity[1], 10'019);
  // Buy 15 at 96: 1440 notional, fee 1.44, of which 10/15 (0.96) closes the short and 0.48
  // opens the long. Cash 10999 - 1440 - 1.44 = 9557.56; equity at bar 2 = 9557.56 + 5 * 96.5.
  EXPECT_DOUBLE_EQ(script.position[2], 5);
  EXPECT_NEAR(r.equity[2], 10'040.06, 1e-9);
  EXPECT_NEAR(r.equity[3], 9557.56 + 5 * 97, 1e-9);

  ASSERT_EQ(r.trades.size(), 2u);
  const Trade& s = r.trades[0];
  EXPECT_EQ(s.side, Side::kSell);
  EXPECT_EQ(s.entry_bar, 1u);
  EXPECT_EQ(s.exit_bar, 2u);
  EXPECT_DOUBLE_EQ(s.qty, 10);
  EXPECT_DOUBLE_EQ(s.entry_px, 100);
  EXPECT_DOUBLE_EQ(s.exit_px, 96);
  EXPECT_NEAR(s.pnl, 40 - 1 - 0.96, 1e-9);  // 38.04
  EXPECT_NEAR(s.ret, 38.04 / 1000, 1e-12);
  EXPECT_FALSE(s.open);

  // The long opened by the reversal is still open: marked at the last close, 97.
  const Trade& l = r.trades[1];
  EXPECT_EQ(l.side, Side::kBuy);
  EXPECT_EQ(l.entry_bar, 2u);
  EXPECT_EQ(l.exit_bar, 3u);
  EXPECT_EQ(l.exit_time, Minute(3));
  EXPECT_DOUBLE_EQ(l.qty, 5);
  EXPECT_DOUBLE_EQ(l.entry_px, 96);
  EXPECT_DOUBLE_EQ(l.exit_px, 97);
  EXPECT_NEAR(l.pnl, 5 - 0.48, 1e-9);
  EXPECT_TRUE(l.open);
}

TEST(Broker, ScalingInAndOutMakesOneTradeWithAveragePrices) {
  Scripted script;
  script.At(0, [](Context& c) { c.Buy(1); });
  script.At(1, [](Context& c) { c.Buy(3); });
  script.At(2, [](Context& c) { c.Sell(2); });
  script.At(3, [](Context& c) { c.Sell(2); });
  const RunResult r = RunScript({kFlat,
                                 {100, 100, 100, 100},
                                 {104, 104, 104, 104},
                                 {110, 110, 110, 110},
                                 {106, 106, 106, 106}},
                                script);
  ASSERT_EQ(r.trades.size(), 1u);
  const Trade& t = r.trades[0];
  EXPECT_DOUBLE_EQ(t.qty, 4);
  EXPECT_DOUBLE_EQ(t.entry_px, (100 + 3 * 104) / 4.0);     // 103
  EXPECT_DOUBLE_EQ(t.exit_px, (2 * 110 + 2 * 106) / 4.0);  // 108
  EXPECT_DOUBLE_EQ(t.pnl, 20);
  EXPECT_EQ(t.entry_bar, 1u);
  EXPECT_EQ(t.exit_bar, 4u);
}

TEST(Broker, CloseFlattensThePositionHeldAtFill) {
  Scripted script;
  script.At(0, [](Context& c) {
    EXPECT_EQ(c.Close(), 0);  // flat: nothing to send
    c.Buy(10);
  });
  script.At(1, [](Context& c) {
    c.Buy(5);   // fills first at bar 2 ...
    c.Close();  // ... and Close then sells all 15
  });
  const RunResult r = RunScript({kFlat, kFlat, kFlat, kFlat}, script);
  EXPECT_DOUBLE_EQ(script.position[2], 0);
  EXPECT_DOUBLE_EQ(*FillOf(r, 3)->qty, 15);
  EXPECT_EQ(FillOf(r, 3)->side, Side::kSell);
}

TEST(Broker, CloseCoversAShort) {
  Scripted script;
  script.At(0, [](Context& c) { c.Sell(3); });
  script.At(1, [](Context& c) { EXPECT_EQ(c.Close(), 2); });
  const RunResult r = RunScript({kFlat, kFlat, kFlat}, script);
  EXPECT_DOUBLE_EQ(script.position[2], 0);
  EXPECT_EQ(FillOf(r, 2)->side, Side::kBuy);
  EXPECT_DOUBLE_EQ(*FillOf(r, 2)->qty, 3);
}

TEST(Broker, CoveringAShortIsAcceptedEvenBeyondCash) {
  // Short 100 at 100 (cash 11000), price doubles: covering costs 20000 > cash but is accepted.
  RunConfig config;
  config.cash = 1'000;
  Scripted script;
  script.At(0, [](Context& c) { c.Sell(100); });
  script.At(1, [](Context& c) { c.Buy(100); });
  const RunResult r = RunScript({kFlat, kFlat, {200, 200, 200, 200}}, script, config);
  EXPECT_EQ(EventsOf(r, 2).back().status, OrderStatus::kFilled);
  EXPECT_DOUBLE_EQ(r.equity[2], 1'000 + 10'000 - 20'000);
}

}  // namespace
}  // namespace tapedeck::engine
