// macd: long while the MACD line is above its signal line.
//
// Rules, on the closes of symbol 0: line = EMA(fast) - EMA(slow), signal = EMA(signal) of the line
// (EMAs seeded with the simple mean of their first n inputs; the signal EMA's inputs start at bar
// slow - 1, when the line first exists). Once the signal exists (bar t >= slow + signal - 2):
// desired long when line is above signal (line - signal > 1e-10 * |signal|), else flat. Orders as
// sma_cross: all-in market buy / whole-position market sell at the next open, none on the last bar.
// Plots `macd` (the line), `signal` and `histogram` (line - signal) in a pane of their own
// (derivations "macd.line:fast,slow,signal", ... with RunConfig::derive_plots).
#include <memory>
#include <string_view>

#include "strategies/builtins.h"
#include "strategies/derived_plots.h"
#include "strategies/indicators.h"
#include "strategies/long_flat.h"

namespace tapedeck::strategies::internal {
namespace {

class MacdStrategy final : public LongFlat<MacdStrategy> {
 public:
  MacdStrategy(size_t fast, size_t slow, size_t signal)
      : macd_(fast, slow, signal), fast_(fast), slow_(slow), signal_n_(signal) {}

  void Declare(engine::Context& ctx) {
    const auto args = [this](std::string_view kind) {
      return Derivation(kind, {static_cast<double>(fast_), static_cast<double>(slow_),
                               static_cast<double>(signal_n_)});
    };
    line_ = ctx.DeclareDerivedPlot("macd", engine::PlotPane::kOwn, args("macd.line"));
    signal_ = ctx.DeclareDerivedPlot("signal", engine::PlotPane::kOwn, args("macd.signal"));
    histogram_ =
        ctx.DeclareDerivedPlot("histogram", engine::PlotPane::kOwn, args("macd.histogram"));
    plot_ = !ctx.derive_plots();
  }

  Signal Decide(engine::Context& ctx) {
    macd_.Update(ctx.close(0));
    if (!macd_.ready()) return Signal::kHold;
    if (!plot_) return Above(macd_.value(), macd_.signal()) ? Signal::kLong : Signal::kFlat;
    // Read before the plots' stores (which may alias anything) so nothing is read twice.
    const double line = macd_.value(), signal = macd_.signal(), histogram = macd_.histogram();
    ctx.Plot(line_, line);
    ctx.Plot(signal_, signal);
    ctx.Plot(histogram_, histogram);
    return Above(line, signal) ? Signal::kLong : Signal::kFlat;
  }

 private:
  Macd macd_;
  size_t fast_, slow_, signal_n_;
  engine::PlotId line_ = 0, signal_ = 0, histogram_ = 0;
  bool plot_ = true;  // false: the lines are derived (recorded as what they are)
};

}  // namespace

std::unique_ptr<engine::Strategy> MakeMacd(size_t fast, size_t slow, size_t signal) {
  return std::make_unique<MacdStrategy>(fast, slow, signal);
}

}  // namespace tapedeck::strategies::internal
