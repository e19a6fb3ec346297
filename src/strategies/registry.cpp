// The built-ins' names, descriptions, parameter schemas and factories, and parameter validation.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <sstream>
#include <string>

#include "strategies/builtins.h"
#include "strategies/strategies.h"

namespace tapedeck::strategies {
namespace {

using Kind = ParamSpec::Kind;

// Ring buffers are sized from periods at construction; this keeps one indicator under ~8 MB.
constexpr double kMaxPeriod = 1'000'000;

// Params after validation: every schema parameter present.
struct Resolved {
  const Params& p;
  size_t Int(const char* name) const { return static_cast<size_t>(p.at(name)); }
  double Num(const char* name) const { return p.at(name); }
};

using CheckFn = Status (*)(const Resolved&);
using MakeFn = std::unique_ptr<engine::Strategy> (*)(const Resolved&);

struct Entry {
  StrategyInfo info;
  CheckFn check;  // cross-parameter rules; may be null
  MakeFn make;
};

std::string Num(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

// The cross-parameter rule "`low` < `high`", naming `low` in the error.
Status Less(const Resolved& r, const char* low, const char* high) {
  if (r.Num(low) < r.Num(high)) return Ok();
  return MakeError(ErrorCode::kValidation,
                   std::string(low) + " must be less than " + high + " (" + low + "=" +
                       Num(r.Num(low)) + ", " + high + "=" + Num(r.Num(high)) + ")",
                   {{"param", low}});
}

Status FastBelowSlow(const Resolved& r) { return Less(r, "fast", "slow"); }
Status LowerBelowUpper(const Resolved& r) { return Less(r, "lower", "upper"); }

constexpr const char* kOrdersRule =
    " Long-only, one symbol (the first): a buy spends all cash at the next bar's open "
    "(qty = cash / (price * (1 + commission))), a sell closes the whole position at the next "
    "open; no order on the last bar. \"a above b\" means a - b > 1e-10 * |b| and \"a below b\" "
    "b - a > 1e-10 * |b|, so values equal on paper are a tie.";

std::vector<Entry> BuildEntries() {
  std::vector<Entry> entries;
  entries.push_back(
      {{"bollinger_breakout",
        std::string("Bollinger breakout. Bands over the last `period` closes (mean ± k·σ, "
                    "population σ). At each close once `period` bars exist: close above the upper "
                    "band -> go long; close below the middle band -> go flat; otherwise hold.") +
            kOrdersRule,
        {{"period", Kind::kInt, 20, 1, kMaxPeriod, "bars in the bands' window"},
         {"k", Kind::kNumber, 2, 0, 100, "band width in standard deviations"}}},
       nullptr,
       [](const Resolved& r) {
         return internal::MakeBollingerBreakout(r.Int("period"), r.Num("k"));
       }});
  entries.push_back(
      {{"buy_and_hold",
        std::string("Buy and hold. An all-in market buy at the first bar's close, filled at the "
                    "next open; never sells; the position is marked at the last close.") +
            kOrdersRule,
        {}},
       nullptr,
       [](const Resolved&) { return internal::MakeBuyAndHold(); }});
  entries.push_back(
      {{"donchian_breakout",
        std::string("Donchian breakout (turtle rule, long-only). At each close: close above the "
                    "highest high of the previous `entry` bars (the current bar excluded) -> go "
                    "long; close below the lowest low of the previous `exit` bars -> go flat; "
                    "otherwise hold.") +
            kOrdersRule,
        {{"entry", Kind::kInt, 20, 1, kMaxPeriod, "bars whose highest high a close must beat"},
         {"exit", Kind::kInt, 10, 1, kMaxPeriod, "bars whose lowest low a close must break"}}},
       nullptr,
       [](const Resolved& r) {
         return internal::MakeDonchianBreakout(r.Int("entry"), r.Int("exit"));
       }});
  entries.push_back(
      {{"ema_cross",
        std::string("EMA crossover. EMAs of the closes (alpha 2/(n+1), seeded with the mean of "
                    "the first n). At each close once `slow` bars exist: EMA(fast) above "
                    "EMA(slow) -> long, else flat.") +
            kOrdersRule,
        {{"fast", Kind::kInt, 12, 1, kMaxPeriod, "fast EMA period; less than slow"},
         {"slow", Kind::kInt, 26, 2, kMaxPeriod, "slow EMA period"}}},
       FastBelowSlow,
       [](const Resolved& r) { return internal::MakeEmaCross(r.Int("fast"), r.Int("slow")); }});
  entries.push_back(
      {{"macd",
        std::string("MACD. line = EMA(fast) - EMA(slow) of the closes, signal = EMA(signal) of "
                    "the line (EMAs seeded with the mean of their first n inputs). At each close "
                    "once the signal exists (slow + signal - 1 bars): line above signal -> long, "
                    "else flat.") +
            kOrdersRule,
        {{"fast", Kind::kInt, 12, 1, kMaxPeriod, "fast EMA period; less than slow"},
         {"slow", Kind::kInt, 26, 2, kMaxPeriod, "slow EMA period"},
         {"signal", Kind::kInt, 9, 1, kMaxPeriod, "period of the signal EMA of the MACD line"}}},
       FastBelowSlow,
       [](const Resolved& r) {
         return internal::MakeMacd(r.Int("fast"), r.Int("slow"), r.Int("signal"));
       }});
  entries.push_back(
      {{"rsi_reversion",
        std::string("RSI mean reversion. RSI of the closes with Wilder smoothing over `period` "
                    "changes. At each close once it exists (period + 1 bars): RSI below `lower` "
                    "-> go long; RSI above `upper` -> go flat; otherwise hold.") +
            kOrdersRule,
        {{"period", Kind::kInt, 14, 1, kMaxPeriod, "RSI period (changes averaged)"},
         {"lower", Kind::kNumber, 30, 0, 100, "oversold level: buy below it; less than upper"},
         {"upper", Kind::kNumber, 70, 0, 100, "overbought level: sell above it"}}},
       LowerBelowUpper,
       [](const Resolved& r) {
         return internal::MakeRsiReversion(r.Int("period"), r.Num("lower"), r.Num("upper"));
       }});
  entries.push_back(
      {{"sma_cross",
        std::string("SMA crossover, pinned: its rules are fixed, so any correct implementation "
                    "gives the same fills. At the close of bar t, once t >= slow - 1: mean of the "
                    "last `fast` closes above the mean of the last `slow` closes -> long, else "
                    "flat; when that differs from the position held, a market order at that "
                    "close fills at the next open.") +
            kOrdersRule,
        {{"fast", Kind::kInt, 10, 1, kMaxPeriod, "fast SMA period; less than slow"},
         {"slow", Kind::kInt, 30, 2, kMaxPeriod, "slow SMA period"}}},
       FastBelowSlow,
       [](const Resolved& r) { return internal::MakeSmaCross(r.Int("fast"), r.Int("slow")); }});
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.info.name < b.info.name; });
  return entries;
}

const std::vector<Entry>& Entries() {
  static const std::vector<Entry> kEntries = BuildEntries();
  return kEntries;
}

const Entry* FindEntry(std::string_view name) {
  for (const Entry& e : Entries()) {
    if (e.info.name == name) return &e;
  }
  return nullptr;
}

Error NotFound(std::string_view name) {
  std::string known;
  for (const Entry& e : Entries()) known += (known.empty() ? "" : ", ") + e.info.name;
  return MakeError(ErrorCode::kNotFound,
                   "unknown strategy '" + std::string(name) + "' (built-ins: " + known + ")",
                   {{"strategy", std::string(name)}});
}

Error BadParam(const std::string& param, std::string msg) {
  return MakeError(ErrorCode::kValidation, std::move(msg), {{"param", param}});
}

// The values against their specs (ResolveParams), then the strategy's cross rules.
Result<Params> Resolve(const Entry& entry, const Params& given) {
  auto resolved = ResolveParams(entry.info.params, given, "strategy " + entry.info.name);
  if (!resolved.ok()) return resolved.take_error();
  if (entry.check != nullptr) {
    Status s = entry.check(Resolved{*resolved});
    if (!s.ok()) return s.take_error();
  }
  return resolved;
}

}  // namespace

