// The strategy's view of a run at the current bar: the header a strategy includes (engine.h only
// declares Context). It brings run_state.h along for its inline accessors, so only the engine and
// strategies include it.
//
// A Context is handed to Strategy::OnBar; it is valid only during that call. Everything it shows is
// known at the close of the current bar — nothing later (no look-ahead). Orders placed through it
// fill no earlier than the next bar.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/time.h"
#include "engine/engine.h"
#include "market/market.h"

namespace tapedeck::engine {

namespace detail {
struct RunState;  // the engine's internals (run_state.h)
}

class Context {
 public:
  explicit Context(detail::RunState* state) : s_(state) {}

  // The aligned timeline: every time at which any symbol has a bar.
  size_t index() const;      // the current position in it
  size_t bar_count() const;  // its length
  bool is_last_bar() const { return index() + 1 == bar_count(); }
  Timestamp time() const;

  size_t symbol_count() const;
  const std::string& symbol(SymbolId s) const;
  // Whether symbol s has a bar at exactly the current time (always true with one symbol).
  bool has_bar(SymbolId s = 0) const;
  // The series of symbol s and the index of its latest bar at or before the current time; a
  // strategy must not read the series past bar_index(s). REQUIRES: s has had a bar by now
  // (check has_bar or bars_seen).
  const market::Series& series(SymbolId s = 0) const;
  size_t bar_index(SymbolId s = 0) const;
  size_t bars_seen(SymbolId s = 0) const;  // bar_index + 1, or 0 before its first bar

  // OHLCV of the latest bar of s at or before now.
  double open(SymbolId s = 0) const;
  double high(SymbolId s = 0) const;
  double low(SymbolId s = 0) const;
  double close(SymbolId s = 0) const;
  double volume(SymbolId s = 0) const;

  // The account, marked at the current close.
  double cash() const;
  double equity() const;
  double position(SymbolId s = 0) const;  // signed quantity: > 0 long, < 0 short

  // Orders fill no earlier than the next bar. Each returns the new order's id; the order may still
  // be rejected when it comes to fill (its OrderRejected event says why).
  // qty nullopt: a buy spends all cash, a sell closes the whole long position (sized at fill).
  OrderId Buy(std::optional<double> qty = std::nullopt, SymbolId s = 0);
  OrderId Sell(std::optional<double> qty = std::nullopt, SymbolId s = 0);
  OrderId Order(const OrderRequest& request);
  // A market order that flattens the position of s, sized at fill to the whole position then held
  // (so it still flattens when another order fills first); returns 0 when already flat.
  OrderId Close(SymbolId s = 0);
  // Cancels a resting order; false when it is not open (filled, cancelled, unknown).
  bool Cancel(OrderId id);
  // Resting (not yet filled or cancelled) orders of s.
  size_t open_orders(SymbolId s = 0) const;

  // Plots and logs, shown with the run in playback. A series is declared once (OnStart is the
  // place; later works too) and gets a value per bar: DeclarePlot returns the id of the series
  // `name` (the same id for the same name; the first declaration's pane wins), Plot stores `value`
  // at the current bar (NaN: no value; a later Plot at the same bar overwrites). Plot is a store
  // into a per-bar array, cheap enough for every bar of a built-in. Log records `msg` at the
  // current bar (see kMaxLogs and kMaxLogBytes for the bounds). With RunConfig::record_plots off
  // all three record nothing. REQUIRES: Plot's id came from this run's DeclarePlot.
  PlotId DeclarePlot(std::string_view name, PlotPane pane);
  void Plot(PlotId id, double value);
  void Log(std::string_view msg);
  // The whole of series id's values, bar_count() of them indexed by the timeline (NaN until
  // plotted), for a strategy that computes a series ahead and stores it at once instead of one
  // Plot per bar; nullptr with RunConfig::record_plots off. Valid until the run ends.
  // REQUIRES: id came from this run's DeclarePlot.
  double* plot_values(PlotId id);
  // For a strategy that computes a series ahead, in order, a stretch of bars at a time:
  // DeclarePlotInOrder declares it as DeclarePlot does (the same id for the same name), but its
  // values are not first set to NaN; AppendPlot then stores `values` at the next bars of series id
  // not yet appended to (from bar 0 on; values past the last bar are dropped). Bars never appended
  // to are NaN at the end of the run. Each value is written once, where plot_values' column is
  // first filled with NaN and then written over: a year of minutes is megabytes a series. Both
  // record nothing with RunConfig::record_plots off. REQUIRES: a series declared with
  // DeclarePlotInOrder gets its values only from AppendPlot (not Plot nor plot_values).
  PlotId DeclarePlotInOrder(std::string_view name, PlotPane pane);
  void AppendPlot(PlotId id, std::span<const double> values);
  // For a series that is a pure function of the run's bars (a built-in's indicator), described by
  // `derivation` (the format of strategies/strategies.h). With RunConfig::derive_plots on, the
  // series is recorded as its derivation alone (PlotSeries::derivation, no values) and
  // derive_plots() is true: the strategy then stores no value into it (no Plot, AppendPlot or
  // plot_values). Off, it is DeclarePlot (DeclarePlotInOrder when `in_order`) and the strategy
  // plots it as any series. The same id for the same name, as DeclarePlot.
  PlotId DeclareDerivedPlot(std::string_view name, PlotPane pane, std::string_view derivation,
                            bool in_order = false);
  // Whether the series declared by DeclareDerivedPlot take no values from the strategy: true with
  // RunConfig::derive_plots on, and with record_plots off (nothing is recorded then anyway).
  bool derive_plots() const;

  // Tells the engine that this strategy has nothing to do at the bars before `index` of the
  // timeline: OnBar is next called at bar `index` (or not at all when it is past the last bar).
  // Everything else goes on at those bars as usual: resting orders fill, the account is marked.
  // For a strategy that already knows, from values it computed ahead, that it will neither send
  // nor cancel an order, plot or log before then. The next OnBar call may say it again.
  void SkipUntil(size_t index);

  // Fails the run with `error` (a script's runtime error or exhausted budget): Run returns it
  // instead of a result. The first failure wins. The run is not interrupted at once: the loop looks
  // at the failure only every 2^16 bars and at the end, so the built-ins' per-bar path stays as it
  // is; a failed strategy must ignore the bars it is still handed.
  void Fail(Error error);

 private:
  detail::RunState* s_;
};

}  // namespace tapedeck::engine

// The accessors' definitions: inline, so a strategy's per-bar calls cost no function call.
#include "engine/run_state.h"  // IWYU pragma: export
