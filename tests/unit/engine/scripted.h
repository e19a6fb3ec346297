// Test helpers for the engine: a strategy that runs given actions at given bars and records what
// it saw, and series built from literal OHLC rows.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/context.h"
#include "market/market.h"

namespace tapedeck::engine::testing {

// 2024-01-01T00:00:00Z
inline const Timestamp kT0 = FromMicros(1'704'067'200'000'000);
inline Timestamp Minute(int64_t k) { return kT0 + std::chrono::minutes(k); }

struct Ohlc {
  double open, high, low, close;
};

// One bar per minute from kT0 (or at the given minutes).
inline market::Series MakeSeries(const std::vector<Ohlc>& rows, std::string symbol = "X",
                                 std::vector<int64_t> minutes = {}) {
  std::vector<market::Bar> bars;
  for (size_t i = 0; i < rows.size(); ++i) {
    const Timestamp t = minutes.empty() ? Minute(static_cast<int64_t>(i)) : Minute(minutes[i]);
    bars.push_back({t, rows[i].open, rows[i].high, rows[i].low, rows[i].close, 1.0});
  }
  return market::Series::FromBars(std::move(symbol), bars);
}

// Runs the actions registered for a bar at its close, after recording the account as it stood.
class Scripted : public Strategy {
 public:
  using Action = std::function<void(Context&)>;

  Scripted& At(size_t bar, Action action) {
    actions_.emplace(bar, std::move(action));
    return *this;
  }
  Scripted& AtStart(Action action) {
    start_ = std::move(action);
    return *this;
  }

  void OnStart(Context& ctx) override {
    if (start_) start_(ctx);
  }
  void OnBar(Context& ctx) override {
    cash.push_back(ctx.cash());
    equity.push_back(ctx.equity());
    position.push_back(ctx.position(0));
    auto [begin, end] = actions_.equal_range(ctx.index());
    for (auto it = begin; it != end; ++it) it->second(ctx);
  }

  std::vector<double> cash, equity, position;

 private:
  std::multimap<size_t, Action> actions_;
  Action start_;
};

// The events of one order, oldest first.
inline std::vector<OrderEvent> EventsOf(const RunResult& r, OrderId id) {
  std::vector<OrderEvent> out;
  for (const auto& e : r.events) {
    if (e.id == id) out.push_back(e);
  }
  return out;
}

inline OrderRequest Limit(Side side, double qty, double limit, SymbolId s = 0) {
  OrderRequest r;
  r.symbol = s;
  r.side = side;
  r.type = OrderType::kLimit;
  r.qty = qty;
  r.limit = limit;
  return r;
}
inline OrderRequest Stop(Side side, double qty, double stop, SymbolId s = 0) {
  OrderRequest r;
  r.symbol = s;
  r.side = side;
  r.type = OrderType::kStop;
  r.qty = qty;
  r.stop = stop;
  return r;
}
inline OrderRequest StopLimit(Side side, double qty, double stop, double limit, SymbolId s = 0) {
  OrderRequest r;
  r.symbol = s;
  r.side = side;
  r.type = OrderType::kStopLimit;
  r.qty = qty;
  r.stop = stop;
  r.limit = limit;
  return r;
}

// Runs `script` over one series of `bars`, expecting success.
inline RunResult RunScript(const std::vector<Ohlc>& bars, Scripted& script, RunConfig config = {}) {
  const market::Series series = MakeSeries(bars);
  auto r = Run(std::span(&series, 1), script, config);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().ToString());
  return r.ok() ? std::move(r).value() : RunResult{};
}

}  // namespace tapedeck::engine::testing
