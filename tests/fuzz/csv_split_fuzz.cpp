// Fuzzes the two-thread split of CSV import (market::ParseCsvSplit): inputs as csv_fuzz's (the
// first byte picks the format, the rest is the file), and the same seeds (corpus/csv).
//
// Invariant: its first cut at any line start of the text (each one, up to 64 of them spread over
// the text), the rest cut into 1 or 6 more stretches, the split gives the one-thread scan's result:
// the same bits in every column, or the same error (code, message and details).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "market/csv_parse.h"
#include "market/market.h"

namespace tapedeck::market {
namespace {

constexpr CsvFormat kFormats[] = {CsvFormat::kAuto, CsvFormat::kYahoo, CsvFormat::kBinance,
                                  CsvFormat::kMt5, CsvFormat::kGeneric};

template <typename T>
bool SameBits(std::span<const T> a, std::span<const T> b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size_bytes()) == 0);
}

void CheckSame(const Result<Series>& split, const Result<Series>& one) {
  FUZZ_CHECK(split.ok() == one.ok());
  if (!one.ok()) {
    FUZZ_CHECK(split.error().code == one.error().code);
    FUZZ_CHECK(split.error().msg == one.error().msg);
    FUZZ_CHECK(split.error().details == one.error().details);
    return;
  }
  FUZZ_CHECK(split->symbol() == one->symbol());
  FUZZ_CHECK(SameBits(split->times(), one->times()));
  FUZZ_CHECK(SameBits(split->open(), one->open()));
  FUZZ_CHECK(SameBits(split->high(), one->high()));
  FUZZ_CHECK(SameBits(split->low(), one->low()));
  FUZZ_CHECK(SameBits(split->close(), one->close()));
  FUZZ_CHECK(SameBits(split->volume(), one->volume()));
}

}  // namespace
}  // namespace tapedeck::market

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tapedeck::market;
  if (size == 0) return 0;
  const CsvFormat format = kFormats[static_cast<uint8_t>(data[0] - '0') % 5];
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  CsvOptions options;
  options.format = format;
  options.symbol = "SYM";
  options.source_name = "fuzz.csv";
  const tapedeck::Result<Series> one =
      ParseCsvSplit(text, options, CsvSplit{std::numeric_limits<size_t>::max(), 0.5, 2});

  // A cut asked for at byte b of the text lands on the first line start at or after it (counted
  // in the rows' bytes, so a little later): one cut just past each line end hits every line.
  std::vector<size_t> cuts;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' || text[i] == '\r') cuts.push_back(i + 1);
  }
  const size_t step = std::max<size_t>(1, cuts.size() / 64);
  for (size_t k = 0; k < cuts.size(); k += step) {
    const double share = static_cast<double>(cuts[k]) / static_cast<double>(text.size() + 1);
    CheckSame(ParseCsvSplit(text, options, CsvSplit{0, share, 2}), one);
    CheckSame(ParseCsvSplit(text, options, CsvSplit{0, share, 7}), one);
  }
  for (double share : {0.25, 0.5, 0.75}) {
    CheckSame(ParseCsvSplit(text, options, CsvSplit{0, share, 2}), one);
    CheckSame(ParseCsvSplit(text, options, CsvSplit{0, share, 16}), one);
  }
  return 0;
}
