// macd: long while the MACD line is above its signal line.
//
// Rules, on the closes of symbol 0: line = EMA(fast) - EMA(slow), signal = EMA(signal) of the line
// (EMAs seeded with the simple mean of their first n inputs; the signal EMA's inputs start at bar
// slow - 1, when the line first exists). Once the signal exists (bar t >= slow + signal - 2):
// desired long when line is above signal (line - signal > 1e-10 * |signal|), else flat. Orders as
// sma_cross: all-in market buy / whole-position market sell at the next open, none on the last bar.
// Plots `macd` (the line), `signal` and `histogram` (line - signal) in a pane of their own.
#include <memory>

#include "strategies/builtins.h"
#include "strategies/indicators.h"
#include "strategies/long_flat.h"

namespace tapedeck::strategies::internal {
namespace {

class MacdStrategy final : public LongFlat<MacdStrategy> {
 public:
  MacdStrategy(size_t fast, size_t slow, size_t signal) : macd_(fast, slow, signal) {}

  void Declare(engine::Context& ctx) {
    line_ = ctx.DeclarePlot("macd", engine::PlotPane::kOwn);
    signal_ = ctx.DeclarePlot("signal", engine::PlotPane::kOwn);
    histogram_ = ctx.DeclarePlot("histogram", engine::PlotPane::kOwn);
  }

  Signal Decide(engine::Context& ctx) {
    macd_.Update(ctx.close(0));
    if (!macd_.ready()) return Signal::kHold;
    // Read before the plots' stores (which may alias anything) so nothing is read twice.
    const double line = macd_.value(), signal = macd_.signal(), histogram = macd_.histogram();
    ctx.Plot(line_, line);
    ctx.Plot(signal_, signal);
    ctx.Plot(histogram_, histogram);
    return Above(line, signal) ? Signal::kLong : Signal::kFlat;
  }

 private:
  Macd macd_;
  engine::PlotId line_ = 0, signal_ = 0, histogram_ = 0;
};

}  // namespace

std::unique_ptr<engine::Strategy> MakeMacd(size_t fast, size_t slow, size_t signal) {
  return std::make_unique<MacdStrategy>(fast, slow, signal);
}

}  // namespace tapedeck::strategies::internal
