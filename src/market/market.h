// market: bars of market data, held column-wise; CSV import; a memory-mapped binary form; a
// deterministic synthetic generator.
//
// Thread-safety: a Series is immutable once built and may be read from any number of threads.
// Free functions are re-entrant.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/time.h"

namespace tapedeck::market {

// One OHLCV bar. `time` is the bar's open time, UTC.
struct Bar {
  Timestamp time;
  double open = 0, high = 0, low = 0, close = 0, volume = 0;
};

// The bars of one symbol, column-wise, times strictly increasing.
// Copying a Series is cheap: columns are shared, immutable storage (owned vectors or a mapped
// file).
class Series {
 public:
  Series() = default;

  // Builds a series from columns. REQUIRES: all columns the same length, times strictly increasing,
  // low <= open,close <= high for every bar (the importers check this and report errors).
  static Series FromColumns(std::string symbol, std::vector<Timestamp> times,
                            std::vector<double> open, std::vector<double> high,
                            std::vector<double> low, std::vector<double> close,
                            std::vector<double> volume);
  static Series FromBars(std::string symbol, std::span<const Bar> bars);

  const std::string& symbol() const { return symbol_; }
  size_t size() const { return times_.size(); }
  bool empty() const { return times_.empty(); }

  std::span<const Timestamp> times() const { return times_; }
  std::span<const double> open() const { return open_; }
  std::span<const double> high() const { return high_; }
  std::span<const double> low() const { return low_; }
  std::span<const double> close() const { return close_; }
  std::span<const double> volume() const { return volume_; }

  // REQUIRES: i < size().
  Bar bar(size_t i) const {
    return {times_[i], open_[i], high_[i], low_[i], close_[i], volume_[i]};
  }

  // The bars with from <= time < to, sharing storage. Bounds outside the data are clamped.
  Series Slice(Timestamp from, Timestamp to) const;

  // Drops the columns' pages from the process's resident set when they are a file mapping (a
  // series read from the store's binary file): their bytes stay what they are, read again from
  // the page cache when next touched. A no-op for owned columns. Safe while others read them.
  void ReleaseResidentPages() const;

  // Internal: used by the binary reader to point the columns into a mapping it keeps alive.
  static Series FromSpans(std::string symbol, std::shared_ptr<const void> owner,
                          std::span<const Timestamp> times, std::span<const double> open,
                          std::span<const double> high, std::span<const double> low,
                          std::span<const double> close, std::span<const double> volume);

