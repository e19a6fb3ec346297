// Internal to src/store: writing a sweep's trial records into PostgreSQL in bulk, for the copy
// from another store (pg_migrate.cpp); the same rows PgStore's PutTrials (pg_sweeps.cpp) writes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "store/pg_db.h"
#include "store/store.h"

namespace tapedeck::store::internal {

// Inserts `trials` as records of the sweep whose seq is `seq` (sweep_trials, and sweep_returns
// for those with daily returns) in one statement (one round trip) whatever their count, leaving
// the sweep's row (and its `done`) alone. Returns the index in `trials` of the first record whose
// (phase, index) was already there or repeats an earlier one of `trials` (nullopt when there is
// none); the others were inserted all the same, so on a duplicate the caller rolls its
// transaction back. REQUIRES: a transaction is open on `conn`.
Result<std::optional<size_t>> InsertTrialRows(pg::Conn& conn, int64_t seq,
                                              std::span<const TrialRecord> trials);

}  // namespace tapedeck::store::internal
