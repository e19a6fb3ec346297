// The CSV scanner: one pass over the text, row by row, each field parsed in place where it starts
// (no splitting, no copies, no allocation per row), the layout resolved once from the first line.
// A large text's rows are cut into stretches at line starts and scanned on two threads into the
// same columns (see RunSplit); anything but a clean parse of every stretch is parsed again on one
// thread, so every error is found and worded exactly as the one-thread scan finds and words it.
#include <sched.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "market/column_buffer.h"
#include "market/csv_fields.h"
#include "market/csv_layout.h"
#include "market/csv_parse.h"
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

// The last '\n' or '\r' in [begin, end), or begin when there is none.
const char* LastLineEnd(const char* begin, const char* end) {
  for (const char* p = end; p > begin;) {
    --p;
    if (*p == '\n' || *p == '\r') return p;
  }
  return begin;
}

// The line ends in [p, end) as SkipLineEnd passes them: "\r\n", a lone '\r' and '\n' one each
// ("\r" as the last byte counts as lone). So the scanner's line number grows by exactly this much
// across the text, and no stretch of it holds more rows than this (each row ends in one).
size_t CountLineEnds(const char* p, const char* end) {
  size_t n = 0;
#if defined(__SSE2__)
  // Byte counters, one per lane, summed every 255 blocks before they can wrap.
  const __m128i lf = _mm_set1_epi8('\n');
  const __m128i cr = _mm_set1_epi8('\r');
  while (end - p >= 17) {
    __m128i acc = _mm_setzero_si128();
    for (int i = 0; i < 255 && end - p >= 17; ++i, p += 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      const __m128i next = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 1));
      const __m128i lone_cr = _mm_andnot_si128(_mm_cmpeq_epi8(next, lf), _mm_cmpeq_epi8(v, cr));
      // A lane is '\n' or a lone '\r', never both: at most one count a lane a block.
      acc = _mm_sub_epi8(acc, _mm_or_si128(_mm_cmpeq_epi8(v, lf), lone_cr));
    }
    const __m128i sums = _mm_sad_epu8(acc, _mm_setzero_si128());
    n += static_cast<size_t>(_mm_cvtsi128_si32(sums)) +
         static_cast<size_t>(_mm_cvtsi128_si32(_mm_srli_si128(sums, 8)));
  }
#endif
  for (; p < end; ++p) {
    n += *p == '\n' || (*p == '\r' && (p + 1 == end || p[1] != '\n'));
  }
  return n;
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
      : begin_(text.data()),
        end_(text.data() + text.size()),
        last_break_(LastLineEnd(begin_, end_)),
        options_(options),
        file_(file) {}

  Result<Series> Run(const CsvSplit& split);

 private:
  struct Row {
    int64_t time = 0, date = 0, clock = 0;
    double open = 0, high = 0, low = 0, close = 0, volume = 0, tick_volume = 0;
  };
  // The columns being built; moved into the Series, which keeps them alive.
  struct Columns {
    ColumnBuffer<Timestamp> times;
    ColumnBuffer<double> open, high, low, close, volume;
  };
  // Skips blank lines; false at the end of the text.
  bool NextNonBlank();
  void Reserve(const char* first_row_end);
  // Makes rows go to elements [base, base + cap) of `cols`; with `grow`, cap is only the room so
  // far and the columns grow past it.
  void Target(Columns& cols, size_t base, size_t cap, bool grow);
  // Parses the rows from p_ to the end of the text; the first error, if any.
  std::optional<Error> ParseRows();
  // Stores a valid row; false when a stretch's room is full.
  bool Push(const Row& row);
  bool Grow();
  // The rows in stretches on two threads, or nullopt when the text is too short to split or any
  // stretch did not parse cleanly (the caller then parses it all on one thread).
  std::optional<Series> RunSplit(const CsvSplit& split, const char* first_row_end);
  Series Finish();
  // Parses one field of `role` at p_ into row; returns past it or nullptr.
  const char* ParseField(Role role, Row& row);
  const char* ParseEpoch(Row& row);
  // A row of the generic layout (GenericLayout) at p_, field after field with no dispatch on
  // roles: past its last field, or nullptr for anything the general loop must look at (which
  // then parses the row again, and words any error).
  template <bool kInLine>
  const char* ParseGenericRow(Row& row);
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
  // The text's last '\n' or '\r' (begin_ when none): a row starting before it has a line end
  // ahead within the text, which the field loops can stop at instead of testing end_.
  const char* const last_break_;
  const CsvOptions& options_;
  const std::string_view file_;

  const char* p_ = nullptr;
  size_t line_ = 1;
  Layout layout_;
  int64_t epoch_scale_ = 0;  // Binance: 1000 (ms) or 1 (us), from the first row
  int64_t last_time_ = 0;    // of the last bar taken
  csv::DateCache date_cache_;
  std::array<const char*, kMaxColumns> starts_{};
  std::shared_ptr<Columns> cols_ = std::make_shared<Columns>();
  // Where rows go: element base_ + rows_ of each column, while rows_ < cap_.
  Columns* out_ = nullptr;
  Timestamp* times_out_ = nullptr;
  double *open_out_ = nullptr, *high_out_ = nullptr, *low_out_ = nullptr, *close_out_ = nullptr,
         *volume_out_ = nullptr;
  size_t base_ = 0, rows_ = 0, cap_ = 0;
  bool grow_ = true;
  // A stretch's scanner reports no progress: RunSplit reports it from the caller's thread.
  bool report_progress_ = true;
};

