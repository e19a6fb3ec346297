// engine: event-driven, bar-by-bar backtests with a simulated broker.
//
// A run walks the time-aligned bars of one or more symbols. At each time t the broker first fills
// resting orders against bar t (orders placed at the close of t-1), equity is marked at close(t),
// then the strategy sees bar t (closed) and may place or cancel orders, which fill no earlier than
// bar t+1: no look-ahead.
//
// Fill rules (per bar, against its OHLC):
//  - market: at the open; buys at open*(1+slippage), sells at open*(1-slippage).
//  - limit buy L: open <= L -> at open (a gap through the price); else low <= L -> at L.
//    limit sell L: open >= L -> at open; else high >= L -> at L. No slippage on limit fills.
//  - stop buy S: open >= S -> at open; else high >= S -> at S. stop sell S: open <= S -> at open;
//    else low <= S -> at S. Stop fills take slippage like market fills.
//  - stop-limit (stop S, limit L): triggers as a stop; on the trigger bar it fills at the trigger
//    price if that is within L, else at L when the bar reaches L after a gap trigger; otherwise it
//    rests as a limit order from the next bar. Being a limit once triggered, it takes no slippage.
//  - every fill pays commission * price * qty + fixed_fee.
//  - resting orders are matched in submission order, each seeing the cash and position the
//    previous fills of the same bar left. An order on a symbol with no bar at the current time
//    waits for that symbol's next bar.
// Orders rest until filled or cancelled; orders still resting after the last bar simply end.
// An order the broker cannot accept produces `rejected` with a reason: at once, at the bar where it
// was placed, for qty <= 0 (or not finite), a non-positive limit or stop price, an unknown symbol;
// when it comes to fill, for an explicit-qty buy whose cost (notional + commission) exceeds cash
// (a buy that only covers a short is always accepted), a sized buy with no cash left, a sized sell
// with no long position, a Close with nothing left to close, and a sell that would open or increase
// a short when shorting is off.
//
// Thread-safety: Run() touches nothing global; distinct runs may execute on distinct threads.
#pragma once

#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/time.h"
#include "market/market.h"

