// The compact events and trades blobs (packing.h): every value back bit for bit, smaller than the
// fixed-width records, told apart from those by the magic, and any damage an error.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <algorithm>
#include <limits>

#include "store/packing.h"
#include "store_test_util.h"

namespace tapedeck::store::internal {
namespace {

using testing::ExpectSameResult;
using testing::MakeResult;

bool SameBits(double a, double b) {
  return std::bit_cast<uint64_t>(a) == std::bit_cast<uint64_t>(b);
}

void ExpectSameEvents(const std::vector<engine::OrderEvent>& a,
                      const std::vector<engine::OrderEvent>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(a[i].id, b[i].id);
    EXPECT_EQ(a[i].ts, b[i].ts);
    EXPECT_EQ(a[i].bar, b[i].bar);
    EXPECT_EQ(a[i].symbol, b[i].symbol);
    EXPECT_EQ(a[i].side, b[i].side);
    EXPECT_EQ(a[i].type, b[i].type);
    EXPECT_EQ(a[i].status, b[i].status);
    ASSERT_EQ(a[i].qty.has_value(), b[i].qty.has_value());
    if (a[i].qty) {
      EXPECT_TRUE(SameBits(*a[i].qty, *b[i].qty));
    }
    EXPECT_TRUE(SameBits(a[i].px, b[i].px));
    EXPECT_TRUE(SameBits(a[i].commission, b[i].commission));
    EXPECT_EQ(a[i].reason, b[i].reason);
  }
}

void ExpectSameTrades(const std::vector<engine::Trade>& a, const std::vector<engine::Trade>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(a[i].symbol, b[i].symbol);
    EXPECT_EQ(a[i].side, b[i].side);
    EXPECT_EQ(a[i].entry_time, b[i].entry_time);
    EXPECT_EQ(a[i].exit_time, b[i].exit_time);
    EXPECT_EQ(a[i].entry_bar, b[i].entry_bar);
    EXPECT_EQ(a[i].exit_bar, b[i].exit_bar);
    EXPECT_TRUE(SameBits(a[i].qty, b[i].qty));
    EXPECT_TRUE(SameBits(a[i].entry_px, b[i].entry_px));
    EXPECT_TRUE(SameBits(a[i].exit_px, b[i].exit_px));
    EXPECT_TRUE(SameBits(a[i].pnl, b[i].pnl));
    EXPECT_TRUE(SameBits(a[i].ret, b[i].ret));
    EXPECT_EQ(a[i].open, b[i].open);
  }
}

// Events and trades at the edges: extreme ids, times and bars (differences wrapping at 64 bits),
// NaN with a payload, -0.0, infinities, a qty after none, a symbol past one byte, every enum value.
engine::RunResult Awkward() {
  engine::RunResult r = MakeResult(200, 20);
  const double payload_nan = std::bit_cast<double>(uint64_t{0x7FF8000000000123});
  engine::OrderEvent e;
  e.id = std::numeric_limits<int64_t>::min();
  e.ts = FromMicros(std::numeric_limits<int64_t>::max());
  e.bar = 0;
  e.symbol = 70000;
  e.side = engine::Side::kSell;
  e.type = engine::OrderType::kStopLimit;
  e.status = engine::OrderStatus::kCancelled;
  e.px = payload_nan;
  e.commission = -0.0;
  r.events.push_back(e);
  e.id = std::numeric_limits<int64_t>::max();
  e.ts = FromMicros(std::numeric_limits<int64_t>::min());
  e.bar = std::numeric_limits<size_t>::max() >> 1;
  e.qty = -0.0;
  e.px = INFINITY;
  e.commission = NAN;
  e.status = engine::OrderStatus::kRejected;
  e.reason = "why \xC3\xA9";
  r.events.push_back(e);
  e.qty.reset();
  e.reason.clear();
  e.bar = 3;
  r.events.push_back(e);
  engine::Trade t;
  t.symbol = 1u << 31;
  t.side = engine::Side::kSell;
  t.entry_time = FromMicros(std::numeric_limits<int64_t>::min());
  t.exit_time = FromMicros(std::numeric_limits<int64_t>::max());
  t.entry_bar = 5;
  t.exit_bar = 2;
  t.qty = payload_nan;
  t.entry_px = -0.0;
  t.exit_px = -INFINITY;
  t.pnl = NAN;
  t.ret = 0.0;
  t.open = true;
  r.trades.push_back(t);
  r.trades.push_back(t);
  return r;
}

