// sma_cross: long while the fast simple moving average is above the slow one.
//
// Pinned (issue 2): other tools must reproduce these fills exactly.
// At the close of bar t (0-based, bars of symbol 0), once t >= slow - 1, the desired position is
// long when the mean of the last `fast` closes is above the mean of the last `slow` closes
// ("a above b": a - b > 1e-10 * |b|, so means equal on paper are a tie) and flat otherwise. When
// desired differs from held, a market order is sent at that close and fills at the next bar's
// open: a buy of all cash (qty = cash / (price * (1 + commission))), or a sell of the whole
// position. No order is sent on the last bar. Before t = slow - 1 nothing is sent.
#include <memory>

#include "strategies/builtins.h"
#include "strategies/indicators.h"
#include "strategies/long_flat.h"

namespace tapedeck::strategies::internal {
namespace {

class SmaCross final : public LongFlat<SmaCross> {
 public:
  SmaCross(size_t fast, size_t slow) : fast_(fast), slow_(slow) {}

  Signal Decide(const engine::Context& ctx) {
    const double close = ctx.close(0);
    fast_.Update(close);
    slow_.Update(close);
    if (!slow_.ready()) return Signal::kHold;
    return Above(fast_.value(), slow_.value()) ? Signal::kLong : Signal::kFlat;
  }

 private:
  Sma fast_, slow_;
};

}  // namespace

std::unique_ptr<engine::Strategy> MakeSmaCross(size_t fast, size_t slow) {
  return std::make_unique<SmaCross>(fast, slow);
}

}  // namespace tapedeck::strategies::internal
