#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "strategies/strategies.h"

namespace tapedeck::strategies {
namespace {

using ::testing::HasSubstr;

void ExpectValidation(const Result<std::unique_ptr<engine::Strategy>>& r, const std::string& param,
                      const std::string& msg_part) {
  ASSERT_FALSE(r.ok()) << "expected VALIDATION on " << param;
  EXPECT_EQ(r.error().code, ErrorCode::kValidation) << r.error().ToString();
  EXPECT_EQ(r.error().details.at("param"), param) << r.error().ToString();
  EXPECT_THAT(r.error().msg, HasSubstr(msg_part));
}

TEST(RegistryTest, ListsTheSevenBuiltInsSortedByName) {
  std::vector<std::string> names;
  for (const StrategyInfo& info : List()) names.push_back(info.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"bollinger_breakout", "buy_and_hold", "donchian_breakout",
                                      "ema_cross", "macd", "rsi_reversion", "sma_cross"}));
}

TEST(RegistryTest, SchemasAreConsistentAndDefaultsBuild) {
  for (const StrategyInfo& info : List()) {
    EXPECT_FALSE(info.description.empty()) << info.name;
    for (const ParamSpec& p : info.params) {
      EXPECT_LE(p.min, p.default_value) << info.name << "." << p.name;
      EXPECT_LE(p.default_value, p.max) << info.name << "." << p.name;
      EXPECT_FALSE(p.description.empty()) << info.name << "." << p.name;
      if (p.kind == ParamSpec::Kind::kInt) {
        EXPECT_EQ(p.default_value, std::floor(p.default_value)) << info.name << "." << p.name;
      }
    }
    auto made = Make(info.name, {});
    ASSERT_TRUE(made.ok()) << info.name << ": " << made.error().ToString();
    EXPECT_NE(made->get(), nullptr);
  }
}

TEST(RegistryTest, DefaultsAreTheDocumentedOnes) {
  auto defaults = [](std::string_view name) {
    Params out;
    for (const ParamSpec& p : (*Find(name))->params) out[p.name] = p.default_value;
    return out;
  };
  EXPECT_EQ(defaults("sma_cross"), (Params{{"fast", 10}, {"slow", 30}}));
  EXPECT_EQ(defaults("ema_cross"), (Params{{"fast", 12}, {"slow", 26}}));
  EXPECT_EQ(defaults("rsi_reversion"), (Params{{"period", 14}, {"lower", 30}, {"upper", 70}}));
  EXPECT_EQ(defaults("bollinger_breakout"), (Params{{"period", 20}, {"k", 2}}));
  EXPECT_EQ(defaults("donchian_breakout"), (Params{{"entry", 20}, {"exit", 10}}));
  EXPECT_EQ(defaults("macd"), (Params{{"fast", 12}, {"slow", 26}, {"signal", 9}}));
  EXPECT_EQ(defaults("buy_and_hold"), Params{});
}

TEST(RegistryTest, FindReturnsInfoOrNotFound) {
  auto found = Find("sma_cross");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ((*found)->name, "sma_cross");
  EXPECT_EQ(*found, &List().back());

  auto missing = Find("nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().details.at("strategy"), "nope");
}

TEST(RegistryTest, UnknownStrategyIsNotFound) {
  auto r = Make("turtle_soup", {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(r.error().details.at("strategy"), "turtle_soup");
  EXPECT_THAT(r.error().msg, HasSubstr("sma_cross"));  // says what exists
}

TEST(RegistryTest, UnknownParameterIsValidation) {
  ExpectValidation(Make("sma_cross", {{"fats", 5}}), "fats", "unknown parameter");
  ExpectValidation(Make("buy_and_hold", {{"fast", 5}}), "fast", "unknown parameter");
}

TEST(RegistryTest, NonIntegerForIntParameterIsValidation) {
  ExpectValidation(Make("sma_cross", {{"fast", 2.5}}), "fast", "integer");
  ExpectValidation(Make("donchian_breakout", {{"exit", 10.000001}}), "exit", "integer");
  // Integral values given as doubles are fine, and number-kind parameters take fractions.
  EXPECT_TRUE(Make("sma_cross", {{"fast", 5.0}, {"slow", 20.0}}).ok());
  EXPECT_TRUE(Make("bollinger_breakout", {{"k", 1.5}}).ok());
  EXPECT_TRUE(Make("rsi_reversion", {{"lower", 25.5}, {"upper", 74.5}}).ok());
}

TEST(RegistryTest, OutOfRangeIsValidation) {
  ExpectValidation(Make("sma_cross", {{"fast", 0}}), "fast", "must be in [1,");
  ExpectValidation(Make("sma_cross", {{"fast", 1}, {"slow", 1}}), "slow", "must be in [2,");
  ExpectValidation(Make("sma_cross", {{"slow", 1e9}}), "slow", "must be in");
  ExpectValidation(Make("rsi_reversion", {{"upper", 101}}), "upper", "must be in");
  ExpectValidation(Make("bollinger_breakout", {{"k", -0.5}}), "k", "must be in");
  ExpectValidation(Make("macd", {{"signal", 0}}), "signal", "must be in");
  // Bounds are inclusive.
  EXPECT_TRUE(Make("sma_cross", {{"fast", 1}, {"slow", 2}}).ok());
  EXPECT_TRUE(Make("rsi_reversion", {{"lower", 0}, {"upper", 100}}).ok());
}

TEST(RegistryTest, NonFiniteIsValidation) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  ExpectValidation(Make("sma_cross", {{"fast", nan}}), "fast", "finite");
  ExpectValidation(Make("bollinger_breakout", {{"k", inf}}), "k", "finite");
}

TEST(RegistryTest, FastMustBeBelowSlowNamingFast) {
  ExpectValidation(Make("sma_cross", {{"fast", 30}, {"slow", 30}}), "fast", "less than slow");
  ExpectValidation(Make("sma_cross", {{"fast", 40}}), "fast", "less than slow");  // slow 30
  ExpectValidation(Make("ema_cross", {{"fast", 26}}), "fast", "less than slow");
  ExpectValidation(Make("macd", {{"fast", 30}, {"slow", 20}}), "fast", "less than slow");
}

TEST(RegistryTest, RsiLowerMustBeBelowUpper) {
  ExpectValidation(Make("rsi_reversion", {{"lower", 70}, {"upper", 70}}), "lower",
                   "less than upper");
  ExpectValidation(Make("rsi_reversion", {{"lower", 80}}), "lower", "less than upper");
}

}  // namespace
}  // namespace tapedeck::strategies
