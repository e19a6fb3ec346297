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
#include "engine/run_result.h"  // IWYU pragma: export
#include "market/market.h"

namespace tapedeck::engine {

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

class Strategy;

// The strategy's view of the run at the current bar. Only valid inside Strategy::OnBar. Defined
// in engine/context.h, which a strategy includes to read bars and place orders; callers that only
// run strategies need not (it brings the engine's inline internals along).
class Context;

class Strategy {
 public:
  virtual ~Strategy() = default;
  // Called once before the first bar. No bar has been seen yet (bars_seen() is 0; do not read
  // prices); an order placed here is recorded at the first bar's time and may fill at its open.
  virtual void OnStart(Context& /*ctx*/) {}
  // Called at the close of every bar of the aligned timeline, except the bars a call to
  // Context::SkipUntil said it has nothing to do at.
  virtual void OnBar(Context& ctx) = 0;
};

struct RunHooks {
  // Called every 65536 bars and at the end with (bars done, total); may be empty.
  std::function<void(size_t, size_t)> progress;
  // When set and becoming true, the run stops (within 64 bars) and returns UNAVAILABLE "cancelled".
  const std::atomic<bool>* cancel = nullptr;
};

// Runs `strategy` over `data` (one series per symbol, aligned by time). `data` and `strategy` must
// outlive the call only. Errors: VALIDATION when data or one of its series is empty (field `data`)
// or a config value is out of range (cash <= 0 or not finite, a negative or non-finite cost,
// slippage >= 1), naming the field; UNAVAILABLE "cancelled" when hooks.cancel became true; the
// strategy's own error when it called Context::Fail.
Result<RunResult> Run(std::span<const market::Series> data, Strategy& strategy,
                      const RunConfig& config, const RunHooks& hooks = {});

// Statistics of an equity curve and its trades (used by Run; exposed for tests and the store).
Stats ComputeStats(const RunResult& result, std::span<const market::Series> data,
                   double start_equity);

}  // namespace tapedeck::engine
