// The run loop: validation, the aligned timeline over several symbols, equity marking, hooks.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <span>
#include <vector>

#include "engine/engine.h"
#include "scripted.h"

namespace tapedeck::engine {
namespace {

using testing::EventsOf;
using testing::MakeSeries;
using testing::Minute;
using testing::Ohlc;
using testing::RunScript;
using testing::Scripted;

constexpr Ohlc kFlat{100, 100, 100, 100};

class Noop : public Strategy {
 public:
  void OnBar(Context&) override {}
};

void ExpectValidation(const Result<RunResult>& r, const std::string& field) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kValidation);
  EXPECT_EQ(r.error().details.at("field"), field);
}

TEST(Run, InvalidConfigIsValidationNamingTheField) {
  const market::Series series = MakeSeries({kFlat});
  const std::span<const market::Series> data(&series, 1);
  Noop noop;
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::nan("");
  for (double cash : {0.0, -1.0, nan, inf}) {
    RunConfig c;
    c.cash = cash;
    ExpectValidation(engine::Run(data, noop, c), "cash");
  }
  for (double bad : {-0.001, nan, inf}) {
    RunConfig c;
    c.costs.commission = bad;
    ExpectValidation(engine::Run(data, noop, c), "commission");
    c = {};
    c.costs.fixed_fee = bad;
    ExpectValidation(engine::Run(data, noop, c), "fixed_fee");
    c = {};
    c.costs.slippage = bad;
    ExpectValidation(engine::Run(data, noop, c), "slippage");
  }
  RunConfig c;
  c.costs.slippage = 1;
  ExpectValidation(engine::Run(data, noop, c), "slippage");
}

TEST(Run, MissingDataIsValidation) {
  Noop noop;
  ExpectValidation(engine::Run({}, noop, {}), "data");
  const std::vector<market::Series> data = {MakeSeries({kFlat}, "A"), MakeSeries({}, "B")};
  const auto r = engine::Run(data, noop, {});
  ExpectValidation(r, "data");
  EXPECT_EQ(r.error().details.at("symbol"), "B");
}