TEST(PackingCompactTest, EventsAndTradesRoundTripBitForBit) {
  for (const engine::RunResult& original : {MakeResult(500, 40), Awkward()}) {
    const PackedEvents events = PackEventsCompact(original.events);
    ASSERT_TRUE(IsCompactEvents(events.records));
    EXPECT_EQ(events.reasons, PackEvents(original.events).reasons);
    auto back_events = UnpackEvents(events.records, events.reasons, original.events.size());
    ASSERT_TRUE(back_events.ok()) << back_events.error().ToString();
    ExpectSameEvents(*back_events, original.events);
    const std::vector<std::byte> trades = PackTradesCompact(original.trades);
    ASSERT_TRUE(IsCompactTrades(trades));
    auto back_trades = UnpackTrades(trades, original.trades.size());
    ASSERT_TRUE(back_trades.ok()) << back_trades.error().ToString();
    ExpectSameTrades(*back_trades, original.trades);
    engine::RunResult back = original;
    back.events = *back_events;
    back.trades = *back_trades;
    ExpectSameResult(original, back);
  }
}

TEST(PackingCompactTest, SmallerThanTheRecords) {
  const engine::RunResult r = MakeResult(5000, 400);
  EXPECT_LT(PackEventsCompact(r.events).records.size() * 2, PackEvents(r.events).records.size());
  EXPECT_LT(PackTradesCompact(r.trades).size() * 3, PackTrades(r.trades).size() * 2);
}

TEST(PackingCompactTest, NoEventsOrTradesPackToNothing) {
  EXPECT_TRUE(PackEventsCompact({}).records.empty());
  EXPECT_TRUE(PackTradesCompact({}).empty());
}

TEST(PackingCompactTest, NoOldBlobStartsWithTheMagic) {
  // An old events blob starts with event 0's id (>= 0); an old trades blob with an entry time.
  const engine::RunResult r = Awkward();
  engine::OrderEvent e = r.events.front();
  e.id = std::numeric_limits<int64_t>::max();
  EXPECT_FALSE(IsCompactEvents(PackEvents(std::span(&e, 1)).records));
  engine::Trade t = r.trades.front();
  t.entry_time = FromMicros(DaysFromCivil(-9999, 1, 1) * 86'400'000'000);
  EXPECT_FALSE(IsCompactTrades(PackTrades(std::span(&t, 1))));
  // And those still read as they did.
  auto events =
      UnpackEvents(PackEvents(r.events).records, PackEvents(r.events).reasons, r.events.size());
  ASSERT_TRUE(events.ok()) << events.error().ToString();
  ExpectSameEvents(*events, r.events);
  auto trades = UnpackTrades(PackTrades(r.trades), r.trades.size());
  ASSERT_TRUE(trades.ok()) << trades.error().ToString();
  ExpectSameTrades(*trades, r.trades);
}

TEST(PackingCompactTest, EveryTruncationIsDamage) {
  const engine::RunResult r = Awkward();
  const PackedEvents events = PackEventsCompact(r.events);
  for (size_t n = kCompactEventsMagic.size(); n < events.records.size(); ++n) {
    auto e = UnpackEvents(std::span(events.records).first(n), events.reasons, r.events.size());
    ASSERT_FALSE(e.ok()) << n;
    EXPECT_EQ(e.error().code, ErrorCode::kIo);
  }
  const std::vector<std::byte> trades = PackTradesCompact(r.trades);
  for (size_t n = kCompactTradesMagic.size(); n < trades.size(); ++n) {
    auto t = UnpackTrades(std::span(trades).first(n), r.trades.size());
    ASSERT_FALSE(t.ok()) << n;
    EXPECT_EQ(t.error().code, ErrorCode::kIo);
  }
}

TEST(PackingCompactTest, BytesPastTheLastRecordAreDamage) {
  const engine::RunResult r = MakeResult(100, 10);
  PackedEvents events = PackEventsCompact(r.events);
  events.records.push_back(std::byte{0});
  auto e = UnpackEvents(events.records, events.reasons, r.events.size());
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().msg.find("past its last record"), std::string::npos) << e.error().msg;
  std::vector<std::byte> trades = PackTradesCompact(r.trades);
  trades.push_back(std::byte{0});
  auto t = UnpackTrades(trades, r.trades.size());
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().msg.find("past its last record"), std::string::npos) << t.error().msg;
}

