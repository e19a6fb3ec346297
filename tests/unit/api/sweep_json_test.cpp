// POST /sweeps' body, and a grid's trials made axis by axis (CheckTrials, TrialParams) against
// sweep::MakeTrials making them all.
#include "api/sweep_json.h"

#include <gtest/gtest.h>

namespace tapedeck::api {
namespace {

std::vector<strategies::ParamSpec> Schema() {
  using Kind = strategies::ParamSpec::Kind;
  std::vector<strategies::ParamSpec> specs(3);
  specs[0].name = "a";
  specs[0].kind = Kind::kInt;
  specs[0].default_value = 1;
  specs[0].min = 0;
  specs[0].max = 100;
  specs[1].name = "b";
  specs[1].kind = Kind::kNumber;
  specs[1].default_value = 0.5;
  specs[1].min = 0;
  specs[1].max = 10;
  specs[2].name = "c";
  specs[2].kind = Kind::kNumber;
  specs[2].default_value = 2;
  specs[2].min = -5;
  specs[2].max = 5;
  return specs;
}

sweep::PlanSpec Grid() {
  sweep::PlanSpec plan;
  sweep::Axis a{
      .name = "a", .kind = sweep::Axis::Kind::kRange, .from = 2, .to = 11, .step = 3, .values = {}};
  sweep::Axis b{.name = "b",
                .kind = sweep::Axis::Kind::kRange,
                .from = 0.1,
                .to = 0.7,
                .step = 0.2,
                .values = {}};
  sweep::Axis c{.name = "c", .kind = sweep::Axis::Kind::kList, .values = {3, -1, 0.25}};
  plan.axes = {a, b, c};
  return plan;
}

TEST(SweepJsonTest, AGridTrialMadeFromItsAxesIsMakeTrialsOwn) {
  const sweep::PlanSpec plan = Grid();
  auto all = sweep::MakeTrials(plan, Schema(), 1000);
  ASSERT_TRUE(all.ok()) << all.error().ToString();
  ASSERT_EQ(all->size(), 4u * 4u * 3u);
  for (size_t k = 0; k < all->size(); ++k) {
    auto one = TrialParams(plan, Schema(), k);
    ASSERT_TRUE(one.ok());
    EXPECT_EQ(*one, (*all)[k]) << k;  // to the bit
  }
  auto past = TrialParams(plan, Schema(), all->size());
  ASSERT_FALSE(past.ok());
  EXPECT_EQ(past.error().code, ErrorCode::kNotFound);
}

TEST(SweepJsonTest, AGridCheckedByAxisFailsAsMakeTrialsDoes) {
  std::vector<sweep::PlanSpec> bad(3, Grid());
  bad[0].axes[1].to = 20;      // off b's max
  bad[1].axes[0].step = 0.5;   // a is an integer
  bad[2].axes[2].name = "zz";  // unknown
  for (const sweep::PlanSpec& plan : bad) {
    auto all = sweep::MakeTrials(plan, Schema(), 1000);
    const Status checked = CheckTrials(plan, Schema(), 1000);
    ASSERT_EQ(all.ok(), checked.ok());
    if (!all.ok()) {
      EXPECT_EQ(checked.error().code, all.error().code);
      EXPECT_EQ(checked.error().details.at("field"), all.error().details.at("field"));
    }
  }
  EXPECT_TRUE(CheckTrials(Grid(), Schema(), 1000).ok());
}

TEST(SweepJsonTest, ARequestBecomesAPlanAndItsCounts) {
  auto request = ParseSweepRequest(
      R"({"dataset":"d","strategy":"sma_cross","params":{"fast":{"from":5,"to":50,"step":5},)"
      R"("slow":[20,30,50,100]},"objective":"calmar","walk_forward":{"folds":3,"anchored":true},)"
      R"("pbo_blocks":8,"cash":5000})",
      {}, 100'000);
  ASSERT_TRUE(request.ok()) << request.error().ToString();
  EXPECT_EQ(request->spec.trials, 40u);
  EXPECT_EQ(request->spec.tasks, 160u);
  EXPECT_EQ(request->plan.objective, sweep::Objective::kCalmar);
  ASSERT_TRUE(request->plan.walk_forward);
  EXPECT_TRUE(request->plan.walk_forward->anchored);
  EXPECT_EQ(request->plan.pbo_blocks, 8u);
  EXPECT_EQ(request->spec.base.config.cash, 5000);
  EXPECT_EQ(request->spec.base.params_json, "{}");
  auto back = sweep::ParsePlanJson(request->spec.plan_json);
  ASSERT_TRUE(back.ok()) << request->spec.plan_json;
  EXPECT_EQ(sweep::TrialCount(*back), 40u);
}

TEST(SweepJsonTest, APboTooCostlyToComputeIsRefusedNamingPboBlocks) {
  // S = 20 is 184,756 choices: 10,800 trials fit in 2·10⁹ trial-choices, 11,000 do not.
  const std::string fits =
      R"({"dataset":"d","strategy":"sma_cross","params":{"fast":{"from":1,"to":100,"step":1},)"
      R"("slow":{"from":101,"to":208,"step":1}})";  // 10,800 trials
  EXPECT_TRUE(ParseSweepRequest(fits + R"(,"pbo_blocks":20})", {}, 100'000).ok());
  const std::string over =
      R"({"dataset":"d","strategy":"sma_cross","params":{"fast":{"from":1,"to":100,"step":1},)"
      R"("slow":{"from":101,"to":210,"step":1}})";  // 11,000 trials
  EXPECT_TRUE(ParseSweepRequest(over + "}", {}, 100'000).ok());  // S = 16: 141.6 M
  auto refused = ParseSweepRequest(over + R"(,"pbo_blocks":20})", {}, 100'000);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kValidation);
  EXPECT_EQ(refused.error().details.at("field"), "pbo_blocks");
  EXPECT_EQ(refused.error().details.at("combinations"), "184756");
  EXPECT_EQ(refused.error().details.at("trials"), "11000");
  // Over 20 blocks is refused as a range.
  auto big = ParseSweepRequest(fits + R"(,"pbo_blocks":22})", {}, 100'000);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().details.at("field"), "pbo_blocks");
  // The default S allows the default trial limit.
  EXPECT_TRUE(ParseSweepRequest(
                  R"({"dataset":"d","strategy":"sma_cross","params":{"fast":{"from":1,"to":1000,)"
                  R"("step":1},"slow":{"from":1001,"to":1100,"step":1}}})",
                  {}, 100'000)
                  .ok());
}

TEST(SweepJsonTest, UnknownFieldsAndBadAxesNameTheirField) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"dataset":"d","strategy":"sma_cross","bogus":1})", "bogus"},
      {R"({"dataset":"d","strategy":"sma_cross","params":{"fast":[]}})", "params.fast"},
      {R"({"dataset":"d","strategy":"sma_cross","params":{"fast":{"from":1}}})", "params.fast"},
      {R"({"dataset":"d","strategy":"sma_cross","params":{"fast":{"from":1,"to":9,"by":1}}})",
       "params.fast"},
      {R"({"dataset":"d","strategy":"sma_cross","method":"genetic"})", "method"},
      {R"({"dataset":"d","strategy":"sma_cross","walk_forward":{"folds":2,"x":1}})",
       "walk_forward.x"},
      {R"({"dataset":"d","strategy":"sma_cross","walk_forward":{"anchored":true}})",
       "walk_forward.folds"},
      {R"({"dataset":"d","strategy":"sma_cross","pbo_blocks":34})", "pbo_blocks"},
      {R"({"dataset":"d","strategy":"nope"})", "strategy"},
  };
  for (const auto& [body, field] : cases) {
    auto request = ParseSweepRequest(body, {}, 100'000);
    ASSERT_FALSE(request.ok()) << body;
    EXPECT_EQ(request.error().code, ErrorCode::kValidation) << body;
    EXPECT_EQ(request.error().details.at("field"), field) << body;
  }
}

}  // namespace
}  // namespace tapedeck::api
