#include "store/packing.h"

#include <bit>
#include <cstdint>
#include <cstring>

namespace tapedeck::store::internal {
namespace {

static_assert(std::endian::native == std::endian::little,
              "records are written little-endian as in memory");

template <typename T>
void Put(std::byte* at, T v) {
  std::memcpy(at, &v, sizeof v);
}

template <typename T>
T Get(const std::byte* at) {
  T v;
  std::memcpy(&v, at, sizeof v);
  return v;
}

Error Damaged(std::string what) { return MakeError(ErrorCode::kIo, std::move(what)); }

Error WrongLength(const char* what, size_t bytes, size_t count, size_t record) {
  return Damaged(std::string(what) + " blob holds " + std::to_string(bytes) + " bytes, not " +
                 std::to_string(count) + " records of " + std::to_string(record));
}

}  // namespace

PackedEvents PackEvents(std::span<const engine::OrderEvent> events) {
  PackedEvents out;
  out.records.resize(events.size() * kEventRecordBytes);
  std::byte* p = out.records.data();
  for (const engine::OrderEvent& e : events) {
    Put<int64_t>(p + 0, e.id);
    Put<int64_t>(p + 8, ToMicros(e.ts));
    Put<uint64_t>(p + 16, e.bar);
    Put<double>(p + 24, e.qty.value_or(0.0));
    Put<double>(p + 32, e.px);
    Put<double>(p + 40, e.commission);
    Put<uint32_t>(p + 48, e.symbol);
    Put<uint8_t>(p + 52, static_cast<uint8_t>(e.side));
    Put<uint8_t>(p + 53, static_cast<uint8_t>(e.type));
    Put<uint8_t>(p + 54, static_cast<uint8_t>(e.status));
    Put<uint8_t>(p + 55, e.qty ? 1 : 0);
    Put<uint32_t>(p + 56, static_cast<uint32_t>(e.reason.size()));
    Put<uint32_t>(p + 60, 0);
    out.reasons += e.reason;
    p += kEventRecordBytes;
  }
  return out;
}

std::vector<std::byte> PackTrades(std::span<const engine::Trade> trades) {
  std::vector<std::byte> out(trades.size() * kTradeRecordBytes);
  std::byte* p = out.data();
  for (const engine::Trade& t : trades) {
    Put<int64_t>(p + 0, ToMicros(t.entry_time));
    Put<int64_t>(p + 8, ToMicros(t.exit_time));
    Put<uint64_t>(p + 16, t.entry_bar);
    Put<uint64_t>(p + 24, t.exit_bar);
    Put<double>(p + 32, t.qty);
    Put<double>(p + 40, t.entry_px);
    Put<double>(p + 48, t.exit_px);
    Put<double>(p + 56, t.pnl);
    Put<double>(p + 64, t.ret);
    Put<uint32_t>(p + 72, t.symbol);
    Put<uint8_t>(p + 76, static_cast<uint8_t>(t.side));
    Put<uint8_t>(p + 77, t.open ? 1 : 0);
    Put<uint16_t>(p + 78, 0);
    p += kTradeRecordBytes;
  }
  return out;
}

Result<std::vector<engine::OrderEvent>> UnpackEvents(std::span<const std::byte> records,
                                                     std::string_view reasons, size_t count) {
  if (records.size() / kEventRecordBytes != count || records.size() % kEventRecordBytes != 0) {
    return WrongLength("the order events", records.size(), count, kEventRecordBytes);
  }
  std::vector<engine::OrderEvent> out(count);
  size_t reason_at = 0;
  const std::byte* p = records.data();
  for (size_t i = 0; i < count; ++i, p += kEventRecordBytes) {
    engine::OrderEvent& e = out[i];
    const auto side = Get<uint8_t>(p + 52);
    const auto type = Get<uint8_t>(p + 53);
    const auto status = Get<uint8_t>(p + 54);
    const auto flags = Get<uint8_t>(p + 55);
    if (side > static_cast<uint8_t>(engine::Side::kSell) ||
        type > static_cast<uint8_t>(engine::OrderType::kStopLimit) ||
        status > static_cast<uint8_t>(engine::OrderStatus::kRejected) || flags > 1) {
      return Damaged("order event " + std::to_string(i) + " has a bad side, type or status");
    }
    const auto reason_len = Get<uint32_t>(p + 56);
    if (reason_len > reasons.size() - reason_at) {
      return Damaged("order event " + std::to_string(i) + "'s reason runs past the reasons blob");
    }
    e.id = Get<int64_t>(p + 0);
    e.ts = FromMicros(Get<int64_t>(p + 8));
    e.bar = static_cast<size_t>(Get<uint64_t>(p + 16));
    if (flags & 1) e.qty = Get<double>(p + 24);
    e.px = Get<double>(p + 32);
    e.commission = Get<double>(p + 40);
    e.symbol = Get<uint32_t>(p + 48);
    e.side = static_cast<engine::Side>(side);
    e.type = static_cast<engine::OrderType>(type);
    e.status = static_cast<engine::OrderStatus>(status);
    e.reason.assign(reasons.substr(reason_at, reason_len));
    reason_at += reason_len;
  }
  if (reason_at != reasons.size()) {
    return Damaged("the reasons blob holds " + std::to_string(reasons.size() - reason_at) +
                   " bytes that no order event claims");
  }
  return out;
}

Result<std::vector<engine::Trade>> UnpackTrades(std::span<const std::byte> records, size_t count) {
  if (records.size() / kTradeRecordBytes != count || records.size() % kTradeRecordBytes != 0) {
    return WrongLength("the trades", records.size(), count, kTradeRecordBytes);
  }
  std::vector<engine::Trade> out(count);
  const std::byte* p = records.data();
  for (size_t i = 0; i < count; ++i, p += kTradeRecordBytes) {
    engine::Trade& t = out[i];
    const auto side = Get<uint8_t>(p + 76);
    const auto open = Get<uint8_t>(p + 77);
    if (side > static_cast<uint8_t>(engine::Side::kSell) || open > 1) {
      return Damaged("trade " + std::to_string(i) + " has a bad side or open flag");
    }
    t.entry_time = FromMicros(Get<int64_t>(p + 0));
    t.exit_time = FromMicros(Get<int64_t>(p + 8));
    t.entry_bar = static_cast<size_t>(Get<uint64_t>(p + 16));
    t.exit_bar = static_cast<size_t>(Get<uint64_t>(p + 24));
    t.qty = Get<double>(p + 32);
    t.entry_px = Get<double>(p + 40);
    t.exit_px = Get<double>(p + 48);
    t.pnl = Get<double>(p + 56);
    t.ret = Get<double>(p + 64);
    t.symbol = Get<uint32_t>(p + 72);
    t.side = static_cast<engine::Side>(side);
    t.open = open != 0;
  }
  return out;
}

}  // namespace tapedeck::store::internal
