// Internal to market: ParseCsv with its two-thread split exposed, for tests that put the cut where
// they want it (inside a CRLF, before a bad row, ...).
#pragma once

#include <cstddef>
#include <string_view>

#include "common/error.h"
#include "market/market.h"

namespace tapedeck::market {

// How ParseCsv shares a large text's rows between two threads. The rows (after any header) are
// cut at line starts into `stretches` stretches: the first is the first `first_share` of their
// bytes (the cut moved on to the next line start), the rest equal parts of what follows (cuts
// that fall together are one). The caller's thread scans the first at once while a new thread
// counts the line ends of all of them; then both take the others one at a time. Rows of fewer
// than `min_bytes` bytes, a share outside (0, 1), fewer than 2 stretches or a first cut past the
// last line are scanned on the caller's thread alone.
struct CsvSplit {
  // Below this a thread costs more than it saves (starting one is ~0.1 ms; a MiB of rows ~1.5 ms).
  size_t min_bytes = 1 << 20;
  // The first stretch is scanned while the other thread counts line ends (~6x the speed of
  // scanning here), so that most counts are there when it ends.
  double first_share = 0.1;
  // Small enough that a thread the machine gives little time to holds up the other by little.
  size_t stretches = 16;
};

// ParseCsv(text, options) with `split`. The result, and every error, is the same whatever the
// split: a text whose stretches do not all parse cleanly is parsed again on one thread, whose
// error is returned. Progress, when asked for, is reported from the caller's thread only.
Result<Series> ParseCsvSplit(std::string_view text, const CsvOptions& options,
                             const CsvSplit& split);

}  // namespace tapedeck::market
