#include "market/column_buffer.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace tapedeck::market {
namespace {

TEST(ColumnBuffer, GrowsPastItsReservationKeepingEveryValue) {
  ColumnBuffer<double> col;
  col.Reserve(10);
  // Crosses from small pages into a huge-page mapping on the way.
  for (int i = 0; i < 500'000; ++i) col.PushBack(i * 0.5);
  ASSERT_EQ(col.size(), 500'000u);
  for (int i = 0; i < 500'000; ++i) ASSERT_EQ(col.span()[i], i * 0.5);
  EXPECT_EQ(col.back(), 499'999 * 0.5);
}

TEST(ColumnBuffer, LargeColumnsAreEightByteAlignedAndEmptyOnesAreEmpty) {
  ColumnBuffer<int64_t> col;
  EXPECT_TRUE(col.empty());
  EXPECT_EQ(col.span().size(), 0u);
  col.Reserve(1 << 20);
  col.PushBack(7);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(col.span().data()) % 8, 0u);
  EXPECT_EQ(col.span()[0], 7);
}

}  // namespace
}  // namespace tapedeck::market