inline bool CsvParser::NextNonBlank() {
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
  Target(c, 0, c.times.capacity(), true);
}

void CsvParser::Target(Columns& cols, size_t base, size_t cap, bool grow) {
  out_ = &cols;
  times_out_ = cols.times.data() + base;
  open_out_ = cols.open.data() + base;
  high_out_ = cols.high.data() + base;
  low_out_ = cols.low.data() + base;
  close_out_ = cols.close.data() + base;
  volume_out_ = cols.volume.data() + base;
  base_ = base;
  cap_ = cap;
  grow_ = grow;
}

bool CsvParser::Grow() {
  if (!grow_) return false;
  Columns& c = *out_;
  const size_t n = base_ + rows_;
  const size_t next = std::max<size_t>(1024, 2 * (base_ + cap_));
  c.times.Resize(n);
  c.times.Reserve(next);
  for (auto* col : {&c.open, &c.high, &c.low, &c.close, &c.volume}) {
    col->Resize(n);
    col->Reserve(next);
  }
  Target(c, base_, c.times.capacity() - base_, true);
  return true;
}

inline bool CsvParser::Push(const Row& row) {
  if (rows_ == cap_ && !Grow()) return false;
  const size_t i = rows_++;
  times_out_[i] = FromMicros(row.time);
  open_out_[i] = row.open;
  high_out_[i] = row.high;
  low_out_[i] = row.low;
  close_out_[i] = row.close;
  volume_out_[i] = row.volume;
  return true;
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

[[gnu::always_inline]] inline const char* CsvParser::ParseField(Role role, Row& row) {
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

// "time,open,high,low,close[,volume]" in that order, comma-separated, ISO or Unix-seconds times:
// `tapedeck gen`'s output and most exports.
bool GenericLayout(const Layout& layout) {
  static constexpr Role kOrder[] = {Role::kTime, Role::kOpen,  Role::kHigh,
                                    Role::kLow,  Role::kClose, Role::kVolume};
  if (layout.delim != ',' || layout.time_kind != TimeKind::kIsoOrSeconds || layout.date_and_clock ||
      (layout.columns != 5 && layout.columns != 6)) {
    return false;
  }
  for (int c = 0; c < layout.columns; ++c) {
    if (layout.roles[c] != kOrder[c]) return false;
  }
  return true;
}

template <bool kInLine>
inline const char* CsvParser::ParseGenericRow(Row& row) {
  const char* q = csv::ParseIsoSecondsSameDay(p_, end_, &row.time, date_cache_);
  if (q == nullptr) q = csv::ParseTime(p_, end_, &row.time, date_cache_);
  // The next field, after the comma at q; nullptr when there is none or it is no number. With
  // kInLine a line end follows, so q (a field's end) is never end_.
  const auto field = [this](const char* q, double* out) -> const char* {
    if (q == nullptr || (!kInLine && q == end_) || *q != ',') return nullptr;
    return kInLine ? csv::ParseNumberInLine(q + 1, end_, out) : csv::ParseNumber(q + 1, end_, out);
  };
  q = field(q, &row.open);
  q = field(q, &row.high);
  q = field(q, &row.low);
  q = field(q, &row.close);
  if (layout_.columns == 6) q = field(q, &row.volume);
  if (q == nullptr || (q != end_ && *q != '\n' && *q != '\r')) return nullptr;
  return q;
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
  if (rows_ > 0 && row.time <= last_time_) {
    const int c = layout_.date_and_clock ? col(Role::kDate) : col(Role::kTime);
    return Complain(c, "a time after " + FormatIso(FromMicros(last_time_)),
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

Result<Series> CsvParser::Run(const CsvSplit& split) {
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
  if (std::optional<Series> series = RunSplit(split, first_end)) return std::move(*series);
  Reserve(first_end);
  if (std::optional<Error> err = ParseRows()) return std::move(*err);
  if (rows_ == 0) return CsvError(file_, line_, 1, "a data row", "end of file", false);
  return Finish();
}

std::optional<Error> CsvParser::ParseRows() {
  const int columns = layout_.columns;
  const char delim = layout_.delim;
  const bool combine = layout_.date_and_clock;
  const bool has_tick = layout_.column_of[static_cast<int>(Role::kTickVolume)] >= 0;
  const char* next_progress =
      options_.progress && report_progress_ ? begin_ + kProgressStep : end_ + 1;
  const bool generic = GenericLayout(layout_);

  while (NextNonBlank()) {
    if (p_ >= next_progress) {
      options_.progress(static_cast<size_t>(p_ - begin_), static_cast<size_t>(end_ - begin_));
      next_progress += kProgressStep;
    }
    const char* row_start = p_;
    Row row;
    bool skip_row = false;
    const char* generic_end = !generic           ? nullptr
                              : p_ < last_break_ ? ParseGenericRow<true>(row)
                                                 : ParseGenericRow<false>(row);
    if (generic_end != nullptr) {
      p_ = generic_end;
    } else {
      row = Row{};
    }
    for (int col = 0; generic_end == nullptr;) {
      starts_[col] = p_;
      const char* q = ParseField(layout_.roles[col], row);
      if (q == nullptr || !(q == end_ || *q == delim || *q == '\n' || *q == '\r')) {
        std::optional<Error> err = ExplainField(col, row_start);
        if (err) return err;
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
    const bool valid = (rows_ == 0 || row.time > last_time_) && row.low <= row.high &&
                       row.open >= row.low && row.open <= row.high && row.close >= row.low &&
                       row.close <= row.high && row.volume >= 0 && row.tick_volume >= 0;
    if (!valid) {
      if (generic_end != nullptr) {
        // CheckRow quotes fields from where they start; the generic row did not note them. Its
        // fields are separated by single commas (it parsed), so they start after each one.
        starts_[0] = row_start;
        for (int c = 1; c < columns; ++c) {
          starts_[c] = static_cast<const char*>(std::memchr(
                           starts_[c - 1], ',', static_cast<size_t>(end_ - starts_[c - 1]))) +
                       1;
        }
      }
      if (std::optional<Error> err = CheckRow(row)) return err;
    }
    // A stretch out of room: not an error of the text; the caller parses it again on one thread.
    if (!Push(row)) return MakeError(ErrorCode::kInternal, "stretch full");
    last_time_ = row.time;
    p_ = SkipLineEnd(p_, end_);
    ++line_;
  }
  return std::nullopt;
}

Series CsvParser::Finish() {
  if (options_.progress) {
    const size_t total = static_cast<size_t>(end_ - begin_);
    options_.progress(total, total);
  }
  Columns& c = *cols_;
  const size_t n = base_ + rows_;
  c.times.Resize(n);
  for (auto* col : {&c.open, &c.high, &c.low, &c.close, &c.volume}) col->Resize(n);
  return Series::FromSpans(options_.symbol, cols_, c.times.span(), c.open.span(), c.high.span(),
                           c.low.span(), c.close.span(), c.volume.span());
}

// The rows from `p_` on, cut into stretches at line starts: the first, `split.first_share` of the
// rows' bytes, is scanned on this thread at once, while a second thread counts every stretch's
// line ends (CountLineEnds, ~6x the speed of scanning here). No stretch holds more rows than it has
// line ends (the last one: one more, when the text ends without one), so stretch k's rows go
// right after the most the stretches before it can hold, and each is scanned into its own part of
// the same columns. Then both threads take the remaining stretches one at a time, whichever is
// free, so a thread the machine gives little time to delays nothing: the other takes more (and
// counts for itself any line ends the counting thread has not published yet). The stretches'
// rows fill their parts exactly unless a stretch skipped blank lines or Yahoo's rows of nulls;
// then the later rows are moved down once at the end.
//
// The one-thread scan carries four things from line to line: the line number (only errors use
// it), the last time (each stretch's first must come after the last of the stretch before,
// checked here), Binance's ms-or-us (all stretches must agree, checked here) and the date cache
// (a cache: no effect on values). So clean stretches that pass both checks are exactly the
// one-thread result, and anything else is left to the one-thread scan, whose error is the one
// the user sees.
std::optional<Series> CsvParser::RunSplit(const CsvSplit& split, const char* first_row_end) {
  const char* const rows = p_;
  const size_t bytes = static_cast<size_t>(end_ - rows);
  if (bytes < split.min_bytes || bytes < 2 || split.first_share <= 0 || split.first_share >= 1 ||
      split.stretches < 2) {
    return std::nullopt;
  }
  // Stretch k is [cuts[k], cuts[k + 1]); every cut but the ends is a line start.
  const auto line_start_after = [this](const char* at) {
    return SkipLineEnd(FindLineEnd(at, end_), end_);
  };
  std::vector<const char*> cuts = {rows};
  const char* first_cut =
      line_start_after(rows + static_cast<size_t>(static_cast<double>(bytes) * split.first_share));
  if (first_cut >= end_) return std::nullopt;
  cuts.push_back(first_cut);
  const size_t rest = static_cast<size_t>(end_ - first_cut);
  for (size_t k = 1; k + 1 < split.stretches; ++k) {
    const char* cut = line_start_after(first_cut + rest * k / (split.stretches - 1));
    if (cut < end_ && cut > cuts.back()) cuts.push_back(cut);
  }
  cuts.push_back(end_);
  const size_t n = cuts.size() - 1;

  // Room for all rows, at least as wide as half the first row (narrower rows fill it: then the
  // one-thread scan, which grows its columns, takes over). Only pages rows are written to are
  // ever touched.
  const size_t row_bytes = static_cast<size_t>(first_row_end - rows) + 1;
  const size_t room = 2 * (bytes / row_bytes) + 16;
  auto cols = std::make_shared<Columns>();
  cols->times.Reserve(room);
  for (auto* col : {&cols->open, &cols->high, &cols->low, &cols->close, &cols->volume}) {
    col->Reserve(room);
  }
  const size_t capacity = cols->times.capacity();

  struct Stretch {
    std::unique_ptr<CsvParser> parser;
    size_t base = 0;     // its first row's element
    size_t most = 0;     // the most rows it can hold
    bool clean = false;  // scanned without error
  };
  std::vector<Stretch> stretches(n);
  for (size_t k = 0; k < n; ++k) {
    auto part = std::make_unique<CsvParser>(
        std::string_view(cuts[k], static_cast<size_t>(cuts[k + 1] - cuts[k])), options_, file_);
    part->layout_ = layout_;
    part->p_ = part->begin_;
    part->report_progress_ = false;
    stretches[k].parser = std::move(part);
  }
  // The counting thread's line ends of each stretch, published in order through `counted`.
  std::vector<size_t> published(n);
  std::atomic<size_t> counted{0};
  std::atomic<size_t> next{1};  // the next stretch to take; stretch 0 is this thread's
  std::atomic<size_t> done_bytes{0};

  // Scans stretch k (k >= 1) into its part: its base from the line ends of the stretches before
  // it, read from `published` or counted here where the counting thread has not got that far.
  const auto scan = [&](size_t k, std::vector<size_t>& own) {
    Stretch& st = stretches[k];
    const size_t ready = counted.load(std::memory_order_acquire);
    size_t base = 0;
    for (size_t j = 0; j <= k; ++j) {
      if (j < ready) {
        own[j] = published[j];
      } else if (own[j] == SIZE_MAX) {
        own[j] = CountLineEnds(cuts[j], cuts[j + 1]);
      }
      if (j < k) base += own[j];
    }
    st.base = base;
    st.most = own[k] + (k + 1 == n ? 1 : 0);
    if (base + st.most > capacity) return;  // not clean: the one-thread scan grows its columns
    st.parser->Target(*cols, base, st.most, false);
    st.clean = !st.parser->ParseRows().has_value();
    done_bytes.fetch_add(static_cast<size_t>(cuts[k + 1] - cuts[k]), std::memory_order_relaxed);
  };
  const auto take_stretches = [&](std::vector<size_t>& own) {
    for (size_t k = next.fetch_add(1); k < n; k = next.fetch_add(1)) scan(k, own);
  };

  std::thread worker;
  try {
    worker = std::thread([&] {
      // Counting stops once every stretch is taken: the takers count what they need.
      for (size_t k = 0; k < n && next.load(std::memory_order_relaxed) < n; ++k) {
        published[k] = CountLineEnds(cuts[k], cuts[k + 1]);
        counted.store(k + 1, std::memory_order_release);
      }
      std::vector<size_t> own(n, SIZE_MAX);
      take_stretches(own);
    });
  } catch (const std::system_error&) {
    return std::nullopt;  // no thread to be had: one thread does it all
  }
  // Stretch 0 starts at element 0 and holds at most its line ends: its room is checked once
  // they are known, below.
  Stretch& head = stretches[0];
  head.parser->Target(*cols, 0, std::min(capacity, 2 * ((cuts[1] - rows) / row_bytes) + 16), false);
  head.clean = !head.parser->ParseRows().has_value();
  done_bytes.fetch_add(static_cast<size_t>(cuts[1] - rows), std::memory_order_relaxed);
  const auto report = [&] {
    if (!options_.progress) return;
    // The header's bytes, then the rows' in the share of them scanned so far.
    const size_t total = static_cast<size_t>(end_ - begin_);
    const double share = static_cast<double>(done_bytes.load(std::memory_order_relaxed)) /
                         static_cast<double>(bytes);
    options_.progress(static_cast<size_t>(rows - begin_) +
                          static_cast<size_t>(share * static_cast<double>(bytes)),
                      total);
  };
  report();
  {
    std::vector<size_t> own(n, SIZE_MAX);
    for (size_t k = next.fetch_add(1); k < n; k = next.fetch_add(1)) {
      scan(k, own);
      report();
    }
  }
  worker.join();

  // Stretch 0 must have stayed within its line ends (it was scanned before they were known).
  const size_t head_lines =
      counted.load(std::memory_order_acquire) >= 1 ? published[0] : CountLineEnds(cuts[0], cuts[1]);
  if (!head.clean || head.parser->rows_ > head_lines) return std::nullopt;
  size_t total_rows = 0;
  const CsvParser* last = nullptr;  // the last stretch with rows
  for (size_t k = 0; k < n; ++k) {
    const Stretch& st = stretches[k];
    const CsvParser& part = *st.parser;
    if (!st.clean) return std::nullopt;
    if (part.rows_ == 0) continue;
    if (last != nullptr) {
      if (part.epoch_scale_ != last->epoch_scale_) return std::nullopt;
      if (ToMicros(cols->times.data()[st.base]) <= last->last_time_) return std::nullopt;
    }
    if (st.base != total_rows) {
      std::memmove(cols->times.data() + total_rows, cols->times.data() + st.base,
                   part.rows_ * sizeof(Timestamp));
      for (auto* col : {&cols->open, &cols->high, &cols->low, &cols->close, &cols->volume}) {
        std::memmove(col->data() + total_rows, col->data() + st.base, part.rows_ * sizeof(double));
      }
    }
    total_rows += part.rows_;
    last = &part;
  }
  if (total_rows == 0) return std::nullopt;
  cols_ = std::move(cols);
  base_ = 0;
  rows_ = total_rows;
  return Finish();
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

namespace {

// Whether a second thread would find a core to itself now: two or more CPUs this process may use,
// and fewer tasks running at this moment (the kernel's count in /proc/loadavg, this thread
// included) than CPUs. On a busy machine the second thread gets a share of a core already in use,
// the first waits for it, and the line-end count the split costs (~a sixth of the scan) is a loss:
// measured, 39 ms against 33 ms for one thread with another process holding one of two cores.
// The one-minute load average would not do: it stays near 1 for a minute after any one process,
// a benchmark's pandas run for one, has finished.
bool SpareCore() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return false;
  const int cpus = CPU_COUNT(&set);
  if (cpus < 2) return false;
  std::FILE* f = std::fopen("/proc/loadavg", "re");
  if (f == nullptr) return false;
  double avg1, avg5, avg15;
  int running = 0, total = 0;
  const int got = std::fscanf(f, "%lf %lf %lf %d/%d", &avg1, &avg5, &avg15, &running, &total);
  std::fclose(f);
  return got == 5 && running < cpus;
}

}  // namespace

Result<Series> ParseCsv(std::string_view text, const CsvOptions& options) {
  CsvSplit split;
  if (text.size() >= split.min_bytes && !SpareCore()) split.stretches = 1;
  return ParseCsvSplit(text, options, split);
}

Result<Series> ParseCsvSplit(std::string_view text, const CsvOptions& options,
                             const CsvSplit& split) {
  const std::string_view file = FileName(options);
  Result<Prepared> prepared = Prepare(text, file);
  if (!prepared.ok()) return prepared.take_error();
  return CsvParser(prepared->text(), options, file).Run(split);
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
