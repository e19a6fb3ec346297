// Internal to src/store: what the packed blob formats share (packing_series.cpp for times and
// equity, packing_compact.cpp for events and trades; the formats are in packing.h): LEB128
// varints, zigzag for differences that may be negative, and a cursor reading a blob front to back
// in which every read says whether the bytes were there.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "common/error.h"

namespace tapedeck::store::internal {

inline constexpr size_t kMaxVarint = 10;  // bytes of a LEB128 uint64

// A blob that does not decode: IO, `what` says how (the caller adds which run).
inline Error Damaged(std::string what) { return MakeError(ErrorCode::kIo, std::move(what)); }

inline void PutVarint(std::vector<std::byte>& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<std::byte>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<std::byte>(v));
}

// Differences wrap at 64 bits; zigzag keeps small negative ones small.
inline uint64_t Zigzag(int64_t v) {
  const auto u = static_cast<uint64_t>(v);
  return (u << 1) ^ (0 - (u >> 63));
}
inline int64_t Unzigzag(uint64_t v) { return static_cast<int64_t>((v >> 1) ^ (0 - (v & 1))); }

// Reads bytes from the front of a blob; every read says whether the bytes were there (when not,
// `at` and the output are left as they were).
struct Cursor {
  std::span<const std::byte> bytes;
  size_t at = 0;

  size_t left() const { return bytes.size() - at; }
  bool Byte(uint8_t& b) {
    if (at >= bytes.size()) return false;
    b = static_cast<uint8_t>(bytes[at++]);
    return true;
  }
  // False also when the varint does not fit 64 bits.
  bool Varint(uint64_t& v) {
    uint64_t out = 0;
    for (size_t i = 0; i < kMaxVarint && at + i < bytes.size(); ++i) {
      const auto b = std::to_integer<uint64_t>(bytes[at + i]);
      if (i == kMaxVarint - 1 && b > 1) return false;
      out |= (b & 0x7f) << (7 * i);
      if ((b & 0x80) == 0) {
        at += i + 1;
        v = out;
        return true;
      }
    }
    return false;
  }
  bool U64(uint64_t& v) {
    if (left() < sizeof v) return false;
    std::memcpy(&v, bytes.data() + at, sizeof v);
    at += sizeof v;
    return true;
  }
};

}  // namespace tapedeck::store::internal
