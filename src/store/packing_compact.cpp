// The compact forms of the order events and trades blobs (packing.h: "Compact events" and
// "Compact trades"): varint deltas and "same as before" bits instead of fixed-width records.
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "store/blob_cursor.h"
#include "store/packing.h"

namespace tapedeck::store::internal {
namespace {

// Event kind byte: bit 0 side, bits 1-2 type, bits 3-4 status, bit 5 qty present.
constexpr uint8_t kKindQty = 1 << 5;
constexpr uint8_t kKindUnused = 0xC0;
// Event flags byte.
constexpr uint8_t kSameQty = 1 << 0;
constexpr uint8_t kSamePx = 1 << 1;
constexpr uint8_t kNanPx = 1 << 2;  // px is the default quiet NaN (an order not filled)
constexpr uint8_t kSameCommission = 1 << 3;
constexpr uint8_t kZeroCommission = 1 << 4;  // +0.0
constexpr uint8_t kSameSymbol = 1 << 5;
constexpr uint8_t kHasReason = 1 << 6;
constexpr uint8_t kFlagsUnused = 0x80;
// Trade flags byte.
constexpr uint8_t kTradeSell = 1 << 0;
constexpr uint8_t kTradeOpen = 1 << 1;
constexpr uint8_t kTradeSameSymbol = 1 << 2;
constexpr uint8_t kTradeSameQty = 1 << 3;
constexpr uint8_t kTradeEntryAtLastExit = 1 << 4;  // entry px == the trade before's exit px
constexpr uint8_t kTradeUnused = 0xE0;

const uint64_t kNanBits = std::bit_cast<uint64_t>(static_cast<double>(NAN));
const uint64_t kZeroBits = std::bit_cast<uint64_t>(0.0);

// Differences wrap at 64 bits, as the values' sum does on the way back.
int64_t Minus(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
int64_t Plus(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

// Writes into a buffer sized for the worst case up front (no growth checks per byte); Finish
// cuts it to what was written.
struct Writer {
  std::vector<std::byte>& out;
  std::byte* p;

  Writer(std::vector<std::byte>& buffer, size_t most) : out(buffer) {
    out.resize(most);
    p = out.data();
  }
  void Byte(uint8_t b) { *p++ = static_cast<std::byte>(b); }
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      *p++ = static_cast<std::byte>((v & 0x7F) | 0x80);
      v >>= 7;
    }
    *p++ = static_cast<std::byte>(v);
  }
  void Bits(uint64_t bits) {
    std::memcpy(p, &bits, 8);
    p += 8;
  }
  void Magic(const std::array<uint8_t, 8>& magic) {
    std::memcpy(p, magic.data(), magic.size());
    p += magic.size();
  }
  void Finish() { out.resize(static_cast<size_t>(p - out.data())); }
};
// The most bytes a record takes: its flag bytes, its varints at 10 bytes, its doubles.
constexpr size_t kMostEventBytes = 2 + 5 * kMaxVarint + 3 * 8;
constexpr size_t kMostTradeBytes = 1 + 5 * kMaxVarint + 6 * 8;

bool HasMagic(std::span<const std::byte> blob, const std::array<uint8_t, 8>& magic) {
  if (blob.size() < magic.size()) return false;
  for (size_t i = 0; i < magic.size(); ++i) {
    if (static_cast<uint8_t>(blob[i]) != magic[i]) return false;
  }
  return true;
}

std::string VarintTrouble(const Cursor& c) {
  return c.left() < kMaxVarint ? "ends inside a number" : "has a number past 64 bits";
}

// The count the blob states after its magic, checked against the row's.
Status ReadCount(Cursor& c, const char* what, size_t count) {
  uint64_t stated = 0;
  if (!c.Varint(stated)) return Damaged(std::string(what) + " blob " + VarintTrouble(c));
  if (stated != count) {
    return Damaged(std::string(what) + " blob says it holds " + std::to_string(stated) +
                   " records, not " + std::to_string(count));
  }
  return Ok();
}

}  // namespace

bool IsCompactEvents(std::span<const std::byte> records) {
  return HasMagic(records, kCompactEventsMagic);
}
bool IsCompactTrades(std::span<const std::byte> records) {
  return HasMagic(records, kCompactTradesMagic);
}

PackedEvents PackEventsCompact(std::span<const engine::OrderEvent> events) {
  PackedEvents out;
  if (events.empty()) return out;
  Writer w(out.records, kCompactEventsMagic.size() + kMaxVarint + events.size() * kMostEventBytes);
  w.Magic(kCompactEventsMagic);
  w.Varint(events.size());
  int64_t id = 0, ts = 0, bar = 0;
  uint64_t qty = kZeroBits, px = kZeroBits, commission = kZeroBits;
  uint32_t symbol = 0;
  for (const engine::OrderEvent& e : events) {
    const uint8_t kind =
        static_cast<uint8_t>(static_cast<uint8_t>(e.side) | static_cast<uint8_t>(e.type) << 1 |
                             static_cast<uint8_t>(e.status) << 3 | (e.qty ? kKindQty : 0));
    const uint64_t q = std::bit_cast<uint64_t>(e.qty.value_or(0.0));
    const uint64_t p = std::bit_cast<uint64_t>(e.px);
    const uint64_t c = std::bit_cast<uint64_t>(e.commission);
    uint8_t flags = 0;
    if (e.qty && q == qty) flags |= kSameQty;
    if (p == px) {
      flags |= kSamePx;
    } else if (p == kNanBits) {
      flags |= kNanPx;
    }
    if (c == commission) {
      flags |= kSameCommission;
    } else if (c == kZeroBits) {
      flags |= kZeroCommission;
    }
    if (e.symbol == symbol) flags |= kSameSymbol;
    if (!e.reason.empty()) flags |= kHasReason;
    w.Byte(kind);
    w.Byte(flags);
    w.Varint(Zigzag(Minus(e.id, id)));
    w.Varint(Zigzag(Minus(ToMicros(e.ts), ts)));
    w.Varint(Zigzag(Minus(static_cast<int64_t>(e.bar), bar)));
    if (!(flags & kSameSymbol)) w.Varint(e.symbol);
    if (e.qty && !(flags & kSameQty)) w.Bits(q);
    if (!(flags & (kSamePx | kNanPx))) w.Bits(p);
    if (!(flags & (kSameCommission | kZeroCommission))) w.Bits(c);
    if (flags & kHasReason) {
      w.Varint(e.reason.size());
      out.reasons += e.reason;
    }
    id = e.id;
    ts = ToMicros(e.ts);
    bar = static_cast<int64_t>(e.bar);
    if (e.qty) qty = q;
    px = p;
    commission = c;
    symbol = e.symbol;
  }
  w.Finish();
  return out;
}

namespace {

// Decodes compact event records one at a time, carrying what each refers back to.
struct EventDecoder {
  int64_t id = 0, ts = 0, bar = 0;
  uint64_t qty = kZeroBits, px = kZeroBits, commission = kZeroBits;
  uint32_t symbol = 0;

