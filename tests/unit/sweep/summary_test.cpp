// A sweep's summary: the best trial, the folds' choices and out-of-sample runs, the stitched
// curve, and the JSON they are written as. (DSR's and PBO's numbers are robustness_test's.)
#include "sweep/summary.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace tapedeck::sweep {
namespace {

namespace json = boost::json;

const int64_t kDay0 = DaysFromCivil(2024, 1, 2);

// A trial's phase-0 result with `days` daily returns that grow with `sharpe`.
TrialResult Ok(size_t index, double sharpe, size_t days = 40) {
  TrialResult r;
  r.index = index;
  r.params = {{"fast", static_cast<double>(5 + index)}};
  engine::Stats s;
  s.sharpe = sharpe;
  s.total_return = sharpe / 10;
  r.stats = s;
  for (size_t d = 0; d < days; ++d) {
    const double noise = ((d * 7 + index * 3) % 11) / 1000.0 - 0.005;
    r.returns.push_back({kDay0 + static_cast<int64_t>(d), noise + sharpe / 1000});
  }
  return r;
}

TrialResult Failed(size_t index, std::string error = "fast must be less than slow") {
  TrialResult r;
  r.index = index;
  r.params = {{"fast", static_cast<double>(5 + index)}};
  r.error = std::move(error);
  return r;
}

TEST(Summarize, BestIsTheHighestObjectiveWithTiesToTheLowestIndexAndFailuresLeftOut) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<std::vector<TrialResult>> phases = {
      {Failed(0), Ok(1, nan), Ok(2, 1.5), Ok(3, 1.5), Ok(4, 0.2), Failed(5)}};
  PlanSpec plan;
  const Span period{FromMicros(0), FromMicros(1'000)};
  const Summary s = Summarize(plan, period, phases, 1'000, nullptr);
  EXPECT_EQ(s.trials, 6u);
  EXPECT_EQ(s.valid, 4u);
  EXPECT_EQ(s.failed, 2u);
  EXPECT_EQ(s.best, 2u);
  EXPECT_EQ(s.dsr.trials, 4u);  // the valid trials only
  EXPECT_EQ(s.pbo.trials, 4u);
  EXPECT_TRUE(s.folds.empty());
  EXPECT_FALSE(s.stitched);

  plan.objective = Objective::kTotalReturn;  // 0.15, 0.15, 0.02: the same order
  EXPECT_EQ(Summarize(plan, period, phases, 1'000, nullptr).best, 2u);

  // NaN ranks below everything, even -inf; among NaNs alone the lowest index wins.
  const std::vector<std::vector<TrialResult>> nans = {
      {Ok(0, nan), Ok(1, -std::numeric_limits<double>::infinity()), Ok(2, nan)}};
  EXPECT_EQ(Summarize(PlanSpec{}, period, nans, 1'000, nullptr).best, 0u);
  const std::vector<std::vector<TrialResult>> only_nans = {{Failed(0), Ok(1, nan), Ok(2, nan)}};
  EXPECT_EQ(Summarize(PlanSpec{}, period, only_nans, 1'000, nullptr).best, 1u);
  const std::vector<std::vector<TrialResult>> none = {{Failed(0), Failed(1)}};
  const Summary empty = Summarize(PlanSpec{}, period, none, 1'000, nullptr);
  EXPECT_FALSE(empty.best);
  EXPECT_EQ(empty.valid, 0u);
  EXPECT_EQ(empty.failed, 2u);
}

struct FoldCall {
  strategies::Params params;
  Span span;
};

TEST(Summarize, EachFoldRunsItsInSampleBestOutOfSample) {
  PlanSpec plan;
  plan.walk_forward = WalkForward{3, false};
  const Span period{FromMicros(1'000'000), FromMicros(1'000'000 + 4 * 86'400'000'000LL)};
  const std::vector<Span> spans = WalkForwardSpans(period, 3);
  const std::vector<std::vector<TrialResult>> phases = {
      {Ok(0, 0.1), Ok(1, 0.2), Ok(2, 0.3)},
      {Ok(0, 0.1), Ok(1, 0.9), Failed(2)},   // fold 1 picks trial 1
      {Ok(0, 0.5), Ok(1, 0.5), Ok(2, 0.4)},  // fold 2: a tie, the lowest index
      {Failed(0), Failed(1), Failed(2)},     // fold 3: nothing to pick
  };
  std::vector<FoldCall> calls;
  const FoldRunner run = [&](const strategies::Params& p, Span span) {
    calls.push_back({p, span});
    TrialOutcome out;
    engine::Stats s;
    s.sharpe = static_cast<double>(calls.size());
    out.stats = s;
    out.returns = {{kDay0 + static_cast<int64_t>(calls.size()), 0.01}};
    return out;
  };
  const Summary s = Summarize(plan, period, phases, 1'000, run);
  EXPECT_EQ(s.best, 2u);
  ASSERT_EQ(s.folds.size(), 3u);
  ASSERT_EQ(calls.size(), 2u);

  EXPECT_EQ(s.folds[0].fold, 1u);
  EXPECT_EQ(s.folds[0].trial, 1u);
  EXPECT_EQ(s.folds[0].params, phases[1][1].params);
  EXPECT_EQ(s.folds[0].in_sample_objective, 0.9);
  EXPECT_EQ(s.folds[0].in_sample.from, spans[0].from);
  EXPECT_EQ(s.folds[0].in_sample.to, spans[0].to);
  EXPECT_EQ(s.folds[0].out_of_sample.from, spans[1].from);
  EXPECT_EQ(s.folds[0].out_of_sample.to, spans[1].to);
  EXPECT_EQ(calls[0].params, phases[1][1].params);
  EXPECT_EQ(calls[0].span.from, spans[1].from);
  EXPECT_EQ(calls[0].span.to, spans[1].to);
  ASSERT_TRUE(s.folds[0].stats);
  EXPECT_EQ(s.folds[0].stats->sharpe, 1);

  EXPECT_EQ(s.folds[1].trial, 0u);
  EXPECT_EQ(s.folds[1].in_sample.from, spans[1].from);
  EXPECT_EQ(calls[1].params, phases[2][0].params);
  EXPECT_EQ(calls[1].span.from, spans[2].from);
  EXPECT_EQ(calls[1].span.to, spans[2].to);

  EXPECT_FALSE(s.folds[2].trial);
  EXPECT_FALSE(s.folds[2].stats);
  EXPECT_FALSE(s.folds[2].error.empty());
  EXPECT_EQ(s.folds[2].out_of_sample.to, period.to);

  ASSERT_TRUE(s.stitched);
  EXPECT_EQ(s.stitched->returns.size(), 2u);

  // Anchored: every in-sample span starts at the period's start.
  plan.walk_forward->anchored = true;
  calls.clear();
  const Summary a = Summarize(plan, period, phases, 1'000, run);
  EXPECT_EQ(a.folds[1].in_sample.from, period.from);
  EXPECT_EQ(a.folds[1].in_sample.to, spans[1].to);
}

TEST(Summarize, AFoldThatFailsOutOfSampleSaysWhy) {
  PlanSpec plan;
  plan.walk_forward = WalkForward{1, false};
  const Span period{FromMicros(0), FromMicros(2 * 86'400'000'000LL)};
  const std::vector<std::vector<TrialResult>> phases = {{Ok(0, 1)}, {Ok(0, 1)}};
  const FoldRunner run = [](const strategies::Params&, Span) {
    TrialOutcome out;
    out.error = MakeError(ErrorCode::kRange, "no bars in the requested period");
    return out;
  };
  const Summary s = Summarize(plan, period, phases, 1'000, run);
  ASSERT_EQ(s.folds.size(), 1u);
  EXPECT_EQ(s.folds[0].trial, 0u);
  EXPECT_FALSE(s.folds[0].stats);
  EXPECT_EQ(s.folds[0].error, "no bars in the requested period");
  ASSERT_TRUE(s.stitched);
  EXPECT_TRUE(s.stitched->returns.empty());
  EXPECT_EQ(s.stitched->total_return, 0);
}

TEST(Summarize, TheStitchedCurveCompoundsTheFoldsReturnsFromTheStartingCash) {
  PlanSpec plan;
  plan.walk_forward = WalkForward{2, false};
  const Span period{FromMicros(0), FromMicros(3 * 86'400'000'000LL)};
  const std::vector<std::vector<TrialResult>> phases = {{Ok(0, 1)}, {Ok(0, 1)}, {Ok(0, 1)}};
  const std::vector<std::vector<DailyReturn>> oos = {{{kDay0, 0.1}, {kDay0 + 1, -0.5}},
                                                     {{kDay0 + 1, 0.2}, {kDay0 + 2, 0.25}}};
  size_t fold = 0;
  const FoldRunner run = [&](const strategies::Params&, Span) {
    TrialOutcome out;
    out.stats = engine::Stats{};
    out.returns = oos[fold++];
    return out;
  };
  const Summary s = Summarize(plan, period, phases, 1'000, run);
  ASSERT_TRUE(s.stitched);
  const Stitched& st = *s.stitched;
  ASSERT_EQ(st.returns.size(), 4u);
  EXPECT_EQ(st.returns[1].day, kDay0 + 1);
  EXPECT_EQ(st.returns[2].day, kDay0 + 1);  // concatenated as they come, a shared day included
  const std::vector<double> want = {1'000 * 1.1, 1'000 * 1.1 * 0.5, 1'000 * 1.1 * 0.5 * 1.2,
                                    1'000 * 1.1 * 0.5 * 1.2 * 1.25};
  ASSERT_EQ(st.equity.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_DOUBLE_EQ(st.equity[i], want[i]) << i;
  EXPECT_DOUBLE_EQ(st.total_return, 0.825 - 1);
  EXPECT_DOUBLE_EQ(st.max_drawdown, 0.5);  // from 1100 down to 550
  const double rets[] = {0.1, -0.5, 0.2, 0.25};
  double mean = 0;
  for (double r : rets) mean += r / 4;
  double ss = 0;
  for (double r : rets) ss += (r - mean) * (r - mean);
  EXPECT_NEAR(st.sharpe, mean / std::sqrt(ss / 3), 1e-12);

  // A first day's loss is a drawdown from the starting cash.
  fold = 0;
  const std::vector<std::vector<DailyReturn>> down = {{{kDay0, -0.2}}, {{kDay0 + 1, 0.1}}};
  const FoldRunner run_down = [&](const strategies::Params&, Span) {
    TrialOutcome out;
    out.stats = engine::Stats{};
    out.returns = down[fold++];
    return out;
  };
  EXPECT_DOUBLE_EQ(Summarize(plan, period, phases, 1'000, run_down).stitched->max_drawdown, 0.2);
}

json::object WriteSummary(const PlanSpec& plan, const Summary& s,
                          const std::vector<TrialResult>& phase0) {
  JsonWriter w;
  w.BeginObject();
  WriteSummaryFields(w, plan, s, phase0);
  w.EndObject();
  return json::parse(w.str()).as_object();
}

TEST(WriteSummaryFields, WritesTheBestDsrPboFoldsAndStitched) {
  PlanSpec plan;
  plan.walk_forward = WalkForward{1, false};
  plan.objective = Objective::kTotalReturn;
  const Span period{FromMicros(1'704'153'600'000'000), FromMicros(1'704'153'600'000'000 + 7)};
  const std::vector<std::vector<TrialResult>> phases = {{Ok(0, 1), Failed(1), Ok(2, 2)},
                                                        {Ok(0, 1), Failed(1), Ok(2, 0.5)}};
  const FoldRunner run = [&](const strategies::Params&, Span) {
    TrialOutcome out;
    engine::Stats s;
    s.sharpe = 0.25;
    out.stats = s;
    out.returns = {{kDay0, 0.5}};
    return out;
  };
  const Summary s = Summarize(plan, period, phases, 1'000, run);
  const json::object o = WriteSummary(plan, s, phases[0]);
  EXPECT_EQ(o.at("valid_trials").as_int64(), 2);
  EXPECT_EQ(o.at("failed_trials").as_int64(), 1);
  const json::object& best = o.at("best").as_object();
  EXPECT_EQ(best.at("index").as_int64(), 2);
  EXPECT_EQ(best.at("params").as_object().at("fast").as_int64(), 7);
  EXPECT_DOUBLE_EQ(best.at("objective").as_double(), 0.2);
  EXPECT_DOUBLE_EQ(best.at("stats").as_object().at("sharpe").to_number<double>(), 2);
  EXPECT_TRUE(best.at("stats").as_object().contains("max_drawdown_duration_s"));

  const json::object& dsr = o.at("dsr").as_object();
  for (const char* key :
       {"value", "sr", "sr0", "variance", "skewness", "kurtosis", "trials", "days"}) {
    EXPECT_TRUE(dsr.contains(key)) << key;
  }
  EXPECT_EQ(dsr.at("trials").as_int64(), 2);
  const json::object& pbo = o.at("pbo").as_object();
  for (const char* key : {"value", "blocks", "combinations", "rows_dropped", "trials", "days"}) {
    EXPECT_TRUE(pbo.contains(key)) << key;
  }
  const json::object& hist = pbo.at("logit_histogram").as_object();
  EXPECT_EQ(hist.at("from").as_int64(), -5);
  EXPECT_DOUBLE_EQ(hist.at("width").as_double(), 0.5);
  EXPECT_EQ(hist.at("counts").as_array().size(), 20u);

  const json::array& folds = o.at("folds").as_array();
  ASSERT_EQ(folds.size(), 1u);
  const json::object& f = folds[0].as_object();
  EXPECT_EQ(f.at("fold").as_int64(), 1);
  EXPECT_EQ(f.at("trial").as_int64(), 0);  // in sample: 0.1 beats 0.05
  EXPECT_EQ(f.at("params").as_object().at("fast").as_int64(), 5);
  EXPECT_DOUBLE_EQ(f.at("in_sample_objective").as_double(), 0.1);
  EXPECT_EQ(f.at("in_sample").as_object().at("from").as_string(), "2024-01-02T00:00:00Z");
  EXPECT_EQ(f.at("in_sample").as_object().at("to").as_string(), "2024-01-02T00:00:00.000003Z");
  EXPECT_EQ(f.at("out_of_sample").as_object().at("from").as_string(),
            "2024-01-02T00:00:00.000003Z");
  EXPECT_EQ(f.at("out_of_sample").as_object().at("to").as_string(), "2024-01-02T00:00:00.000007Z");
  EXPECT_DOUBLE_EQ(f.at("stats").as_object().at("sharpe").as_double(), 0.25);
  EXPECT_FALSE(f.contains("error"));

  const json::object& st = o.at("stitched").as_object();
  EXPECT_EQ(st.at("days").as_int64(), 1);
  EXPECT_DOUBLE_EQ(st.at("total_return").as_double(), 0.5);
  const json::array& eq = st.at("equity").as_array();
  ASSERT_EQ(eq.size(), 1u);
  EXPECT_EQ(eq[0].as_object().at("day").as_string(), "2024-01-02");
  EXPECT_DOUBLE_EQ(eq[0].as_object().at("equity").to_number<double>(), 1'500);
}

TEST(WriteSummaryFields, WithoutWalkForwardNoFoldsAndNoBestWhenAllFailed) {
  const std::vector<TrialResult> phase0 = {Failed(0)};
  const Summary s =
      Summarize(PlanSpec{}, {FromMicros(0), FromMicros(10)}, {phase0}, 1'000, nullptr);
  const json::object o = WriteSummary(PlanSpec{}, s, phase0);
  EXPECT_TRUE(o.at("best").is_null());
  EXPECT_EQ(o.at("valid_trials").as_int64(), 0);
  EXPECT_EQ(o.at("failed_trials").as_int64(), 1);
  EXPECT_FALSE(o.contains("folds"));
  EXPECT_FALSE(o.contains("stitched"));
  EXPECT_TRUE(o.at("dsr").as_object().at("value").is_null());
  EXPECT_TRUE(o.at("pbo").as_object().at("value").is_null());
}

TEST(WriteSummaryFields, TheLogitHistogramClampsToItsEndBins) {
  Summary s;
  s.pbo.logits = {-10, -5, -4.75, -0.0001, 0, 0.49, 4.99, 5, 100};
  const json::object o = WriteSummary(PlanSpec{}, s, {});
  const json::array& counts =
      o.at("pbo").as_object().at("logit_histogram").as_object().at("counts").as_array();
  std::vector<int64_t> got;
  for (const auto& c : counts) got.push_back(c.as_int64());
  std::vector<int64_t> want(20, 0);
  want[0] = 3;   // -10, -5, -4.75
  want[9] = 1;   // -0.0001
  want[10] = 2;  // 0, 0.49
  want[19] = 3;  // 4.99, 5, 100
  EXPECT_EQ(got, want);
}

TEST(WriteParams, IsAnObjectOfNumbers) {
  JsonWriter w;
  WriteParams(w, {{"slow", 30}, {"fast", 10}, {"k", 0.5}});
  EXPECT_EQ(w.str(), R"({"fast":10,"k":0.5,"slow":30})");
}

}  // namespace
}  // namespace tapedeck::sweep
