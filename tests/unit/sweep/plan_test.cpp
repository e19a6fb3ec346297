// A sweep's plan: objectives, trial counts, grid order, the pinned random draw, validation, the
// period and walk-forward spans, and the plan's JSON.
#include "sweep/plan.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace tapedeck::sweep {
namespace {

using strategies::Params;
using strategies::ParamSpec;

const std::vector<ParamSpec> kSpecs = {
    {"fast", ParamSpec::Kind::kInt, 10, 1, 1000, ""},
    {"slow", ParamSpec::Kind::kInt, 30, 2, 1000, ""},
    {"k", ParamSpec::Kind::kNumber, 2, 0, 10, ""},
};
constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();

Axis Range(std::string name, double from, double to, double step) {
  Axis a;
  a.name = std::move(name);
  a.kind = Axis::Kind::kRange;
  a.from = from;
  a.to = to;
  a.step = step;
  return a;
}

Axis List(std::string name, std::vector<double> values) {
  Axis a;
  a.name = std::move(name);
  a.kind = Axis::Kind::kList;
  a.values = std::move(values);
  return a;
}

Axis Fixed(std::string name, double value) {
  Axis a;
  a.name = std::move(name);
  a.kind = Axis::Kind::kFixed;
  a.values = {value};
  return a;
}

PlanSpec Grid(std::vector<Axis> axes) {
  PlanSpec p;
  p.axes = std::move(axes);
  return p;
}

PlanSpec Random(std::vector<Axis> axes, size_t trials, uint64_t seed) {
  PlanSpec p;
  p.axes = std::move(axes);
  p.method = Method::kRandom;
  p.random_trials = trials;
  p.seed = seed;
  return p;
}

void ExpectField(const Result<std::vector<Params>>& r, const std::string& field) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kValidation);
  EXPECT_EQ(r.error().details.at("field"), field) << r.error().msg;
}

bool SameBits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

TEST(Objective, NamesRoundTripAndPickTheStatistic) {
  engine::Stats s;
  s.sharpe = 1;
  s.total_return = 2;
  s.cagr = 3;
  s.sortino = 4;
  s.calmar = 5;
  s.profit_factor = 6;
  const std::pair<Objective, double> cases[] = {
      {Objective::kSharpe, 1},  {Objective::kTotalReturn, 2}, {Objective::kCagr, 3},
      {Objective::kSortino, 4}, {Objective::kCalmar, 5},      {Objective::kProfitFactor, 6}};
  for (const auto& [o, v] : cases) {
    EXPECT_EQ(ParseObjective(ToString(o)), o);
    EXPECT_EQ(ObjectiveValue(s, o), v);
  }
  EXPECT_EQ(ToString(Objective::kTotalReturn), "total_return");
  EXPECT_EQ(ParseObjective("Sharpe"), std::nullopt);
  EXPECT_EQ(ToString(Method::kGrid), "grid");
  EXPECT_EQ(ToString(Method::kRandom), "random");
}

TEST(MakeTrials, GridIsTheCartesianProductWithTheLastAxisFastest) {
  const PlanSpec plan = Grid({Range("fast", 5, 15, 5), List("slow", {30, 20}), Fixed("k", 1.5)});
  EXPECT_EQ(TrialCount(plan), 6u);
  auto trials = MakeTrials(plan, kSpecs, kNoLimit);
  ASSERT_TRUE(trials.ok()) << trials.error().ToString();
  const std::vector<Params> want = {
      {{"fast", 5}, {"slow", 30}, {"k", 1.5}},  {{"fast", 5}, {"slow", 20}, {"k", 1.5}},
      {{"fast", 10}, {"slow", 30}, {"k", 1.5}}, {{"fast", 10}, {"slow", 20}, {"k", 1.5}},
      {{"fast", 15}, {"slow", 30}, {"k", 1.5}}, {{"fast", 15}, {"slow", 20}, {"k", 1.5}},
  };
  EXPECT_EQ(*trials, want);
}

