// ema_cross: long while the fast exponential moving average is above the slow one.
//
// Rules: EMAs of the closes of symbol 0 with alpha = 2 / (n + 1), each seeded with the simple mean
// of its first n closes. At the close of bar t, once t >= slow - 1 (both EMAs seeded), desired is
// long when EMA(fast) is above EMA(slow) (a - b > 1e-10 * |b|), else flat; orders as sma_cross:
// all-in market buy / whole-position market sell at the next open, none on the last bar.
#include <memory>

#include "strategies/builtins.h"
#include "strategies/moving_average_cross.h"

namespace tapedeck::strategies::internal {

std::unique_ptr<engine::Strategy> MakeEmaCross(size_t fast, size_t slow) {
  return std::make_unique<MovingAverageCross<Ema>>(fast, slow);
}

}  // namespace tapedeck::strategies::internal