 private:
  std::string symbol_;
  std::shared_ptr<const void> owner_;  // keeps the columns' storage alive
  std::span<const Timestamp> times_;
  std::span<const double> open_, high_, low_, close_, volume_;
};

// CSV formats a trader already has.
enum class CsvFormat {
  kAuto,     // detect from the first lines
  kYahoo,    // Date,Open,High,Low,Close,Adj Close,Volume (header, case-insensitive; "adjclose" too)
  kBinance,  // 12 columns, no header, open time in ms or us since the epoch
  kMt5,      // tab-separated <DATE> <TIME> <OPEN> <HIGH> <LOW> <CLOSE> <TICKVOL> <VOL> <SPREAD>
  kGeneric,  // time,open,high,low,close[,volume]; ISO-8601 or Unix seconds; header optional
};

// "auto", "yahoo", "binance", "mt5", "generic" -> format; anything else is VALIDATION naming
// `format`.
Result<CsvFormat> ParseCsvFormat(std::string_view name);
std::string_view CsvFormatName(CsvFormat format);

// The format kAuto would pick for this text (never kAuto): MT5 for a tab-separated file with a
// `<DATE>` header, Yahoo for a header with an Adj Close column, Binance for 12 columns, generic for
// 5 or 6. VALIDATION, as ParseCsv reports it, when the first line fits none of them.
Result<CsvFormat> DetectCsvFormat(std::string_view text, std::string_view source_name = "csv");

struct CsvOptions {
  CsvFormat format = CsvFormat::kAuto;
  std::string symbol;       // the series' symbol; empty: derived by the caller
  std::string source_name;  // file name used in error messages, e.g. "prices.csv"
  // Called now and then with bytes parsed so far and the total; may be empty.
  std::function<void(size_t done, size_t total)> progress;
};

// Parses a whole CSV text. On any bad row returns VALIDATION whose msg reads
// "prices.csv:17:3: expected a number for high, got 'abc'" and whose details hold `file`, `line`,
// `column` (1-based), `expected` and `got`; nothing partial is returned. Checks: parsable numbers
// and times, high >= low (and open/close within them), time strictly increasing, column count,
// finite numbers, volume >= 0, at least one data row.
//
// Accepted everywhere: a UTF-8 BOM, UTF-16LE text with its BOM (MT5 writes it), CRLF or LF line
// ends, a missing final newline, blank lines. With a header, columns are found by name
// (case-insensitive, `<...>` stripped) and unknown columns are skipped; without one the layout is
// the format's. Times are ISO-8601 (`2024-01-02`, `2024-01-02T09:30[:00[.5]][Z|+01:00]`, also with
// '.' in the date as MT5 writes it) or Unix seconds; Binance open times are integers in ms or us,
// told apart by magnitude once per file (>= 1e14 is us). MT5 volume is VOL, or TICKVOL when VOL
// is 0. Yahoo rows whose values are all `null` (days Yahoo has no data for) are skipped.
Result<Series> ParseCsv(std::string_view text, const CsvOptions& options);

// Reads and parses a file (memory-mapped). File errors are IO naming the path. An empty
// options.source_name becomes `path`.
Result<Series> ImportCsvFile(const std::string& path, CsvOptions options);

// The binary columnar form: a header (magic, version, count, checksum, symbol) then the six
// columns, 8-byte aligned, in host (little-endian) order. Written to `path.tmp`, fsynced and
// renamed into place, so a reader never sees a half-written file. Reading maps the file; the Series
// keeps the mapping alive. ReadSeriesFile checks magic, version and that the file length matches
// the header (IO naming the path otherwise) but not the checksum, so it costs microseconds whatever
// the size; VerifySeriesFile also checks the data against the stored checksum (IO on a mismatch).
Status WriteSeriesFile(const Series& series, const std::string& path);
Result<Series> ReadSeriesFile(const std::string& path);
Status VerifySeriesFile(const std::string& path);

// The same form in memory, for a store that keeps a dataset's bars in a database: the exact bytes
// WriteSeriesFile would write (VALIDATION, as it, for an over-long symbol), and back. Reading
// makes the checks ReadSeriesFile and VerifySeriesFile make, the checksum included (IO with
// `name` standing for the path, in the message and in details `path`). The Series keeps `owner`,
// which must keep `bytes` alive and unchanged, and uses the bytes in place when they are 8-byte
// aligned (a database driver's binary result is); otherwise, or without an owner, it copies them
// and the caller's buffer may go once the call returns.
Result<std::vector<std::byte>> SeriesFileBytes(const Series& series);
Result<Series> ReadSeriesBytes(std::span<const std::byte> bytes, std::shared_ptr<const void> owner,
                               const std::string& name);
Result<Series> ReadSeriesBytes(std::span<const std::byte> bytes, const std::string& name);

// Where the bars of a series file are, for a store that reads only some of them (no checksum
// pass: that needs every byte). `prefix` holds the file's first bytes, at least its header and
// symbol (kSeriesFileMaxPrefix is always enough), `total_bytes` is the whole file's length.
// Errors: IO, as ReadSeriesBytes', naming `name`.
struct SeriesFileLayout {
  size_t count = 0;        // bars
  size_t data_offset = 0;  // where the columns begin
  std::string symbol;
  // The byte offset of bar `bar` in column `column` (0 times, then open, high, low, close,
  // volume); each value is 8 bytes.
  size_t Offset(size_t column, size_t bar) const {
    return data_offset + (column * count + bar) * 8;
  }
};
inline constexpr size_t kSeriesFileMaxPrefix = 64 + 1024;
Result<SeriesFileLayout> ReadSeriesFileLayout(std::span<const std::byte> prefix, size_t total_bytes,
                                              const std::string& name);

// Deterministic synthetic bars: a geometric random walk with realistic OHLC, same seed -> same bars
// on every platform (own PRNG). Prices sit on a 0.01 tick grid; high >= max(open, close),
// low <= min(open, close), low > 0, volume > 0; each open is the previous close.
// REQUIRES: interval > 0, start_price > 0.
struct GenOptions {
  size_t bars = 525'600;
  uint64_t seed = 1;
  Micros interval = std::chrono::minutes(1);
  Timestamp start = FromMicros(1'672'531'200'000'000);  // 2023-01-01T00:00:00Z
  double start_price = 100.0;
  std::string symbol = "SYN";
};
Series Generate(const GenOptions& options);

// "<n><unit>" with n >= 1 and unit s, m, h, d or w ("30s", "1m", "15m", "1h", "4h", "1d", "1w")
// -> duration; anything else is VALIDATION naming `interval`.
Result<Micros> ParseInterval(std::string_view text);

// Writes a series as generic CSV ("time,open,high,low,close,volume", ISO times) to `out`.
std::string ToGenericCsv(const Series& series);

}  // namespace tapedeck::market