  enum Outcome { kDecoded, kCutShort, kBad };
  // Event `i` from `cur` into `e` (but its reason: its length into `reason_len`). kCutShort: the
  // bytes end inside it (more bytes may complete it); kBad: it can be no event (`why`).
  Outcome Next(Cursor& cur, engine::OrderEvent& e, uint64_t& reason_len, std::string& why) {
    uint8_t kind = 0, flags = 0;
    if (!cur.Byte(kind) || !cur.Byte(flags)) return kCutShort;
    if ((kind & kKindUnused) != 0 || (flags & kFlagsUnused) != 0 ||
        (flags & kSamePx && flags & kNanPx) ||
        (flags & kSameCommission && flags & kZeroCommission) ||
        (flags & kSameQty && !(kind & kKindQty))) {
      why = "has a bad kind or flags byte";
      return kBad;
    }
    const auto varint = [&](uint64_t& v) -> Outcome {
      if (cur.Varint(v)) return kDecoded;
      if (cur.left() < kMaxVarint) return kCutShort;
      why = "has a number past 64 bits";
      return kBad;
    };
    uint64_t d_id = 0, d_ts = 0, d_bar = 0;
    for (uint64_t* v : {&d_id, &d_ts, &d_bar}) {
      if (const Outcome o = varint(*v); o != kDecoded) return o;
    }
    id = Plus(id, Unzigzag(d_id));
    ts = Plus(ts, Unzigzag(d_ts));
    bar = Plus(bar, Unzigzag(d_bar));
    if (bar < 0) {
      why = "has a bar before the first";
      return kBad;
    }
    if (!(flags & kSameSymbol)) {
      uint64_t sym = 0;
      if (const Outcome o = varint(sym); o != kDecoded) return o;
      if (sym > UINT32_MAX) {
        why = "has a symbol past 32 bits";
        return kBad;
      }
      symbol = static_cast<uint32_t>(sym);
    }
    if (kind & kKindQty && !(flags & kSameQty) && !cur.U64(qty)) return kCutShort;
    if (flags & kNanPx) {
      px = kNanBits;
    } else if (!(flags & kSamePx) && !cur.U64(px)) {
      return kCutShort;
    }
    if (flags & kZeroCommission) {
      commission = kZeroBits;
    } else if (!(flags & kSameCommission) && !cur.U64(commission)) {
      return kCutShort;
    }
    reason_len = 0;
    if (flags & kHasReason) {
      if (const Outcome o = varint(reason_len); o != kDecoded) return o;
      if (reason_len == 0) {
        why = "has an empty reason marked present";
        return kBad;
      }
    }
    e.id = id;
    e.ts = FromMicros(ts);
    e.bar = static_cast<size_t>(bar);
    e.symbol = symbol;
    e.side = static_cast<engine::Side>(kind & 1);
    e.type = static_cast<engine::OrderType>((kind >> 1) & 3);
    e.status = static_cast<engine::OrderStatus>((kind >> 3) & 3);
    if (kind & kKindQty) e.qty = std::bit_cast<double>(qty);
    e.px = std::bit_cast<double>(px);
    e.commission = std::bit_cast<double>(commission);
    return kDecoded;
  }
};

Error BadEvent(size_t i, const std::string& what) {
  return Damaged("order event " + std::to_string(i) + " of the compact blob " + what);
}

}  // namespace

Result<std::vector<engine::OrderEvent>> UnpackEventsCompact(std::span<const std::byte> records,
                                                            std::string_view reasons,
                                                            size_t count) {
  Cursor cur{records, kCompactEventsMagic.size()};
  TD_TRY(ReadCount(cur, "the order events", count));
  std::vector<engine::OrderEvent> out(count);
  EventDecoder decoder;
  size_t reason_at = 0;
  std::string why;
  for (size_t i = 0; i < count; ++i) {
    uint64_t reason_len = 0;
    const EventDecoder::Outcome o = decoder.Next(cur, out[i], reason_len, why);
    if (o == EventDecoder::kCutShort) return BadEvent(i, "is cut short");
    if (o == EventDecoder::kBad) return BadEvent(i, why);
    if (reason_len > reasons.size() - reason_at) {
      return BadEvent(i, "has a reason past the reasons blob");
    }
    out[i].reason.assign(reasons.substr(reason_at, reason_len));
    reason_at += reason_len;
  }
  if (cur.left() != 0) {
    return Damaged("the compact order events blob has " + std::to_string(cur.left()) +
                   " bytes past its last record");
  }
  if (reason_at != reasons.size()) {
    return Damaged("the reasons blob holds " + std::to_string(reasons.size() - reason_at) +
                   " bytes that no order event claims");
  }
  return out;
}

Result<std::vector<engine::OrderEvent>> ReadEventsHeadCompact(const BlobRead& records,
                                                              const BlobRead& reasons,
                                                              size_t count, size_t bars,
                                                              size_t first_piece) {
  size_t piece = std::max<size_t>(first_piece, 64);
  TD_ASSIGN_OR_RETURN(std::vector<std::byte> bytes, records(0, piece));
  bool at_end = bytes.size() < piece;
  Cursor cur{bytes, kCompactEventsMagic.size()};
  if (!IsCompactEvents(bytes)) return Damaged("the order events blob lost its compact form");
  TD_TRY(ReadCount(cur, "the order events", count));
  std::vector<engine::OrderEvent> out;
  std::vector<uint64_t> reason_lens;
  uint64_t reason_bytes = 0;
  EventDecoder decoder;
  std::string why;
  while (out.size() < count) {
    const EventDecoder before = decoder;
    const size_t at = cur.at;
    engine::OrderEvent e;
    uint64_t reason_len = 0;
    const EventDecoder::Outcome o = decoder.Next(cur, e, reason_len, why);
    if (o == EventDecoder::kCutShort && !at_end) {  // read on and decode it again
      piece *= 2;
      TD_ASSIGN_OR_RETURN(const std::vector<std::byte>& more, records(bytes.size(), piece));
      at_end = more.size() < piece;
      bytes.insert(bytes.end(), more.begin(), more.end());
      decoder = before;
      cur = Cursor{bytes, at};
      continue;
    }
    if (o == EventDecoder::kCutShort) return BadEvent(out.size(), "is cut short");
    if (o == EventDecoder::kBad) return BadEvent(out.size(), why);
    if (e.bar >= bars) break;
    out.push_back(std::move(e));
    reason_lens.push_back(reason_len);
    reason_bytes += reason_len;
  }
  if (reason_bytes == 0) return out;
  TD_ASSIGN_OR_RETURN(const std::vector<std::byte>& text, reasons(0, reason_bytes));
  if (text.size() != reason_bytes) {
    return Damaged("the reasons blob ends before its order events' reasons");
  }
  const std::string_view all(reinterpret_cast<const char*>(text.data()), text.size());
  size_t reason_at = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    out[i].reason.assign(all.substr(reason_at, reason_lens[i]));
    reason_at += reason_lens[i];
  }
  return out;
}