TEST(MakeTrials, ParametersNotNamedAreLeftToTheirDefaults) {
  auto trials = MakeTrials(Grid({List("slow", {40})}), kSpecs, kNoLimit);
  ASSERT_TRUE(trials.ok());
  EXPECT_EQ(*trials, (std::vector<Params>{{{"slow", 40}}}));
  auto none = MakeTrials(Grid({}), kSpecs, kNoLimit);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, std::vector<Params>(1));  // one trial, every parameter at its default
}

TEST(MakeTrials, ARangeEndsAtToWithinRounding) {
  // 0 + 3 · 0.1 is 0.30000000000000004: within 1e-9 · step of `to`, so it counts, as `to`.
  auto trials = MakeTrials(Grid({Range("k", 0, 0.3, 0.1)}), kSpecs, kNoLimit);
  ASSERT_TRUE(trials.ok());
  ASSERT_EQ(trials->size(), 4u);
  EXPECT_EQ((*trials)[1].at("k"), 0.1);
  EXPECT_EQ((*trials)[2].at("k"), 0.2);
  EXPECT_EQ((*trials)[3].at("k"), 0.3);
  // Each value is from + i · step, not a running sum.
  auto fine = MakeTrials(Grid({Range("k", 1, 2, 0.01)}), kSpecs, kNoLimit);
  ASSERT_TRUE(fine.ok());
  ASSERT_EQ(fine->size(), 101u);
  EXPECT_EQ((*fine)[37].at("k"), 1 + 37 * 0.01);
  EXPECT_EQ((*fine)[100].at("k"), 2);
  // A `to` between steps is not reached.
  EXPECT_EQ(TrialCount(Grid({Range("fast", 5, 19, 5)})), 3u);
}

