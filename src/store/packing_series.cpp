// A run's times and equity packed (schema v8, kSeriesRuns) or as raw arrays (kSeriesRaw, earlier
// runs): the formats are described in packing.h.
#include <algorithm>
#include <initializer_list>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>

#include "store/blob_cursor.h"
#include "store/packing.h"

namespace tapedeck::store::internal {
namespace {

static_assert(std::endian::native == std::endian::little,
              "values are written little-endian as in memory");

void PutU64(std::vector<std::byte>& out, uint64_t v) {
  const size_t at = out.size();
  out.resize(at + sizeof v);
  std::memcpy(out.data() + at, &v, sizeof v);
}

// A whole varint that ended early or overflowed, told apart for the message.
std::string VarintTrouble(const Cursor& c) {
  return c.left() < kMaxVarint ? "ends inside a count" : "has a count past 64 bits";
}

template <typename T>
Result<std::vector<T>> UnpackRaw(std::span<const std::byte> blob, size_t count, const char* what) {
  if (blob.size() / sizeof(T) != count || blob.size() % sizeof(T) != 0) {
    return Damaged(std::string(what) + " holds " + std::to_string(blob.size()) + " bytes, not " +
                   std::to_string(count) + " values of 8");
  }
  std::vector<T> out(count);
  if (count > 0) std::memcpy(out.data(), blob.data(), blob.size());
  return out;
}

// Where a decode of equity segments stands: values written, and of the literal segment being read
// the values still to copy (a piece may end inside one).
struct EquityDecode {
  size_t filled = 0;
  size_t literals = 0;
};

// Decodes equity segments from `c` into out[d.filled ..], stopping after `want` values in all or
// where the buffer ends (inside a header: `c.at` stays at its start; inside a literal: after its
// last whole value, the rest counted in d.literals). Errors only for what more bytes cannot mend:
// a repeat with nothing before it, a zero count, a count past `total`.
Status DecodeEquitySegments(Cursor& c, size_t total, size_t want, std::vector<double>& out,
                            EquityDecode& d) {
  // Locals, not the references, in the loop: the stores into `out` cannot alias them.
  std::byte* const dst = reinterpret_cast<std::byte*>(out.data());
  size_t have = d.filled, literals = d.literals;
  Status status = Ok();
  while (have < want) {
    if (literals > 0) {
      const size_t k = std::min({literals, c.left() / sizeof(double), want - have});
      if (k == 0) break;  // the next value lies in the next piece
      std::memcpy(dst + have * sizeof(double), c.bytes.data() + c.at, k * sizeof(double));
      c.at += k * sizeof(double);
      have += k;
      literals -= k;
      continue;
    }
    if (c.left() == 0) break;
    const size_t start = c.at;
    uint64_t head = 0;
    if (!c.Varint(head)) {
      if (c.left() >= kMaxVarint) status = Damaged("the equity blob " + VarintTrouble(c));
      break;  // else it may end in the next piece
    }
    const uint64_t n = head >> 1;
    if (n == 0) {
      status = Damaged("the equity blob has an empty segment at byte " + std::to_string(start));
      break;
    }
    if (n > total - have) {
      status = Damaged("the equity blob's segments hold more than its " + std::to_string(total) +
                       " values");
      break;
    }
    if ((head & 1) == 0) {
      literals = static_cast<size_t>(n);
      continue;
    }
    if (have == 0) {
      status = Damaged("the equity blob repeats a value before its first");
      break;
    }
    const size_t take = static_cast<size_t>(std::min<uint64_t>(n, want - have));
    uint64_t bits = 0;
    std::memcpy(&bits, dst + (have - 1) * sizeof bits, sizeof bits);
    std::byte* to = dst + have * sizeof bits;
    for (size_t i = 0; i < take; ++i) std::memcpy(to + i * sizeof bits, &bits, sizeof bits);
    have += take;
  }
  d.filled = have;
  d.literals = literals;
  return status;
}

}  // namespace

std::vector<std::byte> PackTimes(std::span<const Timestamp> times) {
  std::vector<std::byte> out;
  if (times.empty()) return out;
  PutU64(out, static_cast<uint64_t>(ToMicros(times[0])));
  size_t i = 1;
  while (i < times.size()) {
    // Differences wrap as uint64: any int64 sequence round-trips.
    const uint64_t delta =
        static_cast<uint64_t>(ToMicros(times[i])) - static_cast<uint64_t>(ToMicros(times[i - 1]));
    size_t j = i + 1;
    while (j < times.size() && static_cast<uint64_t>(ToMicros(times[j])) -
                                       static_cast<uint64_t>(ToMicros(times[j - 1])) ==
                                   delta) {
      ++j;
    }
    PutVarint(out, Zigzag(static_cast<int64_t>(delta)));
    PutVarint(out, j - i);
    i = j;
  }
  return out;
}

std::vector<std::byte> PackEquity(std::span<const double> equity) {
  std::vector<std::byte> out;
  out.reserve(equity.size() * sizeof(double) / 2 + 16);
  const auto bits = [&](size_t i) { return std::bit_cast<uint64_t>(equity[i]); };
  size_t i = 0;
  while (i < equity.size()) {
    // A repeat of the value before (bit for bit) runs to its end; else a literal runs to the
    // next repeat.
    if (i > 0 && bits(i) == bits(i - 1)) {
      size_t j = i + 1;
      while (j < equity.size() && bits(j) == bits(i)) ++j;
      PutVarint(out, (uint64_t{j - i} << 1) | 1);
      i = j;
      continue;
    }
    size_t j = i + 1;
    while (j < equity.size() && bits(j) != bits(j - 1)) ++j;
    PutVarint(out, uint64_t{j - i} << 1);
    const size_t at = out.size();
    out.resize(at + (j - i) * sizeof(double));
    std::memcpy(out.data() + at, equity.data() + i, (j - i) * sizeof(double));
    i = j;
  }
  return out;
}

Result<std::vector<Timestamp>> UnpackTimes(int64_t codec, std::span<const std::byte> blob,
                                           size_t count) {
  TD_ASSIGN_OR_RETURN(TimesHead & head, UnpackTimesHead(codec, blob, count, count));
  return std::move(head.times);
}

Result<TimesHead> UnpackTimesHead(int64_t codec, std::span<const std::byte> blob, size_t count,
                                  size_t bars) {
  bars = std::min(bars, count);
  TimesHead out;
  if (codec == kSeriesRaw) {
    if (blob.size() / sizeof(int64_t) != count || blob.size() % sizeof(int64_t) != 0) {
      return Damaged("the times blob holds " + std::to_string(blob.size()) + " bytes, not " +
                     std::to_string(count) + " values of 8");
    }
    out.times.resize(bars);
    if (bars > 0) std::memcpy(out.times.data(), blob.data(), bars * sizeof(int64_t));
    if (count > 0) {
      int64_t last = 0;
      std::memcpy(&last, blob.data() + (count - 1) * sizeof(int64_t), sizeof last);
      out.last = FromMicros(last);
    }
    return out;
  }
  if (codec != kSeriesRuns) return Damaged("the times blob has codec " + std::to_string(codec));
  if (count == 0) {
    if (!blob.empty()) return Damaged("the times blob of no values holds bytes");
    return out;
  }
  Cursor c{blob};
  uint64_t now = 0;
  if (!c.U64(now)) return Damaged("the times blob ends inside its first value");
  out.times.resize(bars);
  Timestamp* at = out.times.data();
  if (bars > 0) *at++ = FromMicros(static_cast<int64_t>(now));
  size_t have = 1;
  while (have < count) {
    uint64_t delta = 0, n = 0;
    if (!c.Varint(delta) || !c.Varint(n)) {
      return Damaged("the times blob " + VarintTrouble(c) + " after " + std::to_string(have) +
                     " of its " + std::to_string(count) + " values");
    }
    if (n == 0 || n > count - have) {
      return Damaged("the times blob's runs do not add up to its " + std::to_string(count) +
                     " values");
    }
    delta = static_cast<uint64_t>(Unzigzag(delta));
    const size_t emit = std::min<size_t>(static_cast<size_t>(n), bars - std::min(bars, have));
    for (size_t k = 0; k < emit; ++k) {
      at[k] = FromMicros(static_cast<int64_t>(now + delta * (k + 1)));
    }
    at += emit;
    now += delta * n;  // past the head only the last value is kept
    have += static_cast<size_t>(n);
  }
  if (c.left() != 0) {
    return Damaged("the times blob holds " + std::to_string(c.left()) +
                   " bytes past its last value");
  }
  out.last = FromMicros(static_cast<int64_t>(now));
  return out;
}

Result<std::vector<double>> UnpackEquity(int64_t codec, std::span<const std::byte> blob,
                                         size_t count) {
  if (codec == kSeriesRaw) return UnpackRaw<double>(blob, count, "the equity blob");
  if (codec != kSeriesRuns) return Damaged("the equity blob has codec " + std::to_string(codec));
  std::vector<double> out(count);
  Cursor c{blob};
  EquityDecode d;
  TD_TRY(DecodeEquitySegments(c, count, count, out, d));
  if (d.filled != count) {
    return Damaged("the equity blob ends after " + std::to_string(d.filled) + " of its " +
                   std::to_string(count) + " values");
  }
  if (c.left() != 0) {
    return Damaged("the equity blob holds " + std::to_string(c.left()) +
                   " bytes past its last value");
  }
  return out;
}

namespace {

// The first `bars` of an equity blob in kSeriesRuns form of `count` values, read a piece at a time
// from the front, each piece at most `max_piece` bytes; with `whole`, the blob must end right after
// them (bars == count).
Result<std::vector<double>> ReadEquityPieces(const BlobRead& blob, size_t count, size_t bars,
                                             size_t max_piece, bool whole) {
  std::vector<double> out(bars);
  std::vector<std::byte> rest;  // bytes of a header or value cut by a piece's end
  size_t offset = 0;             // of the next piece in the blob
  EquityDecode d;
  while (d.filled < bars) {
    // Enough for the values left when they are all literals in one segment; more pieces if not.
    const size_t ask = std::min((bars - d.filled) * sizeof(double) + 2 * kMaxVarint, max_piece);
    TD_ASSIGN_OR_RETURN(std::vector<std::byte> & piece, blob(offset, ask));
    if (piece.empty()) {
      return Damaged("the equity blob ends after " + std::to_string(d.filled) + " of its " +
                     std::to_string(count) + " values");
    }
    offset += piece.size();
    // Decoded from the piece itself unless bytes of the last one are left over (rarely: a
    // header or a value cut in two).
    if (!rest.empty()) {
      rest.insert(rest.end(), piece.begin(), piece.end());
      piece.swap(rest);
    }
    Cursor c{piece};
    TD_TRY(DecodeEquitySegments(c, count, bars, out, d));
    rest.assign(piece.begin() + static_cast<ptrdiff_t>(c.at), piece.end());
  }
  if (whole) {
    TD_ASSIGN_OR_RETURN(const std::vector<std::byte>& more, blob(offset, 1));
    if (!rest.empty() || !more.empty() || d.literals != 0) {
      return Damaged("the equity blob holds bytes past its last value");
    }
  }
  return out;
}

// Pieces of a whole read: no second copy of the blob, and under malloc's mmap threshold (128 KB)
// so that each is not a fresh mapping to fault in (256 KB pieces made LoadRunResult 2.5 ms slower).
constexpr size_t kWholePieceBytes = 64 * 1024;

}  // namespace

Result<std::vector<double>> ReadEquityHead(int64_t codec, const BlobRead& blob, size_t count,
                                           size_t bars) {
  bars = std::min(bars, count);
  if (codec == kSeriesRaw) {
    TD_ASSIGN_OR_RETURN(const std::vector<std::byte>& bytes, blob(0, bars * sizeof(double)));
    return UnpackRaw<double>(bytes, bars, "the equity blob's head");
  }
  if (codec != kSeriesRuns) return Damaged("the equity blob has codec " + std::to_string(codec));
  return ReadEquityPieces(blob, count, bars, SIZE_MAX, /*whole=*/false);
}

Result<std::vector<double>> ReadEquity(const BlobRead& blob, size_t count) {
  return ReadEquityPieces(blob, count, count, kWholePieceBytes, /*whole=*/true);
}

}  // namespace tapedeck::store::internal
