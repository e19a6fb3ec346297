// Internal to src/store: a run's order events and trades packed as fixed-width little-endian
// records, one blob per run (schema v3). A year of one-minute sma_cross has ~41,000 events and
// ~10,000 trades; as a row each they cost CompleteRun most of its time (B-tree inserts, CHECKs,
// text enums), packed they are two memcpy-speed blob writes. Nothing queries inside them: every
// reader wants the whole list, in order.
//
// Event record, 64 bytes (offsets in bytes; schema steps before v8):
//   0 id i64 | 8 ts µs i64 | 16 bar u64 | 24 qty f64 | 32 px f64 | 40 commission f64 |
//   48 symbol u32 | 52 side u8 | 53 type u8 | 54 status u8 | 55 flags u8 (bit 0: qty present) |
//   56 reason length u32 | 60 zero u32
// The reasons (rejected orders only) are concatenated in event order in a second blob.
//
// Compact events (what CompleteRun writes since schema v8 / PostgreSQL v3; the 64-byte records
// above still read): the 8 bytes kCompactEventsMagic (its last byte has the top bit set, so as an
// old blob's first i64, event 0's id, it would be negative: no old blob starts with it), the
// event count as a LEB128 varint, then per event
//   kind u8 (bit 0 side, bits 1-2 type, bits 3-4 status, bit 5 qty present, bits 6-7 zero) |
//   flags u8 (bit 0 qty as the last present qty, bit 1 px as the event before's, bit 2 px the
//     default quiet NaN, bit 3 commission as the event before's, bit 4 commission +0.0,
//     bit 5 symbol as the event before's, bit 6 a reason follows, bit 7 zero; bits 1 and 2,
//     3 and 4 never both) |
//   id, ts µs and bar as zigzag varints of the difference to the event before's (0 before the
//     first; wrapped at 64 bits) | symbol varint (unless bit 5) | qty f64 (present and not
//     bit 0) | px f64 (neither bit 1 nor 2) | commission f64 (neither bit 3 nor 4) |
//   reason length varint (>= 1, bit 6 only).
// "As before" compares the doubles bit for bit. No events: an empty blob, as before. The reasons
// blob is as above. A ~41,000-event year of one-minute sma_cross: ~20-25 bytes an event, not 64.
// (The unused bits act as the enums' range check: the 2-bit fields hold only valid values.)
//
// Compact trades: kCompactTradesMagic (as an old blob's first i64, an entry time, it is
// ~-292,000 years: times come from bars, whose years have four digits or are epoch counts, so
// no old blob starts with it), the trade count as a varint, then per trade
//   flags u8 (bit 0 short, bit 1 open, bit 2 symbol as the trade before's, bit 3 qty as the trade
//     before's, bit 4 entry px the trade before's exit px, bits 5-7 zero) |
//   zigzag varints: entry µs - the trade before's entry µs, exit µs - entry µs, entry bar - the
//     trade before's entry bar, exit bar - entry bar | symbol varint (unless bit 2) |
//   qty f64 (unless bit 3) | entry px f64 (unless bit 4) | exit px | pnl | ret (f64 each).
// A compact decoder checks the stated count against the row's, every varint (at most 10 bytes,
// 64 bits), every flags byte, each record's end against the blob's and no bytes after the last.
//
// Trade record, 80 bytes:
//   0 entry µs i64 | 8 exit µs i64 | 16 entry bar u64 | 24 exit bar u64 | 32 qty f64 |
//   40 entry px f64 | 48 exit px f64 | 56 pnl f64 | 64 ret f64 | 72 symbol u32 | 76 side u8 |
//   77 open u8 | 78 zero u16
//
// Plots (schema v4), one blob per run, per series in declaration order: a 24-byte header
//   0 name length u32 | 4 pane u8 | 5 derivation length u8 (schema v8) | 6 zero u16 |
//   8 first bar u64 | 16 value count u64
// then the name's bytes, then the derivation's (engine::PlotSeries::derivation; none before v8),
// then the values of bars first .. first + count - 1 as f64: the span from the series' first to
// its last finite value, NaN everywhere else (a warm-up costs nothing). A derived series (a
// built-in's indicator, schema v8) has no values (first 0, count 0): it is what it is, not its
// numbers, and whoever shows it computes them from the bars (strategies::MaterialisePlots). Its
// values, 8 bytes a bar, were half of what a year-of-minutes sma_cross run wrote.
//
// Log record, 24 bytes: 0 ts µs i64 | 8 bar u64 | 16 message length u32 | 20 zero u32; the
// messages are concatenated in log order in a second blob.
//
// Stats record (schema v7, a sweep's trial), 152 bytes, engine::Stats' fields in declaration order:
//   0 bars u64 | 8 fills u64 | 16 trades u64 | 24 start_equity f64 | 32 final_equity |
//   40 total_return | 48 cagr | 56 volatility | 64 sharpe | 72 sortino | 80 calmar |
//   88 max_drawdown | 96 max_drawdown_duration µs i64 | 104 win_rate | 112 profit_factor |
//   120 expectancy | 128 exposure | 136 buy_and_hold_return | 144 periods_per_year
// (every double bit for bit: NaN and ±inf come back as they went in).
//
// Daily return record (schema v7), 12 bytes: 0 day i32 (days since 1970-01-01) | 4 ret f64.
//
// Times and equity (table run_equity, and PostgreSQL's run_heads), one blob each, in the form
// the row's `codec` names:
//   kSeriesRaw (0, every run stored before schema v8): `points` values as in memory, times as
//     i64 µs, equity as f64.
//   kSeriesRuns (1, schema v8): times as the first value (i64 µs, 8 bytes) then runs of equal
//     differences, each two LEB128 varints: the difference (µs, wrapped to 64 bits, zigzag) and
//     how many values (>= 1) it steps to; the counts add up to points - 1 (no bytes for no
//     points). A regular grid is ~15 bytes, each gap in it ~13 more. Equity as segments, each a
//     LEB128 varint header h with n = h >> 1 (>= 1) values: h & 1 = 0, n literal f64 follow;
//     h & 1 = 1, the value before repeats n times, bit for bit (a flat stretch, out of the
//     market, is 1-4 bytes however long; NaN, infinities and -0.0 are literals as any value).
//     The segments' values add up to points. Nothing else: no trailing bytes.
// A decoder checks every count against `points` and the blob's end: a damaged blob is an error,
// never garbage values.
//
// Enums are stored as their numeric values and checked on the way back: a damaged blob is an
// error, never a garbage event.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/error.h"
#include "engine/run_result.h"
#include "sweep/robustness.h"