std::vector<std::byte> PackTradesCompact(std::span<const engine::Trade> trades) {
  std::vector<std::byte> out;
  if (trades.empty()) return out;
  Writer w(out, kCompactTradesMagic.size() + kMaxVarint + trades.size() * kMostTradeBytes);
  w.Magic(kCompactTradesMagic);
  w.Varint(trades.size());
  int64_t entry = 0, entry_bar = 0;
  uint64_t qty = kZeroBits, last_exit_px = kZeroBits;
  uint32_t symbol = 0;
  for (const engine::Trade& t : trades) {
    const uint64_t q = std::bit_cast<uint64_t>(t.qty);
    const uint64_t entry_px = std::bit_cast<uint64_t>(t.entry_px);
    uint8_t flags = 0;
    if (t.side == engine::Side::kSell) flags |= kTradeSell;
    if (t.open) flags |= kTradeOpen;
    if (t.symbol == symbol) flags |= kTradeSameSymbol;
    if (q == qty) flags |= kTradeSameQty;
    if (entry_px == last_exit_px) flags |= kTradeEntryAtLastExit;
    w.Byte(flags);
    const int64_t t_entry = ToMicros(t.entry_time);
    const auto t_entry_bar = static_cast<int64_t>(t.entry_bar);
    w.Varint(Zigzag(Minus(t_entry, entry)));
    w.Varint(Zigzag(Minus(ToMicros(t.exit_time), t_entry)));
    w.Varint(Zigzag(Minus(t_entry_bar, entry_bar)));
    w.Varint(Zigzag(Minus(static_cast<int64_t>(t.exit_bar), t_entry_bar)));
    if (!(flags & kTradeSameSymbol)) w.Varint(t.symbol);
    if (!(flags & kTradeSameQty)) w.Bits(q);
    if (!(flags & kTradeEntryAtLastExit)) w.Bits(entry_px);
    w.Bits(std::bit_cast<uint64_t>(t.exit_px));
    w.Bits(std::bit_cast<uint64_t>(t.pnl));
    w.Bits(std::bit_cast<uint64_t>(t.ret));
    entry = t_entry;
    entry_bar = t_entry_bar;
    qty = q;
    last_exit_px = std::bit_cast<uint64_t>(t.exit_px);
    symbol = t.symbol;
  }
  w.Finish();
  return out;
}

