// buy_and_hold: the benchmark every other strategy is judged against.
//
// Rules: at the close of the first bar of symbol 0, an all-in market buy (fills at the next bar's
// open, qty = cash / (price * (1 + commission))); never sells, the position is marked at the last
// close. No order when the first bar is also the last. If that buy is rejected (cash too small for
// the fixed fee) it is tried again at the next bar, as long as nothing is held or pending.
#include <memory>

#include "strategies/builtins.h"
#include "strategies/long_flat.h"

namespace tapedeck::strategies::internal {
namespace {

class BuyAndHold final : public LongFlat<BuyAndHold> {
 public:
  // Wanting long at every bar is exactly "buy once, then hold": the base sends nothing once long.
  Signal Decide(engine::Context& /*ctx*/) { return Signal::kLong; }
};

}  // namespace

std::unique_ptr<engine::Strategy> MakeBuyAndHold() { return std::make_unique<BuyAndHold>(); }

}  // namespace tapedeck::strategies::internal
