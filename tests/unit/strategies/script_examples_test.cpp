// The example scripts of examples/strategies/, read from the source tree: sma_cross.lua gives the
// built-in's fills and equity; rsi_stop.lua places its stop once the entry has filled and cancels
// it on exit; rotation.lua trades both symbols, each switch to the one that rose most.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "strategies/script.h"
#include "strategies/strategies.h"

namespace tapedeck::strategies {
namespace {

std::string Source(const std::string& name) {
  const std::string path = std::string(TAPEDECK_SOURCE_DIR) + "/examples/strategies/" + name;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Result<engine::RunResult> RunScript(const std::string& name, const Params& params,
                                    const std::vector<market::Series>& data,
                                    const engine::RunConfig& config) {
  auto strategy = MakeScriptStrategy(Source(name), name, params);
  if (!strategy.ok()) return strategy.take_error();
  return engine::Run(data, **strategy, config);
}

engine::RunConfig WithCosts() {
  engine::RunConfig config;
  config.costs.commission = 0.001;
  config.costs.slippage = 0.0005;
  return config;
}

market::Series Minutes(size_t bars, uint64_t seed, const std::string& symbol) {
  market::GenOptions options;
  options.bars = bars;
  options.seed = seed;
  options.symbol = symbol;
  return market::Generate(options);
}

std::vector<const engine::OrderEvent*> Events(const engine::RunResult& r, engine::OrderStatus s) {
  std::vector<const engine::OrderEvent*> out;
  for (const auto& e : r.events) {
    if (e.status == s) out.push_back(&e);
  }
  return out;
}

// ---- sma_cross.lua ----

TEST(ExampleSmaCross, GivesTheBuiltinsFillsAndEquity) {
  market::CsvOptions csv;
  csv.symbol = "SPX";
  auto sample = market::ImportCsvFile(
      std::string(TAPEDECK_SOURCE_DIR) + "/node_modules/vega-datasets/data/sp500-2000.csv", csv);
  ASSERT_TRUE(sample.ok()) << sample.error().ToString();
  const std::vector<market::Series> datasets[] = {{*sample}, {Minutes(30'000, 5, "SYN")}};
  for (const auto& data : datasets) {
    for (const Params& p : {Params{}, Params{{"fast", 5}, {"slow", 20}}}) {
      auto a = RunScript("sma_cross.lua", p, data, WithCosts());
      auto builtin = Make("sma_cross", p);
      ASSERT_TRUE(builtin.ok());
      auto b = engine::Run(data, **builtin, WithCosts());
      ASSERT_TRUE(a.ok()) << a.error().ToString();
      ASSERT_TRUE(b.ok());
      const auto fa = Events(*a, engine::OrderStatus::kFilled);
      const auto fb = Events(*b, engine::OrderStatus::kFilled);
      ASSERT_EQ(fa.size(), fb.size());
      ASSERT_GT(fa.size(), 10u);
      for (size_t i = 0; i < fa.size(); ++i) {
        EXPECT_EQ(fa[i]->bar, fb[i]->bar);
        EXPECT_EQ(fa[i]->side, fb[i]->side);
        EXPECT_EQ(fa[i]->px, fb[i]->px);
        EXPECT_EQ(*fa[i]->qty, *fb[i]->qty);
      }
      EXPECT_EQ(a->equity, b->equity);
      EXPECT_EQ(a->trades.size(), b->trades.size());
      // And it plots what the built-in plots: so a run of either plays the same frames.
      ASSERT_EQ(a->plots.size(), 2u);
      ASSERT_EQ(b->plots.size(), 2u);
      for (size_t i = 0; i < 2; ++i) {
        EXPECT_EQ(a->plots[i].name, b->plots[i].name);
        EXPECT_EQ(a->plots[i].pane, b->plots[i].pane);
        ASSERT_EQ(a->plots[i].values.size(), b->plots[i].values.size());
        for (size_t t = 0; t < a->plots[i].values.size(); ++t) {
          const double x = a->plots[i].values[t], y = b->plots[i].values[t];
          ASSERT_TRUE(x == y || (std::isnan(x) && std::isnan(y))) << i << " " << t;
        }
      }
    }
  }
}

// ---- rsi_stop.lua ----

TEST(ExampleRsiStop, StopPlacedAfterTheEntryFilledAndCancelledOnExit) {
  const std::vector<market::Series> data = {Minutes(40'000, 11, "SYN")};
  const market::Series& s = data[0];
  const double pct = 0.2;
  auto r = RunScript("rsi_stop.lua", {{"stop_pct", pct}}, data, WithCosts());
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  // Orders by id, and the entry (a filled buy) by the bar it filled at.
  std::map<engine::OrderId, std::vector<const engine::OrderEvent*>> orders;
  for (const auto& e : r->events) orders[e.id].push_back(&e);
  std::map<size_t, const engine::OrderEvent*> entries;
  for (const auto* e : Events(*r, engine::OrderStatus::kFilled)) {
    if (e->side == engine::Side::kBuy) entries[e->bar] = e;
  }
  size_t stops = 0, filled = 0, cancelled = 0;
  engine::OrderId last_stop = 0;
  for (const auto& [id, evs] : orders) {
    if (evs.front()->type == engine::OrderType::kStop) last_stop = id;
  }
  for (const auto& [id, evs] : orders) {
    if (evs.front()->type != engine::OrderType::kStop) continue;
    ++stops;
    const engine::OrderEvent& placed = *evs.front();
    ASSERT_EQ(placed.status, engine::OrderStatus::kSubmitted);
    EXPECT_EQ(placed.side, engine::Side::kSell);
    // Placed at the close of the bar whose open filled the entry, for the whole position.
    ASSERT_TRUE(entries.count(placed.bar)) << "stop " << id << " at bar " << placed.bar;
    EXPECT_EQ(*placed.qty, *entries[placed.bar]->qty);
    if (evs.size() == 1) {  // still resting: only the last stop, protecting what is held at the end
      EXPECT_EQ(id, last_stop);
      continue;
    }
    ASSERT_EQ(evs.size(), 2u);
    const engine::OrderEvent& end = *evs.back();
    EXPECT_GT(end.bar, placed.bar);
    const double stop = s.open()[placed.bar] * (1 - pct / 100);
    if (end.status == engine::OrderStatus::kFilled) {
      ++filled;
      // Triggered: the bar reached the stop (or opened below it), filled at or below it.
      EXPECT_LE(s.low()[end.bar], stop);
      EXPECT_LE(end.px, stop * (1 - 0.0005) * (1 + 1e-12));
      if (end.bar - 1 > placed.bar) {
        EXPECT_GT(s.low()[end.bar - 1] - stop, -1e-9 * stop) << "not triggered a bar earlier";
      }
    } else {
      ASSERT_EQ(end.status, engine::OrderStatus::kCancelled);
      ++cancelled;
      // Cancelled at the close where the strategy exits: its market sell fills at the next open.
      bool exit_sell = false;
      for (const auto& [other, oevs] : orders) {
        const engine::OrderEvent& o = *oevs.front();
        exit_sell |= o.type == engine::OrderType::kMarket && o.side == engine::Side::kSell &&
                     o.bar == end.bar && oevs.back()->status == engine::OrderStatus::kFilled &&
                     oevs.back()->bar == end.bar + 1;
      }
      EXPECT_TRUE(exit_sell) << "stop " << id << " cancelled at bar " << end.bar;
    }
  }
  // Every entry but one still held at the end is protected, and both endings occur.
  EXPECT_GE(stops + 1, entries.size());
  EXPECT_GT(filled, 5u);
  EXPECT_GT(cancelled, 5u);
}

// ---- rotation.lua ----

TEST(ExampleRotation, TradesBothSymbolsSwitchingToTheStronger) {
  const std::vector<market::Series> data = {Minutes(20'000, 21, "AAA"), Minutes(20'000, 22, "BBB")};
  const size_t lookback = 50;
  auto r =
      RunScript("rotation.lua", {{"lookback", static_cast<double>(lookback)}}, data, WithCosts());
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  size_t buys[2] = {0, 0};
  for (const auto* e : Events(*r, engine::OrderStatus::kFilled)) {
    if (e->side != engine::Side::kBuy) continue;
    ++buys[e->symbol];
    // Decided at the close of the bar before: that symbol's return over `lookback` bars led.
    const size_t t = e->bar - 1;
    ASSERT_GE(t, lookback);
    double ret[2];
    for (int k = 0; k < 2; ++k) {
      const auto c = data[static_cast<size_t>(k)].close();
      ret[k] = c[t] / c[t - lookback] - 1;
    }
    EXPECT_GE(ret[e->symbol], ret[1 - e->symbol]) << "buy at bar " << e->bar;
  }
  EXPECT_GT(buys[0], 5u);
  EXPECT_GT(buys[1], 5u);
  EXPECT_EQ(Events(*r, engine::OrderStatus::kRejected).size(), 0u);
  for (const auto& t : r->trades) EXPECT_GT(t.qty, 0);
}

}  // namespace
}  // namespace tapedeck::strategies
