// Internal to market: ParseCsv with its two-thread split exposed, for tests that put the cut where
// they want it (inside a CRLF, before a bad row, ...).
#pragma once

#include <cstddef>
#include <string_view>

#include "common/error.h"
#include "market/market.h"

namespace tapedeck::market {

// How ParseCsv splits a large text's rows between two threads. The rows (after any header) are
// cut at the first line start at or after `first_share` of their bytes; the caller's thread scans
// the first part, a new thread the second. Rows of fewer than `min_bytes` bytes, a share outside
// (0, 1) or a cut past the last line are scanned on the caller's thread alone.
struct CsvSplit {
  // Below this a thread costs more than it saves (starting one is ~0.1 ms; a MiB of rows ~1.5 ms).
  size_t min_bytes = 1 << 20;
  // A little more than half: the second thread first counts the first part's line ends (to know
  // where its rows go), at ~10x the speed of scanning them.
  double first_share = 0.52;
};

// ParseCsv(text, options) with `split`. The result, and every error, is the same whatever the
// split: a text whose parts do not both parse cleanly is parsed again on one thread, whose error
// is returned. Progress, when asked for, is reported from the caller's thread only.
Result<Series> ParseCsvSplit(std::string_view text, const CsvOptions& options,
                             const CsvSplit& split);

}  // namespace tapedeck::market
