#include "common/time.h"

#include <gtest/gtest.h>

namespace tapedeck {
namespace {

TEST(Time, FormatsIsoUtcWithZ) {
  EXPECT_EQ(FormatIso(FromMicros(0)), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatIso(FromMicros(1'677'681'000'000'000)), "2023-03-01T14:30:00Z");
  EXPECT_EQ(FormatIso(FromMicros(1'677'681'000'000'500)), "2023-03-01T14:30:00.000500Z");
  EXPECT_EQ(FormatIso(FromMicros(-1'000'000)), "1969-12-31T23:59:59Z");
}

TEST(Time, ParsesDatesTimesAndOffsets) {
  EXPECT_EQ(ParseIso("2023-03-01T14:30:00Z"), FromMicros(1'677'681'000'000'000));
  EXPECT_EQ(ParseIso("2023-03-01 14:30"), FromMicros(1'677'681'000'000'000));
  EXPECT_EQ(ParseIso("2023-03-01T16:30:00+02:00"), FromMicros(1'677'681'000'000'000));
  EXPECT_EQ(ParseIso("2023-03-01"), FromMicros(1'677'628'800'000'000));
  EXPECT_EQ(ParseIso("2024-02-29T00:00:00.25Z"), FromMicros(1'709'164'800'250'000));
}

TEST(Time, RejectsMalformedTimes) {
  for (const char* bad : {"", "2023", "2023-13-01", "2023-02-30", "2023-03-01T25:00",
                          "2023-03-01T14:30:00ZZ", "2023-03-01x", "20230301", "2023-03-01T14:3"}) {
    EXPECT_FALSE(ParseIso(bad).has_value()) << bad;
  }
}

TEST(Time, FormatsEveryFieldWithLeadingZeros) {
  EXPECT_EQ(FormatIso(*ParseIso("0999-02-03T04:05:06.000007Z")), "0999-02-03T04:05:06.000007Z");
  EXPECT_EQ(FormatIso(*ParseIso("9999-12-31T23:59:59.999999Z")), "9999-12-31T23:59:59.999999Z");
  EXPECT_EQ(FormatIso(*ParseIso("2024-02-29T00:00:00.5Z")), "2024-02-29T00:00:00.500000Z");
}

TEST(Time, RoundTrips) {
  for (int64_t us : {int64_t{0}, int64_t{951'782'400'000'000}, int64_t{4'102'444'799'000'000}}) {
    EXPECT_EQ(ParseIso(FormatIso(FromMicros(us))), FromMicros(us));
  }
}

}  // namespace
}  // namespace tapedeck