TEST(PackingCompactTest, ACountNotTheRowsIsDamage) {
  const engine::RunResult r = MakeResult(100, 10);
  const PackedEvents events = PackEventsCompact(r.events);
  for (size_t count : {r.events.size() - 1, r.events.size() + 1}) {
    auto e = UnpackEvents(events.records, events.reasons, count);
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.error().msg.find("says it holds"), std::string::npos) << e.error().msg;
  }
  const std::vector<std::byte> trades = PackTradesCompact(r.trades);
  auto t = UnpackTrades(trades, r.trades.size() + 1);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().msg.find("says it holds"), std::string::npos) << t.error().msg;
}

TEST(PackingCompactTest, AVarintPast64BitsIsDamage) {
  // The count: ten bytes with the tenth past bit 63.
  std::vector<std::byte> blob;
  for (uint8_t b : kCompactEventsMagic) blob.push_back(std::byte{b});
  for (int i = 0; i < 9; ++i) blob.push_back(std::byte{0xFF});
  blob.push_back(std::byte{0x02});
  auto e = UnpackEvents(blob, "", 1);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().msg.find("past 64 bits"), std::string::npos) << e.error().msg;
  // An event's id difference.
  blob.resize(kCompactEventsMagic.size());
  blob.push_back(std::byte{1});     // one event
  blob.push_back(std::byte{0});     // kind
  blob.push_back(std::byte{0x20});  // flags: same symbol
  for (int i = 0; i < 10; ++i) blob.push_back(std::byte{0xFF});
  blob.push_back(std::byte{0});
  e = UnpackEvents(blob, "", 1);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().msg.find("order event 0"), std::string::npos) << e.error().msg;
  EXPECT_NE(e.error().msg.find("past 64 bits"), std::string::npos) << e.error().msg;
}

// One event by hand: magic, count 1, then `record`.
std::vector<std::byte> OneEvent(std::initializer_list<uint8_t> record) {
  std::vector<std::byte> blob;
  for (uint8_t b : kCompactEventsMagic) blob.push_back(std::byte{b});
  blob.push_back(std::byte{1});
  for (uint8_t b : record) blob.push_back(std::byte{b});
  return blob;
}

TEST(PackingCompactTest, ASymbolPast32BitsOrABarBeforeTheFirstIsDamage) {
  // kind 0; flags: px NaN, commission +0; id +1, ts 0, bar 0; symbol 2^32.
  auto e = UnpackEvents(OneEvent({0, 0x14, 2, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x10}), "", 1);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().msg.find("symbol past 32 bits"), std::string::npos) << e.error().msg;
  // The same with symbol 2^32 - 1 is an event.
  e = UnpackEvents(OneEvent({0, 0x14, 2, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F}), "", 1);
  ASSERT_TRUE(e.ok()) << e.error().ToString();
  EXPECT_EQ((*e)[0].symbol, UINT32_MAX);
  EXPECT_TRUE(std::isnan((*e)[0].px));
  // bar -1 (zigzag 1), symbol as before.
  e = UnpackEvents(OneEvent({0, 0x34, 2, 0, 1}), "", 1);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().msg.find("bar before the first"), std::string::npos) << e.error().msg;
  // A reason marked present with length 0.
  e = UnpackEvents(OneEvent({0, 0x74, 2, 0, 0, 0}), "", 1);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().msg.find("empty reason"), std::string::npos) << e.error().msg;
}

// Offset of event `i`'s kind byte in a compact blob of `events`: where a blob of the events
// before it ends (both blobs' counts one byte long).
size_t KindAt(const std::vector<engine::OrderEvent>& events, size_t i) {
  if (i == 0) return kCompactEventsMagic.size() + 1;
  return PackEventsCompact(std::span(events).first(i)).records.size();
}

