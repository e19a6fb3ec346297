// ema_cross: long while the fast exponential moving average is above the slow one.
//
// Rules: EMAs of the closes of symbol 0 with alpha = 2 / (n + 1), each seeded with the simple mean
// of its first n closes. At the close of bar t, once t >= slow - 1 (both EMAs seeded), desired is
// long when EMA(fast) is above EMA(slow) (a - b > 1e-10 * |b|), else flat; orders as sma_cross:
// all-in market buy / whole-position market sell at the next open, none on the last bar.
#include <memory>

#include "strategies/builtins.h"
#include "strategies/indicators.h"
#include "strategies/long_flat.h"

namespace tapedeck::strategies::internal {
namespace {

class EmaCross final : public LongFlat<EmaCross> {
 public:
  EmaCross(size_t fast, size_t slow) : fast_(fast), slow_(slow) {}

  Signal Decide(const engine::Context& ctx) {
    const double close = ctx.close(0);
    fast_.Update(close);
    slow_.Update(close);
    if (!slow_.ready()) return Signal::kHold;
    return Above(fast_.value(), slow_.value()) ? Signal::kLong : Signal::kFlat;
  }

 private:
  Ema fast_, slow_;
};

}  // namespace

std::unique_ptr<engine::Strategy> MakeEmaCross(size_t fast, size_t slow) {
  return std::make_unique<EmaCross>(fast, slow);
}

}  // namespace tapedeck::strategies::internal
