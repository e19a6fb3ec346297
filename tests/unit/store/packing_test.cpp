#include "store/packing.h"

#include <gtest/gtest.h>

#include <cstring>

#include "store_test_util.h"

namespace tapedeck::store::internal {
namespace {

using testing::ExpectSameResult;
using testing::MakeResult;

TEST(PackingTest, EventsAndTradesRoundTripExactly) {
  const engine::RunResult original = MakeResult(500, 40);
  ASSERT_FALSE(original.events.empty());
  ASSERT_FALSE(original.trades.empty());
  const PackedEvents events = PackEvents(original.events);
  EXPECT_EQ(events.records.size(), original.events.size() * kEventRecordBytes);
  EXPECT_FALSE(events.reasons.empty());  // MakeResult rejects every fifth order
  const std::vector<std::byte> trades = PackTrades(original.trades);
  EXPECT_EQ(trades.size(), original.trades.size() * kTradeRecordBytes);

  engine::RunResult back = original;
  auto unpacked_events = UnpackEvents(events.records, events.reasons, original.events.size());
  ASSERT_TRUE(unpacked_events.ok()) << unpacked_events.error().ToString();
  back.events = *unpacked_events;
  auto unpacked_trades = UnpackTrades(trades, original.trades.size());
  ASSERT_TRUE(unpacked_trades.ok()) << unpacked_trades.error().ToString();
  back.trades = *unpacked_trades;
  ExpectSameResult(original, back);  // NaN px and nullopt qty included
}

TEST(PackingTest, EmptyListsPackToNothing) {
  EXPECT_TRUE(PackEvents({}).records.empty());
  EXPECT_TRUE(PackTrades({}).empty());
  EXPECT_TRUE(UnpackEvents({}, "", 0)->empty());
  EXPECT_TRUE(UnpackTrades({}, 0)->empty());
}

TEST(PackingTest, WrongLengthsAreDamage) {
  const engine::RunResult r = MakeResult(100, 10);
  const PackedEvents events = PackEvents(r.events);
  auto short_records = std::span(events.records).first(events.records.size() - 1);
  auto e = UnpackEvents(short_records, events.reasons, r.events.size());
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, ErrorCode::kIo);
  EXPECT_NE(e.error().msg.find("bytes, not"), std::string::npos) << e.error().msg;
  EXPECT_FALSE(UnpackEvents(events.records, events.reasons, r.events.size() + 1).ok());
  const std::vector<std::byte> trades = PackTrades(r.trades);
  EXPECT_FALSE(UnpackTrades(trades, r.trades.size() - 1).ok());
}

TEST(PackingTest, ReasonsThatDoNotAddUpAreDamage) {
  const engine::RunResult r = MakeResult(100, 10);
  const PackedEvents events = PackEvents(r.events);
  ASSERT_FALSE(events.reasons.empty());
  std::string_view shorter(events.reasons.data(), events.reasons.size() - 1);
  EXPECT_FALSE(UnpackEvents(events.records, shorter, r.events.size()).ok());
  const std::string longer = events.reasons + "x";
  auto e = UnpackEvents(events.records, longer, r.events.size());
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().msg.find("no order event claims"), std::string::npos) << e.error().msg;
}

TEST(PackingTest, OutOfRangeEnumsAreDamageNotGarbage) {
  const engine::RunResult r = MakeResult(100, 10);
  for (size_t offset : {52u, 53u, 54u, 55u}) {
    PackedEvents events = PackEvents(r.events);
    events.records[kEventRecordBytes + offset] = std::byte{9};  // the second event
    auto e = UnpackEvents(events.records, events.reasons, r.events.size());
    ASSERT_FALSE(e.ok()) << "offset " << offset;
    EXPECT_NE(e.error().msg.find("order event 1"), std::string::npos) << e.error().msg;
  }
  for (size_t offset : {76u, 77u}) {
    std::vector<std::byte> trades = PackTrades(r.trades);
    trades[offset] = std::byte{7};
    auto t = UnpackTrades(trades, r.trades.size());
    ASSERT_FALSE(t.ok()) << "offset " << offset;
    EXPECT_NE(t.error().msg.find("trade 0"), std::string::npos) << t.error().msg;
  }
}

TEST(PackingTest, LayoutIsLittleEndianAtTheDocumentedOffsets) {
  engine::OrderEvent e;
  e.id = 0x0102030405060708;
  e.ts = FromMicros(42);
  e.bar = 7;
  e.symbol = 3;
  e.side = engine::Side::kSell;
  e.type = engine::OrderType::kStopLimit;
  e.status = engine::OrderStatus::kRejected;
  e.qty = 2.5;
  e.reason = "no";
  const PackedEvents p = PackEvents(std::span(&e, 1));
  ASSERT_EQ(p.records.size(), 64u);
  EXPECT_EQ(p.records[0], std::byte{0x08});
  EXPECT_EQ(p.records[7], std::byte{0x01});
  EXPECT_EQ(p.records[8], std::byte{42});
  EXPECT_EQ(p.records[16], std::byte{7});
  double qty = 0;
  std::memcpy(&qty, p.records.data() + 24, 8);
  EXPECT_EQ(qty, 2.5);
  EXPECT_EQ(p.records[48], std::byte{3});
  EXPECT_EQ(p.records[52], std::byte{1});
  EXPECT_EQ(p.records[53], std::byte{3});
  EXPECT_EQ(p.records[54], std::byte{3});
  EXPECT_EQ(p.records[55], std::byte{1});
  EXPECT_EQ(p.records[56], std::byte{2});
  EXPECT_EQ(p.reasons, "no");
}

}  // namespace
}  // namespace tapedeck::store::internal