TEST(PackingCompactTest, BadKindOrFlagsBytesAreDamageNotGarbage) {
  const engine::RunResult r = MakeResult(100, 10);
  ASSERT_LT(r.events.size(), 128u);  // a one-byte count: KindAt's arithmetic
  const size_t at = KindAt(r.events, 1);
  // Unused kind bits (the enums' range), unused flags bits, px both as before and NaN,
  // commission both as before and zero, a qty as before on an event without one.
  const std::pair<size_t, uint8_t> damage[] = {
      {0, 0x40}, {0, 0x80}, {1, 0x80}, {1, 0x06}, {1, 0x18}};
  for (const auto& [offset, value] : damage) {
    PackedEvents events = PackEventsCompact(r.events);
    events.records[at + offset] |= std::byte{value};
    auto e = UnpackEvents(events.records, events.reasons, r.events.size());
    ASSERT_FALSE(e.ok()) << offset << " " << int{value};
    EXPECT_NE(e.error().msg.find("order event 1"), std::string::npos) << e.error().msg;
  }
  {
    PackedEvents events = PackEventsCompact(r.events);
    events.records[at] &= ~std::byte{0x20};     // no qty ...
    events.records[at + 1] |= std::byte{0x01};  // ... but one as before
    auto e = UnpackEvents(events.records, events.reasons, r.events.size());
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.error().msg.find("order event 1"), std::string::npos) << e.error().msg;
  }
  for (uint8_t value : {0x20, 0x40, 0x80}) {
    std::vector<std::byte> trades = PackTradesCompact(r.trades);
    trades[kCompactTradesMagic.size() + 1] |= std::byte{value};  // trade 0's flags
    auto t = UnpackTrades(trades, r.trades.size());
    ASSERT_FALSE(t.ok()) << int{value};
    EXPECT_NE(t.error().msg.find("trade 0"), std::string::npos) << t.error().msg;
  }
}

TEST(PackingCompactTest, ReasonsThatDoNotAddUpAreDamage) {
  const engine::RunResult r = MakeResult(100, 10);
  const PackedEvents events = PackEventsCompact(r.events);
  ASSERT_FALSE(events.reasons.empty());
  std::string_view shorter(events.reasons.data(), events.reasons.size() - 1);
  auto e = UnpackEvents(events.records, shorter, r.events.size());
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().msg.find("past the reasons blob"), std::string::npos) << e.error().msg;
  auto longer = UnpackEvents(events.records, events.reasons + "x", r.events.size());
  ASSERT_FALSE(longer.ok());
  EXPECT_NE(longer.error().msg.find("no order event claims"), std::string::npos)
      << longer.error().msg;
}

BlobRead FromMemory(std::span<const std::byte> blob) {
  return [blob](size_t offset, size_t length) -> Result<std::vector<std::byte>> {
    const size_t from = std::min(offset, blob.size());
    const size_t n = std::min(length, blob.size() - from);
    return std::vector<std::byte>(blob.begin() + from, blob.begin() + from + n);
  };
}

TEST(PackingCompactTest, AHeadReadInPiecesIsTheEventsOfItsBars) {
  const engine::RunResult r = MakeResult(300, 30);
  const PackedEvents events = PackEventsCompact(r.events);
  const auto reasons = std::as_bytes(std::span(events.reasons));
  for (size_t piece : {size_t{1}, size_t{65}, size_t{100}, size_t{1000}, size_t{1} << 20}) {
    for (size_t bars : {size_t{0}, size_t{1}, size_t{40}, size_t{151}, size_t{300}}) {
      SCOPED_TRACE(std::to_string(piece) + " " + std::to_string(bars));
      auto head = ReadEventsHeadCompact(FromMemory(events.records), FromMemory(reasons),
                                        r.events.size(), bars, piece);
      ASSERT_TRUE(head.ok()) << head.error().ToString();
      std::vector<engine::OrderEvent> want;
      for (const engine::OrderEvent& e : r.events) {
        if (e.bar >= bars) break;
        want.push_back(e);
      }
      ExpectSameEvents(*head, want);
    }
  }
  // Cut short: the head that reaches the cut is an error; one before it is not.
  const auto cut = std::span(events.records).first(events.records.size() - 2);
  auto whole = ReadEventsHeadCompact(FromMemory(cut), FromMemory(reasons), r.events.size(), 300,
                                     100);
  ASSERT_FALSE(whole.ok());
  EXPECT_NE(whole.error().msg.find("cut short"), std::string::npos) << whole.error().msg;
  EXPECT_TRUE(
      ReadEventsHeadCompact(FromMemory(cut), FromMemory(reasons), r.events.size(), 40, 100).ok());
  // A count not the row's.
  EXPECT_FALSE(ReadEventsHeadCompact(FromMemory(events.records), FromMemory(reasons),
                                     r.events.size() + 1, 40, 100)
                   .ok());
}

}  // namespace
}  // namespace tapedeck::store::internal
