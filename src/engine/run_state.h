// The engine's per-run state, and the inline half of Context.
//
// Private to the engine: strategies see it only through Context. It is defined in a header (not in
// a .cpp) so that the accessors a strategy calls on every bar (close(), position(), cash(), ...)
// inline into the strategy's OnBar: the run loop's budget is a few nanoseconds per bar, and an
// out-of-line call per accessor would spend much of it.
#pragma once

#include <cmath>
#include <cstddef>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "common/time.h"
#include "engine/context.h"  // Context, whose inline half this is
#include "engine/curve_scan.h"
#include "market/market.h"

namespace tapedeck::engine::detail {

// An order that rests with the broker until it fills, is cancelled or is rejected.
struct PendingOrder {
  OrderId id = 0;
  SymbolId symbol = 0;
  Side side = Side::kBuy;
  OrderType type = OrderType::kMarket;
  bool triggered = false;  // a stop-limit whose stop has been hit: it now rests as a limit
  bool flatten = false;    // from Context::Close: sized at fill to the whole position
  std::optional<double> qty;
  double limit = 0;
  double stop = 0;
};

// The round trip a symbol is in, built from its fills.
struct OpenTrade {
  bool active = false;
  Side side = Side::kBuy;
  Timestamp entry_time;
  size_t entry_bar = 0;
  double entry_qty = 0, entry_value = 0;  // sums over the fills that opened or added
  double exit_qty = 0, exit_value = 0;    // sums over the fills that reduced
  double commission = 0;
};

struct SymbolState {
  // The series' columns, as raw pointers: the hot accessors index them directly.
  const Timestamp* times = nullptr;
  const double* open = nullptr;
  const double* high = nullptr;
  const double* low = nullptr;
  const double* close = nullptr;
  const double* volume = nullptr;
  size_t size = 0;
  const market::Series* series = nullptr;

  size_t idx = 0;   // latest bar at or before now (meaningful once seen > 0)
  size_t seen = 0;  // bars of this symbol at or before now
  bool has_bar = false;

  double position = 0;  // signed quantity
  size_t open_orders = 0;
  OpenTrade trade;
};

// What the statistics read of the trades, summed trade after trade in the order they closed: the
// same sums whether they are taken from a run's kept trades or as the run closes them.
struct TradeSums {
  size_t trades = 0, wins = 0;
  double gross_profit = 0, gross_loss = 0, total_pnl = 0;
  // Bars held, [entry, end) with end the exit bar (`bars` for a trade still open); non-empty only.
  std::vector<std::pair<size_t, size_t>> spans;
  void Add(const Trade& t, size_t bars) {
    ++trades;
    total_pnl += t.pnl;
    if (t.pnl > 0) {
      ++wins;
      gross_profit += t.pnl;
    } else if (t.pnl < 0) {
      gross_loss -= t.pnl;
    }
    const size_t end = t.open ? bars : t.exit_bar;
    if (end > t.entry_bar) spans.emplace_back(t.entry_bar, end);
  }
};

struct RunState {
  std::vector<SymbolState> syms;
  // The aligned timeline (with one symbol, its series' times: the same values, read before the
  // run's copy of them is complete).
  const Timestamp* times = nullptr;
  size_t bar_count = 0;
  size_t index = 0;
  size_t wake = 0;  // the first bar at which the strategy's OnBar is called again (SkipUntil)
  // times[index], copied by the loop at every bar: reading the timeline only when an order
  // event needs a time would make each of those reads a cache miss.
  Timestamp time;

  double cash = 0;
  double equity = 0;  // marked at the current close
  Costs costs;
  bool allow_short = true;

  std::vector<PendingOrder> pending;  // in submission order
  OrderId next_id = 1;
  RunResult* result = nullptr;   // where events and trades go
  // RunConfig::record_history. false: events go to event_scratch, and each trade is summed
  // (AddTrade) into trade_sums and result->trade_totals instead of kept.
  bool record_events = true;
  OrderEvent event_scratch;  // the one event Record fills when events are not kept
  TradeSums trade_sums;
  // Keeps a closed (or, at the end, open) trade, or sums it when trades are not kept.
  void AddTrade(const Trade& t) {
    trade_sums.Add(t, bar_count);
    TradeTotals& s = result->trade_totals[t.symbol];
    ++s.trades;
    if (t.pnl > 0) ++s.wins;
    if (std::isfinite(t.pnl)) s.pnl += t.pnl;
  }
  std::optional<Error> failure;  // set by Context::Fail; Run returns it
  size_t fill_count = 0;         // OrderFilled events recorded so far
  CurveScan scan;                // the equity curve's return sums and drawdown, bars so far

  // Plots: plot_cols[id] is series id's per-bar array, written at [index & plot_mask]. With
  // recording off every column is plot_scratch and the mask 0, so Plot stays a plain store.
  std::vector<double*> plot_cols;
  size_t plot_mask = ~size_t{0};
  double plot_scratch = 0;
  bool record_plots = true;
  bool derive_plots = false;  // RunConfig::derive_plots, or record_plots off
  size_t logs_dropped = 0;

  // Per series: the next bar AppendPlot stores at, and whether the column was declared in order
  // (its values are appended rather than NaN-filled first).
  std::vector<size_t> plot_next;
  std::vector<bool> plot_in_order;

  // `derivation` non-empty, with derive_plots on: the series keeps it and gets no column.
  PlotId DeclarePlot(std::string_view name, PlotPane pane, bool in_order = false,
                     std::string_view derivation = {});
  void AppendPlot(PlotId id, std::span<const double> values);
  // Sets the bars of in-order series that nothing was appended to to NaN.
  void FinishPlots();
  void Log(std::string_view msg);

