// The engine's fast paths against the plain ones they stand for, bit for bit: bars a strategy
// skips (marked a block at a time) against the same bars handed to it, the equity curve's
// statistics read a stretch at a time during the run against one pass afterwards, and series
// appended in order against the values given.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "engine/curve_scan.h"
#include "engine/engine.h"
#include "scripted.h"

namespace tapedeck::engine {
namespace {

using testing::Minute;

uint64_t Bits(double x) {
  uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

// A random walk on a 0.01 grid with wicks, one bar a minute.
market::Series Walk(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-0.003, 0.003);
  std::vector<market::Bar> bars;
  double price = 100;
  for (size_t i = 0; i < n; ++i) {
    const double open = std::round(price * 100) / 100;
    const double close = std::max(0.01, std::round(price * (1 + u(rng)) * 100) / 100);
    const double wick = static_cast<double>(rng() % 30) / 100;
    bars.push_back({Minute(static_cast<int64_t>(i)), open, std::max(open, close) + wick,
                    std::max(0.01, std::min(open, close) - wick), close, 1000});
    price = close;
  }
  return market::Series::FromBars("X", bars);
}

// Acts at a fixed, random set of bars: market, limit and stop orders of random sides and sizes,
// closes and cancels, and records what it saw there. With `skip` it asks not to be called until
// its next such bar (SkipUntil); without, it is called at every bar and does nothing at the
// others. Both must make the same run.
class RandomTrader : public Strategy {
 public:
  RandomTrader(std::vector<size_t> acts, uint64_t seed, bool skip)
      : acts_(std::move(acts)), rng_(seed), skip_(skip) {}

  struct Seen {
    size_t index;
    Timestamp time;
    double cash, equity, position, close;
    size_t open_orders;
  };
  std::vector<Seen> seen;

  void OnBar(Context& ctx) override {
    const size_t t = ctx.index();
    while (next_ < acts_.size() && acts_[next_] < t) ++next_;
    if (next_ < acts_.size() && acts_[next_] == t) {
      ++next_;
      Act(ctx);
    }
    if (skip_) ctx.SkipUntil(next_ < acts_.size() ? acts_[next_] : ctx.bar_count());
  }

 private:
  void Act(Context& ctx) {
    seen.push_back({ctx.index(), ctx.time(), ctx.cash(), ctx.equity(), ctx.position(), ctx.close(),
                    ctx.open_orders()});
    const double px = ctx.close();
    switch (rng_() % 8) {
      case 0:
        ctx.Buy();
        break;
      case 1:
        ctx.Sell();
        break;
      case 2:
        ctx.Buy(static_cast<double>(1 + rng_() % 50));
        break;
      case 3:
        ctx.Sell(static_cast<double>(1 + rng_() % 50));
        break;
      case 4:
        ctx.Close();
        break;
      case 5: {  // a limit that may rest for many bars
        OrderRequest r;
        r.side = rng_() % 2 == 0 ? Side::kBuy : Side::kSell;
        r.type = OrderType::kLimit;
        r.qty = static_cast<double>(1 + rng_() % 20);
        r.limit = r.side == Side::kBuy ? px * 0.99 : px * 1.01;
        last_ = ctx.Order(r);
        break;
      }
      case 6: {
        OrderRequest r;
        r.side = rng_() % 2 == 0 ? Side::kBuy : Side::kSell;
        r.type = OrderType::kStop;
        r.qty = static_cast<double>(1 + rng_() % 20);
        r.stop = r.side == Side::kBuy ? px * 1.005 : px * 0.995;
        last_ = ctx.Order(r);
        break;
      }
      default:
        ctx.Cancel(last_);
        break;
    }
  }

