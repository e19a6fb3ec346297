// Internal to src/store: a run's order events and trades packed as fixed-width little-endian
// records, one blob per run (schema v3). A year of one-minute sma_cross has ~41,000 events and
// ~10,000 trades; as a row each they cost CompleteRun most of its time (B-tree inserts, CHECKs,
// text enums), packed they are two memcpy-speed blob writes. Nothing queries inside them: every
// reader wants the whole list, in order.
//
// Event record, 64 bytes (offsets in bytes):
//   0 id i64 | 8 ts µs i64 | 16 bar u64 | 24 qty f64 | 32 px f64 | 40 commission f64 |
//   48 symbol u32 | 52 side u8 | 53 type u8 | 54 status u8 | 55 flags u8 (bit 0: qty present) |
//   56 reason length u32 | 60 zero u32
// The reasons (rejected orders only) are concatenated in event order in a second blob.
//
// Trade record, 80 bytes:
//   0 entry µs i64 | 8 exit µs i64 | 16 entry bar u64 | 24 exit bar u64 | 32 qty f64 |
//   40 entry px f64 | 48 exit px f64 | 56 pnl f64 | 64 ret f64 | 72 symbol u32 | 76 side u8 |
//   77 open u8 | 78 zero u16
//
// Enums are stored as their numeric values and checked on the way back: a damaged blob is an
// error, never a garbage event.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "common/error.h"
#include "engine/run_result.h"

namespace tapedeck::store::internal {

inline constexpr size_t kEventRecordBytes = 64;
inline constexpr size_t kTradeRecordBytes = 80;

struct PackedEvents {
  std::vector<std::byte> records;  // events.size() * kEventRecordBytes
  std::string reasons;
};

PackedEvents PackEvents(std::span<const engine::OrderEvent> events);
std::vector<std::byte> PackTrades(std::span<const engine::Trade> trades);

// `count` is what the row says the blob holds. Errors: IO naming what is wrong (a length that is
// not count records, an enum out of range, reasons that do not add up).
Result<std::vector<engine::OrderEvent>> UnpackEvents(std::span<const std::byte> records,
                                                     std::string_view reasons, size_t count);
Result<std::vector<engine::Trade>> UnpackTrades(std::span<const std::byte> records, size_t count);

}  // namespace tapedeck::store::internal
