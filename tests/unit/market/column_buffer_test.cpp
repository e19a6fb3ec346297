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

TEST(AnonymousMapping, ALargeMappingIsHugePageAlignedWithAShortTailInPlainPages) {
  constexpr size_t kMiB = 1 << 20;
  // Under 1 MiB past the last whole 2 MiB: rounded to plain pages only.
  AnonymousMapping short_tail(4 * kMiB + 10'000);
  EXPECT_EQ(short_tail.size(), 4 * kMiB + 12'288);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(short_tail.data()) % (2 * kMiB), 0u);
  // 1 MiB or more: rounded up to a whole huge page.
  AnonymousMapping long_tail(4 * kMiB + 3 * kMiB / 2);
  EXPECT_EQ(long_tail.size(), 6 * kMiB);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(long_tail.data()) % (2 * kMiB), 0u);
  // Every byte of either is there to write.
  for (AnonymousMapping* m : {&short_tail, &long_tail}) {
    char* bytes = static_cast<char*>(m->data());
    for (size_t i = 0; i < m->size(); i += 4096) bytes[i] = 1;
    bytes[m->size() - 1] = 1;
  }
}

}  // namespace
}  // namespace tapedeck::market
