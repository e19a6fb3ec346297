// A whole sweep on local threads: every phase run, the same results whatever the thread count,
// progress, cancel, and folds whose runs are the trials' own.
#include "sweep/local.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

namespace tapedeck::sweep {
namespace {

market::Series Hourly(uint64_t seed, size_t bars) {
  market::GenOptions o;
  o.bars = bars;
  o.seed = seed;
  o.interval = std::chrono::hours(1);
  return market::Generate(o);
}

Result<std::unique_ptr<engine::Strategy>> SmaCross(const strategies::Params& p) {
  auto s = strategies::Make("sma_cross", p);
  if (!s.ok()) return s.take_error();
  return std::move(*s);
}

Axis Range(std::string name, double from, double to, double step) {
  Axis a;
  a.name = std::move(name);
  a.kind = Axis::Kind::kRange;
  a.from = from;
  a.to = to;
  a.step = step;
  return a;
}

// fast 4..16 x slow 10..40: 4 x 4 trials, those with fast >= slow refused by sma_cross.
PlanSpec SmaPlan(size_t folds) {
  PlanSpec plan;
  plan.axes = {Range("fast", 4, 16, 4), Range("slow", 10, 40, 10)};
  if (folds > 0) plan.walk_forward = WalkForward{folds, false};
  plan.pbo_blocks = 4;
  return plan;
}

std::vector<strategies::Params> Trials(const PlanSpec& plan) {
  const auto info = strategies::Find("sma_cross");
  auto trials = MakeTrials(plan, (*info)->params, 1'000);
  EXPECT_TRUE(trials.ok());
  return *trials;
}

std::string SummaryJson(const PlanSpec& plan, const LocalResult& r) {
  JsonWriter w;
  w.BeginObject();
  WriteSummaryFields(w, plan, r.summary, r.phases[0]);
  w.EndObject();
  return w.Take();
}

bool SameBits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

TEST(RunLocally, ResultsDoNotDependOnTheThreadCount) {
  const std::vector<market::Series> in = {Hourly(5, 24 * 90)};
  const PlanSpec plan = SmaPlan(3);
  const std::vector<strategies::Params> trials = Trials(plan);
  ASSERT_EQ(trials.size(), 16u);
  engine::RunConfig config;
  config.costs.commission = 0.0005;

  LocalOptions one;
  one.threads = 1;
  LocalOptions three;
  three.threads = 3;
  auto a = RunLocally(plan, trials, in, std::nullopt, std::nullopt, SmaCross, config, one);
  auto b = RunLocally(plan, trials, in, std::nullopt, std::nullopt, SmaCross, config, three);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(SummaryJson(plan, *a), SummaryJson(plan, *b));
  ASSERT_EQ(a->phases.size(), 4u);
  for (size_t p = 0; p < 4; ++p) {
    ASSERT_EQ(a->phases[p].size(), 16u);
    for (size_t i = 0; i < 16; ++i) {
      const TrialResult &x = a->phases[p][i], &y = b->phases[p][i];
      EXPECT_EQ(x.index, i);
      EXPECT_EQ(x.params, trials[i]);
      EXPECT_EQ(x.error, y.error);
      ASSERT_EQ(x.stats.has_value(), y.stats.has_value());
      if (x.stats) {
        EXPECT_TRUE(SameBits(x.stats->final_equity, y.stats->final_equity));
      }
      ASSERT_EQ(x.returns.size(), y.returns.size());
      for (size_t d = 0; d < x.returns.size(); ++d) {
        EXPECT_TRUE(SameBits(x.returns[d].ret, y.returns[d].ret));
      }
      EXPECT_EQ(x.returns.empty(), p > 0 || !x.stats);  // returns kept in phase 0 only
    }
  }
  // fast >= slow: (12, 10), (16, 10) fail; everything else runs.
  EXPECT_EQ(a->summary.failed, 2u);
  EXPECT_EQ(a->summary.valid, 14u);
  EXPECT_FALSE(a->phases[0][8].stats);  // fast 12, slow 10
  EXPECT_FALSE(a->phases[0][8].error.empty());
}

TEST(RunLocally, FoldsPickTheInSampleBestAndRunItAsATrialOverTheirSpan) {
  const std::vector<market::Series> in = {Hourly(9, 24 * 60)};
  const PlanSpec plan = SmaPlan(2);
  const std::vector<strategies::Params> trials = Trials(plan);
  engine::RunConfig config;
  LocalOptions opts;
  opts.threads = 2;
  const Timestamp from = in[0].times()[30], to = in[0].times()[1'400];
  auto r = RunLocally(plan, trials, in, from, to, SmaCross, config, opts);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  const Span period{from, to};
  const std::vector<Span> spans = WalkForwardSpans(period, 2);
  ASSERT_EQ(r->summary.folds.size(), 2u);

  std::vector<DailyReturn> stitched;
  for (size_t k = 1; k <= 2; ++k) {
    const Fold& f = r->summary.folds[k - 1];
    // The in-sample best by hand: highest sharpe over phase k, ties to the lowest index.
    std::optional<size_t> best;
    for (const TrialResult& t : r->phases[k]) {
      if (t.stats && (!best || t.stats->sharpe > r->phases[k][*best].stats->sharpe)) {
        best = t.index;
      }
    }
    ASSERT_TRUE(best);
    EXPECT_EQ(f.trial, best);
    EXPECT_EQ(f.params, trials[*best]);
    EXPECT_EQ(f.in_sample_objective, r->phases[k][*best].stats->sharpe);
    EXPECT_EQ(f.in_sample.from, spans[k - 1].from);
    EXPECT_EQ(f.in_sample.to, spans[k - 1].to);
    EXPECT_EQ(f.out_of_sample.from, spans[k].from);
    EXPECT_EQ(f.out_of_sample.to, spans[k].to);
    // Phase k's run is a trial over the in-sample span; the fold's a trial over span k.
    const TrialOutcome in_sample =
        RunTrial(in, spans[k - 1], SmaCross, trials[*best], config, false);
    EXPECT_TRUE(SameBits(in_sample.stats->sharpe, f.in_sample_objective));
    const TrialOutcome oos = RunTrial(in, spans[k], SmaCross, trials[*best], config, true);
    ASSERT_TRUE(f.stats && oos.stats);
    EXPECT_TRUE(SameBits(f.stats->final_equity, oos.stats->final_equity));
    ASSERT_EQ(f.returns.size(), oos.returns.size());
    stitched.insert(stitched.end(), oos.returns.begin(), oos.returns.end());
  }
  ASSERT_TRUE(r->summary.stitched);
  ASSERT_EQ(r->summary.stitched->returns.size(), stitched.size());
  double equity = config.cash;
  for (size_t i = 0; i < stitched.size(); ++i) {
    EXPECT_EQ(r->summary.stitched->returns[i].day, stitched[i].day);
    equity *= 1 + stitched[i].ret;
    EXPECT_DOUBLE_EQ(r->summary.stitched->equity[i], equity);
  }
}

TEST(RunLocally, ReportsProgressOverEveryPhase) {
  const std::vector<market::Series> in = {Hourly(5, 24 * 30)};
  const PlanSpec plan = SmaPlan(2);
  const std::vector<strategies::Params> trials = Trials(plan);
  std::mutex mu;
  std::vector<size_t> seen;
  size_t total_seen = 0;
  LocalOptions opts;
  opts.threads = 3;
  opts.progress = [&](size_t done, size_t total) {
    std::lock_guard lock(mu);
    seen.push_back(done);
    total_seen = total;
  };
  auto r = RunLocally(plan, trials, in, std::nullopt, std::nullopt, SmaCross, {}, opts);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(total_seen, 48u);  // 16 trials x 3 phases
  ASSERT_EQ(seen.size(), 48u);
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], i + 1);  // serialised, in order
}

TEST(RunLocally, ACancelledSweepIsUnavailable) {
  const std::vector<market::Series> in = {Hourly(5, 24 * 30)};
  const PlanSpec plan = SmaPlan(0);
  const std::vector<strategies::Params> trials = Trials(plan);
  std::atomic<bool> cancel{false};
  LocalOptions opts;
  opts.threads = 2;
  opts.cancel = &cancel;
  size_t calls = 0;
  opts.progress = [&](size_t done, size_t) {
    ++calls;
    if (done == 3) cancel = true;
  };
  auto r = RunLocally(plan, trials, in, std::nullopt, std::nullopt, SmaCross, {}, opts);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(r.error().msg, "cancelled");
  EXPECT_LT(calls, 16u);
}

TEST(RunLocally, NoTrialsIsAnEmptySummary) {
  const std::vector<market::Series> in = {Hourly(5, 100)};
  auto r = RunLocally(SmaPlan(0), {}, in, std::nullopt, std::nullopt, SmaCross, {}, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->summary.trials, 0u);
  EXPECT_FALSE(r->summary.best);
}

}  // namespace
}  // namespace tapedeck::sweep
