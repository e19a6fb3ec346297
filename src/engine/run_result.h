// The finished run: what a backtest produced (order events, equity, trades, statistics) and the
// configuration it ran with, the types the store keeps and playback plays. Plain values, without
// the engine's run loop or its internals: the store and playback include this header, not
// engine.h.
//
// Thread-safety: plain values; a const RunResult may be read from any number of threads.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/time.h"

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

// One symbol's round trips, summed in the order they closed: what a report of a run that keeps
// no history (RunConfig::record_history off) has of its trades.
struct TradeTotals {
  size_t trades = 0;
  size_t wins = 0;  // pnl > 0
  double pnl = 0;   // the sum of the finite pnls
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

// Where a plotted series is drawn: over the price chart, or in a pane of its own below it.
enum class PlotPane : uint8_t { kPrice, kOwn };
std::string_view ToString(PlotPane pane);  // "price" / "own"

using PlotId = uint32_t;  // index into RunResult::plots, in declaration order

// A series a strategy declared (Context::DeclarePlot) and plotted (Context::Plot): one value per
// time of the run's timeline, NaN where it plotted nothing.
//
// A built-in's series is a pure function of the run's bars (runs are deterministic), so a run made
// with RunConfig::derive_plots records only what it is: `derivation` (a short text in the format of
// strategies/strategies.h, e.g. "sma:10") and no values. Whoever shows the series computes its
// values from the bars (strategies::MaterialisePlots), the same numbers bit for bit.
struct PlotSeries {
  std::string name;
  PlotPane pane = PlotPane::kPrice;
  std::vector<double> values;  // same length as RunResult::times; empty while `derivation` is set
  std::string derivation{};    // empty: the values are recorded
};

// A message a strategy logged (Context::Log) at the bar `bar` (time `ts`).
struct LogEntry {
  Timestamp ts;
  size_t bar = 0;
  std::string msg;
};

// A run keeps at most kMaxLogs messages, each cut to kMaxLogBytes bytes; past that one more
// entry, at the last bar, says how many were dropped.
inline constexpr size_t kMaxLogs = 10'000;
inline constexpr size_t kMaxLogBytes = 2'048;

// Everything playback and the store need from a finished run.
struct RunResult {
  std::vector<std::string> symbols;
  std::vector<Timestamp> times;    // the aligned timeline: every time at which any symbol has a bar
  std::vector<double> equity;      // per time, marked at close
  std::vector<OrderEvent> events;  // oldest first
  std::vector<Trade> trades;  // empty without history (RunConfig::record_history off)
  // Without history, one per symbol in the run's order (what `trades` would sum to); else empty.
  std::vector<TradeTotals> trade_totals;
  Stats stats;
  std::vector<PlotSeries> plots;  // in declaration order
  std::vector<LogEntry> logs;     // oldest first (by bar)
};

// What a run is configured with (recorded with it by the store).
struct Costs {
  double commission = 0;  // rate of notional, e.g. 0.001
  double fixed_fee = 0;   // per fill
  double slippage = 0;    // fraction of price, adverse
};

struct RunConfig {
  double cash = 100'000;
  Costs costs;
  bool allow_short = true;
  // false: plots and logs are not recorded (Plot and Log cost nothing, the result has neither).
  bool record_plots = true;
  // true: a series a strategy declares with a derivation (Context::DeclareDerivedPlot: the
  // built-ins' indicators) is recorded as that derivation, without values, and costs the run
  // nothing; the server's runs, which the store keeps, are made so. false: its values are recorded
  // as any series' are.
  bool derive_plots = false;
  // false: the equity curve, the timeline, the order events and the trades are not kept (the
  // result's equity, times, events and trades are empty; its stats and symbols are as with true,
  // bit for bit, since the statistics are read from the curve and the trades as the run goes, and
  // trade_totals has each symbol's trades summed). For a caller that reports only statistics
  // (`tapedeck backtest`, a sweep's trial without daily returns): the run writes megabytes less.
  bool record_history = true;
};

}  // namespace tapedeck::engine