Result<std::vector<engine::Trade>> UnpackTradesCompact(std::span<const std::byte> records,
                                                       size_t count) {
  Cursor cur{records, kCompactTradesMagic.size()};
  TD_TRY(ReadCount(cur, "the trades", count));
  std::vector<engine::Trade> out(count);
  int64_t entry = 0, entry_bar = 0;
  uint64_t qty = kZeroBits, last_exit_px = kZeroBits;
  uint32_t symbol = 0;
  for (size_t i = 0; i < count; ++i) {
    const auto bad = [&](const std::string& what) {
      return Damaged("trade " + std::to_string(i) + " of the compact blob " + what);
    };
    uint8_t flags = 0;
    if (!cur.Byte(flags)) return bad("is cut short");
    if ((flags & kTradeUnused) != 0) return bad("has a bad side or flags byte");
    uint64_t d_entry = 0, d_exit = 0, d_entry_bar = 0, d_exit_bar = 0;
    if (!cur.Varint(d_entry) || !cur.Varint(d_exit) || !cur.Varint(d_entry_bar) ||
        !cur.Varint(d_exit_bar)) {
      return bad(VarintTrouble(cur));
    }
    entry = Plus(entry, Unzigzag(d_entry));
    entry_bar = Plus(entry_bar, Unzigzag(d_entry_bar));
    const int64_t exit_bar = Plus(entry_bar, Unzigzag(d_exit_bar));
    if (entry_bar < 0 || exit_bar < 0) return bad("has a bar before the first");
    if (!(flags & kTradeSameSymbol)) {
      uint64_t s = 0;
      if (!cur.Varint(s)) return bad(VarintTrouble(cur));
      if (s > UINT32_MAX) return bad("has a symbol past 32 bits");
      symbol = static_cast<uint32_t>(s);
    }
    uint64_t entry_px = last_exit_px, exit_px = 0, pnl = 0, ret = 0;
    if (!(flags & kTradeSameQty) && !cur.U64(qty)) return bad("is cut short");
    if (!(flags & kTradeEntryAtLastExit) && !cur.U64(entry_px)) return bad("is cut short");
    if (!cur.U64(exit_px) || !cur.U64(pnl) || !cur.U64(ret)) return bad("is cut short");
    engine::Trade& t = out[i];
    t.symbol = symbol;
    t.side = flags & kTradeSell ? engine::Side::kSell : engine::Side::kBuy;
    t.open = (flags & kTradeOpen) != 0;
    t.entry_time = FromMicros(entry);
    t.exit_time = FromMicros(Plus(entry, Unzigzag(d_exit)));
    t.entry_bar = static_cast<size_t>(entry_bar);
    t.exit_bar = static_cast<size_t>(exit_bar);
    t.qty = std::bit_cast<double>(qty);
    t.entry_px = std::bit_cast<double>(entry_px);
    t.exit_px = std::bit_cast<double>(exit_px);
    t.pnl = std::bit_cast<double>(pnl);
    t.ret = std::bit_cast<double>(ret);
    last_exit_px = exit_px;
  }
  if (cur.left() != 0) {
    return Damaged("the compact trades blob has " + std::to_string(cur.left()) +
                   " bytes past its last record");
  }
  return out;
}

}  // namespace tapedeck::store::internal
