// Helpers for the strategy tests: bars from plain vectors, a run of a built-in, its fills, and an
// independent reference broker for long/flat strategies (a plain loop, written from the pinned
// fill rules of docs/strategies.md, sharing no code with the engine).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "market/market.h"
#include "strategies/strategies.h"

namespace tapedeck::strategies::testutil {

struct Ohlc {
  std::vector<double> open, high, low, close;
  size_t size() const { return close.size(); }
};

// Bars whose open is the previous close (the first opens at its close) and whose high / low sit
// `wick` beyond the body.
inline Ohlc FromCloses(const std::vector<double>& closes, double wick = 0.5) {
  Ohlc b;
  for (size_t t = 0; t < closes.size(); ++t) {
    const double o = t == 0 ? closes[0] : closes[t - 1];
    b.open.push_back(o);
    b.close.push_back(closes[t]);
    b.high.push_back(std::max(o, closes[t]) + wick);
    b.low.push_back(std::min(o, closes[t]) - wick);
  }
  return b;
}

// Daily bars from 2020-01-01.
// Bars of a seeded random walk of n closes from 100: steps of up to ±100 / `scale`, never below
// `floor`.
inline Ohlc RandomWalk(size_t n, uint64_t seed, double scale, double floor) {
  std::mt19937_64 rng(seed);
  std::vector<double> closes;
  double p = 100;
  for (size_t i = 0; i < n; ++i) {
    p += static_cast<double>(static_cast<int>(rng() % 201) - 100) / scale;
    closes.push_back(std::max(p, floor));
  }
  return FromCloses(closes);
}

inline market::Series ToSeries(const Ohlc& b) {
  std::vector<Timestamp> times;
  const Timestamp t0 = FromMicros(1'577'836'800'000'000);
  for (size_t t = 0; t < b.size(); ++t) times.push_back(t0 + std::chrono::days(t));
  return market::Series::FromColumns("TEST", times, b.open, b.high, b.low, b.close,
                                     std::vector<double>(b.size(), 1000.0));
}

struct Fill {
  size_t bar;
  engine::Side side;
  double px;
  double qty;
};

inline std::vector<Fill> Fills(const engine::RunResult& r) {
  std::vector<Fill> out;
  for (const auto& e : r.events) {
    if (e.status == engine::OrderStatus::kFilled) out.push_back({e.bar, e.side, e.px, *e.qty});
  }
  return out;
}

inline std::vector<size_t> FillBars(const std::vector<Fill>& fills) {
  std::vector<size_t> out;
  for (const auto& f : fills) out.push_back(f.bar);
  return out;
}

inline Result<engine::RunResult> RunBuiltin(const std::string& name, const Params& params,
                                            const Ohlc& bars,
                                            const engine::RunConfig& config = {}) {
  auto strategy = Make(name, params);
  if (!strategy.ok()) return strategy.take_error();
  const market::Series series = ToSeries(bars);
  return engine::Run(std::span<const market::Series>(&series, 1), **strategy, config);
}

enum class Want { kHold, kLong, kFlat };

struct Reference {
  std::vector<Fill> fills;
  double final_equity = 0;
};

// The pinned fill rules, by hand: a decision at the close of t becomes a market order that
// fills at the open of t+1; a buy spends all cash, qty = cash / (px * (1 + commission)) at
// px = open * (1 + slippage); a sell closes the position at open * (1 - slippage); each fill pays
// commission * px * qty. No order on the last bar. Final equity is marked at the last close.
inline Reference Simulate(const Ohlc& b, const std::vector<Want>& want, double cash,
                          double commission, double slippage) {
  Reference ref;
  double qty = 0;
  Want pending = Want::kHold;
  for (size_t t = 0; t < b.size(); ++t) {
    if (pending == Want::kLong) {
      const double px = b.open[t] * (1 + slippage);
      const double q = cash / (px * (1 + commission));
      cash -= px * q + commission * px * q;
      qty = q;
      ref.fills.push_back({t, engine::Side::kBuy, px, q});
    } else if (pending == Want::kFlat) {
      const double px = b.open[t] * (1 - slippage);
      cash += px * qty - commission * px * qty;
      ref.fills.push_back({t, engine::Side::kSell, px, qty});
      qty = 0;
    }
    pending = Want::kHold;
    const bool held_long = qty > 0;
    const bool last = t + 1 == b.size();
    if (!last && want[t] == Want::kLong && !held_long) pending = Want::kLong;
    if (!last && want[t] == Want::kFlat && held_long) pending = Want::kFlat;
  }
  ref.final_equity = cash + qty * b.close.back();
  return ref;
}

}  // namespace tapedeck::strategies::testutil
