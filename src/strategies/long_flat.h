// Internal: the shared order logic of the long-or-flat built-ins.
//
// Each built-in decides, at the close of a bar of symbol 0, whether it wants to be long, flat, or
// to keep whatever it holds; this base turns that into orders the same way for all of them, so
// the rules in each strategy's file are only about its signal:
//  - desired long and not long: Buy(nullopt), all cash, sized at the fill (next bar's open);
//  - desired flat and long: Sell(nullopt), the whole position;
//  - no order on the last bar (it could never fill), nor while an earlier order still rests (with
//    several symbols, symbol 0 may have no bar at the next time, so its market order waits);
//  - "held" is the actual position, so an order the broker rejected is simply tried again at the
//    next bar where the signal still disagrees with the position.
// Bars at which symbol 0 has no bar of its own are skipped entirely: indicators must not see a
// stale close twice.
#pragma once

#include "engine/context.h"

namespace tapedeck::strategies::internal {

enum class Signal { kHold, kLong, kFlat };

// CRTP rather than a virtual Decide: the signal is computed once per bar at tens of millions of
// bars per second, and this lets it inline into OnBar.
// Derived provides `Signal Decide(engine::Context& ctx)`, called once per bar of symbol 0; it
// feeds its indicators with that bar, plots the values it decides on (Context::Plot) and says what
// it wants. It may provide `void Declare(engine::Context& ctx)`, called at the start, to declare
// its plots.
template <typename Derived>
class LongFlat : public engine::Strategy {
 public:
  void OnStart(engine::Context& ctx) override {
    multi_symbol_ = ctx.symbol_count() > 1;
    static_cast<Derived*>(this)->Declare(ctx);
  }
  void Declare(engine::Context& /*ctx*/) {}

  void OnBar(engine::Context& ctx) final {
    if (multi_symbol_ && !ctx.has_bar(0)) return;
    const Signal want = static_cast<Derived*>(this)->Decide(ctx);
    if (want == Signal::kHold) return;
    const bool is_long = ctx.position(0) > 0;
    if ((want == Signal::kLong) == is_long) return;
    if (ctx.is_last_bar() || ctx.open_orders(0) > 0) return;
    if (want == Signal::kLong) {
      ctx.Buy(std::nullopt, 0);
    } else {
      ctx.Sell(std::nullopt, 0);
    }
  }

 private:
  bool multi_symbol_ = false;
};

}  // namespace tapedeck::strategies::internal
