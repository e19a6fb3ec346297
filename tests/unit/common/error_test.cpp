#include "common/error.h"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace tapedeck {
namespace {

TEST(ErrorCodes, EveryCodeHasItsOwnNameAndInfoInEnumOrder) {
  std::set<std::string_view> names;
  size_t i = 0;
  for (const ErrorCodeInfo& info : AllErrorCodes()) {
    EXPECT_EQ(static_cast<size_t>(info.code), i++);
    EXPECT_TRUE(names.insert(info.name).second) << info.name;
    EXPECT_GE(info.http_status, 400);
  }
  EXPECT_EQ(Name(ErrorCode::kRunNotFound), "RUN_NOT_FOUND");
  EXPECT_EQ(HttpStatus(ErrorCode::kRunNotFound), 404);
  EXPECT_EQ(HttpStatus(ErrorCode::kValidation), 400);
}

// docs/api/error-codes.md has one table row per code: | `NAME` | status | fatal | meaning |.
TEST(ErrorCodes, DocumentationTableMatchesTheEnum) {
  std::ifstream in(std::string(TAPEDECK_SOURCE_DIR) + "/docs/api/error-codes.md");
  ASSERT_TRUE(in) << "docs/api/error-codes.md is missing";
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  std::regex row(R"(\|\s*`([A-Z_]+)`\s*\|\s*(\d{3})\s*\|\s*(yes|no)\s*\|)");
  std::map<std::string, std::pair<int, bool>> documented;
  for (auto it = std::sregex_iterator(doc.begin(), doc.end(), row); it != std::sregex_iterator();
       ++it) {
    documented[(*it)[1]] = {std::stoi((*it)[2]), (*it)[3] == "yes"};
  }
  EXPECT_EQ(documented.size(), AllErrorCodes().size());
  for (const ErrorCodeInfo& info : AllErrorCodes()) {
    auto found = documented.find(std::string(info.name));
    ASSERT_NE(found, documented.end()) << info.name << " is not documented";
    EXPECT_EQ(found->second.first, info.http_status) << info.name;
    EXPECT_EQ(found->second.second, info.fatal_on_stream) << info.name;
  }
}

TEST(Result, HoldsValueOrError) {
  Result<int> good = 3;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 3);
  Result<int> bad = MakeError(ErrorCode::kRange, "too far", {{"pos", "9"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kRange);
  EXPECT_EQ(bad.error().ToString(), "RANGE: too far (pos=9)");
}

}  // namespace
}  // namespace tapedeck
