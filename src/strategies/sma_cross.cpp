// sma_cross: long while the fast simple moving average is above the slow one.
//
// Pinned: other tools must reproduce these fills exactly (docs/strategies.md, "Pinned").
// At the close of bar t (0-based, bars of symbol 0), once t >= slow - 1, the desired position is
// long when the mean of the last `fast` closes is above the mean of the last `slow` closes
// ("a above b": a - b > 1e-10 * |b|, so means equal on paper are a tie) and flat otherwise. When
// desired differs from held, a market order is sent at that close and fills at the next bar's
// open: a buy of all cash (qty = cash / (price * (1 + commission))), or a sell of the whole
// position. No order is sent on the last bar. Before t = slow - 1 nothing is sent.
#include <memory>

#include "strategies/builtins.h"
#include "strategies/moving_average_cross.h"

namespace tapedeck::strategies::internal {

std::unique_ptr<engine::Strategy> MakeSmaCross(size_t fast, size_t slow) {
  return std::make_unique<MovingAverageCross<Sma>>(fast, slow);
}

}  // namespace tapedeck::strategies::internal
