// strategies: the built-in strategies and their parameter schemas.
//
// Adding a strategy: one file in src/strategies/ with a class deriving engine::Strategy and a
// registration in registry.cpp (name, description, parameter schema, factory). The indicators a
// strategy can hold as members are in strategies/indicators.h. User strategies written in Lua
// (compiled and run in a sandbox) are in strategies/script.h.
//
// Thread-safety: List() and Make() are safe to call from any thread.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "engine/engine.h"
#include "engine/plot_values.h"

namespace tapedeck::strategies {

struct ParamSpec {
  enum class Kind { kInt, kNumber };
  std::string name;
  Kind kind = Kind::kNumber;
  double default_value = 0;
  double min = 0;  // inclusive
  double max = 0;  // inclusive
  std::string description;
};

struct StrategyInfo {
  std::string name;
  std::string description;
  std::vector<ParamSpec> params;
};

using Params = std::map<std::string, double>;

// Every built-in, sorted by name: bollinger_breakout, buy_and_hold, donchian_breakout, ema_cross,
// macd, rsi_reversion, sma_cross. Each description states the strategy's exact trading rules.
const std::vector<StrategyInfo>& List();

// The info of one strategy (pointing into List(), valid for the life of the process), or
// NOT_FOUND naming `strategy`.
Result<const StrategyInfo*> Find(std::string_view name);

// `given` checked against `specs`, with defaults filled in for the parameters it leaves out (the
// built-ins' rules, which scripts' parameters follow too). Errors: VALIDATION naming `param` for
// a parameter not in `specs` (the message says "for <owner>", e.g. "strategy sma_cross"), a value
// that is not finite, a non-integer for an int parameter, or a value outside [min, max].
Result<Params> ResolveParams(const std::vector<ParamSpec>& specs, const Params& given,
                             std::string_view owner);

// Builds a strategy. Missing params take their defaults. Errors: NOT_FOUND for an unknown name
// (details: strategy); VALIDATION for an unknown parameter, a non-integer value for an int
// parameter, a value out of [min, max], or a cross-parameter rule (fast < slow), naming `param`.
Result<std::unique_ptr<engine::Strategy>> Make(std::string_view name, const Params& params);

// ---- Derived plots ----
//
// A built-in's plotted series are a pure function of its parameters and the bars of symbol 0
// (runs are deterministic). Run with engine::RunConfig::derive_plots, a built-in records each as a
// derivation, "KIND:ARGS" (engine::PlotSeries::derivation), instead of a value per bar; the value
// at a timeline time where symbol 0 has no bar is NaN, as is any value the strategy does not plot:
//   sma:n, ema:n      the n-bar simple / exponential mean of the closes (NaN while it warms up)
//   rsi:n             RSI(n) of the closes, from the bar it is ready
//   bollinger.middle:n,k, bollinger.upper:n,k, bollinger.lower:n,k   the bands, once ready
//   macd.line:f,s,g, macd.signal:f,s,g, macd.histogram:f,s,g         once the signal is ready
//   donchian.upper:n, donchian.lower:n   the highest high / lowest low of the n bars before
//
// MaterialisePlots computes the values of every series of `result` that has a derivation, with
// the indicators the strategies feed (so the same numbers, bit for bit, as the run would have
// plotted), and clears its derivation; other series are left as they are. `symbol0`: the bars of
// the run's symbol 0 over the run's period (as engine::Run was given them), of which only those up
// to result.times.back() are read: so a head of the run (its first bars, Store::LoadRunHead) is
// materialised from the bars up to its end, and the values are the whole run's first ones. Cost:
// one pass over those bars per series.
// Errors: IO naming the derivation when it is not one of the above (a damaged or newer store);
// VALIDATION when a bar of `symbol0` is not on result.times. On error `result` may hold some
// series materialised and others not.
Status MaterialisePlots(engine::RunResult& result, const market::Series& symbol0);

// As MaterialisePlots, for a run whose timeline is symbol 0's first `bars` bars (a one-symbol run;
// result.times is not read, and may be empty), but a series with a derivation is computed when it
// is read rather than held: element p of the answer (null for a series without a derivation)
// computes any range of its values, the same bits as MaterialisePlots gives, from a copy of its
// loop's state (a rolling sum, an EMA, ...) kept every `every` bars or more: every max(every,
// B / 2) bars rounded up to a power of two for a state of B bytes (ring buffers: 8 bytes a bar of
// the period), so that the copies hold at most a quarter of the values. A range costs at most that
// spacing - 1 bars more than its own (engine::PlotValues::resume_every). A series whose state is
// too large for that (a period of ~128 K bars or more) or a run too short for one copy to pay is
// materialised into its values instead, its element left null. Each derivation is cleared. Cost:
// one pass over the bars per series. Errors: as MaterialisePlots.
Result<std::vector<std::shared_ptr<const engine::PlotValues>>> DerivePlotValues(
    engine::RunResult& result, size_t bars, const market::Series& symbol0, size_t every = 256);

}  // namespace tapedeck::strategies
