// POST /backtests bodies: `dataset` or `datasets`, and what each bad `datasets` is told.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api/json.h"

namespace tapedeck::api {
namespace {

// The VALIDATION error's field for `body` ("" when it parsed).
std::string BadField(const std::string& body) {
  Result<store::RunSpec> spec = ParseBacktestRequest(body);
  if (spec.ok()) return "";
  EXPECT_EQ(spec.error().code, ErrorCode::kValidation) << body;
  auto it = spec.error().details.find("field");
  return it == spec.error().details.end() ? "(none)" : it->second;
}

TEST(BacktestRequestTest, OneDatasetIsItsOwnList) {
  Result<store::RunSpec> spec =
      ParseBacktestRequest(R"({"dataset":"spx","strategy":"buy_and_hold"})");
  ASSERT_TRUE(spec.ok()) << spec.error().ToString();
  EXPECT_EQ(spec->dataset, "spx");
  EXPECT_EQ(spec->datasets, std::vector<std::string>{"spx"});
}

TEST(BacktestRequestTest, DatasetsKeepTheirOrderAndTheFirstIsTheDataset) {
  Result<store::RunSpec> spec =
      ParseBacktestRequest(R"({"datasets":["ndx","spx","dax"],"strategy":"buy_and_hold"})");
  ASSERT_TRUE(spec.ok()) << spec.error().ToString();
  EXPECT_EQ(spec->dataset, "ndx");
  EXPECT_EQ(spec->datasets, (std::vector<std::string>{"ndx", "spx", "dax"}));
}

TEST(BacktestRequestTest, SixteenDatasetsAreAllowed) {
  std::string list;
  for (int i = 0; i < 16; ++i) list += (i ? ",\"d" : "\"d") + std::to_string(i) + "\"";
  Result<store::RunSpec> spec =
      ParseBacktestRequest(R"({"datasets":[)" + list + R"(],"strategy":"buy_and_hold"})");
  ASSERT_TRUE(spec.ok()) << spec.error().ToString();
  EXPECT_EQ(spec->datasets.size(), 16u);
}

TEST(BacktestRequestTest, BadDatasetsAreValidationErrorsNamingTheField) {
  std::string seventeen;
  for (int i = 0; i < 17; ++i) seventeen += (i ? ",\"d" : "\"d") + std::to_string(i) + "\"";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"strategy":"buy_and_hold"})", "dataset"},
      {R"({"dataset":"a","datasets":["b"],"strategy":"buy_and_hold"})", "datasets"},
      {R"({"datasets":[],"strategy":"buy_and_hold"})", "datasets"},
      {R"({"datasets":"a","strategy":"buy_and_hold"})", "datasets"},
      {R"({"datasets":null,"strategy":"buy_and_hold"})", "datasets"},
      {R"({"datasets":["a",""],"strategy":"buy_and_hold"})", "datasets"},
      {R"({"datasets":["a",3],"strategy":"buy_and_hold"})", "datasets"},
      {R"({"datasets":["a","b","a"],"strategy":"buy_and_hold"})", "datasets"},
      {R"({"datasets":[)" + seventeen + R"(],"strategy":"buy_and_hold"})", "datasets"},
  };
  for (const auto& [body, field] : cases) EXPECT_EQ(BadField(body), field) << body;
}

TEST(BacktestRequestTest, ARepeatedDatasetIsNamed) {
  Result<store::RunSpec> spec =
      ParseBacktestRequest(R"({"datasets":["a","b","a"],"strategy":"buy_and_hold"})");
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.error().msg.find("'a'"), std::string::npos) << spec.error().msg;
}

}  // namespace
}  // namespace tapedeck::api
