// A run's statistics as JSON: the one writer behind REST's "stats", the CLI's --json report and a
// sweep's trials, so the same Stats always reads the same everywhere.
//
// Thread-safety: a pure function (the writer is the caller's).
#pragma once

#include "common/json_writer.h"
#include "engine/run_result.h"

namespace tapedeck::engine {

// The statistics as keys of the object being written (no braces): bars, fills, trades,
// start_equity, final_equity, total_return, cagr, volatility, sharpe, sortino, calmar,
// max_drawdown, max_drawdown_duration_s, win_rate, profit_factor (inf: null), expectancy, exposure,
// buy_and_hold_return.
void WriteStatsFields(JsonWriter& w, const Stats& s);

}  // namespace tapedeck::engine
