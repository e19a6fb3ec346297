#include "market/csv_fields.h"

#include <gtest/gtest.h>

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace tapedeck::market::csv {
namespace {

double Parse(const std::string& s, size_t* used = nullptr) {
  double v = -12345;
  const char* end = ParseNumber(s.data(), s.data() + s.size(), &v);
  if (used) *used = end ? static_cast<size_t>(end - s.data()) : 0;
  EXPECT_NE(end, nullptr) << s;
  return v;
}

double FromChars(const std::string& s) {
  double v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

bool SameBits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

TEST(ParseNumber, FastPathGivesExactlyWhatFromCharsGives) {
  uint64_t x = 0x9E3779B97F4A7C15ULL;
  for (int i = 0; i < 200'000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const int digits = 1 + static_cast<int>(x % 15);
    std::string s = std::to_string((x >> 8) % 1'000'000'000'000'000ULL).substr(0, digits);
    const size_t dot = (x >> 3) % (s.size() + 1);
    if (dot < s.size()) s.insert(dot, ".");
    if (x & 1) s.insert(0, "-");
    const double want = FromChars(s);
    size_t used;
    ASSERT_TRUE(SameBits(Parse(s, &used), want)) << s;
    ASSERT_EQ(used, s.size()) << s;
  }
}

TEST(ParseNumber, SlowPathHandlesExponentsAndLongDigits) {
  for (const std::string s : {"1e5", "2.5E-3", "12345678901234567890", "0.1234567890123456789",
                              "-0", "1469.250000", "931800000", "5e-324"}) {
    EXPECT_TRUE(SameBits(Parse(s), FromChars(s))) << s;
  }
}

TEST(ParseNumber, StopsAtTheFirstCharacterAfterTheNumber) {
  size_t used;
  EXPECT_EQ(Parse("1.5,2", &used), 1.5);
  EXPECT_EQ(used, 3u);
  EXPECT_EQ(Parse("42\r\n", &used), 42);
  EXPECT_EQ(used, 2u);
}

TEST(ParseNumber, RefusesNonNumbersAndNonFiniteValues) {
  for (const std::string s : {"", "-", ".", "abc", "nan", "inf", "-inf", "1e999", "+1"}) {
    double v;
    EXPECT_EQ(ParseNumber(s.data(), s.data() + s.size(), &v), nullptr) << s;
  }
}

TEST(ParseTime, ReadsIsoDatesTimesAndUnixSeconds) {
  const auto parse = [](const std::string& s) {
    int64_t us = 0, cached_us = 0;
    DateCache fresh, cache;
    const char* end = ParseTime(s.data(), s.data() + s.size(), &us, fresh);
    EXPECT_EQ(end, s.data() + s.size()) << s;
    ParseTime(s.data(), s.data() + s.size(), &cached_us, cache);
    ParseTime(s.data(), s.data() + s.size(), &cached_us, cache);  // this time from the cache
    EXPECT_EQ(cached_us, us) << s;
    return us;
  };
  EXPECT_EQ(parse("2024-01-02"), 1'704'153'600'000'000);
  EXPECT_EQ(parse("2024.01.02"), 1'704'153'600'000'000);
  EXPECT_EQ(parse("2024-01-02T00:00:01Z"), 1'704'153'601'000'000);
  EXPECT_EQ(parse("2024-01-02 01:00:00+01:00"), 1'704'153'600'000'000);
  EXPECT_EQ(parse("2024-01-01T19:00-05:00"), 1'704'153'600'000'000);
  EXPECT_EQ(parse("1704153600"), 1'704'153'600'000'000);
  EXPECT_EQ(parse("1704153600.25"), 1'704'153'600'250'000);
  EXPECT_EQ(parse("1969-12-31T23:59:59.999999Z"), -1);
}

TEST(ParseTime, RefusesImpossibleDatesAndTimes) {
  for (const std::string s : {"2023-02-29", "2024-00-10", "2024-01-32", "2024-01-02T24:00",
                              "2024-01-02T10:60", "2024/01/02", "2024-01.02", "abc", ""}) {
    int64_t us;
    DateCache cache;
    const char* end = ParseTime(s.data(), s.data() + s.size(), &us, cache);
    EXPECT_TRUE(end == nullptr || end != s.data() + s.size()) << s;
  }
}

TEST(ParseNumberInLine, GivesWhatParseNumberGivesBeforeALineEnd) {
  uint64_t x = 0x2545F4914F6CDD1DULL;
  std::vector<std::string> texts = {"1e5",
                                    "2.5E-3",
                                    "12345678901234567890",
                                    "0.1234567890123456789",
                                    "-0",
                                    "5e-324",
                                    "",
                                    "-",
                                    ".",
                                    "abc",
                                    "nan",
                                    "inf",
                                    "1e999",
                                    "+1",
                                    "1.",
                                    ".5",
                                    "007",
                                    "1469.25"};
  for (int i = 0; i < 100'000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const int digits = 1 + static_cast<int>(x % 20);
    std::string s = std::to_string(x % 10'000'000'000'000'000'000ULL).substr(0, digits);
    const size_t dot = (x >> 3) % (s.size() + 1);
    if (dot < s.size()) s.insert(dot, ".");
    if (x & 1) s.insert(0, "-");
    texts.push_back(s);
  }
  for (const std::string& number : texts) {
    for (const char* after : {"\n", "\r\n", "\r", ",2\n", "e\n", "E5\n", ".\n"}) {
      const std::string s = number + after;
      const char* end = s.data() + s.size();
      double want = -1, got = -2;
      const char* want_end = ParseNumber(s.data(), end, &want);
      const char* got_end = ParseNumberInLine(s.data(), end, &got);
      ASSERT_EQ(got_end, want_end) << s;
      if (want_end != nullptr) {
        ASSERT_TRUE(SameBits(got, want)) << s;
      }
    }
  }
}

TEST(ParseIsoSecondsSameDay, GivesWhatParseTimeGivesOrDeclines) {
  DateCache cache;
  int64_t us = 0;
  const std::string day = "2024-01-02";
  ASSERT_NE(ParseTime(day.data(), day.data() + day.size(), &us, cache), nullptr);
  int taken = 0;
  for (const std::string t :
       {"2024-01-02T00:00:01Z,1", "2024-01-02T23:59:59Z,1", "2024-01-02 12:34:56Z,1",
        "2024-01-02T12:34:56,1", "2024-01-02T12:34:56Z", "2024-01-02T12:34:56.5Z,1",
        "2024-01-02T12:34:56+01:00,1", "2024-01-02T12:34:56-05:30,1", "2024-01-02T24:00:00Z,1",
        "2024-01-02T12:60:00Z,1", "2024-01-02T12:34:60Z,1", "2024-01-02T12:34Z,1",
        "2024-01-02T1:34:56Z,12", "2024-01-02X12:34:56Z,1", "2024-01-03T12:34:56Z,1",
        "2024-01-02T12:34:56Zx1", "2024-01-02T12:34:5aZ,1", "2024-01-02T12-34:56Z,1"}) {
    const char* end = t.data() + t.size();
    int64_t fast = -1, slow = -2;
    DateCache copy = cache;
    const char* fast_end = ParseIsoSecondsSameDay(t.data(), end, &fast, cache);
    const char* slow_end = ParseTime(t.data(), end, &slow, copy);
    if (fast_end == nullptr) continue;
    ++taken;
    EXPECT_EQ(fast_end, slow_end) << t;
    EXPECT_EQ(fast, slow) << t;
  }
  // The common forms, on the cached day, are read here; the rest is left to ParseTime.
  EXPECT_EQ(taken, 6);
}

}  // namespace
}  // namespace tapedeck::market::csv