TEST(Run, ContextFailEndsTheRunWithTheStrategysError) {
  const market::Series series = MakeSeries(std::vector<Ohlc>(100'000, kFlat));
  const std::vector<market::Series> data = {series};
  // At a bar: the first failure wins, and the loop stops at its next check (every 2^16 bars)
  // rather than running to the end.
  size_t calls = 0;
  Scripted failing;
  failing.At(5, [](Context& ctx) { ctx.Fail(MakeError(ErrorCode::kRunFailed, "first")); });
  failing.At(6, [&calls](Context& ctx) {
    ++calls;
    ctx.Fail(MakeError(ErrorCode::kRunFailed, "second"));
  });
  auto r = engine::Run(data, failing, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kRunFailed);
  EXPECT_EQ(r.error().msg, "first");
  EXPECT_EQ(calls, 1u);
  EXPECT_EQ(failing.equity.size(), size_t{1} << 16);
  // In OnStart: no bar is run.
  Scripted at_start;
  at_start.AtStart([](Context& ctx) { ctx.Fail(MakeError(ErrorCode::kRunFailed, "start")); });
  r = engine::Run(data, at_start, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().msg, "start");
  EXPECT_TRUE(at_start.equity.empty());
  // After the last check: still failed at the end.
  Scripted late;
  late.At(99'999, [](Context& ctx) { ctx.Fail(MakeError(ErrorCode::kRunFailed, "late")); });
  r = engine::Run(data, late, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().msg, "late");
}

TEST(Run, EquityIsCashPlusPositionAtEachClose) {
  RunConfig config;
  config.cash = 1'000;
  Scripted script;
  script.At(1, [](Context& c) { c.Buy(2); });
  const RunResult r = RunScript(
      {{10, 11, 9, 10}, {10, 12, 9, 11}, {12, 13, 11, 12.5}, {12, 14, 10, 13}}, script, config);
  // Bought 2 at bar 2's open 12: cash 976; equity = 976 + 2 * close.
  EXPECT_EQ(r.equity, (std::vector<double>{1'000, 1'000, 976 + 25, 976 + 26}));
  EXPECT_EQ(script.equity, r.equity);  // what the strategy saw
  EXPECT_EQ(r.times, (std::vector<Timestamp>{Minute(0), Minute(1), Minute(2), Minute(3)}));
  EXPECT_EQ(r.symbols, std::vector<std::string>{"X"});
  EXPECT_EQ(r.stats.bars, 4u);
  EXPECT_EQ(r.stats.fills, 1u);
  EXPECT_DOUBLE_EQ(r.stats.final_equity, 1'002);
  // Held at the closes of bars 2 and 3 of 4.
  EXPECT_DOUBLE_EQ(r.stats.exposure, 0.5);
  ASSERT_EQ(r.trades.size(), 1u);
  EXPECT_TRUE(r.trades[0].open);
  EXPECT_DOUBLE_EQ(r.trades[0].pnl, 2);
}

// Symbol A trades at minutes 0-3, B at minutes 1, 3, 4.
struct TwoSymbols {
  std::vector<market::Series> data = {
      MakeSeries({{10, 10, 10, 10}, {11, 11, 11, 11}, {12, 12, 12, 12}, {13, 13, 13, 13}}, "A"),
      MakeSeries({{19.5, 20, 19, 20}, {20.5, 21, 20, 21}, {21.5, 22, 21, 22}}, "B", {1, 3, 4})};
};

TEST(Run, SeveralSymbolsAlignOnTheUnionOfTimes) {
  TwoSymbols two;
  struct Seen {
    bool a, b;
    size_t b_seen;
    double b_close;
  };
  std::vector<Seen> seen;
  class Probe : public Strategy {
   public:
    explicit Probe(std::vector<Seen>* out) : out_(out) {}
    void OnBar(Context& c) override {
      EXPECT_EQ(c.symbol_count(), 2u);
      EXPECT_EQ(c.symbol(1), "B");
      out_->push_back(
          {c.has_bar(0), c.has_bar(1), c.bars_seen(1), c.bars_seen(1) > 0 ? c.close(1) : NAN});
      if (c.bars_seen(1) > 0) {
        EXPECT_EQ(c.series(1).close()[c.bar_index(1)], c.close(1));
      }
    }
    std::vector<Seen>* out_;
  } probe(&seen);
  const auto r = engine::Run(two.data, probe, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->times,
            (std::vector<Timestamp>{Minute(0), Minute(1), Minute(2), Minute(3), Minute(4)}));
  ASSERT_EQ(seen.size(), 5u);
  const bool a[] = {true, true, true, true, false};
  const bool b[] = {false, true, false, true, true};
  const size_t b_seen[] = {0, 1, 1, 2, 3};
  for (size_t i = 0; i < 5; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(seen[i].a, a[i]);
    EXPECT_EQ(seen[i].b, b[i]);
    EXPECT_EQ(seen[i].b_seen, b_seen[i]);
  }
  EXPECT_TRUE(std::isnan(seen[0].b_close));
  EXPECT_EQ(seen[2].b_close, 20);  // latest bar at or before minute 2 is minute 1's
  EXPECT_EQ(seen[4].b_close, 22);
}

TEST(Run, OrdersOnASymbolWaitForItsNextBar) {
  TwoSymbols two;
  Scripted script;
  script.At(0, [](Context& c) { c.Buy(1, 1); });  // B has no bar yet: fills at minute 1
  script.At(2, [](Context& c) { c.Buy(1, 1); });  // B has no bar at 2 or... fills at minute 3
  script.At(3, [](Context& c) { c.Buy(1, 0); });  // A has no bar after minute 3: never fills
  script.At(4, [](Context& c) {
    EXPECT_EQ(c.open_orders(0), 1u);
    EXPECT_DOUBLE_EQ(c.position(1), 2);
  });
  const auto r = engine::Run(two.data, script, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(EventsOf(*r, 1).back().bar, 1u);
  EXPECT_DOUBLE_EQ(EventsOf(*r, 1).back().px, 19.5);
  EXPECT_EQ(EventsOf(*r, 1).back().symbol, 1u);
  EXPECT_EQ(EventsOf(*r, 2).back().bar, 3u);
  EXPECT_DOUBLE_EQ(EventsOf(*r, 2).back().px, 20.5);
  EXPECT_EQ(EventsOf(*r, 3).back().status, OrderStatus::kSubmitted);
  // Cash 100000 - 19.5 = 99980.5, then - 20.5 = 99960; B marked at its latest close.
  const std::vector<double> want = {100'000, 99'980.5 + 20, 99'980.5 + 20, 99'960 + 2 * 21,
                                    99'960 + 2 * 22};
  EXPECT_EQ(r->equity, want);
  // Buy-and-hold is the first symbol's: 13 / 10 - 1.
  EXPECT_DOUBLE_EQ(r->stats.buy_and_hold_return, 0.3);
}

TEST(Run, NoFillEverPrecedesItsSubmission) {
  // A script that trades on every bar with every order type; no order may fill at the bar
  // where it was placed.
  std::vector<Ohlc> bars;
  for (int i = 0; i < 200; ++i) {
    const double mid = 100 + 10 * std::sin(i * 0.3);
    bars.push_back({mid, mid + 2, mid - 2, mid + std::cos(i * 0.7)});
  }
  class Busy : public Strategy {
   public:
    void OnBar(Context& c) override {
      const double px = c.close();
      switch (c.index() % 4) {
        case 0:
          c.Buy(1);
          break;
        case 1:
          c.Order(testing::Limit(Side::kSell, 1, px + 1));
          break;
        case 2:
          c.Order(testing::Stop(Side::kBuy, 1, px + 1));
          break;
        case 3:
          c.Order(testing::StopLimit(Side::kSell, 1, px - 1, px - 1.5));
          break;
      }
    }
  } busy;
  const market::Series series = MakeSeries(bars);
  const auto r = engine::Run(std::span(&series, 1), busy, {});
  ASSERT_TRUE(r.ok());
  std::vector<size_t> submitted(r->events.size() + 1);
  size_t fills = 0;
  for (const auto& e : r->events) {
    if (e.status == OrderStatus::kSubmitted) submitted[e.id] = e.bar;
    if (e.status == OrderStatus::kFilled) {
      ++fills;
      EXPECT_GT(e.bar, submitted[e.id]) << "order " << e.id;
    }
  }
  EXPECT_GT(fills, 100u);
}

TEST(Run, ProgressIsReportedAndCancelStopsTheRun) {
  std::vector<Ohlc> bars(200'000, kFlat);
  const market::Series series = MakeSeries(bars);
  Noop noop;
  std::vector<std::pair<size_t, size_t>> calls;
  RunHooks hooks;
  hooks.progress = [&](size_t done, size_t total) { calls.emplace_back(done, total); };
  ASSERT_TRUE(engine::Run(std::span(&series, 1), noop, {}, hooks).ok());
  EXPECT_EQ(calls,
            (std::vector<std::pair<size_t, size_t>>{
                {65'536, 200'000}, {131'072, 200'000}, {196'608, 200'000}, {200'000, 200'000}}));

  std::atomic<bool> cancel{false};
  Scripted script;
  script.At(10, [&](Context&) { cancel = true; });
  RunHooks cancelling;
  cancelling.cancel = &cancel;
  const auto r = engine::Run(std::span(&series, 1), script, {}, cancelling);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(r.error().msg, "cancelled");
  EXPECT_EQ(script.equity.size(), 64u);  // stopped at the first check after the flag (every 64)
}

}  // namespace
}  // namespace tapedeck::engine

namespace tapedeck::engine {
namespace {

// Buys at bar 0, then skips to bar 6: OnBar is not called at bars 1-5, yet the buy fills at bar
// 1's open and every bar's equity is marked; at bar 6 it sells and asks for bar 100 (past the
// end: never called again), while the sell still fills at bar 7.
class BuyThenSkip : public Strategy {
 public:
  std::vector<size_t> called;
  void OnBar(Context& ctx) override {
    called.push_back(ctx.index());
    if (ctx.index() == 0) {
      ctx.Buy(10.0);
      ctx.SkipUntil(6);
    } else if (ctx.index() == 6) {
      EXPECT_EQ(ctx.position(), 10.0);
      ctx.Sell(10.0);
      ctx.SkipUntil(100);
    }
  }
};

TEST(Run, SkipUntilSkipsOnBarButNotFillsOrMarking) {
  std::vector<market::Bar> bars;
  for (int i = 0; i < 10; ++i) {
    const double p = 100 + i;
    bars.push_back({testing::Minute(i), p, p, p, p, 1000});
  }
  const market::Series series = market::Series::FromBars("X", bars);
  BuyThenSkip strategy;
  auto r = engine::Run(std::span(&series, 1), strategy, {});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(strategy.called, (std::vector<size_t>{0, 6}));
  ASSERT_EQ(r->stats.fills, 2u);
  std::vector<size_t> fill_bars;
  for (const auto& e : r->events) {
    if (e.status == OrderStatus::kFilled) fill_bars.push_back(e.bar);
  }
  EXPECT_EQ(fill_bars, (std::vector<size_t>{1, 7}));
  // Marked at every bar, skipped or not: cash 100,000 - 10 * 101 plus 10 units at each close.
  for (size_t t = 1; t < 7; ++t) {
    EXPECT_DOUBLE_EQ(r->equity[t], 100'000 - 10 * 101.0 + 10 * (100.0 + static_cast<double>(t)));
  }
  EXPECT_DOUBLE_EQ(r->equity[9], 100'000 - 10 * 101.0 + 10 * 107.0);
}

// A series stored whole through plot_values (one value per bar of the timeline) is the run's
// plot; with plots off there is no column to store into.
class PlotsAhead : public Strategy {
 public:
  bool got_column = false;
  void OnStart(Context& ctx) override {
    const PlotId id = ctx.DeclarePlot("ahead", PlotPane::kOwn);
    double* values = ctx.plot_values(id);
    got_column = values != nullptr;
    if (values == nullptr) return;
    for (size_t t = 0; t < ctx.bar_count(); ++t) values[t] = static_cast<double>(t) * 2;
  }
  void OnBar(Context&) override {}
};

TEST(Run, PlotValuesIsTheWholeSeriesOrNullWithPlotsOff) {
  std::vector<market::Bar> bars;
  for (int i = 0; i < 5; ++i) bars.push_back({testing::Minute(i), 1, 1, 1, 1, 1});
  const market::Series series = market::Series::FromBars("X", bars);
  PlotsAhead on;
  auto r = engine::Run(std::span(&series, 1), on, {});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(on.got_column);
  ASSERT_EQ(r->plots.size(), 1u);
  EXPECT_EQ(r->plots[0].values, (std::vector<double>{0, 2, 4, 6, 8}));
  PlotsAhead off;
  RunConfig config;
  config.record_plots = false;
  auto r2 = engine::Run(std::span(&series, 1), off, config);
  ASSERT_TRUE(r2.ok());
  EXPECT_FALSE(off.got_column);
  EXPECT_TRUE(r2->plots.empty());
}

}  // namespace
}  // namespace tapedeck::engine