  // Records OrderSubmitted (and OrderRejected for a request that can never fill) at the current
  // bar; returns the new id.
  OrderId Submit(const OrderRequest& request, bool flatten);
  bool Cancel(OrderId id);
  // Fills what it can of the resting orders against the current bar of each symbol that has one.
  void ProcessPending();
  // Sizes, checks and books one order that fills at `px` (slippage included), recording
  // OrderFilled or OrderRejected.
  void Execute(const PendingOrder& order, double px);
  // Closes the books at the end: open trades marked at each symbol's last close.
  void Finish();
  // Appends an order event at the current bar and returns it (for the fields given by status:
  // a fill's price and commission, a rejection's reason).
  OrderEvent& Record(OrderId id, SymbolId symbol, Side side, OrderType type, OrderStatus status,
                     const std::optional<double>& qty);

  Timestamp now() const { return time; }
};

// What the statistics read of the equity curve and the timeline besides the scan: their length
// and ends (a run that does not keep them, RunConfig::record_history, knows them all the same).
struct CurveEnds {
  size_t bars = 0;
  double final_equity = 0;  // the last bar's equity; unused when bars is 0
  bool spanned = false;     // the timeline has two times or more: first and last are set
  Timestamp first, last;    // its first and last times
};

// engine::ComputeStats with the count of fills already known (the run counts them as it goes,
// rather than reading every event again), the equity curve already scanned (the run scans it as
// it goes, while it is in the cache) and the trades summed. REQUIRES: scan finished over the
// curve that `ends` describes; trades summed with ends.bars.
Stats ComputeStats(std::span<const market::Series> data, double start_equity, size_t fills,
                   const CurveScan& scan, const CurveEnds& ends, TradeSums& trades);

// (Requests are built by assignment: designated initializers that skip fields warn under
// -Wextra in GCC 12, and this header is compiled into every strategy.)
inline OrderRequest MarketRequest(SymbolId s, Side side, std::optional<double> qty) {
  OrderRequest r;
  r.symbol = s;
  r.side = side;
  r.qty = qty;
  return r;
}

}  // namespace tapedeck::engine::detail

namespace tapedeck::engine {

inline size_t Context::index() const { return s_->index; }
inline size_t Context::bar_count() const { return s_->bar_count; }
inline Timestamp Context::time() const { return s_->time; }
inline size_t Context::symbol_count() const { return s_->syms.size(); }
inline const std::string& Context::symbol(SymbolId s) const { return s_->syms[s].series->symbol(); }
inline bool Context::has_bar(SymbolId s) const { return s_->syms[s].has_bar; }
inline const market::Series& Context::series(SymbolId s) const { return *s_->syms[s].series; }
inline size_t Context::bar_index(SymbolId s) const { return s_->syms[s].idx; }
inline size_t Context::bars_seen(SymbolId s) const { return s_->syms[s].seen; }

inline double Context::open(SymbolId s) const {
  const auto& y = s_->syms[s];
  return y.open[y.idx];
}
inline double Context::high(SymbolId s) const {
  const auto& y = s_->syms[s];
  return y.high[y.idx];
}
inline double Context::low(SymbolId s) const {
  const auto& y = s_->syms[s];
  return y.low[y.idx];
}
inline double Context::close(SymbolId s) const {
  const auto& y = s_->syms[s];
  return y.close[y.idx];
}
inline double Context::volume(SymbolId s) const {
  const auto& y = s_->syms[s];
  return y.volume[y.idx];
}

inline double Context::cash() const { return s_->cash; }
inline double Context::equity() const { return s_->equity; }
inline double Context::position(SymbolId s) const { return s_->syms[s].position; }

inline OrderId Context::Buy(std::optional<double> qty, SymbolId s) {
  return s_->Submit(detail::MarketRequest(s, Side::kBuy, qty), false);
}
inline OrderId Context::Sell(std::optional<double> qty, SymbolId s) {
  return s_->Submit(detail::MarketRequest(s, Side::kSell, qty), false);
}
inline OrderId Context::Order(const OrderRequest& request) { return s_->Submit(request, false); }
inline OrderId Context::Close(SymbolId s) {
  const double pos = s_->syms[s].position;
  if (pos == 0) return 0;
  const Side side = pos > 0 ? Side::kSell : Side::kBuy;
  return s_->Submit(detail::MarketRequest(s, side, pos > 0 ? pos : -pos), true);
}
inline bool Context::Cancel(OrderId id) { return s_->Cancel(id); }
inline size_t Context::open_orders(SymbolId s) const { return s_->syms[s].open_orders; }
inline PlotId Context::DeclarePlot(std::string_view name, PlotPane pane) {
  return s_->DeclarePlot(name, pane);
}
inline void Context::Plot(PlotId id, double value) {
  s_->plot_cols[id][s_->index & s_->plot_mask] = value;
}
inline PlotId Context::DeclarePlotInOrder(std::string_view name, PlotPane pane) {
  return s_->DeclarePlot(name, pane, true);
}
inline void Context::AppendPlot(PlotId id, std::span<const double> values) {
  s_->AppendPlot(id, values);
}
inline PlotId Context::DeclareDerivedPlot(std::string_view name, PlotPane pane,
                                          std::string_view derivation, bool in_order) {
  return s_->DeclarePlot(name, pane, in_order, derivation);
}
inline bool Context::derive_plots() const { return s_->derive_plots; }
inline double* Context::plot_values(PlotId id) {
  return s_->record_plots ? s_->plot_cols[id] : nullptr;
}
inline void Context::SkipUntil(size_t index) { s_->wake = index; }
inline void Context::Log(std::string_view msg) { s_->Log(msg); }
inline void Context::Fail(Error error) {
  if (!s_->failure) s_->failure = std::move(error);
}

}  // namespace tapedeck::engine
