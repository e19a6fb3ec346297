// The CSV scanner: one pass over the text, row by row, each field parsed in place where it starts
// (no splitting, no copies, no allocation per row), the layout resolved once from the first line.
#include <algorithm>
#include <array>
#include <charconv>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "market/column_buffer.h"
#include "market/csv_fields.h"
#include "market/csv_layout.h"
#include "market/mapped_file.h"
#include "market/market.h"

namespace tapedeck::market {
namespace {

using csv::kFirstEpochMicros;
using csv::kMicrosPerDay;

// Often enough for a progress bar to move smoothly, rarely enough to cost nothing.
constexpr size_t kProgressStep = 4 << 20;
constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
constexpr std::string_view kUtf16LeBom = "\xFF\xFE";

std::string FormatNumber(double v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

bool IsLineEnd(const char* p, const char* end) { return p == end || *p == '\n' || *p == '\r'; }

// Past the line end at p (LF, CRLF or a lone CR), or p at the end of the text.
const char* SkipLineEnd(const char* p, const char* end) {
  if (p < end && *p == '\r') ++p;
  if (p < end && *p == '\n') ++p;
  return p;
}

const char* FindLineEnd(const char* p, const char* end) {
  while (p < end && *p != '\n' && *p != '\r') ++p;
  return p;
}

// MT5 exports UTF-16LE. Bar data is ASCII, so narrowing each code unit loses nothing; anything
// else is reported with its line.
Result<std::string> NarrowUtf16(std::string_view text, std::string_view file) {
  std::string out;
  out.reserve(text.size() / 2);
  size_t line = 1;
  for (size_t i = 0; i + 1 < text.size(); i += 2) {
    const unsigned unit = static_cast<unsigned char>(text[i]) |
                          static_cast<unsigned>(static_cast<unsigned char>(text[i + 1])) << 8;
    if (unit > 0x7F) {
      return CsvError(file, line, 1, "ASCII text (in UTF-16)", "U+" + std::to_string(unit), false);
    }
    if (unit == '\n') ++line;
    out.push_back(static_cast<char>(unit));
  }
  return out;
}

class CsvParser {
 public:
  CsvParser(std::string_view text, const CsvOptions& options, std::string_view file)
      : begin_(text.data()), end_(text.data() + text.size()), options_(options), file_(file) {}

  Result<Series> Run();

 private:
  struct Row {
    int64_t time = 0, date = 0, clock = 0;
    double open = 0, high = 0, low = 0, close = 0, volume = 0, tick_volume = 0;
  };
  // Skips blank lines; false at the end of the text.
  bool NextNonBlank();
  void Reserve(const char* first_row_end);
  // Parses one field of `role` at p_ into row; returns past it or nullptr.
  const char* ParseField(Role role, Row& row);
  const char* ParseEpoch(Row& row);
  std::string_view FieldAt(const char* start) const;
  // Why field `col` failed, as an Error; nullopt when the row is a Yahoo row of nulls to skip.
  std::optional<Error> ExplainField(int col, const char* row_start);
  Error ColumnCount(int found, const char* row_start);
  Error Complain(int col, std::string_view expected, std::string_view got, bool quote = true) {
    return CsvError(file_, line_, static_cast<size_t>(col) + 1, expected, got, quote);
  }
  std::optional<Error> CheckRow(const Row& row);

  const char* const begin_;
  const char* const end_;
  const CsvOptions& options_;
  const std::string_view file_;

  const char* p_ = nullptr;
  size_t line_ = 1;
  Layout layout_;
  int64_t epoch_scale_ = 0;  // Binance: 1000 (ms) or 1 (us), from the first row
  int64_t last_time_ = 0;    // of the last bar taken
  csv::DateCache date_cache_;
  std::array<const char*, kMaxColumns> starts_{};
  // The columns being built; moved into the Series, which keeps them alive.
  struct Columns {
    ColumnBuffer<Timestamp> times;
    ColumnBuffer<double> open, high, low, close, volume;
  };
  std::shared_ptr<Columns> cols_ = std::make_shared<Columns>();
};

bool CsvParser::NextNonBlank() {
  while (p_ < end_ && (*p_ == '\n' || *p_ == '\r')) {
    p_ = SkipLineEnd(p_, end_);
    ++line_;
  }
  return p_ < end_;
}

void CsvParser::Reserve(const char* first_row_end) {
  const size_t row_bytes = static_cast<size_t>(first_row_end - p_) + 1;
  const size_t rows = static_cast<size_t>(end_ - p_) / row_bytes + 1;
  const size_t estimate = rows + rows / 8 + 16;  // rows vary in width; growing once is fine too
  Columns& c = *cols_;
  c.times.Reserve(estimate);
  for (auto* col : {&c.open, &c.high, &c.low, &c.close, &c.volume}) col->Reserve(estimate);
}

const char* CsvParser::ParseEpoch(Row& row) {
  int64_t v;
  const char* q = csv::ParseUnsigned(p_, end_, &v);
  if (q == nullptr) return nullptr;
  const int64_t scale = v >= kFirstEpochMicros ? 1 : 1000;
  if (epoch_scale_ == 0) epoch_scale_ = scale;
  if (scale != epoch_scale_) return nullptr;  // a file mixing ms and us is corrupt
  row.time = v * scale;
  return q;
}

inline const char* CsvParser::ParseField(Role role, Row& row) {
  switch (role) {
    case Role::kTime:
      return layout_.time_kind == TimeKind::kEpochMsOrUs
                 ? ParseEpoch(row)
                 : csv::ParseTime(p_, end_, &row.time, date_cache_);
    case Role::kDate:
      return csv::ParseDateCached(p_, end_, &row.date, date_cache_);
    case Role::kClock:
      return csv::ParseClock(p_, end_, &row.clock);
    case Role::kOpen:
      return csv::ParseNumber(p_, end_, &row.open);
    case Role::kHigh:
      return csv::ParseNumber(p_, end_, &row.high);
    case Role::kLow:
      return csv::ParseNumber(p_, end_, &row.low);
    case Role::kClose:
      return csv::ParseNumber(p_, end_, &row.close);
    case Role::kVolume:
      return csv::ParseNumber(p_, end_, &row.volume);
    case Role::kTickVolume:
      return csv::ParseNumber(p_, end_, &row.tick_volume);
    case Role::kSkip: {
      const char* q = p_;
      const char delim = layout_.delim;
      while (q < end_ && *q != delim && *q != '\n' && *q != '\r') ++q;
      return q;
    }
  }
  return nullptr;
}

std::string_view CsvParser::FieldAt(const char* start) const {
  const char* q = start;
  while (q < end_ && *q != layout_.delim && *q != '\n' && *q != '\r') ++q;
  return std::string_view(start, static_cast<size_t>(q - start));
}

std::optional<Error> CsvParser::ExplainField(int col, const char* row_start) {
  const Role role = layout_.roles[col];
  const std::string_view got = FieldAt(starts_[col]);
  switch (role) {
    case Role::kTime:
      if (layout_.time_kind == TimeKind::kEpochMsOrUs) {
        int64_t v;
        const char* q = csv::ParseUnsigned(got.data(), got.data() + got.size(), &v);
        if (q == got.data() + got.size()) {
          return Complain(col,
                          epoch_scale_ == 1 ? "an open time in microseconds, as in the first row"
                                            : "an open time in milliseconds, as in the first row",
                          got);
        }
        return Complain(col, "an open time in ms or us since the epoch", got);
      }
      return Complain(col, "a time (ISO-8601 or Unix seconds)", got);
    case Role::kDate:
      return Complain(col, "a date (YYYY.MM.DD or YYYY-MM-DD)", got);
    case Role::kClock:
      return Complain(col, "a time of day (HH:MM[:SS])", got);
    case Role::kSkip:
      return Complain(col, "a field", got);  // unreachable: skipping cannot fail
    default:
      break;
  }
  if (layout_.format == CsvFormat::kYahoo && got == "null") {
    // Yahoo writes a row of nulls for a day it has no prices for: not bar data, not an error.
    bool all_null = true;
    const char* q = row_start;
    for (int c = 0; c < layout_.columns && all_null; ++c) {
      const std::string_view f = FieldAt(q);
      const Role r = layout_.roles[c];
      if (r != Role::kTime && r != Role::kSkip) all_null = f == "null";
      q = f.data() + f.size();
      if (c + 1 < layout_.columns) {
        if (q == end_ || *q != layout_.delim) all_null = false;
        ++q;
      }
    }
    if (all_null && IsLineEnd(q, end_)) return std::nullopt;
  }
  const std::string name(RoleName(role));
  double v;
  const auto r = std::from_chars(got.data(), got.data() + got.size(), v);
  if (r.ec == std::errc() && r.ptr == got.data() + got.size()) {
    return Complain(col, "a finite number for " + name, got);
  }
  return Complain(col, "a number for " + name, got);
}

Error CsvParser::ColumnCount(int found, const char* row_start) {
  const std::string expected = std::to_string(layout_.columns) + " columns";
  if (found < layout_.columns) return Complain(found, expected, std::to_string(found), false);
  int total = 1;
  for (const char* q = row_start; !IsLineEnd(q, end_); ++q) total += *q == layout_.delim;
  return Complain(layout_.columns, expected, std::to_string(total), false);
}

std::optional<Error> CsvParser::CheckRow(const Row& row) {
  const auto col = [this](Role r) { return layout_.column_of[static_cast<int>(r)]; };
  const auto field = [this, &col](Role r) { return FieldAt(starts_[col(r)]); };
  const ColumnBuffer<Timestamp>& times = cols_->times;
  if (!times.empty() && row.time <= ToMicros(times.back())) {
    const int c = layout_.date_and_clock ? col(Role::kDate) : col(Role::kTime);
    return Complain(c, "a time after " + FormatIso(times.back()),
                    layout_.date_and_clock ? std::string(FieldAt(starts_[c])) + " " +
                                                 std::string(FieldAt(starts_[col(Role::kClock)]))
                                           : std::string(FieldAt(starts_[c])));
  }
  if (row.high < row.low) {
    return Complain(col(Role::kHigh), "high >= low (" + FormatNumber(row.low) + ")",
                    field(Role::kHigh));
  }
  const std::string range = "[" + FormatNumber(row.low) + ", " + FormatNumber(row.high) + "]";
  if (row.open < row.low || row.open > row.high) {
    return Complain(col(Role::kOpen), "open within [low, high] = " + range, field(Role::kOpen));
  }
  if (row.close < row.low || row.close > row.high) {
    return Complain(col(Role::kClose), "close within [low, high] = " + range, field(Role::kClose));
  }
  // Tick volume first: when VOL is 0 the volume is the tick volume, and the blame is its column.
  for (Role r : {Role::kTickVolume, Role::kVolume}) {
    if (col(r) >= 0 && (r == Role::kVolume ? row.volume : row.tick_volume) < 0) {
      return Complain(col(r), "a non-negative number for " + std::string(RoleName(r)), field(r));
    }
  }
  return std::nullopt;
}

Result<Series> CsvParser::Run() {
  p_ = begin_;
  if (!NextNonBlank()) return CsvError(file_, line_, 1, "a data row", "end of file", false);
  const char* first_end = FindLineEnd(p_, end_);
  Result<Layout> layout =
      ResolveLayout(options_.format, std::string_view(p_, first_end - p_), line_, file_);
  if (!layout.ok()) return layout.take_error();
  layout_ = std::move(layout).value();
  if (layout_.header) {
    p_ = SkipLineEnd(first_end, end_);
    ++line_;
    if (!NextNonBlank()) return CsvError(file_, line_, 1, "a data row", "end of file", false);
    first_end = FindLineEnd(p_, end_);
  }
  Reserve(first_end);

  const int columns = layout_.columns;
  const char delim = layout_.delim;
  const bool combine = layout_.date_and_clock;
  const bool has_tick = layout_.column_of[static_cast<int>(Role::kTickVolume)] >= 0;
  const char* next_progress = options_.progress ? begin_ + kProgressStep : end_ + 1;

  while (NextNonBlank()) {
    if (p_ >= next_progress) {
      options_.progress(static_cast<size_t>(p_ - begin_), static_cast<size_t>(end_ - begin_));
      next_progress += kProgressStep;
    }
    const char* row_start = p_;
    Row row;
    bool skip_row = false;
    for (int col = 0;;) {
      starts_[col] = p_;
      const char* q = ParseField(layout_.roles[col], row);
      if (q == nullptr || !(q == end_ || *q == delim || *q == '\n' || *q == '\r')) {
        std::optional<Error> err = ExplainField(col, row_start);
        if (err) return std::move(*err);
        skip_row = true;
        break;
      }
      p_ = q;
      if (++col == columns) break;
      if (p_ == end_ || *p_ != delim) return ColumnCount(col, row_start);
      ++p_;
    }
    if (skip_row) {
      p_ = SkipLineEnd(FindLineEnd(p_, end_), end_);
      ++line_;
      continue;
    }
    if (p_ < end_ && *p_ == delim) return ColumnCount(columns + 1, row_start);
    if (combine) row.time = row.date * kMicrosPerDay + row.clock;
    if (has_tick && row.volume == 0) {
      row.volume = row.tick_volume;  // MT5: VOL 0 means the broker has no real volume
    }
    // The common case in a few compares; CheckRow finds which rule failed and words it.
    const bool valid = (cols_->times.empty() || row.time > last_time_) && row.low <= row.high &&
                       row.open >= row.low && row.open <= row.high && row.close >= row.low &&
                       row.close <= row.high && row.volume >= 0 && row.tick_volume >= 0;
    if (!valid) {
      if (std::optional<Error> err = CheckRow(row)) return std::move(*err);
    }
    last_time_ = row.time;
    Columns& c = *cols_;
    c.times.PushBack(FromMicros(row.time));
    c.open.PushBack(row.open);
    c.high.PushBack(row.high);
    c.low.PushBack(row.low);
    c.close.PushBack(row.close);
    c.volume.PushBack(row.volume);
    p_ = SkipLineEnd(p_, end_);
    ++line_;
  }
  if (cols_->times.empty()) return CsvError(file_, line_, 1, "a data row", "end of file", false);
  if (options_.progress) {
    const size_t total = static_cast<size_t>(end_ - begin_);
    options_.progress(total, total);
  }
  const Columns& c = *cols_;
  return Series::FromSpans(options_.symbol, cols_, c.times.span(), c.open.span(), c.high.span(),
                           c.low.span(), c.close.span(), c.volume.span());
}

// The text the scanner sees: without a BOM, narrowed from UTF-16 when it was.
// `text()` is computed on each call, never stored: a view into `owned` kept in the struct would
// dangle once the struct is moved (a short string lives inside the std::string object itself).
struct Prepared {
  bool narrowed = false;
  std::string owned;        // the narrowed text, when narrowed
  std::string_view source;  // the caller's text without its BOM, when not
  std::string_view text() const { return narrowed ? std::string_view(owned) : source; }
};

Result<Prepared> Prepare(std::string_view text, std::string_view file) {
  Prepared out;
  if (text.starts_with(kUtf16LeBom)) {
    Result<std::string> narrow = NarrowUtf16(text.substr(kUtf16LeBom.size()), file);
    if (!narrow.ok()) return narrow.take_error();
    out.owned = std::move(narrow).value();
    out.narrowed = true;
    return out;
  }
  if (text.starts_with(kUtf8Bom)) text.remove_prefix(kUtf8Bom.size());
  out.source = text;
  return out;
}

std::string_view FileName(const CsvOptions& options) {
  return options.source_name.empty() ? std::string_view("csv") : options.source_name;
}

}  // namespace

Result<Series> ParseCsv(std::string_view text, const CsvOptions& options) {
  const std::string_view file = FileName(options);
  Result<Prepared> prepared = Prepare(text, file);
  if (!prepared.ok()) return prepared.take_error();
  return CsvParser(prepared->text(), options, file).Run();
}

Result<CsvFormat> DetectCsvFormat(std::string_view text, std::string_view source_name) {
  Result<Prepared> prepared = Prepare(text, source_name);
  if (!prepared.ok()) return prepared.take_error();
  const char* p = prepared->text().data();
  const char* end = p + prepared->text().size();
  size_t line = 1;
  while (p < end && (*p == '\n' || *p == '\r')) {
    p = SkipLineEnd(p, end);
    ++line;
  }
  if (p == end) return CsvError(source_name, line, 1, "a data row", "end of file", false);
  const char* eol = FindLineEnd(p, end);
  Result<Layout> layout =
      ResolveLayout(CsvFormat::kAuto, std::string_view(p, eol - p), line, source_name);
  if (!layout.ok()) return layout.take_error();
  return layout->format;
}

Result<Series> ImportCsvFile(const std::string& path, CsvOptions options) {
  Result<MappedFile> file = MapFile(path, MapAccess::kSequential);
  if (!file.ok()) return file.take_error();
  if (options.source_name.empty()) options.source_name = path;
  // `file` (and so the mapping) outlives the parse; the Series owns copies of the numbers.
  return ParseCsv(file->bytes, options);
}

}  // namespace tapedeck::market
