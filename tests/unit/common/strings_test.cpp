#include "common/strings.h"

#include <gtest/gtest.h>

namespace tapedeck {
namespace {

using Parts = std::vector<std::string_view>;

TEST(StringsTest, SplitKeepsEmptyPieces) {
  EXPECT_EQ(Split("a:b:c", ':'), (Parts{"a", "b", "c"}));
  EXPECT_EQ(Split("a::b", ':'), (Parts{"a", "", "b"}));
  EXPECT_EQ(Split(":a:", ':'), (Parts{"", "a", ""}));
  EXPECT_EQ(Split("", ':'), (Parts{""}));
  EXPECT_EQ(Split("abc", ','), (Parts{"abc"}));
}

}  // namespace
}  // namespace tapedeck
