// DerivePlotValues computes a built-in's derived series per range, resuming its loop from the
// state kept before every `every`-th bar, and every range is the same bits as the whole series
// MaterialisePlots gives: every built-in, at every window boundary of two speeds' windows, across
// every checkpoint's edge, with checkpoints every 256 bars or more (the default), every 1,000 or
// more, every 4,096 or more, and as often as each state's size allows (every = 1).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "market/market.h"
#include "strategies/strategies.h"

namespace tapedeck::strategies {
namespace {

struct Case {
  const char* strategy;
  Params params;
};

const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = {
      {"sma_cross", {}},
      {"sma_cross", {{"fast", 1}, {"slow", 2}}},
      {"sma_cross", {{"fast", 7}, {"slow", 211}}},
      {"sma_cross", {{"fast", 50}, {"slow", 5'000}}},  // a period past the checkpoints' spacing
      {"ema_cross", {}},
      {"ema_cross", {{"fast", 3}, {"slow", 97}}},
      {"rsi_reversion", {}},
      {"rsi_reversion", {{"period", 3}, {"lower", 20}, {"upper", 85}}},
      {"bollinger_breakout", {}},
      {"bollinger_breakout", {{"period", 55}, {"k", 0.1 + 0.2}}},
      {"donchian_breakout", {}},
      {"donchian_breakout", {{"entry", 1}, {"exit", 333}}},
      {"macd", {}},
      {"macd", {{"fast", 5}, {"slow", 35}, {"signal", 5}}},
  };
  return cases;
}

std::string Name(const Case& c) {
  std::string out = c.strategy;
  for (const auto& [k, v] : c.params) out += " " + k + "=" + std::to_string(v);
  return out;
}

Result<engine::RunResult> Derived(const Case& c, const market::Series& bars) {
  auto s = Make(c.strategy, c.params);
  if (!s.ok()) return s.take_error();
  engine::RunConfig config;
  config.derive_plots = true;
  return engine::Run(std::span(&bars, 1), **s, config);
}

// out[begin, end) of `values` against `want`'s, bit for bit.
::testing::AssertionResult SameBits(const engine::PlotValues& values,
                                    const std::vector<double>& want, size_t begin, size_t end) {
  std::vector<double> got(end - begin);
  values.Fill(begin, end, got.data());
  for (size_t i = begin; i < end; ++i) {
    uint64_t g = 0, w = 0;
    std::memcpy(&g, &got[i - begin], sizeof g);
    std::memcpy(&w, &want[i], sizeof w);
    if (g != w) {
      return ::testing::AssertionFailure() << "range [" << begin << ", " << end << ") at bar " << i
                                           << ": " << got[i - begin] << " vs " << want[i];
    }
  }
  return ::testing::AssertionSuccess();
}

void Check(const Case& c, const market::Series& bars, size_t every) {
  SCOPED_TRACE(Name(c) + ", every " + std::to_string(every));
  auto run = Derived(c, bars);
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  engine::RunResult whole = *run;
  ASSERT_TRUE(MaterialisePlots(whole, bars).ok());
  engine::RunResult lean = *run;
  const size_t n = lean.times.size();
  lean.times.clear();  // not read
  auto values = DerivePlotValues(lean, n, bars, every);
  ASSERT_TRUE(values.ok()) << values.error().ToString();
  ASSERT_EQ(values->size(), whole.plots.size());
  for (size_t p = 0; p < whole.plots.size(); ++p) {
    SCOPED_TRACE(whole.plots[p].name);
    const std::vector<double>& want = whole.plots[p].values;
    EXPECT_TRUE(lean.plots[p].derivation.empty());
    if (!(*values)[p]) {
      // Materialised instead (a state too large to copy at every checkpoint).
      ASSERT_EQ(lean.plots[p].values.size(), n);
      EXPECT_EQ(std::memcmp(lean.plots[p].values.data(), want.data(), n * sizeof(double)), 0);
      continue;
    }
    const engine::PlotValues& v = *(*values)[p];
    EXPECT_TRUE(lean.plots[p].values.empty());
    ASSERT_EQ(v.size(), n);
    const size_t spacing = v.resume_every();
    EXPECT_GE(spacing, every);
    ASSERT_TRUE(SameBits(v, want, 0, n));
    // Every window of 292 bars (speed 1) and of 17,520 (speed 60), as a frame asks for them.
    for (size_t w : {size_t{292}, size_t{17'520}}) {
      for (size_t b = 0; b < n; b += w) ASSERT_TRUE(SameBits(v, want, b, std::min(n, b + w)));
    }
    // Across every checkpoint's edge: ending at it, starting at it, straddling it, one bar.
    for (size_t k = spacing; k < n; k += spacing) {
      ASSERT_TRUE(SameBits(v, want, k - 1, k));
      ASSERT_TRUE(SameBits(v, want, k, k + 1));
      ASSERT_TRUE(SameBits(v, want, k - std::min<size_t>(k, 3), std::min(n, k + 5)));
      ASSERT_TRUE(SameBits(v, want, k, k));  // empty: writes nothing
      if (spacing < 64 && k > 3'000) break;  // enough edges
    }
  }
}

TEST(DerivePlotValues, EveryRangeIsTheMaterialisedSeriesBitForBit) {
  market::GenOptions o;
  o.bars = 40'000;
  o.seed = 7;
  const market::Series bars = market::Generate(o);
  const market::Series part = bars.Slice(bars.times()[1'234], bars.times()[33'333]);
  for (const Case& c : Cases()) {
    Check(c, bars, 256);
    Check(c, bars, 1'000);
    Check(c, bars, 4'096);
    Check(c, part, 256);
    Check(c, bars, 1);
  }
}

TEST(DerivePlotValues, AHeadOfTheRunComputesItsFirstBars) {
  market::GenOptions o;
  o.bars = 10'000;
  o.seed = 3;
  const market::Series bars = market::Generate(o);
  for (const Case& c : Cases()) {
    SCOPED_TRACE(Name(c));
    auto run = Derived(c, bars);
    ASSERT_TRUE(run.ok());
    engine::RunResult whole = *run;
    ASSERT_TRUE(MaterialisePlots(whole, bars).ok());
    // The first 5,000 bars, from the bars up to the head's end only.
    const market::Series head =
        bars.Slice(bars.times().front(), bars.times()[4'999] + std::chrono::microseconds(1));
    engine::RunResult lean = *run;
    auto values = DerivePlotValues(lean, 5'000, head);
    ASSERT_TRUE(values.ok());
    for (size_t p = 0; p < whole.plots.size(); ++p) {
      if (!(*values)[p]) continue;
      EXPECT_EQ((*values)[p]->size(), 5'000u);
      EXPECT_TRUE(SameBits(*(*values)[p], whole.plots[p].values, 0, 5'000));
      EXPECT_TRUE(SameBits(*(*values)[p], whole.plots[p].values, 4'000, 5'000));
    }
  }
}

TEST(DerivePlotValues, ALongPeriodsStateIsMaterialisedAndAnUnknownDerivationIsAnError) {
  market::GenOptions o;
  o.bars = 20'000;
  o.seed = 9;
  const market::Series bars = market::Generate(o);
  engine::RunResult r;
  r.symbols = {"SYN"};
  r.plots = {{"mid", engine::PlotPane::kPrice, {}, "bollinger.middle:1000000,2"},
             {"fast", engine::PlotPane::kPrice, {}, "sma:10"},
             {"recorded", engine::PlotPane::kOwn, std::vector<double>(20'000, 1.0), ""}};
  engine::RunResult whole = r;
  whole.times.assign(bars.times().begin(), bars.times().end());
  ASSERT_TRUE(MaterialisePlots(whole, bars).ok());
  auto values = DerivePlotValues(r, 20'000, bars);
  ASSERT_TRUE(values.ok()) << values.error().ToString();
  ASSERT_EQ(values->size(), 3u);
  EXPECT_EQ((*values)[0], nullptr);  // 8 MB a copy: held as values
  EXPECT_EQ(
      std::memcmp(r.plots[0].values.data(), whole.plots[0].values.data(), 20'000 * sizeof(double)),
      0);
  ASSERT_NE((*values)[1], nullptr);
  EXPECT_TRUE(r.plots[1].values.empty());
  EXPECT_EQ((*values)[1]->resume_every(), 256u);  // a rolling sum: the default spacing
  EXPECT_EQ((*values)[2], nullptr);               // recorded: left as it is
  EXPECT_EQ(r.plots[2].values.size(), 20'000u);

  engine::RunResult bad;
  bad.plots = {{"x", engine::PlotPane::kPrice, {}, "wma:10"}};
  auto err = DerivePlotValues(bad, 100, bars);
  ASSERT_FALSE(err.ok());
  EXPECT_EQ(err.error().code, ErrorCode::kIo);
}

}  // namespace
}  // namespace tapedeck::strategies
