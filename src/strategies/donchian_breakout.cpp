// donchian_breakout: the turtle rule, long-only: enter on a new `entry`-bar high, leave on a new
// `exit`-bar low.
//
// Rules, on symbol 0: at the close of bar t, the channels are those of the bars *before* t (the
// current bar is excluded, else a close could never exceed a high that includes its own bar).
// Once t >= entry: close above the highest high of bars t-entry .. t-1 (a - b > 1e-10 * |b|) ->
// desired long. Once t >= exit: close below the lowest low of bars t-exit .. t-1
// (b - a > 1e-10 * |b|) -> desired flat. Otherwise keep what is held. Orders as sma_cross: all-in
// market buy / whole-position market sell at the next open, none on the last bar. Plots the
// channels it compares with, `upper` and `lower` (the previous bars'), on the price pane
// (derivations "donchian.upper:entry", "donchian.lower:exit" with RunConfig::derive_plots).
#include <memory>

#include "strategies/builtins.h"
#include "strategies/derived_plots.h"
#include "strategies/indicators.h"
#include "strategies/long_flat.h"

namespace tapedeck::strategies::internal {
namespace {

class DonchianBreakout final : public LongFlat<DonchianBreakout> {
 public:
  DonchianBreakout(size_t entry, size_t exit) : highest_(entry), lowest_(exit) {}

  void Declare(engine::Context& ctx) {
    upper_ = ctx.DeclareDerivedPlot(
        "upper", engine::PlotPane::kPrice,
        Derivation("donchian.upper", {static_cast<double>(highest_.period())}));
    lower_ = ctx.DeclareDerivedPlot(
        "lower", engine::PlotPane::kPrice,
        Derivation("donchian.lower", {static_cast<double>(lowest_.period())}));
    plot_ = !ctx.derive_plots();
  }

  Signal Decide(engine::Context& ctx) {
    const double close = ctx.close(0);
    // Read the channels first: they still cover the previous bars only.
    // value() is NaN until a channel is ready: no value at that bar. Read before the plots'
    // stores (which may alias anything) so nothing is read twice.
    const double upper = highest_.value(), lower = lowest_.value();
    const bool upper_ready = highest_.ready(), lower_ready = lowest_.ready();
    if (plot_) {
      ctx.Plot(upper_, upper);
      ctx.Plot(lower_, lower);
    }
    Signal want = Signal::kHold;
    if (upper_ready && Above(close, upper)) {
      want = Signal::kLong;
    } else if (lower_ready && Below(close, lower)) {
      want = Signal::kFlat;
    }
    highest_.Update(ctx.high(0));
    lowest_.Update(ctx.low(0));
    return want;
  }

 private:
  RollingMax highest_;
  RollingMin lowest_;
  engine::PlotId upper_ = 0, lower_ = 0;
  bool plot_ = true;  // false: the channels are derived (recorded as what they are)
};

}  // namespace

std::unique_ptr<engine::Strategy> MakeDonchianBreakout(size_t entry, size_t exit) {
  return std::make_unique<DonchianBreakout>(entry, exit);
}

}  // namespace tapedeck::strategies::internal