TEST(TrialCount, SaturatesAndCountsRandomTrials) {
  const PlanSpec huge = Grid({Range("fast", 1, 1e6, 1), Range("slow", 1, 1e6, 1),
                              Range("k", 0, 10, 1e-9), Range("k", 0, 10, 1e-9)});
  EXPECT_EQ(TrialCount(huge), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(TrialCount(Grid({List("fast", {})})), 0u);
  EXPECT_EQ(TrialCount(Random({Range("fast", 1, 1e6, 1)}, 77, 1)), 77u);
}

TEST(MakeTrials, OverTheLimitIsRefusedNamingParamsOrTrials) {
  const PlanSpec grid = Grid({Range("fast", 1, 100, 1), Range("slow", 2, 101, 1)});
  auto r = MakeTrials(grid, kSpecs, 9'999);
  ExpectField(r, "params");
  EXPECT_EQ(r.error().details.at("trials"), "10000");
  EXPECT_EQ(r.error().details.at("limit"), "9999");
  EXPECT_TRUE(MakeTrials(grid, kSpecs, 10'000).ok());

  auto random = MakeTrials(Random({Range("fast", 1, 1000, 1)}, 600, 1), kSpecs, 500);
  ExpectField(random, "trials");
  EXPECT_EQ(random.error().details.at("limit"), "500");
}

TEST(MakeTrials, BadAxesNameTheirParameter) {
  ExpectField(MakeTrials(Grid({List("x", {1})}), kSpecs, kNoLimit), "params.x");
  ExpectField(MakeTrials(Grid({Range("fast", 10, 5, 1)}), kSpecs, kNoLimit), "params.fast");
  ExpectField(MakeTrials(Grid({Range("fast", 5, 10, 0)}), kSpecs, kNoLimit), "params.fast");
  ExpectField(MakeTrials(Grid({Range("fast", 5, 10, -1)}), kSpecs, kNoLimit), "params.fast");
  ExpectField(MakeTrials(Random({Range("fast", 5, 10, -1)}, 2, 1), kSpecs, kNoLimit),
              "params.fast");
  ExpectField(MakeTrials(Grid({List("slow", {})}), kSpecs, kNoLimit), "params.slow");
  ExpectField(MakeTrials(Grid({List("slow", {20, 25.5})}), kSpecs, kNoLimit), "params.slow");
  ExpectField(MakeTrials(Grid({Fixed("fast", 2.5)}), kSpecs, kNoLimit), "params.fast");
  ExpectField(MakeTrials(Grid({Range("fast", 1, 5, 0.5)}), kSpecs, kNoLimit), "params.fast");
  ExpectField(MakeTrials(Grid({Range("fast", 0, 5, 1)}), kSpecs, kNoLimit), "params.fast");
  ExpectField(MakeTrials(Grid({Range("fast", 900, 1100, 100)}), kSpecs, kNoLimit), "params.fast");
  ExpectField(MakeTrials(Grid({List("k", {11})}), kSpecs, kNoLimit), "params.k");
  ExpectField(MakeTrials(Random({Range("k", -1, 5, 0)}, 3, 1), kSpecs, kNoLimit), "params.k");
  ExpectField(MakeTrials(Random({Range("fast", 5.2, 5.8, 0)}, 1, 1), kSpecs, kNoLimit),
              "params.fast");
  ExpectField(MakeTrials(Grid({Fixed("fast", 5), Fixed("fast", 6)}), kSpecs, kNoLimit),
              "params.fast");
  auto unknown = MakeTrials(Grid({List("x", {1})}), kSpecs, kNoLimit);
  EXPECT_EQ(unknown.error().msg, "unknown parameter 'x' (parameters: fast, slow, k)");
  // The strategy's cross rules (sma_cross fast < slow) are not the plan's: such a trial is made,
  // and fails when run.
  auto crossed = MakeTrials(Grid({Fixed("fast", 50), Fixed("slow", 20)}), kSpecs, kNoLimit);
  EXPECT_TRUE(crossed.ok());
}

TEST(MakeTrials, RandomIsDeterministicDistinctAndInsideTheAxes) {
  const std::vector<Axis> axes = {Range("fast", 2, 40, 2), List("slow", {50, 100, 200}),
                                  Range("k", 0.5, 1.5, 0)};
  auto a = MakeTrials(Random(axes, 200, 7), kSpecs, kNoLimit);
  auto b = MakeTrials(Random(axes, 200, 7), kSpecs, kNoLimit);
  auto c = MakeTrials(Random(axes, 200, 8), kSpecs, kNoLimit);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, *c);
  ASSERT_EQ(a->size(), 200u);
  std::set<Params> distinct(a->begin(), a->end());
  EXPECT_EQ(distinct.size(), 200u);
  for (const Params& p : *a) {
    const double fast = p.at("fast"), slow = p.at("slow"), k = p.at("k");
    EXPECT_TRUE(fast >= 2 && fast <= 40 && std::fmod(fast, 2) == 0) << fast;
    EXPECT_TRUE(slow == 50 || slow == 100 || slow == 200) << slow;
    EXPECT_TRUE(k >= 0.5 && k <= 1.5) << k;
  }
}

TEST(MakeTrials, RandomTakesEveryPointOfASmallGridOnceAndNoMore) {
  const std::vector<Axis> axes = {Range("fast", 1, 4, 1), Range("slow", 10, 12, 0)};
  auto all = MakeTrials(Random(axes, 12, 3), kSpecs, kNoLimit);
  ASSERT_TRUE(all.ok()) << all.error().ToString();
  std::set<Params> distinct(all->begin(), all->end());
  EXPECT_EQ(distinct.size(), 12u);
  for (const Params& p : *all) EXPECT_EQ(p.at("slow"), std::floor(p.at("slow")));
  auto more = MakeTrials(Random(axes, 13, 3), kSpecs, kNoLimit);
  ExpectField(more, "trials");
  ExpectField(MakeTrials(Random(axes, 0, 3), kSpecs, kNoLimit), "trials");
}

// The draw as docs/sweeps.md states it, written out here apart from plan.cpp.
TEST(MakeTrials, RandomFollowsThePinnedSplitMix64Draw) {
  uint64_t state = 42;
  auto next = [&state] {
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  };
  auto u = [&] { return static_cast<double>(next() >> 11) / 9007199254740992.0; };
  std::vector<Params> want;
  std::set<Params> seen;
  while (want.size() < 5) {
    Params p;
    p["fast"] = 5 + 5 * std::floor(u() * 10);  // 5..50 step 5: 10 values
    (void)u();                                 // the fixed axis takes its draw too
    p["k"] = 0.25 + u() * (4 - 0.25);
    p["slow"] = 60 + std::floor(u() * 41);  // integers 60..100
    if (seen.insert(p).second) want.push_back(p);
  }
  const PlanSpec plan = Random({Range("fast", 5, 50, 5), Fixed("fixed_k", 1),
                                Range("k", 0.25, 4, 0), Range("slow", 60, 100, 0)},
                               5, 42);
  std::vector<ParamSpec> specs = kSpecs;
  specs.push_back({"fixed_k", ParamSpec::Kind::kNumber, 1, 0, 2, ""});
  auto trials = MakeTrials(plan, specs, kNoLimit);
  ASSERT_TRUE(trials.ok()) << trials.error().ToString();
  ASSERT_EQ(trials->size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ((*trials)[i].at("fast"), want[i].at("fast")) << i;
    EXPECT_TRUE(SameBits((*trials)[i].at("k"), want[i].at("k"))) << i;
    EXPECT_EQ((*trials)[i].at("slow"), want[i].at("slow")) << i;
    EXPECT_EQ((*trials)[i].at("fixed_k"), 1);
  }
}

market::Series Bars(std::string symbol, std::vector<int64_t> micros) {
  std::vector<market::Bar> bars;
  for (int64_t us : micros) bars.push_back({FromMicros(us), 1, 1, 1, 1, 1});
  return market::Series::FromBars(std::move(symbol), bars);
}

TEST(Period, IsTheRequestOrTheBarsFirstToLastPlusOneMicrosecond) {
  const std::vector<market::Series> in = {Bars("A", {100, 200, 300}), Bars("B", {50, 250, 400})};
  Span p = Period(in, std::nullopt, std::nullopt);
  EXPECT_EQ(ToMicros(p.from), 50);
  EXPECT_EQ(ToMicros(p.to), 401);
  p = Period(in, FromMicros(120), std::nullopt);
  EXPECT_EQ(ToMicros(p.from), 120);
  EXPECT_EQ(ToMicros(p.to), 401);
  p = Period(in, std::nullopt, FromMicros(260));
  EXPECT_EQ(ToMicros(p.from), 50);
  EXPECT_EQ(ToMicros(p.to), 260);
}

TEST(WalkForwardSpans, CutThePeriodIntoEqualSpansThatAddUpExactly) {
  const Span period{FromMicros(1'000), FromMicros(1'010)};
  const std::vector<Span> spans = WalkForwardSpans(period, 3);
  ASSERT_EQ(spans.size(), 4u);
  const int64_t want[] = {1'000, 1'002, 1'005, 1'007, 1'010};  // floor(10·j/4)
  for (size_t j = 0; j < 4; ++j) {
    EXPECT_EQ(ToMicros(spans[j].from), want[j]);
    EXPECT_EQ(ToMicros(spans[j].to), want[j + 1]);
  }
  // No overflow: d · j exceeds 64 bits here.
  const Span wide{FromMicros(std::numeric_limits<int64_t>::min() / 2),
                  FromMicros(std::numeric_limits<int64_t>::max() / 2)};
  for (size_t folds : {1, 5, 7, 20}) {
    const std::vector<Span> s = WalkForwardSpans(wide, folds);
    ASSERT_EQ(s.size(), folds + 1);
    EXPECT_EQ(s.front().from, wide.from);
    EXPECT_EQ(s.back().to, wide.to);
    for (size_t j = 1; j < s.size(); ++j) {
      EXPECT_EQ(s[j].from, s[j - 1].to);
      EXPECT_LT(s[j].from, s[j].to);
    }
  }
}

TEST(PhaseSpan, RollingUsesTheSpanBeforeAnchoredEverythingBefore) {
  PlanSpec plan;
  const Span period{FromMicros(0), FromMicros(400)};
  EXPECT_EQ(PhaseCount(plan), 1u);
  EXPECT_EQ(PhaseSpan(plan, period, 0).to, period.to);
  plan.walk_forward = WalkForward{3, false};
  EXPECT_EQ(PhaseCount(plan), 4u);
  EXPECT_EQ(ToMicros(PhaseSpan(plan, period, 0).from), 0);
  EXPECT_EQ(ToMicros(PhaseSpan(plan, period, 0).to), 400);
  for (size_t k = 1; k <= 3; ++k) {
    const Span s = PhaseSpan(plan, period, k);
    EXPECT_EQ(ToMicros(s.from), 100 * static_cast<int64_t>(k - 1));
    EXPECT_EQ(ToMicros(s.to), 100 * static_cast<int64_t>(k));
  }
  plan.walk_forward->anchored = true;
  for (size_t k = 1; k <= 3; ++k) {
    const Span s = PhaseSpan(plan, period, k);
    EXPECT_EQ(ToMicros(s.from), 0);
    EXPECT_EQ(ToMicros(s.to), 100 * static_cast<int64_t>(k));
  }
}

std::string PlanJson(const PlanSpec& plan) {
  JsonWriter w;
  w.BeginObject();
  WritePlanFields(w, plan);
  w.EndObject();
  return w.Take();
}

TEST(PlanJson, RoundTripsExactlyKeepingTheAxesOrder) {
  PlanSpec plan = Random({Range("slow", 20, 100, 10),
                          List("k", {0.1, 1.0 / 3, 97.57019231092363, 1.3927926388013963e-143}),
                          Fixed("fast", 7), Range("k2", 0.25, 1.7161392603081718e+277, 0)},
                         123, 0x8000000000000005ULL);
  plan.objective = Objective::kCalmar;
  plan.walk_forward = WalkForward{4, true};
  plan.pbo_blocks = 8;
  const std::string text = PlanJson(plan);
  EXPECT_EQ(text,
            R"({"params":{"slow":{"from":20,"to":100,"step":10},)"
            R"("k":[0.1,0.3333333333333333,97.57019231092363,1.3927926388013963e-143],"fast":7,)"
            R"("k2":{"from":0.25,"to":1.7161392603081718e+277,"step":0}},"method":"random",)"
            R"("trials":123,"seed":9223372036854775813,"objective":"calmar",)"
            R"("walk_forward":{"folds":4,"anchored":true},"pbo_blocks":8})");
  auto back = ParsePlanJson(text);
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(PlanJson(*back), text);
  ASSERT_EQ(back->axes.size(), 4u);
  EXPECT_EQ(back->axes[0].name, "slow");
  EXPECT_EQ(back->axes[1].kind, Axis::Kind::kList);
  EXPECT_TRUE(SameBits(back->axes[1].values[2], 97.57019231092363));
  EXPECT_TRUE(SameBits(back->axes[1].values[3], 1.3927926388013963e-143));
  EXPECT_EQ(back->axes[2].kind, Axis::Kind::kFixed);
  EXPECT_EQ(back->seed, 0x8000000000000005ULL);
  EXPECT_EQ(back->random_trials, 123u);
  EXPECT_EQ(back->objective, Objective::kCalmar);
  EXPECT_TRUE(back->walk_forward && back->walk_forward->folds == 4 && back->walk_forward->anchored);
  EXPECT_EQ(back->pbo_blocks, 8u);

  const PlanSpec grid = Grid({Range("fast", 5, 50, 5), List("slow", {20, 30})});
  const std::string grid_text = PlanJson(grid);
  EXPECT_EQ(grid_text,
            R"({"params":{"fast":{"from":5,"to":50,"step":5},"slow":[20,30]},"method":"grid",)"
            R"("trials":20,"objective":"sharpe","walk_forward":null,"pbo_blocks":16})");
  auto grid_back = ParsePlanJson(grid_text);
  ASSERT_TRUE(grid_back.ok());
  EXPECT_EQ(PlanJson(*grid_back), grid_text);
}

// Boost.JSON 1.81's own number parsing is up to an ulp off for some doubles; a plan's must not be.
TEST(PlanJson, EveryDoubleReadsBackBitForBit) {
  std::mt19937_64 rng(5);
  Axis many = List("k", {});
  while (many.values.size() < 20'000) {
    const uint64_t bits = rng();
    double v;
    std::memcpy(&v, &bits, sizeof v);
    if (std::isfinite(v)) many.values.push_back(v);
    many.values.push_back(std::uniform_real_distribution<double>(-1e3, 1e3)(rng));
  }
  auto back = ParsePlanJson(PlanJson(Grid({many})));
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->axes[0].values.size(), many.values.size());
  size_t differ = 0;
  for (size_t i = 0; i < many.values.size(); ++i) {
    differ += !SameBits(back->axes[0].values[i], many.values[i]);
  }
  EXPECT_EQ(differ, 0u);
}

TEST(PlanJson, DefaultsAndRequestBodies) {
  // A POST /sweeps body: the run's fields are not the plan's and are left alone.
  auto plan = ParsePlanJson(
      R"({"dataset":"d","strategy":"sma_cross","params":{"fast":{"from":5,"to":9}}})");
  ASSERT_TRUE(plan.ok()) << plan.error().ToString();
  EXPECT_EQ(plan->method, Method::kGrid);
  EXPECT_EQ(plan->objective, Objective::kSharpe);
  EXPECT_EQ(plan->pbo_blocks, 16u);
  EXPECT_FALSE(plan->walk_forward);
  ASSERT_EQ(plan->axes.size(), 1u);
  EXPECT_EQ(plan->axes[0].step, 0);  // and MakeTrials refuses it in a grid
  auto random = ParsePlanJson(R"({"method":"random","trials":5})");
  ASSERT_TRUE(random.ok());
  EXPECT_EQ(random->seed, 1u);
  EXPECT_EQ(random->random_trials, 5u);
  auto wf = ParsePlanJson(R"({"walk_forward":{"folds":3}})");
  ASSERT_TRUE(wf.ok());
  EXPECT_FALSE(wf->walk_forward->anchored);
}

TEST(PlanJson, BadFieldsAreValidationNamingThem) {
  const std::pair<const char*, const char*> cases[] = {
      {"[]", "body"},
      {"{", "body"},
      {R"({"params":[1]})", "params"},
      {R"({"params":{"fast":"5"}})", "params.fast"},
      {R"({"params":{"fast":[5,"x"]}})", "params.fast"},
      {R"({"params":{"fast":{"from":5}}})", "params.fast"},
      {R"({"params":{"fast":{"from":5,"to":6,"stop":1}}})", "params.fast"},
      {R"({"method":"genetic"})", "method"},
      {R"({"method":"random"})", "trials"},
      {R"({"method":"random","trials":0})", "trials"},
      {R"({"method":"random","trials":2.5})", "trials"},
      {R"({"method":"random","trials":5,"seed":-1})", "seed"},
      {R"({"objective":"sharp"})", "objective"},
      {R"({"walk_forward":{"folds":0}})", "walk_forward.folds"},
      {R"({"walk_forward":{"folds":21}})", "walk_forward.folds"},
      {R"({"walk_forward":{}})", "walk_forward.folds"},
      {R"({"walk_forward":{"folds":2,"anchored":1}})", "walk_forward.anchored"},
      {R"({"walk_forward":5})", "walk_forward"},
      {R"({"pbo_blocks":7})", "pbo_blocks"},
      {R"({"pbo_blocks":0})", "pbo_blocks"},
      {R"({"pbo_blocks":34})", "pbo_blocks"},
  };
  for (const auto& [body, field] : cases) {
    auto r = ParsePlanJson(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().code, ErrorCode::kValidation) << body;
    EXPECT_EQ(r.error().details.at("field"), field) << body;
  }
}

}  // namespace
}  // namespace tapedeck::sweep
