// The simulated broker: order intake, fills against a bar's OHLC, cash, positions and trades.
// The fill rules are stated in engine.h; this file is their one implementation.
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "engine/engine.h"
#include "engine/run_state.h"

namespace tapedeck::engine::detail {
namespace {

bool PositiveFinite(double x) { return std::isfinite(x) && x > 0; }

// The high and low are read only when the open does not decide: columns other than the close are
// touched at a handful of bars per run, so each read is likely a cache miss.

// Where a limit order at `limit` fills on bar `b` of `y`, if it does: a bar that opens through the
// limit fills at the open (the better price the gap offers), else at the limit when the range
// reaches it.
bool LimitFill(bool buy, double limit, const SymbolState& y, size_t b, double* px) {
  const double open = y.open[b];
  if (buy ? open <= limit : open >= limit) {
    *px = open;
    return true;
  }
  if (buy ? y.low[b] <= limit : y.high[b] >= limit) {
    *px = limit;
    return true;
  }
  return false;
}

// Where a stop at `stop` triggers on a bar, before slippage: a gap through it triggers at the
// open (the stop price was never traded), else at the stop. `gap` tells which.
bool StopTrigger(bool buy, double stop, const SymbolState& y, size_t b, double* px, bool* gap) {
  const double open = y.open[b];
  if (buy ? open >= stop : open <= stop) {
    *px = open;
    *gap = true;
    return true;
  }
  if (buy ? y.high[b] >= stop : y.low[b] <= stop) {
    *px = stop;
    *gap = false;
    return true;
  }
  return false;
}

// Quantities within this relative distance of each other are the same: a position reduced by
// what float sums call "all of it" must come out flat, not 1e-17 short.
constexpr double kQtyEpsilon = 1e-12;

// Makes room in `v`, which is full, for the rest of a run now at bar `index` of `bars`. A vector
// that doubles copies each element about once more on its way to its final size, and copying an
// order event (96 bytes with a string) or a trade costs about as much as recording it. The rate so
// far gives the likely final size: room for that and a quarter more, but at least double and at
// most eight times what it holds (sixteen at first), so that an early burst of orders does not
// reserve a whole run's worth at once. Only the capacity depends on it, never a value.
template <typename T>
void Grow(std::vector<T>& v, size_t index, size_t bars) {
  const size_t size = v.size();
  const size_t least = std::max<size_t>(16, 2 * size);
  const double rate = static_cast<double>(size) / static_cast<double>(index + 1);
  const double expected = rate * static_cast<double>(bars) * 1.25;
  const size_t most = 4 * least;
  size_t room = least;
  if (expected > static_cast<double>(most)) {
    room = most;
  } else if (expected > static_cast<double>(least)) {
    room = static_cast<size_t>(expected);
  }
  v.reserve(room);
}

// A round trip that ends at the current bar (or is marked there, `open`), from its sums.
Trade MakeTrade(const RunState& st, SymbolId symbol, const OpenTrade& t, double exit_qty,
                double exit_value, bool open) {
  Trade trade;
  trade.symbol = symbol;
  trade.side = t.side;
  trade.entry_time = t.entry_time;
  trade.exit_time = st.now();
  trade.entry_bar = t.entry_bar;
  trade.exit_bar = st.index;
  trade.qty = t.entry_qty;
  trade.entry_px = t.entry_value / t.entry_qty;
  trade.exit_px = exit_value / exit_qty;
  const bool long_trade = t.side == Side::kBuy;
  trade.pnl = (long_trade ? exit_value - t.entry_value : t.entry_value - exit_value) - t.commission;
  trade.ret = trade.pnl / t.entry_value;
  trade.open = open;
  return trade;
}

}  // namespace

OrderId RunState::Submit(const OrderRequest& request, bool flatten) {
  const OrderId id = next_id++;
  Record(id, request.symbol, request.side, request.type, OrderStatus::kSubmitted, request.qty);

  // Requests that can never fill are rejected at once, at the bar where they were placed.
  const char* reason = nullptr;
  const bool has_limit = request.type == OrderType::kLimit || request.type == OrderType::kStopLimit;
  const bool has_stop = request.type == OrderType::kStop || request.type == OrderType::kStopLimit;
  if (request.symbol >= syms.size()) {
    reason = "unknown symbol";
  } else if (request.qty && !PositiveFinite(*request.qty)) {
    reason = "qty <= 0";
  } else if (has_limit && !PositiveFinite(request.limit)) {
    reason = "limit price must be positive";
  } else if (has_stop && !PositiveFinite(request.stop)) {
    reason = "stop price must be positive";
  }
  if (reason != nullptr) {
    Record(id, request.symbol, request.side, request.type, OrderStatus::kRejected, request.qty)
        .reason = reason;
    return id;
  }

  PendingOrder& order = pending.emplace_back();
  order.id = id;
  order.symbol = request.symbol;
  order.side = request.side;
  order.type = request.type;
  order.flatten = flatten;
  order.qty = request.qty;
  order.limit = request.limit;
  order.stop = request.stop;
  SymbolState& y = syms[request.symbol];
  ++y.open_orders;
  // The order is matched against the symbol's next bar (index `seen`) at the start of the next
  // step. Its open is in a column the loop does not otherwise touch, so start fetching it now.
  __builtin_prefetch(y.open + y.seen);
  return id;
}

OrderEvent& RunState::Record(OrderId id, SymbolId symbol, Side side, OrderType type,
                             OrderStatus status, const std::optional<double>& qty) {
  if (!record_events) {
    // Not kept: the caller's writes (a fill's price, a rejection's reason) go to a scratch event.
    return event_scratch;
  }
  std::vector<OrderEvent>& events = result->events;
  if (events.size() == events.capacity()) [[unlikely]] {
    Grow(events, index, bar_count);
  }
  // Built in place from its fields, every one of them given. Not emplace_back() and then the
  // fields: that value-initialises the event first, zeroing all 96 bytes (a `rep stos`, whose
  // start-up cost was most of Record's time) before they are written again. Nor emplace_back from
  // the fields (C++20's parenthesised aggregate initialisation): clang 14, the fuzz build's
  // compiler, lacks it. The conversion below returns the event as a prvalue, which initialises
  // the vector's slot directly.
  struct Fields {
    const RunState& st;
    OrderId id;
    SymbolId symbol;
    Side side;
    OrderType type;
    OrderStatus status;
    const std::optional<double>& qty;
    operator OrderEvent() const {  // NOLINT(google-explicit-constructor): emplace_back needs it
      OrderEvent e;
      e.id = id;
      e.ts = st.time;
      e.bar = st.index;
      e.symbol = symbol;
      e.side = side;
      e.type = type;
      e.status = status;
      // Its value alone, not the whole optional: the caller has just built it with two stores
      // (the value and the flag), which a 16-byte copy would load as one, a load the CPU cannot
      // forward from them and stalls on until they are written.
      if (qty) e.qty = *qty;
      return e;
    }
  };
  OrderEvent& e = events.emplace_back(Fields{*this, id, symbol, side, type, status, qty});
  // Events come bars apart, long enough for the next slot's lines to have left the cache; ask
  // for them now, for writing, instead of stalling on them at the next event.
  if (events.size() < events.capacity()) {
    const char* next = reinterpret_cast<const char*>(events.data() + events.size());
    __builtin_prefetch(next, 1);
    __builtin_prefetch(next + sizeof(OrderEvent) - 1, 1);
  }
  return e;
}

bool RunState::Cancel(OrderId id) {
  const auto it = std::find_if(pending.begin(), pending.end(),
                               [id](const PendingOrder& o) { return o.id == id; });
  if (it == pending.end()) return false;
  Record(it->id, it->symbol, it->side, it->type, OrderStatus::kCancelled, it->qty);
  --syms[it->symbol].open_orders;
  pending.erase(it);
  return true;
}

namespace {

// Books a fill into the symbol's round trip and position. A fill against the position first
// reduces it (closing the trade when it reaches zero); what is left opens or adds to a trade on
// the fill's side, so a reversal closes one trade and opens another. The commission is split
// between the two parts by quantity.
void BookFill(RunState& st, SymbolId symbol, bool buy, double qty, double px, double fee) {
  SymbolState& y = st.syms[symbol];
  OpenTrade& t = y.trade;
  double open_qty = qty;
  double open_fee = fee;
  const double pos = y.position;
  if (pos != 0 && (pos > 0) != buy) {
    const double held = std::abs(pos);
    const double close_qty = std::min(qty, held);
    const double close_fee = fee * (close_qty / qty);
    t.exit_qty += close_qty;
    t.exit_value += close_qty * px;
    t.commission += close_fee;
    const double left = held - close_qty;
    if (left <= kQtyEpsilon * held) {
      y.position = 0;
      if (!st.record_events) {
        st.AddTrade(MakeTrade(st, symbol, t, t.exit_qty, t.exit_value, false));
      } else {
        std::vector<Trade>& trades = st.result->trades;
        if (trades.size() == trades.capacity()) [[unlikely]] {
          Grow(trades, st.index, st.bar_count);
        }
        // Built in the vector's slot (as an order event is, Record): a Trade returned by MakeTrade
        // and then pushed would be assembled on the stack a field at a time and copied from there
        // 16 bytes at a time, loads the CPU cannot forward from the narrower stores and stalls on.
        struct Closed {
          const RunState& st;
          SymbolId symbol;
          const OpenTrade& t;
          operator Trade() const {  // NOLINT(google-explicit-constructor): emplace_back needs it
            return MakeTrade(st, symbol, t, t.exit_qty, t.exit_value, false);
          }
        };
        trades.emplace_back(Closed{st, symbol, t});
        // As for order events (Record): the next trade's slot, for writing, ahead of its time.
        if (trades.size() < trades.capacity()) {
          const char* next = reinterpret_cast<const char*>(trades.data() + trades.size());
          __builtin_prefetch(next, 1);
          __builtin_prefetch(next + sizeof(Trade) - 1, 1);
        }
      }
      t = OpenTrade{};
    } else {
      y.position = pos > 0 ? left : -left;
    }
    open_qty = qty - close_qty;
    open_fee = fee - close_fee;
    if (open_qty <= kQtyEpsilon * qty) return;
  }
  if (!t.active) {
    t = OpenTrade{};
    t.active = true;
    t.side = buy ? Side::kBuy : Side::kSell;
    t.entry_time = st.now();
    t.entry_bar = st.index;
  }
  t.entry_qty += open_qty;
  t.entry_value += open_qty * px;
  t.commission += open_fee;
  y.position += buy ? open_qty : -open_qty;
}

}  // namespace

void RunState::ProcessPending() {
  const double slip = costs.slippage;
  size_t keep = 0;
  for (size_t i = 0; i < pending.size(); ++i) {
    PendingOrder& o = pending[i];
    SymbolState& y = syms[o.symbol];
    bool fills = false;
    double px = 0;
    if (y.has_bar) {
      const bool buy = o.side == Side::kBuy;
      const size_t b = y.idx;
      const double adverse = buy ? 1 + slip : 1 - slip;
      bool gap = false;
      switch (o.type) {
        case OrderType::kMarket:
          px = y.open[b] * adverse;
          fills = true;
          break;
        case OrderType::kLimit:
          fills = LimitFill(buy, o.limit, y, b, &px);
          break;
        case OrderType::kStop:
          if (StopTrigger(buy, o.stop, y, b, &px, &gap)) {
            px *= adverse;
            fills = true;
          }
          break;
        case OrderType::kStopLimit:
          if (o.triggered) {
            fills = LimitFill(buy, o.limit, y, b, &px);
          } else if (StopTrigger(buy, o.stop, y, b, &px, &gap)) {
            o.triggered = true;
            if (buy ? px <= o.limit : px >= o.limit) {
              fills = true;  // the trigger price is within the limit
            } else if (gap && (buy ? y.low[b] <= o.limit : y.high[b] >= o.limit)) {
              // Gapped past the limit at the open, then came back to it within the bar. After a
              // trigger inside the bar we cannot know whether the limit was reached afterwards.
              px = o.limit;
              fills = true;
            }
          }
          break;
      }
    }
    if (!fills) {
      if (keep != i) pending[keep] = std::move(o);
      ++keep;
      continue;
    }
    --y.open_orders;
    Execute(o, px);
  }
  pending.resize(keep);
}

void RunState::Execute(const PendingOrder& o, double px) {
  SymbolState& y = syms[o.symbol];
  const bool buy = o.side == Side::kBuy;
  const double pos = y.position;
  auto reject = [&](const char* reason) {
    Record(o.id, o.symbol, o.side, o.type, OrderStatus::kRejected, o.qty).reason = reason;
  };

  double qty = 0;
  if (o.flatten) {
    if (pos == 0 || (pos > 0) == buy) return reject("no position to close");
    qty = std::abs(pos);
  } else if (o.qty) {
    qty = *o.qty;
  } else if (buy) {
    const double available = cash - costs.fixed_fee;
    if (!(available > 0)) return reject("insufficient cash");
    qty = available / (px * (1 + costs.commission));
  } else {
    if (!(pos > 0)) return reject("no long position to sell");
    qty = pos;
  }
  if (!PositiveFinite(qty)) return reject("qty <= 0");

  const double notional = qty * px;
  const double fee = costs.commission * notional + costs.fixed_fee;
  if (buy) {
    // Covering a short is always accepted: refusing it would leave the account more exposed.
    const bool only_covers = pos < 0 && qty <= -pos * (1 + kQtyEpsilon);
    if (!only_covers && o.qty && notional + fee > cash * (1 + kQtyEpsilon)) {
      return reject("insufficient cash");
    }
  } else if (!allow_short && pos - qty < -kQtyEpsilon * qty) {
    return reject("shorting is not allowed");
  }

  if (buy) {
    cash -= notional;
  } else {
    cash += notional;
  }
  cash -= fee;
  BookFill(*this, o.symbol, buy, qty, px, fee);

  ++fill_count;
  OrderEvent& event = Record(o.id, o.symbol, o.side, o.type, OrderStatus::kFilled, qty);
  event.px = px;
  event.commission = fee;
}

void RunState::Finish() {
  if (bar_count == 0) return;
  index = bar_count - 1;
  time = times[index];
  for (SymbolId s = 0; s < syms.size(); ++s) {
    const SymbolState& y = syms[s];
    const OpenTrade& t = y.trade;
    if (!t.active || y.seen == 0) continue;
    const double held = std::abs(y.position);
    const double mark = y.close[y.idx];
    Trade trade = MakeTrade(*this, s, t, t.exit_qty + held, t.exit_value + held * mark, true);
    if (record_events) {
      result->trades.push_back(trade);
    } else {
      AddTrade(trade);
    }
  }
}

}  // namespace tapedeck::engine::detail