Result<Params> ResolveParams(const std::vector<ParamSpec>& specs, const Params& given,
                             std::string_view owner) {
  for (const auto& [name, value] : given) {
    // An init-capture: clang 14 cannot capture a structured binding.
    if (std::none_of(specs.begin(), specs.end(),
                     [&name = name](const ParamSpec& s) { return s.name == name; })) {
      std::string known;
      for (const ParamSpec& s : specs) known += (known.empty() ? "" : ", ") + s.name;
      return BadParam(name, "unknown parameter '" + name + "' for " + std::string(owner) +
                                " (parameters: " + (known.empty() ? "none" : known) + ")");
    }
  }
  Params resolved;
  for (const ParamSpec& spec : specs) {
    const auto it = given.find(spec.name);
    const double v = it == given.end() ? spec.default_value : it->second;
    if (!std::isfinite(v)) {
      return BadParam(spec.name, spec.name + " must be a finite number, got " + Num(v));
    }
    if (spec.kind == Kind::kInt && v != std::floor(v)) {
      return BadParam(spec.name, spec.name + " must be an integer, got " + Num(v));
    }
    if (v < spec.min || v > spec.max) {
      return BadParam(spec.name, spec.name + " must be in [" + Num(spec.min) + ", " +
                                     Num(spec.max) + "], got " + Num(v));
    }
    resolved[spec.name] = v;
  }
  return resolved;
}

const std::vector<StrategyInfo>& List() {
  static const std::vector<StrategyInfo> kInfos = [] {
    std::vector<StrategyInfo> infos;
    for (const Entry& e : Entries()) infos.push_back(e.info);
    return infos;
  }();
  return kInfos;
}

Result<const StrategyInfo*> Find(std::string_view name) {
  // Point into List() so callers may keep the pointer for the life of the process.
  for (const StrategyInfo& info : List()) {
    if (info.name == name) return &info;
  }
  return NotFound(name);
}

Result<std::unique_ptr<engine::Strategy>> Make(std::string_view name, const Params& params) {
  const Entry* entry = FindEntry(name);
  if (entry == nullptr) return NotFound(name);
  Result<Params> resolved = Resolve(*entry, params);
  if (!resolved.ok()) return resolved.take_error();
  return entry->make(Resolved{*resolved});
}

}  // namespace tapedeck::strategies
