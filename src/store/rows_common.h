// Internal to src/store: what both stores (SQLite's sqlite_*.cpp and PostgreSQL's pg_*.cpp) say
// and lay out the same way — the errors of a missing run or sweep or a status move not allowed,
// a sweep's status from its column, and the order of run_stats' columns.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "store/store.h"

namespace tapedeck::store::internal {

inline Error RunNotFound(std::string_view id) {
  return MakeError(ErrorCode::kRunNotFound, "no run has this id", {{"id", std::string(id)}});
}

inline Error BadTransition(std::string_view id, RunStatus from, std::string_view want) {
  return MakeError(ErrorCode::kConflict,
                   "the run is " + std::string(ToString(from)) + ", cannot " + std::string(want),
                   {{"id", std::string(id)}, {"status", std::string(ToString(from))}});
}

inline std::optional<SweepStatus> ParseSweepStatus(std::string_view text) {
  for (auto s :
       {SweepStatus::kQueued, SweepStatus::kRunning, SweepStatus::kDone, SweepStatus::kFailed}) {
    if (ToString(s) == text) return s;
  }
  return std::nullopt;
}

inline Error SweepNotFound(std::string_view id) {
  return MakeError(ErrorCode::kNotFound, "no sweep has this id", {{"sweep", std::string(id)}});
}

inline Error BadTransition(std::string_view id, SweepStatus from, std::string_view want) {
  return MakeError(ErrorCode::kConflict,
                   "the sweep is " + std::string(ToString(from)) + ", cannot " + std::string(want),
                   {{"sweep", std::string(id)}, {"status", std::string(ToString(from))}});
}

// Calls f with each field of `st` in the order of run_stats' columns (after `run` and
// `symbols`): the one list that reading and binding both follow, in both stores.
template <typename StatsT, typename F>
void ForEachStatColumn(StatsT& st, F&& f) {
  f(st.bars);
  f(st.fills);
  f(st.trades);
  f(st.start_equity);
  f(st.final_equity);
  f(st.total_return);
  f(st.cagr);
  f(st.volatility);
  f(st.sharpe);
  f(st.sortino);
  f(st.calmar);
  f(st.max_drawdown);
  f(st.max_drawdown_duration);
  f(st.win_rate);
  f(st.profit_factor);
  f(st.expectancy);
  f(st.exposure);
  f(st.buy_and_hold_return);
  f(st.periods_per_year);
}

// Adds `n` rows of status `text` (a runs' or sweeps' status column) to `counts`; a status
// neither table allows (their CHECK constraints) is a broken store: IO naming it.
inline Status AddToCounts(StatusCounts& counts, std::string_view text, int64_t n) {
  const std::optional<RunStatus> status = ParseRunStatus(text);
  if (!status || n < 0) {
    return MakeError(ErrorCode::kIo, "the store holds an unknown status '" + std::string(text) + "'",
                     {{"status", std::string(text)}});
  }
  const auto count = static_cast<size_t>(n);
  switch (*status) {
    case RunStatus::kQueued: counts.queued += count; break;
    case RunStatus::kRunning: counts.running += count; break;
    case RunStatus::kDone: counts.done += count; break;
    case RunStatus::kFailed: counts.failed += count; break;
  }
  return Ok();
}

// A statistic as its column holds it (FromColumn, per store, reads it back).
inline int64_t ToColumn(size_t v) { return static_cast<int64_t>(v); }
inline int64_t ToColumn(Micros v) { return static_cast<int64_t>(v.count()); }
inline double ToColumn(double v) { return v; }

}  // namespace tapedeck::store::internal
