// Internal: the moving-average cross behind ema_cross, one rule parameterised by the average, fed
// one bar at a time. sma_cross computes its means ahead instead (sma_cross.cpp); the
// MovingAverageCross<Sma> it replaced stays its reference: the tests hold the two to the same
// runs bit for bit.
#pragma once

#include <cstddef>
#include <string_view>
#include <type_traits>

#include "strategies/derived_plots.h"
#include "strategies/indicators.h"
#include "strategies/long_flat.h"

namespace tapedeck::strategies::internal {

// At each bar of symbol 0: both averages are fed its close; once the slow one is ready, desired is
// long when the fast average is above the slow one (Above: a - b > 1e-10 * |b|) and flat
// otherwise; before that nothing is wanted. Orders as LongFlat. Plots `fast` and `slow` on the
// price pane, each from the bar it is ready (derivations "sma:n" / "ema:n" with
// RunConfig::derive_plots).
//
// Average: an indicator of strategies/indicators.h constructed from its period, with Update(x),
// ready() and value() (Sma, Ema). With fast < slow the fast one is ready no later than the slow.
template <typename Average>
class MovingAverageCross final : public LongFlat<MovingAverageCross<Average>> {
 public:
  // REQUIRES: 1 <= fast < slow.
  MovingAverageCross(size_t fast, size_t slow) : fast_(fast), slow_(slow) {}

  void Declare(engine::Context& ctx) {
    constexpr std::string_view kind = std::is_same_v<Average, Sma> ? "sma" : "ema";
    const auto period = [](const Average& a) { return static_cast<double>(a.period()); };
    fast_plot_ =
        ctx.DeclareDerivedPlot("fast", engine::PlotPane::kPrice, Derivation(kind, {period(fast_)}));
    slow_plot_ =
        ctx.DeclareDerivedPlot("slow", engine::PlotPane::kPrice, Derivation(kind, {period(slow_)}));
    plot_ = !ctx.derive_plots();
  }

  Signal Decide(engine::Context& ctx) {
    const double close = ctx.close(0);
    fast_.Update(close);
    slow_.Update(close);
    // Read before the plots' stores (which may alias anything) so nothing is read twice. value()
    // is NaN while an average warms up: no value at that bar.
    const double fast = fast_.value(), slow = slow_.value();
    const bool ready = slow_.ready();
    if (plot_) {
      ctx.Plot(fast_plot_, fast);
      ctx.Plot(slow_plot_, slow);
    }
    if (!ready) return Signal::kHold;
    return Above(fast, slow) ? Signal::kLong : Signal::kFlat;
  }

 private:
  Average fast_, slow_;
  engine::PlotId fast_plot_ = 0, slow_plot_ = 0;
  bool plot_ = true;  // false: the series are derived (recorded as what they are)
};

}  // namespace tapedeck::strategies::internal
