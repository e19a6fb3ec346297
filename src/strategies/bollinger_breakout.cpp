// bollinger_breakout: ride a break above the upper band, leave on a return below the middle.
//
// Rules: Bollinger bands of the closes of symbol 0 over `period` bars including the current one,
// middle = mean, upper = mean + k * σ (population σ). At the close of bar t, once t >= period - 1:
// close above upper (close - upper > 1e-10 * |upper|) -> desired long; close below middle
// (middle - close > 1e-10 * |middle|) -> desired flat; otherwise keep what is held. Orders as
// sma_cross: all-in market buy / whole-position market sell at the next open, none on the last bar.
// Plots `middle`, `upper` and `lower` (k * σ below the mean) on the price pane once ready
// (derivations "bollinger.middle:period,k", ... with RunConfig::derive_plots).
#include <memory>

#include "strategies/builtins.h"
#include "strategies/derived_plots.h"
#include "strategies/indicators.h"
#include "strategies/long_flat.h"

namespace tapedeck::strategies::internal {
namespace {

class BollingerBreakout final : public LongFlat<BollingerBreakout> {
 public:
  BollingerBreakout(size_t period, double k) : bands_(period, k), period_(period), k_(k) {}

  void Declare(engine::Context& ctx) {
    const auto n = static_cast<double>(period_);
    middle_ = ctx.DeclareDerivedPlot("middle", engine::PlotPane::kPrice,
                                     Derivation("bollinger.middle", {n, k_}));
    upper_ = ctx.DeclareDerivedPlot("upper", engine::PlotPane::kPrice,
                                    Derivation("bollinger.upper", {n, k_}));
    lower_ = ctx.DeclareDerivedPlot("lower", engine::PlotPane::kPrice,
                                    Derivation("bollinger.lower", {n, k_}));
    plot_ = !ctx.derive_plots();
  }

  Signal Decide(engine::Context& ctx) {
    const double close = ctx.close(0);
    bands_.Update(close);
    if (!bands_.ready()) return Signal::kHold;
    if (!plot_) return Want(close, bands_.middle(), bands_.upper());
    // Read before the plots' stores (which may alias anything) so nothing is computed twice.
    const double middle = bands_.middle(), upper = bands_.upper(), lower = bands_.lower();
    ctx.Plot(middle_, middle);
    ctx.Plot(upper_, upper);
    ctx.Plot(lower_, lower);
    return Want(close, middle, upper);
  }

 private:
  static Signal Want(double close, double middle, double upper) {
    if (Above(close, upper)) return Signal::kLong;
    if (Below(close, middle)) return Signal::kFlat;
    return Signal::kHold;
  }

  Bollinger bands_;
  size_t period_;
  double k_;
  engine::PlotId middle_ = 0, upper_ = 0, lower_ = 0;
  bool plot_ = true;  // false: the bands are derived (recorded as what they are)
};

}  // namespace

std::unique_ptr<engine::Strategy> MakeBollingerBreakout(size_t period, double k) {
  return std::make_unique<BollingerBreakout>(period, k);
}

}  // namespace tapedeck::strategies::internal
