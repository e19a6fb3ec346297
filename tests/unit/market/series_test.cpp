#include <gtest/gtest.h>

#include <vector>

#include "market/market.h"

namespace tapedeck::market {
namespace {

Series Hours(int n) {
  std::vector<Bar> bars;
  for (int i = 0; i < n; ++i) {
    bars.push_back(
        {FromMicros(int64_t{i} * 3'600'000'000), 1.0 + i, 2.0 + i, 0.5 + i, 1.5 + i, 10.0 * i});
  }
  return Series::FromBars("X", bars);
}

Timestamp H(int h) { return FromMicros(int64_t{h} * 3'600'000'000); }

TEST(Series, FromBarsKeepsEveryField) {
  const Series s = Hours(3);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s.symbol(), "X");
  const Bar b = s.bar(2);
  EXPECT_EQ(b.time, H(2));
  EXPECT_EQ(b.open, 3.0);
  EXPECT_EQ(b.high, 4.0);
  EXPECT_EQ(b.low, 2.5);
  EXPECT_EQ(b.close, 3.5);
  EXPECT_EQ(b.volume, 20.0);
}

TEST(Series, SliceIsHalfOpenAndSharesStorage) {
  const Series s = Hours(10);
  const Series slice = s.Slice(H(3), H(6));
  ASSERT_EQ(slice.size(), 3u);
  EXPECT_EQ(slice.times().front(), H(3));
  EXPECT_EQ(slice.times().back(), H(5));
  EXPECT_EQ(slice.close().data(), s.close().data() + 3);
  EXPECT_EQ(slice.symbol(), "X");
}

TEST(Series, SliceBetweenBarsTakesTheBarsInside) {
  const Series s = Hours(10);
  const Series slice = s.Slice(H(3) + std::chrono::minutes(1), H(5) + std::chrono::minutes(1));
  ASSERT_EQ(slice.size(), 2u);
  EXPECT_EQ(slice.times().front(), H(4));
}

TEST(Series, SliceClampsOutOfRangeBounds) {
  const Series s = Hours(10);
  EXPECT_EQ(s.Slice(H(-100), H(100)).size(), 10u);
  EXPECT_EQ(s.Slice(H(20), H(30)).size(), 0u);
  EXPECT_EQ(s.Slice(H(6), H(2)).size(), 0u);  // reversed bounds: empty, not negative
}

TEST(Series, SliceOutlivesTheSeriesItCameFrom) {
  Series slice;
  {
    const Series s = Hours(10);
    slice = s.Slice(H(8), H(10));
  }
  ASSERT_EQ(slice.size(), 2u);
  EXPECT_EQ(slice.bar(1).close, 10.5);
}

}  // namespace
}  // namespace tapedeck::market