  std::vector<size_t> acts_;
  std::mt19937_64 rng_;
  bool skip_;
  size_t next_ = 0;
  OrderId last_ = 0;
};

void ExpectSameEvents(const RunResult& a, const RunResult& b) {
  ASSERT_EQ(a.events.size(), b.events.size());
  for (size_t i = 0; i < a.events.size(); ++i) {
    const OrderEvent &x = a.events[i], &y = b.events[i];
    EXPECT_EQ(x.id, y.id);
    EXPECT_EQ(x.ts, y.ts);
    EXPECT_EQ(x.bar, y.bar);
    EXPECT_EQ(x.side, y.side);
    EXPECT_EQ(x.type, y.type);
    EXPECT_EQ(x.status, y.status);
    EXPECT_EQ(x.qty.has_value(), y.qty.has_value());
    if (x.qty && y.qty) {
      EXPECT_EQ(Bits(*x.qty), Bits(*y.qty));
    }
    EXPECT_EQ(Bits(x.px), Bits(y.px));
    EXPECT_EQ(Bits(x.commission), Bits(y.commission));
    EXPECT_EQ(x.reason, y.reason);
  }
  ASSERT_EQ(a.trades.size(), b.trades.size());
  for (size_t i = 0; i < a.trades.size(); ++i) {
    const Trade &x = a.trades[i], &y = b.trades[i];
    EXPECT_EQ(x.entry_bar, y.entry_bar);
    EXPECT_EQ(x.exit_bar, y.exit_bar);
    EXPECT_EQ(Bits(x.qty), Bits(y.qty));
    EXPECT_EQ(Bits(x.entry_px), Bits(y.entry_px));
    EXPECT_EQ(Bits(x.exit_px), Bits(y.exit_px));
    EXPECT_EQ(Bits(x.pnl), Bits(y.pnl));
    EXPECT_EQ(x.open, y.open);
  }
}

void ExpectSameStats(const Stats& a, const Stats& b) {
  EXPECT_EQ(a.bars, b.bars);
  EXPECT_EQ(a.fills, b.fills);
  EXPECT_EQ(a.trades, b.trades);
  const std::pair<double, double> values[] = {{a.final_equity, b.final_equity},
                                              {a.total_return, b.total_return},
                                              {a.cagr, b.cagr},
                                              {a.volatility, b.volatility},
                                              {a.sharpe, b.sharpe},
                                              {a.sortino, b.sortino},
                                              {a.calmar, b.calmar},
                                              {a.max_drawdown, b.max_drawdown},
                                              {a.win_rate, b.win_rate},
                                              {a.profit_factor, b.profit_factor},
                                              {a.expectancy, b.expectancy},
                                              {a.exposure, b.exposure},
                                              {a.periods_per_year, b.periods_per_year}};
  for (const auto& [x, y] : values) EXPECT_EQ(Bits(x), Bits(y));
  EXPECT_EQ(a.max_drawdown_duration, b.max_drawdown_duration);
}

TEST(QuietBars, SkippingMakesTheSameRunBitForBit) {
  // Lengths around the 64-bar polling blocks and the 4,096-bar statistics stretches; action bars
  // from dense (every few bars: orders rest across skipped stretches) to sparse (long stretches).
  for (const size_t n : {1, 2, 63, 64, 65, 4'095, 4'097, 20'011}) {
    for (const size_t gap : {1, 3, 50, 700}) {
      const uint64_t seed = n * 31 + gap;
      const market::Series series = Walk(n, seed);
      std::mt19937_64 rng(seed);
      std::vector<size_t> acts;
      for (size_t t = rng() % (gap + 1); t < n; t += 1 + rng() % (2 * gap)) acts.push_back(t);
      RunConfig config;
      config.cash = 50'000;
      config.costs.commission = 0.0005;
      config.costs.slippage = 0.0001;
      config.allow_short = n % 2 == 0;
      std::vector<std::pair<size_t, size_t>> progress_a, progress_b;
      RunHooks hooks_a, hooks_b;
      hooks_a.progress = [&](size_t d, size_t t) { progress_a.emplace_back(d, t); };
      hooks_b.progress = [&](size_t d, size_t t) { progress_b.emplace_back(d, t); };
      RandomTrader every(acts, seed, false), skipping(acts, seed, true);
      auto a = engine::Run(std::span(&series, 1), every, config, hooks_a);
      auto b = engine::Run(std::span(&series, 1), skipping, config, hooks_b);
      ASSERT_TRUE(a.ok() && b.ok());
      SCOPED_TRACE("n=" + std::to_string(n) + " gap=" + std::to_string(gap));
      ASSERT_EQ(a->equity.size(), b->equity.size());
      for (size_t t = 0; t < n; ++t) ASSERT_EQ(Bits(a->equity[t]), Bits(b->equity[t])) << t;
      ExpectSameEvents(*a, *b);
      ExpectSameStats(a->stats, b->stats);
      EXPECT_EQ(progress_a, progress_b);
      ASSERT_EQ(every.seen.size(), skipping.seen.size());
      for (size_t i = 0; i < every.seen.size(); ++i) {
        const auto &x = every.seen[i], &y = skipping.seen[i];
        EXPECT_EQ(x.index, y.index);
        EXPECT_EQ(x.time, y.time);
        EXPECT_EQ(Bits(x.cash), Bits(y.cash));
        EXPECT_EQ(Bits(x.equity), Bits(y.equity));
        EXPECT_EQ(Bits(x.position), Bits(y.position));
        EXPECT_EQ(Bits(x.close), Bits(y.close));
        EXPECT_EQ(x.open_orders, y.open_orders);
      }
      // The statistics the run read as it went are those of its curve read afterwards.
      ExpectSameStats(b->stats, ComputeStats(*b, std::span(&series, 1), config.cash));
      if (n > 1000) {
        EXPECT_GT(b->stats.fills, 0u);
      }
    }
  }
}

// With one symbol the loop appends the run's timeline a block at a time from the series' times:
// it must come out as those times, whole, whatever the length (around the 4,096-bar blocks) and
// whether the strategy is called at every bar or skips.
TEST(QuietBars, OneSymbolTimelineIsTheSeriesTimes) {
  for (const size_t n : {1, 2, 4'095, 4'096, 4'097, 8'193, 20'011}) {
    SCOPED_TRACE("n=" + std::to_string(n));
    const market::Series series = Walk(n, n);
    const std::vector<Timestamp> want(series.times().begin(), series.times().end());
    std::vector<size_t> acts;
    for (size_t t = 0; t < n; t += 97) acts.push_back(t);
    for (const bool skip : {false, true}) {
      RandomTrader trader(acts, n, skip);
      auto r = engine::Run(std::span(&series, 1), trader, {});
      ASSERT_TRUE(r.ok());
      EXPECT_EQ(r->times, want);
      EXPECT_EQ(r->equity.size(), n);
      for (const auto& seen : trader.seen) EXPECT_EQ(seen.time, want[seen.index]);
    }
  }
}

// Curves with flat stretches, zero marks (a return taken as 0), drawdowns that recover and one
// that never does, read in stretches that end at random bars (odd or even) must give the bits of
// one pass.
TEST(CurveScan, AnyStretchesGiveTheBitsOfOnePass) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> step(-0.02, 0.02);
  for (const size_t n : {0, 1, 2, 3, 4, 5, 100, 4'097, 30'001}) {
    std::vector<double> e(n);
    std::vector<Timestamp> times(n);
    double x = 1000;
    for (size_t i = 0; i < n; ++i) {
      if (i % 5 != 0) x *= 1 + step(rng);
      if (i > n / 2) x *= 0.9999;  // a last stretch that falls
      e[i] = (i % 613 == 300) ? 0.0 : x;
      times[i] = Minute(static_cast<int64_t>(i * 2 + i % 3));
    }
    detail::CurveScan whole;
    whole.Finish(e.data(), times.data(), n);
    for (int trial = 0; trial < 20; ++trial) {
      detail::CurveScan parts;
      size_t to = 0;
      while (n > 0 && to < n) {
        to = std::min(n, to + rng() % (trial < 10 ? 8 : 5'000));
        parts.Advance(e.data(), times.data(), to);
      }
      parts.Finish(e.data(), times.data(), n);
      SCOPED_TRACE("n=" + std::to_string(n) + " trial=" + std::to_string(trial));
      EXPECT_EQ(Bits(parts.moments().shift), Bits(whole.moments().shift));
      EXPECT_EQ(Bits(parts.moments().sum), Bits(whole.moments().sum));
      EXPECT_EQ(Bits(parts.moments().sum_sq), Bits(whole.moments().sum_sq));
      EXPECT_EQ(Bits(parts.moments().down_sq), Bits(whole.moments().down_sq));
      EXPECT_EQ(Bits(parts.max_drawdown()), Bits(whole.max_drawdown()));
      EXPECT_EQ(parts.longest_drawdown(), whole.longest_drawdown());
    }
  }
}

// A run that keeps no history (RunConfig::record_history off) reads its curve's statistics from
// blocks it does not keep and sums its trades as they close: the same statistics bit for bit and
// each symbol's trades summed, with or without skipping, lengths around the 4,096-bar blocks, one
// symbol or two (the general loop), and nothing kept.
TEST(RecordHistory, OffGivesTheSameStatisticsAndTrades) {
  for (const size_t n : {1, 2, 3, 4'095, 4'096, 4'097, 4'098, 8'192, 8'193, 20'011}) {
    for (const size_t symbols : {1, 2}) {
      for (const bool skip : {false, true}) {
        SCOPED_TRACE("n=" + std::to_string(n) + " symbols=" + std::to_string(symbols) +
                     " skip=" + std::to_string(skip));
        std::vector<market::Series> data = {Walk(n, n + 5)};
        if (symbols == 2) {
          // Bars at every other minute only: the timeline has times where it has none.
          std::vector<market::Bar> bars;
          const market::Series other = Walk(n, n + 9);
          for (size_t i = 0; i < n; i += 2) bars.push_back(other.bar(i));
          data.push_back(market::Series::FromBars("Y", bars));
        }
        std::vector<size_t> acts;
        for (size_t t = n % 7; t < n; t += 1 + (t * 7919) % 150) acts.push_back(t);
        RunConfig config;
        config.costs.commission = 0.0002;
        config.costs.slippage = 0.0001;
        RandomTrader kept_trader(acts, n, skip), lean_trader(acts, n, skip);
        auto kept = engine::Run(data, kept_trader, config);
        config.record_history = false;
        auto lean = engine::Run(data, lean_trader, config);
        ASSERT_TRUE(kept.ok() && lean.ok());
        EXPECT_TRUE(lean->equity.empty());
        EXPECT_TRUE(lean->times.empty());
        EXPECT_TRUE(lean->events.empty());
        EXPECT_TRUE(lean->trades.empty());
        EXPECT_TRUE(kept->trade_totals.empty());
        EXPECT_EQ(lean->symbols, kept->symbols);
        ExpectSameStats(kept->stats, lean->stats);
        // Each symbol's trades summed as the report sums the kept ones.
        std::vector<TradeTotals> want(symbols);
        for (const Trade& t : kept->trades) {
          ++want[t.symbol].trades;
          if (t.pnl > 0) ++want[t.symbol].wins;
          if (std::isfinite(t.pnl)) want[t.symbol].pnl += t.pnl;
        }
        ASSERT_EQ(lean->trade_totals.size(), symbols);
        for (size_t i = 0; i < symbols; ++i) {
          EXPECT_EQ(lean->trade_totals[i].trades, want[i].trades);
          EXPECT_EQ(lean->trade_totals[i].wins, want[i].wins);
          EXPECT_EQ(Bits(lean->trade_totals[i].pnl), Bits(want[i].pnl));
        }
        if (n > 1000) {
          EXPECT_GT(lean->stats.fills, 0u);
          EXPECT_GT(lean->stats.max_drawdown, 0);
        }
      }
    }
  }
}

// A scan that reads each block from a window holding only that block and the two bars before it
// gives the bits of one pass over the whole curve.
TEST(CurveScan, WindowsGiveTheBitsOfOnePass) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> step(-0.02, 0.02);
  for (const size_t n : {1, 2, 3, 7, 4'097, 30'001}) {
    std::vector<double> e(n);
    std::vector<Timestamp> times(n);
    double x = 1000;
    for (size_t i = 0; i < n; ++i) {
      x *= 1 + step(rng);
      e[i] = (i % 401 == 200) ? 0.0 : x;
      times[i] = Minute(static_cast<int64_t>(i));
    }
    detail::CurveScan whole;
    whole.Finish(e.data(), times.data(), n);
    for (const size_t block : {2, 3, 64, 4'096}) {
      detail::CurveScan parts;
      size_t base = 0;
      while (base < n) {
        const size_t to = std::min(n, base + block);
        const size_t origin = base >= 2 ? base - 2 : 0;
        // Only the window's values, copied: bars before origin are not there to be read.
        const std::vector<double> window(e.begin() + static_cast<ptrdiff_t>(origin),
                                         e.begin() + static_cast<ptrdiff_t>(to));
        if (to == n) {
          parts.Finish(window.data(), origin, times.data(), to);
        } else {
          parts.Advance(window.data(), origin, times.data(), to);
        }
        base = to;
      }
      SCOPED_TRACE("n=" + std::to_string(n) + " block=" + std::to_string(block));
      EXPECT_EQ(Bits(parts.moments().shift), Bits(whole.moments().shift));
      EXPECT_EQ(Bits(parts.moments().sum), Bits(whole.moments().sum));
      EXPECT_EQ(Bits(parts.moments().sum_sq), Bits(whole.moments().sum_sq));
      EXPECT_EQ(Bits(parts.moments().down_sq), Bits(whole.moments().down_sq));
      EXPECT_EQ(Bits(parts.max_drawdown()), Bits(whole.max_drawdown()));
      EXPECT_EQ(parts.longest_drawdown(), whole.longest_drawdown());
    }
  }
}

// Appends pieces at OnStart and at bars; past the last bar the rest is dropped; the bars never
// appended to are NaN. A series declared the usual way takes appended values at its next bars too.
class Appender : public Strategy {
 public:
  void OnStart(Context& ctx) override {
    in_order_ = ctx.DeclarePlotInOrder("in_order", PlotPane::kOwn);
    plain_ = ctx.DeclarePlot("plain", PlotPane::kPrice);
    again_ = ctx.DeclarePlotInOrder("in_order", PlotPane::kPrice);
    const double first[] = {1, 2, 3};
    ctx.AppendPlot(in_order_, first);
    const double two[] = {10, 20};
    ctx.AppendPlot(plain_, two);
  }
  void OnBar(Context& ctx) override {
    if (ctx.index() == 2) {
      const double more[] = {4, 5, 6, 7};
      ctx.AppendPlot(in_order_, more);
      const double one[] = {30};
      ctx.AppendPlot(plain_, one);
    }
  }
  PlotId in_order_ = 0, plain_ = 0, again_ = 0;
};

class Overflow : public Strategy {
 public:
  void OnStart(Context& ctx) override {
    const PlotId id = ctx.DeclarePlotInOrder("x", PlotPane::kOwn);
    const std::vector<double> many(ctx.bar_count() + 5, 1.5);
    ctx.AppendPlot(id, many);
    ctx.AppendPlot(id, many);
  }
  void OnBar(Context&) override {}
};

TEST(Run, AppendPlotStoresInOrderAndLeavesTheRestNaN) {
  std::vector<market::Bar> bars;
  for (int i = 0; i < 10; ++i) bars.push_back({Minute(i), 1, 1, 1, 1, 1});
  const market::Series series = market::Series::FromBars("X", bars);
  Appender s;
  auto r = engine::Run(std::span(&series, 1), s, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(s.again_, s.in_order_);
  ASSERT_EQ(r->plots.size(), 2u);
  EXPECT_EQ(r->plots[0].name, "in_order");
  EXPECT_EQ(r->plots[0].pane, PlotPane::kOwn);
  const std::vector<double>& a = r->plots[0].values;
  ASSERT_EQ(a.size(), 10u);
  for (size_t i = 0; i < 7; ++i) EXPECT_EQ(a[i], static_cast<double>(i + 1));
  for (size_t i = 7; i < 10; ++i) EXPECT_TRUE(std::isnan(a[i])) << i;
  const std::vector<double>& b = r->plots[1].values;
  ASSERT_EQ(b.size(), 10u);
  EXPECT_EQ(b[0], 10);
  EXPECT_EQ(b[1], 20);
  EXPECT_EQ(b[2], 30);
  for (size_t i = 3; i < 10; ++i) EXPECT_TRUE(std::isnan(b[i])) << i;

  Overflow o;
  auto r2 = engine::Run(std::span(&series, 1), o, {});
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->plots[0].values, std::vector<double>(10, 1.5));

  Appender off;
  RunConfig config;
  config.record_plots = false;
  auto r3 = engine::Run(std::span(&series, 1), off, config);
  ASSERT_TRUE(r3.ok());
  EXPECT_TRUE(r3->plots.empty());
}

}  // namespace
}  // namespace tapedeck::engine
