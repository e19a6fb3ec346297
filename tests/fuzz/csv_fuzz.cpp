// Fuzzes CSV import (market::ParseCsv and DetectCsvFormat): every format, auto-detected and forced.
//
// Input: the first byte picks the format, counted from '0' so seed files stay readable:
// '0' auto, '1' yahoo, '2' binance, '3' mt5, '4' generic (any other byte: its value minus '0',
// modulo 5). The rest is the file.
//
// Invariants: an error is VALIDATION worded "file:line:column: expected X, got Y" with the same
// five details, at a line the text has; a series is non-empty, strictly time-ordered, finite,
// with low <= open, close <= high and volume >= 0; auto-detection and parsing agree (the same
// error, or a series that the detected format, forced, reproduces); a series written back as
// generic CSV reads back identically.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "market/market.h"

namespace tapedeck::market {
namespace {

using fuzz::CheckError;
using fuzz::HasFourDigitYear;

constexpr CsvFormat kFormats[] = {CsvFormat::kAuto, CsvFormat::kYahoo, CsvFormat::kBinance,
                                  CsvFormat::kMt5, CsvFormat::kGeneric};
constexpr std::string_view kFile = "fuzz.csv";

CsvOptions Options(CsvFormat format) {
  CsvOptions options;
  options.format = format;
  options.symbol = "SYM";
  options.source_name = std::string(kFile);
  return options;
}

void CheckCsvError(const Error& error, std::string_view text) {
  CheckError(error, ErrorCode::kValidation);
  const auto& d = error.details;
  for (const char* key : {"file", "line", "column", "expected", "got"}) {
    FUZZ_CHECK(d.count(key) == 1);
  }
  FUZZ_CHECK(d.at("file") == kFile);
  FUZZ_CHECK(!d.at("expected").empty());
  const size_t line = std::stoul(d.at("line"));
  const size_t column = std::stoul(d.at("column"));
  FUZZ_CHECK(line >= 1 && column >= 1);
  // No line beyond the text's last line end (LF, CR or CRLF; UTF-16 line ends hold such a byte
  // too), except that a header without a line end is followed by a missing line 2.
  const auto ends = static_cast<size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r'; }));
  FUZZ_CHECK(line <= ends + 1 + (d.at("got") == "end of file" ? 1 : 0));
  FUZZ_CHECK(error.msg.starts_with(std::string(kFile) + ":" + d.at("line") + ":" + d.at("column") +
                                   ": expected " + d.at("expected") + ", got "));
  FUZZ_CHECK(d.at("got").size() <= 63);  // quoted from the file, cut at 60 bytes plus "..."
}

void CheckSeries(const Series& s) {
  FUZZ_CHECK(!s.empty());
  FUZZ_CHECK(s.symbol() == "SYM");
  for (size_t i = 0; i < s.size(); ++i) {
    const Bar b = s.bar(i);
    if (i > 0) FUZZ_CHECK(s.times()[i - 1] < b.time);
    for (double v : {b.open, b.high, b.low, b.close, b.volume}) FUZZ_CHECK(std::isfinite(v));
    FUZZ_CHECK(b.low <= b.high);
    FUZZ_CHECK(b.low <= b.open && b.open <= b.high);
    FUZZ_CHECK(b.low <= b.close && b.close <= b.high);
    FUZZ_CHECK(b.volume >= 0);
  }
}

// Same bars (== on doubles: 0 and -0 are the same price).
bool SameBars(const Series& a, const Series& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const Bar x = a.bar(i), y = b.bar(i);
    if (x.time != y.time || x.open != y.open || x.high != y.high || x.low != y.low ||
        x.close != y.close || x.volume != y.volume) {
      return false;
    }
  }
  return true;
}

// The first non-blank line, as the detector sees it (after a UTF-8 BOM; UTF-16 is narrowed).
std::string FirstLine(std::string_view text) {
  std::string narrow;
  if (text.starts_with("\xFF\xFE")) {
    for (size_t i = 2; i + 1 < text.size(); i += 2) narrow.push_back(text[i]);
    text = narrow;
  } else if (text.starts_with("\xEF\xBB\xBF")) {
    text.remove_prefix(3);
  }
  const size_t start = text.find_first_not_of("\r\n");
  if (start == std::string_view::npos) return {};
  text.remove_prefix(start);
  return std::string(text.substr(0, text.find_first_of("\r\n")));
}

void CheckAuto(std::string_view text, const Result<Series>& parsed) {
  const Result<CsvFormat> detected = DetectCsvFormat(text, kFile);
  if (!detected.ok()) {
    // Detection reads only the first line, as the parser does first: the same complaint.
    FUZZ_CHECK(!parsed.ok());
    FUZZ_CHECK(parsed.error().msg == detected.error().msg);
    return;
  }
  FUZZ_CHECK(*detected != CsvFormat::kAuto);
  if (!parsed.ok()) return;
  const Result<Series> forced = ParseCsv(text, Options(*detected));
  if (forced.ok()) {
    FUZZ_CHECK(SameBars(*parsed, *forced));
    return;
  }
  // Forcing a format also forces its delimiter (tab for MT5, comma for the others) where
  // auto-detection follows the header: a tab-separated generic header, or MT5's <...> names
  // separated by commas, parse only with auto. Nothing else may tell them apart.
  const bool tabs = FirstLine(text).find('\t') != std::string::npos;
  FUZZ_CHECK(tabs != (*detected == CsvFormat::kMt5));
}

void CheckRoundTrip(const Series& series) {
  for (const Timestamp t : series.times()) {
    if (!HasFourDigitYear(t)) return;  // ISO-8601 text has no other years
  }
  const std::string csv = ToGenericCsv(series);
  for (CsvFormat format : {CsvFormat::kGeneric, CsvFormat::kAuto}) {
    const Result<Series> back = ParseCsv(csv, Options(format));
    FUZZ_CHECK(back.ok());
    FUZZ_CHECK(SameBars(series, *back));
  }
}

}  // namespace
}  // namespace tapedeck::market

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tapedeck::market;
  if (size == 0) return 0;
  const CsvFormat format = kFormats[static_cast<uint8_t>(data[0] - '0') % 5];
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);

  CsvOptions options = Options(format);
  size_t last_done = 0, total_seen = 0;
  options.progress = [&](size_t done, size_t total) {
    FUZZ_CHECK(done >= last_done && done <= total);
    last_done = done;
    total_seen = total;
  };
  const tapedeck::Result<Series> parsed = ParseCsv(text, options);
  if (parsed.ok()) {
    CheckSeries(*parsed);
    FUZZ_CHECK(last_done == total_seen && total_seen > 0);  // ends with (total, total)
    CheckRoundTrip(*parsed);
  } else {
    CheckCsvError(parsed.error(), text);
  }
  if (format == CsvFormat::kAuto) CheckAuto(text, parsed);
  return 0;
}
