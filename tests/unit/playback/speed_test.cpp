#include "playback/speed.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace tapedeck::playback {
namespace {

TEST(SpeedTest, OutsideTheRangeIsValidation) {
  for (double bad :
       {0.0, -1.0, 0.0099, 100000.5, std::nan(""), std::numeric_limits<double>::infinity()}) {
    auto speed = Speed::FromDouble(bad);
    ASSERT_FALSE(speed.ok()) << bad;
    EXPECT_EQ(speed.error().code, ErrorCode::kValidation);
    EXPECT_EQ(speed.error().details.at("field"), "speed");
  }
  EXPECT_TRUE(Speed::FromDouble(0.01).ok());
  EXPECT_TRUE(Speed::FromDouble(100000).ok());
  EXPECT_EQ(Speed::Parse("60").value().value(), 60);
  EXPECT_FALSE(Speed::Parse("60x").ok());
  EXPECT_FALSE(Speed::Parse("").ok());
  EXPECT_EQ(Speed::Parse("1e6").error().details.at("field"), "speed");
}

// What a client reads in its err message or HTTP error body.
TEST(SpeedTest, ErrorsNameTheFieldTheClientUsed) {
  const Error range = Speed::FromDouble(0.001, "val").error();
  EXPECT_EQ(range.msg, "speed must be a number from 0.01 to 100000");
  EXPECT_EQ(range.details.at("field"), "val");
  EXPECT_EQ(range.details.at("got"), "0.001");
  const Error text = Speed::Parse("fast").error();
  EXPECT_EQ(text.msg, "speed must be a number from 0.01 to 100000");
  EXPECT_EQ(text.details.at("got"), "fast");
  EXPECT_EQ(Speed::Parse("2e5").error().details.at("got"), "2e+05");  // as before Speed
  EXPECT_EQ(Speed::FromDouble(std::nan("")).error().details.at("got"), "null");
}

TEST(SpeedTest, DefaultsToSixtyAndComparesByValue) {
  EXPECT_EQ(Speed().value(), kDefaultSpeed);
  static_assert(Speed::Constant(60) == Speed());
  EXPECT_EQ(*Speed::Parse("0.01"), Speed::Constant(kMinSpeed));
  EXPECT_NE(*Speed::Parse("120"), Speed());
}

}  // namespace
}  // namespace tapedeck::playback