namespace tapedeck::store::internal {

inline constexpr size_t kEventRecordBytes = 64;
inline constexpr std::array<uint8_t, 8> kCompactEventsMagic = {'T', 'D', 'E', 'V', 1, 0, 0, 0xE5};
inline constexpr std::array<uint8_t, 8> kCompactTradesMagic = {'T', 'D', 'T', 'R', 1, 0, 0, 0x80};
inline constexpr size_t kTradeRecordBytes = 80;
inline constexpr size_t kPlotHeaderBytes = 24;
inline constexpr size_t kMaxDerivationBytes = 255;  // its length is one byte of the header
inline constexpr size_t kLogRecordBytes = 24;
inline constexpr size_t kStatsRecordBytes = 152;
inline constexpr size_t kDailyReturnBytes = 12;
// run_equity.codec (schema v8): how its times and equity are stored (above).
inline constexpr int64_t kSeriesRaw = 0;
inline constexpr int64_t kSeriesRuns = 1;

struct PackedEvents {
  std::vector<std::byte> records;  // events.size() * kEventRecordBytes
  std::string reasons;
};

struct PackedLogs {
  std::vector<std::byte> records;  // logs.size() * kLogRecordBytes
  std::string text;
};

// The 64-byte records (what schema steps before v8 wrote; migrations and tests write them still).
PackedEvents PackEvents(std::span<const engine::OrderEvent> events);
// The compact form (every event bit for bit; PackResult's).
PackedEvents PackEventsCompact(std::span<const engine::OrderEvent> events);
// REQUIRES: no derivation longer than kMaxDerivationBytes (the built-ins' are ~25).
std::vector<std::byte> PackPlots(std::span<const engine::PlotSeries> plots);
// A run's result as CompleteRun writes it, in either store: its times, equity, events and trades
// packed, and its plots and logs (with the run JSON's "plots" declaration) when it has any.
struct PackedResult {
  std::vector<std::byte> times;   // kSeriesRuns
  std::vector<std::byte> equity;  // kSeriesRuns
  PackedEvents events;
  std::vector<std::byte> trades;
  bool has_plots = false;  // false: no run_plots row
  std::string plots_decl;  // [{"name","pane"}] in declaration order
  std::vector<std::byte> plots;
  PackedLogs logs;
};
// Errors: VALIDATION (field "equity") when times and equity differ in length.
Result<PackedResult> PackResult(const engine::RunResult& result);
// PackResult in two parts, for a writer that stores the series while the rest is being packed:
// PackSeries fills times and equity only (errors: PackResult's), PackRecords everything else
// (times and equity left empty).
Result<PackedResult> PackSeries(const engine::RunResult& result);
PackedResult PackRecords(const engine::RunResult& result);
PackedLogs PackLogs(std::span<const engine::LogEntry> logs);
std::vector<std::byte> PackTrades(std::span<const engine::Trade> trades);  // 80-byte records
std::vector<std::byte> PackTradesCompact(std::span<const engine::Trade> trades);
std::vector<std::byte> PackStats(const engine::Stats& stats);
// REQUIRES: every day fits in an int32 (±5.8 million years).
std::vector<std::byte> PackDailyReturns(std::span<const sweep::DailyReturn> returns);

// `count` is what the row says the blob holds; either form (a compact blob by its magic).
// Errors: IO naming what is wrong (a length that is not count records, an enum out of range,
// reasons that do not add up; a compact blob's checks, above).
Result<std::vector<engine::OrderEvent>> UnpackEvents(std::span<const std::byte> records,
                                                     std::string_view reasons, size_t count);
Result<std::vector<engine::Trade>> UnpackTrades(std::span<const std::byte> records, size_t count);
// Whether a blob starts with the compact form's magic; the compact decoders alone (REQUIRES: it
// does).
bool IsCompactEvents(std::span<const std::byte> records);
bool IsCompactTrades(std::span<const std::byte> records);
Result<std::vector<engine::OrderEvent>> UnpackEventsCompact(std::span<const std::byte> records,
                                                            std::string_view reasons, size_t count);
Result<std::vector<engine::Trade>> UnpackTradesCompact(std::span<const std::byte> records,
                                                       size_t count);
// `count` series, each given `bars` values (the run's timeline length), but for a derived series:
// its derivation and no values, as CompleteRun was given it.
Result<std::vector<engine::PlotSeries>> UnpackPlots(std::span<const std::byte> blob, size_t count,
                                                    size_t bars);
Result<engine::Stats> UnpackStats(std::span<const std::byte> record);
// Any whole number of records.
Result<std::vector<sweep::DailyReturn>> UnpackDailyReturns(std::span<const std::byte> records);
Result<std::vector<engine::LogEntry>> UnpackLogs(std::span<const std::byte> records,
                                                 std::string_view text, size_t count);

// Reads part of a blob: up to `length` bytes from `offset` (fewer where the blob ends).
using BlobRead = std::function<Result<std::vector<std::byte>>(size_t offset, size_t length)>;

// Times and equity in kSeriesRuns form (PackTimes / PackEquity: every value, bit for bit).
std::vector<std::byte> PackTimes(std::span<const Timestamp> times);
std::vector<std::byte> PackEquity(std::span<const double> equity);
// A blob of `count` values in form `codec` (kSeriesRaw or kSeriesRuns). Errors: IO naming what
// is wrong (an unknown codec, a length or counts that do not add up to `count`, bytes past the
// last value, a repeat before any value).
Result<std::vector<Timestamp>> UnpackTimes(int64_t codec, std::span<const std::byte> blob,
                                           size_t count);
Result<std::vector<double>> UnpackEquity(int64_t codec, std::span<const std::byte> blob,
                                         size_t count);
// The first `bars` of the `count` times, and the last (none when count is 0); the whole blob is
// checked. Errors: as UnpackTimes'.
struct TimesHead {
  std::vector<Timestamp> times;
  std::optional<Timestamp> last;
};
Result<TimesHead> UnpackTimesHead(int64_t codec, std::span<const std::byte> blob, size_t count,
                                  size_t bars);
// The first `bars` of the `count` values of an equity blob, read a piece at a time from the
// front (only what those values need). Errors: as BlobRead's, and IO as UnpackEquity's for the
// part read.
Result<std::vector<double>> ReadEquityHead(int64_t codec, const BlobRead& blob, size_t count,
                                           size_t bars);
// A whole kSeriesRuns equity blob of `count` values read in pieces (no second copy of the blob
// held), checked as UnpackEquity checks it.
Result<std::vector<double>> ReadEquity(const BlobRead& blob, size_t count);

// The first records of a blob (Store::LoadRunHead): the order events / log entries of bars below
// `bars` of the `count` the row says the blob holds, read a piece at a time from the front, and
// of the text blob only their reasons / messages. Errors: as BlobRead's, and IO as Unpack*'s.
Result<std::vector<engine::OrderEvent>> ReadEventsHead(const BlobRead& records,
                                                       const BlobRead& reasons, size_t count,
                                                       size_t total_bars, size_t bars);
// The same for a compact events blob (its magic checked again), decoding from the front until
// the first event of a bar at or past `bars`; the first read asks for `first_piece` bytes, each
// next for twice the last.
Result<std::vector<engine::OrderEvent>> ReadEventsHeadCompact(const BlobRead& records,
                                                              const BlobRead& reasons,
                                                              size_t count, size_t bars,
                                                              size_t first_piece);
Result<std::vector<engine::LogEntry>> ReadLogsHead(const BlobRead& records, const BlobRead& text,
                                                   size_t count, size_t total_bars, size_t bars);
// The `count` plotted series of a run of `total_bars` bars, each cut after its first `bars`
// values (a derived series: no values, its derivation), reading only their headers and those
// values. Errors: as BlobRead's, IO as UnpackPlots'.
Result<std::vector<engine::PlotSeries>> ReadPlotsHead(const BlobRead& blob, size_t count,
                                                      size_t total_bars, size_t bars);

}  // namespace tapedeck::store::internal
