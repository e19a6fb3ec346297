#include <gtest/gtest.h>

#include "market/market.h"

namespace tapedeck::market {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(ParseInterval, ReadsEveryUnit) {
  EXPECT_EQ(*ParseInterval("30s"), seconds(30));
  EXPECT_EQ(*ParseInterval("1m"), minutes(1));
  EXPECT_EQ(*ParseInterval("15m"), minutes(15));
  EXPECT_EQ(*ParseInterval("1h"), hours(1));
  EXPECT_EQ(*ParseInterval("4h"), hours(4));
  EXPECT_EQ(*ParseInterval("1d"), hours(24));
  EXPECT_EQ(*ParseInterval("1w"), hours(24 * 7));
}

TEST(ParseInterval, RejectsAnythingElseNamingInterval) {
  for (const char* bad :
       {"", "m", "1", "0m", "-1m", "1M", "1mo", "1 m", " 1m", "1.5h", "+1m", "99999999999d"}) {
    Result<Micros> r = ParseInterval(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kValidation);
    EXPECT_EQ(r.error().details.at("field"), "interval");
  }
}

}  // namespace
}  // namespace tapedeck::market