namespace tapedeck::engine {

using SymbolId = uint32_t;  // index into the run's symbols, in the order given to Run()
using OrderId = int64_t;    // 1, 2, 3, ... in submission order within a run

enum class Side : uint8_t { kBuy, kSell };
enum class OrderType : uint8_t { kMarket, kLimit, kStop, kStopLimit };
enum class OrderStatus : uint8_t { kSubmitted, kFilled, kCancelled, kRejected };

// Wire spellings: "buy"/"sell", "market"/"limit"/"stop"/"stop_limit",
// "submitted"/"filled"/"cancelled"/"rejected".
std::string_view ToString(Side side);
std::string_view ToString(OrderType type);
std::string_view ToString(OrderStatus status);

struct OrderRequest {
  SymbolId symbol = 0;
  Side side = Side::kBuy;
  OrderType type = OrderType::kMarket;
  // nullopt: size at fill time — a buy spends all cash (qty = cash / (price * (1 + commission)),
  // after the fixed fee), a sell closes the whole long position.
  std::optional<double> qty;
  double limit = 0;  // kLimit, kStopLimit
  double stop = 0;   // kStop, kStopLimit
};

// One order event (OrderSubmitted, OrderFilled, OrderCancelled, OrderRejected), oldest first in a
// run. `ts` is the time of the bar at which it happened (its open time); `bar` that bar's index in
// the run's aligned timeline.
struct OrderEvent {
  OrderId id = 0;
  Timestamp ts;
  size_t bar = 0;
  SymbolId symbol = 0;
  Side side = Side::kBuy;
  OrderType type = OrderType::kMarket;
  OrderStatus status = OrderStatus::kSubmitted;
  std::optional<double> qty;  // nullopt only on a submitted order that sizes itself at fill
  double px = NAN;            // fill price, on filled only
  double commission = 0;      // paid by this fill
  std::string reason;         // on rejected only
};

// A round trip: from opening a position to flat (a reversal closes one trade and opens another).
struct Trade {
  SymbolId symbol = 0;
  Side side = Side::kBuy;  // kBuy: long, kSell: short
  Timestamp entry_time, exit_time;
  size_t entry_bar = 0, exit_bar = 0;
  double qty = 0;
  double entry_px = 0, exit_px = 0;  // quantity-weighted average fill prices
  double pnl = 0;                    // after commissions
  double ret = 0;                    // pnl / entry notional
  bool open = false;                 // still open at the end, marked at the last close
};

// Per-bar returns are simple returns of the equity curve, equity(t) / equity(t-1) - 1.
struct Stats {
  size_t bars = 0;
  size_t fills = 0;
  size_t trades = 0;  // round trips, the one still open at the end included
  double start_equity = 0, final_equity = 0;
  double total_return = 0;  // final / start - 1
  double cagr = 0;          // over the calendar span of the data
  double volatility = 0;    // annualised sample stdev of per-bar returns
  // Annualised, risk-free 0: mean / stdev, and mean / downside deviation where the downside
  // deviation is sqrt(sum(min(r, 0)^2) / count); 0 when the denominator is 0.
  double sharpe = 0, sortino = 0;
  double calmar = 0;        // cagr / max_drawdown (0 without a drawdown)
  double max_drawdown = 0;  // largest 1 - equity(t) / max(equity up to t)
  // Longest time below a previous peak: from the peak bar's time to the first bar back at or above
  // it, or to the last bar when it never recovers.
  Micros max_drawdown_duration{0};
  double win_rate = 0;  // trades with pnl > 0 / trades
  // Gross profit / gross loss; inf when there are profits and no loss, 0 when neither.
  double profit_factor = 0;
  double expectancy = 0;           // mean pnl per trade
  double exposure = 0;             // fraction of bars holding a position
  double buy_and_hold_return = 0;  // first symbol: last close / first close - 1
  // Bars per year used to annualise: (bars - 1) / calendar span in years of 365.25 days.
  double periods_per_year = 0;
};

// Everything playback and the store need from a finished run.
struct RunResult {
  std::vector<std::string> symbols;
  std::vector<Timestamp> times;    // the aligned timeline: every time at which any symbol has a bar
  std::vector<double> equity;      // per time, marked at close
  std::vector<OrderEvent> events;  // oldest first
  std::vector<Trade> trades;
  Stats stats;
};

struct Costs {
  double commission = 0;  // rate of notional, e.g. 0.001
  double fixed_fee = 0;   // per fill
  double slippage = 0;    // fraction of price, adverse
};

struct RunConfig {
  double cash = 100'000;
  Costs costs;
  bool allow_short = true;
};

class Strategy;

// The strategy's view of the run at the current bar. Only valid inside Strategy::OnBar.
class Context;

class Strategy {
 public:
  virtual ~Strategy() = default;
  // Called once before the first bar. No bar has been seen yet (bars_seen() is 0; do not read
  // prices); an order placed here is recorded at the first bar's time and may fill at its open.
  virtual void OnStart(Context& /*ctx*/) {}
  // Called at the close of every bar of the aligned timeline.
  virtual void OnBar(Context& ctx) = 0;
};

struct RunHooks {
  // Called every 65536 bars and at the end with (bars done, total); may be empty.
  std::function<void(size_t, size_t)> progress;
  // When set and becoming true, the run stops and returns UNAVAILABLE "cancelled".
  const std::atomic<bool>* cancel = nullptr;
};

// Runs `strategy` over `data` (one series per symbol, aligned by time). `data` and `strategy` must
// outlive the call only. Errors: VALIDATION when data or one of its series is empty (field `data`)
// or a config value is out of range (cash <= 0 or not finite, a negative or non-finite cost,
// slippage >= 1), naming the field; UNAVAILABLE "cancelled" when hooks.cancel became true.
Result<RunResult> Run(std::span<const market::Series> data, Strategy& strategy,
                      const RunConfig& config, const RunHooks& hooks = {});

// Statistics of an equity curve and its trades (used by Run; exposed for tests and the store).
Stats ComputeStats(const RunResult& result, std::span<const market::Series> data,
                   double start_equity);

}  // namespace tapedeck::engine

#include "engine/context.h"  // IWYU pragma: export
