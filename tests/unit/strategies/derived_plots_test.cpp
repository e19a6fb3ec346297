// A built-in run with RunConfig::derive_plots records its plotted series as derivations, and
// MaterialisePlots computes from the bars exactly the values the run plots without it: every
// built-in, several parameters, one symbol and two, whole runs and heads. Values are compared bit
// for bit with the run that plotted them the old way (Context::Plot / AppendPlot).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
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

// Every built-in, with its defaults and with other parameters (odd sizes, the shortest windows, a
// Bollinger k that is not a short decimal).
const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = {
      {"sma_cross", {}},
      {"sma_cross", {{"fast", 1}, {"slow", 2}}},
      {"sma_cross", {{"fast", 7}, {"slow", 211}}},
      {"sma_cross", {{"fast", 50}, {"slow", 5'000}}},
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
      {"buy_and_hold", {}},
  };
  return cases;
}

std::string Name(const Case& c) {
  std::string out = c.strategy;
  for (const auto& [k, v] : c.params) out += " " + k + "=" + std::to_string(v);
  return out;
}

Result<engine::RunResult> RunIt(const Case& c, std::span<const market::Series> data, bool derive) {
  auto s = Make(c.strategy, c.params);
  if (!s.ok()) return s.take_error();
  engine::RunConfig config;
  config.costs.commission = 0.0001;
  config.derive_plots = derive;
  return engine::Run(data, **s, config);
}

bool SameBits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

// The first `bars` bars of `r` (times, equity, plots), as Store::LoadRunHead cuts a run.
engine::RunResult Head(engine::RunResult r, size_t bars) {
  r.times.resize(bars);
  r.equity.resize(bars);
  for (auto& p : r.plots) p.values.resize(std::min(bars, p.values.size()));
  return r;
}

// Runs `c` over `data` both ways and holds the derived run to the plotted one.
void Compare(const Case& c, std::span<const market::Series> data) {
  SCOPED_TRACE(Name(c));
  auto plotted = RunIt(c, data, false);
  auto derived = RunIt(c, data, true);
  ASSERT_TRUE(plotted.ok()) << plotted.error().ToString();
  ASSERT_TRUE(derived.ok()) << derived.error().ToString();
  // The same trading: deriving changes what is recorded of the plots only.
  EXPECT_TRUE(SameBits(derived->equity, plotted->equity));
  EXPECT_EQ(derived->events.size(), plotted->events.size());
  EXPECT_EQ(derived->stats.fills, plotted->stats.fills);
  ASSERT_EQ(derived->plots.size(), plotted->plots.size());
  for (size_t p = 0; p < plotted->plots.size(); ++p) {
    EXPECT_EQ(derived->plots[p].name, plotted->plots[p].name);
    EXPECT_EQ(derived->plots[p].pane, plotted->plots[p].pane);
    EXPECT_FALSE(derived->plots[p].derivation.empty()) << plotted->plots[p].name;
    EXPECT_TRUE(derived->plots[p].values.empty()) << "a derived series records no values";
    EXPECT_TRUE(plotted->plots[p].derivation.empty());
  }
  // Heads: the first bars alone, from the bars up to the head's end (a head of one bar, one
  // inside the warm-ups, and most of the run).
  const size_t bars = plotted->times.size();
  for (size_t head : {size_t{1}, size_t{40}, size_t{4'097}, bars - 1}) {
    if (head == 0 || head >= bars) continue;
    SCOPED_TRACE("head of " + std::to_string(head) + " bars");
    engine::RunResult cut = Head(*derived, head);
    const market::Series bars0 =
        data[0].Slice(data[0].times().front(), cut.times.back() + std::chrono::microseconds(1));
    ASSERT_TRUE(MaterialisePlots(cut, bars0).ok());
    for (size_t p = 0; p < cut.plots.size(); ++p) {
      EXPECT_TRUE(cut.plots[p].derivation.empty());
      const std::vector<double> want(
          plotted->plots[p].values.begin(),
          plotted->plots[p].values.begin() + static_cast<ptrdiff_t>(head));
      EXPECT_TRUE(SameBits(cut.plots[p].values, want)) << cut.plots[p].name;
    }
  }
  Status st = MaterialisePlots(*derived, data[0]);
  ASSERT_TRUE(st.ok()) << st.error().ToString();
  for (size_t p = 0; p < plotted->plots.size(); ++p) {
    const auto& got = derived->plots[p].values;
    const auto& want = plotted->plots[p].values;
    EXPECT_TRUE(derived->plots[p].derivation.empty());
    ASSERT_EQ(got.size(), want.size());
    for (size_t t = 0; t < want.size(); ++t) {
      uint64_t g = 0, w = 0;
      std::memcpy(&g, &got[t], sizeof g);
      std::memcpy(&w, &want[t], sizeof w);
      ASSERT_EQ(g, w) << plotted->plots[p].name << " at bar " << t << ": " << got[t] << " vs "
                      << want[t];
    }
  }
}

// A year of one-minute bars as `tapedeck gen` writes them, one seed fixed and one new at every
// run (printed on failure).
TEST(DerivedPlots, EveryBuiltinMaterialisesItsPlottedValuesOnAGeneratedYear) {
  for (uint64_t seed : {uint64_t{42}, uint64_t{std::random_device{}()}}) {
    SCOPED_TRACE("tapedeck gen --seed " + std::to_string(seed));
    market::GenOptions o;
    o.seed = seed;
    const market::Series year = market::Generate(o);
    for (const Case& c : Cases()) Compare(c, std::span(&year, 1));
  }
}

// Two symbols whose bars interleave: symbol 0 has no bar at half the timeline's times, where its
// series are NaN; and a run over part of a dataset (a from/to), which starts its indicators there.
TEST(DerivedPlots, TwoSymbolsAndAPeriodMaterialiseAsPlotted) {
  market::GenOptions o;
  o.bars = 30'000;
  o.seed = 5;
  const market::Series first = market::Generate(o);
  o.seed = 6;
  o.symbol = "OTHER";
  o.start = first.times().front() + std::chrono::seconds(30);
  o.bars = 20'000;
  const market::Series second = market::Generate(o);
  const std::vector<market::Series> both = {first, second};
  const std::vector<market::Series> reversed = {second, first};
  const market::Series part =
      first.Slice(first.times()[1'234], first.times()[25'000]);  // as a run's from/to cuts it
  for (const Case& c : Cases()) {
    Compare(c, both);
    Compare(c, reversed);
    Compare(c, std::span(&part, 1));
  }
}

TEST(DerivedPlots, AnUnknownDerivationIsAnError) {
  const market::Series bars = market::Generate({.bars = 100});
  for (const char* bad : {"sma", "sma:0", "sma:1.5", "sma:-3", "sma:10,20", "wma:10", "sma:x",
                          "macd.line:30,10,5", "bollinger.upper:10", "sma:1e300"}) {
    SCOPED_TRACE(bad);
    engine::RunResult r;
    r.times.assign(bars.times().begin(), bars.times().end());
    r.equity.assign(bars.size(), 1);
    r.plots.push_back(engine::PlotSeries{"x", engine::PlotPane::kPrice, {}, bad});
    Status st = MaterialisePlots(r, bars);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, ErrorCode::kIo);
    EXPECT_EQ(st.error().details.at("derivation"), bad);
  }
}

TEST(DerivedPlots, SeriesWithValuesAreLeftAsTheyAre) {
  const market::Series bars = market::Generate({.bars = 10});
  engine::RunResult r;
  r.times.assign(bars.times().begin(), bars.times().end());
  r.plots.push_back(engine::PlotSeries{"mine", engine::PlotPane::kOwn, std::vector<double>(10, 2)});
  ASSERT_TRUE(MaterialisePlots(r, bars).ok());
  EXPECT_EQ(r.plots[0].values, std::vector<double>(10, 2));
}

}  // namespace
}  // namespace tapedeck::strategies
