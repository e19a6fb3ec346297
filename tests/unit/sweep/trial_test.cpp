// One trial: the same statistics as a plain engine::Run over the same bars (as POST /backtests
// with that from/to), its daily returns, and its failures.
#include "sweep/trial.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <vector>

#include "strategies/script.h"

namespace tapedeck::sweep {
namespace {

market::Series Hourly(uint64_t seed, size_t bars, std::string symbol = "SYN") {
  market::GenOptions o;
  o.bars = bars;
  o.seed = seed;
  o.interval = std::chrono::hours(1);
  o.symbol = std::move(symbol);
  return market::Generate(o);
}

Result<std::unique_ptr<engine::Strategy>> SmaCross(const strategies::Params& p) {
  auto s = strategies::Make("sma_cross", p);
  if (!s.ok()) return s.take_error();
  return std::move(*s);
}

bool SameBits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Every statistic, to the bit.
void ExpectSameStats(const engine::Stats& a, const engine::Stats& b) {
  EXPECT_EQ(a.bars, b.bars);
  EXPECT_EQ(a.fills, b.fills);
  EXPECT_EQ(a.trades, b.trades);
  const std::pair<const char*, std::pair<double, double>> values[] = {
      {"start_equity", {a.start_equity, b.start_equity}},
      {"final_equity", {a.final_equity, b.final_equity}},
      {"total_return", {a.total_return, b.total_return}},
      {"cagr", {a.cagr, b.cagr}},
      {"volatility", {a.volatility, b.volatility}},
      {"sharpe", {a.sharpe, b.sharpe}},
      {"sortino", {a.sortino, b.sortino}},
      {"calmar", {a.calmar, b.calmar}},
      {"max_drawdown", {a.max_drawdown, b.max_drawdown}},
      {"win_rate", {a.win_rate, b.win_rate}},
      {"profit_factor", {a.profit_factor, b.profit_factor}},
      {"expectancy", {a.expectancy, b.expectancy}},
      {"exposure", {a.exposure, b.exposure}},
      {"buy_and_hold_return", {a.buy_and_hold_return, b.buy_and_hold_return}},
      {"periods_per_year", {a.periods_per_year, b.periods_per_year}},
  };
  for (const auto& [name, v] : values) {
    EXPECT_TRUE(SameBits(v.first, v.second)) << name << ": " << v.first << " vs " << v.second;
  }
  EXPECT_EQ(a.max_drawdown_duration, b.max_drawdown_duration);
}

engine::RunConfig Costly() {
  engine::RunConfig c;
  c.cash = 25'000;
  c.costs.commission = 0.001;
  c.costs.fixed_fee = 1;
  c.costs.slippage = 0.0005;
  return c;
}

TEST(RunTrial, StatsAndReturnsAreThoseOfAPlainRunOverTheSlice) {
  const std::vector<market::Series> in = {Hourly(3, 24 * 120)};
  const Span span{in[0].times()[100], in[0].times()[2'000]};
  const strategies::Params params = {{"fast", 7}, {"slow", 40}};
  const engine::RunConfig config = Costly();

  const TrialOutcome trial = RunTrial(in, span, SmaCross, params, config, true);
  ASSERT_TRUE(trial.stats) << trial.error->ToString();
  EXPECT_FALSE(trial.error);

  // As api::Runner::Execute: the series cut to [from, to), a fresh strategy, plots recorded.
  const std::vector<market::Series> cut = {in[0].Slice(span.from, span.to)};
  auto strategy = strategies::Make("sma_cross", params);
  ASSERT_TRUE(strategy.ok());
  ASSERT_TRUE(config.record_plots);
  auto run = engine::Run(cut, **strategy, config);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->stats.bars, 1'900u);
  EXPECT_GT(run->stats.trades, 5u);
  ExpectSameStats(*trial.stats, run->stats);

  const std::vector<DailyReturn> want = DailyReturns(run->times, run->equity, config.cash);
  ASSERT_EQ(trial.returns.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(trial.returns[i].day, want[i].day);
    EXPECT_TRUE(SameBits(trial.returns[i].ret, want[i].ret));
  }
  EXPECT_TRUE(RunTrial(in, span, SmaCross, params, config, false).returns.empty());
}

// A script that plots and logs: not recording them leaves every statistic as it was.
TEST(RunTrial, NotRecordingPlotsAndLogsChangesNoStatistic) {
  const std::string source = R"(
params = { fast = {default=10, min=1, max=1000, int=true}, slow = {default=30, min=2, max=1000, int=true} }
local fast, slow
function init() fast, slow = ta.sma(params.fast), ta.sma(params.slow) end
function on_bar(bar)
  local f, s = fast(bar.close), slow(bar.close)
  plot("fast", f); plot("slow", s)
  if s == nil or bar.last then return end
  if f > s and position() <= 0 then buy(); log("buy") elseif f < s and position() > 0 then sell() end
end
)";
  const std::vector<market::Series> in = {Hourly(11, 24 * 60)};
  const Span span{in[0].times().front(), in[0].times().back() + Micros{1}};
  const strategies::Params params = {{"fast", 5}, {"slow", 21}};
  const StrategyFactory factory =
      [&](const strategies::Params& p) -> Result<std::unique_ptr<engine::Strategy>> {
    auto s = strategies::MakeScriptStrategy(source, "script", p);
    if (!s.ok()) return s.take_error();
    return std::unique_ptr<engine::Strategy>(std::move(*s));
  };
  const TrialOutcome trial = RunTrial(in, span, factory, params, Costly(), false);
  ASSERT_TRUE(trial.stats) << trial.error->ToString();

  auto strategy = factory(params);
  ASSERT_TRUE(strategy.ok());
  auto run = engine::Run(in, **strategy, Costly());
  ASSERT_TRUE(run.ok());
  ASSERT_EQ(run->plots.size(), 2u);
  ASSERT_FALSE(run->logs.empty());
  ExpectSameStats(*trial.stats, run->stats);
}

TEST(RunTrial, AStrategyRefusingItsParametersFailsThatTrialOnly) {
  const std::vector<market::Series> in = {Hourly(3, 500)};
  const Span span{in[0].times().front(), in[0].times().back() + Micros{1}};
  const TrialOutcome t = RunTrial(in, span, SmaCross, {{"fast", 30}, {"slow", 20}}, Costly(), true);
  EXPECT_FALSE(t.stats);
  ASSERT_TRUE(t.error);
  EXPECT_EQ(t.error->code, ErrorCode::kValidation);
  EXPECT_TRUE(t.returns.empty());
}

TEST(RunTrial, ASpanWithoutBarsIsRangeNamingTheDatasetWhenThereAreSeveral) {
  const std::vector<market::Series> one = {Hourly(3, 100)};
  const Timestamp after = one[0].times().back() + std::chrono::hours(5);
  const TrialOutcome t =
      RunTrial(one, {after, after + std::chrono::hours(10)}, SmaCross, {}, Costly(), true);
  ASSERT_TRUE(t.error);
  EXPECT_EQ(t.error->code, ErrorCode::kRange);
  EXPECT_EQ(t.error->msg, "no bars in the requested period");

  market::GenOptions later;
  later.bars = 100;
  later.interval = std::chrono::hours(1);
  later.start = after;
  later.symbol = "LATE";
  const std::vector<market::Series> two = {Hourly(3, 100, "EARLY"), market::Generate(later)};
  const TrialOutcome u =
      RunTrial(two, {after, after + std::chrono::hours(10)}, SmaCross, {}, Costly(), true);
  ASSERT_TRUE(u.error);
  EXPECT_EQ(u.error->code, ErrorCode::kRange);
  EXPECT_EQ(u.error->msg, "no bars in the requested period in dataset 'EARLY'");
}

TEST(RunTrial, ACancelledTrialIsUnavailable) {
  const std::vector<market::Series> in = {Hourly(3, 500)};
  const Span span{in[0].times().front(), in[0].times().back() + Micros{1}};
  std::atomic<bool> cancel{true};
  const TrialOutcome t = RunTrial(in, span, SmaCross, {}, Costly(), true, &cancel);
  ASSERT_TRUE(t.error);
  EXPECT_EQ(t.error->code, ErrorCode::kUnavailable);
  EXPECT_EQ(t.error->msg, "cancelled");
}

}  // namespace
}  // namespace tapedeck::sweep
