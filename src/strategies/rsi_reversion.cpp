// rsi_reversion: buy when oversold, sell when overbought.
//
// Rules: RSI(period) of the closes of symbol 0 with Wilder's smoothing (ready from bar t = period,
// once `period` changes exist). At the close of a bar where it is ready: RSI below `lower`
// (lower - rsi > 1e-10 * lower) -> desired long; RSI above `upper` (rsi - upper > 1e-10 * upper)
// -> desired flat; in between, keep what is held. Orders as sma_cross: all-in market buy /
// whole-position market sell at the next open, none on the last bar. Plots `rsi` in a pane of its
// own once ready (derivation "rsi:period" with RunConfig::derive_plots).
#include <memory>

#include "strategies/builtins.h"
#include "strategies/derived_plots.h"
#include "strategies/indicators.h"
#include "strategies/long_flat.h"

namespace tapedeck::strategies::internal {
namespace {

class RsiReversion final : public LongFlat<RsiReversion> {
 public:
  RsiReversion(size_t period, double lower, double upper)
      : rsi_(period), lower_(lower), upper_(upper) {}

  void Declare(engine::Context& ctx) {
    plot_ = ctx.DeclareDerivedPlot("rsi", engine::PlotPane::kOwn,
                                   Derivation("rsi", {static_cast<double>(rsi_.period())}));
    store_ = !ctx.derive_plots();
  }

  Signal Decide(engine::Context& ctx) {
    rsi_.Update(ctx.close(0));
    if (!rsi_.ready()) return Signal::kHold;
    const double rsi = rsi_.value();
    const Signal want =
        Below(rsi, lower_) ? Signal::kLong : (Above(rsi, upper_) ? Signal::kFlat : Signal::kHold);
    // Last: a store may alias anything, and nothing is read after it.
    if (store_) ctx.Plot(plot_, rsi);
    return want;
  }

 private:
  Rsi rsi_;
  double lower_, upper_;
  engine::PlotId plot_ = 0;
  bool store_ = true;  // false: the series is derived (recorded as what it is)
};

}  // namespace

std::unique_ptr<engine::Strategy> MakeRsiReversion(size_t period, double lower, double upper) {
  return std::make_unique<RsiReversion>(period, lower, upper);
}

}  // namespace tapedeck::strategies::internal
