// Internal to src/store: writing a sweep's trial records into PostgreSQL, shared by PgStore's
// PutTrials (pg_sweeps.cpp) and the copy from another store (pg_migrate.cpp), so both write the
// rows the readers expect.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "store/pg_db.h"
#include "store/store.h"

namespace tapedeck::store::internal {

// Inserts `trials` as records of the sweep whose seq is `seq` (sweep_trials, and sweep_returns
// for those with daily returns) in one statement (one round trip) whatever their count; with
// `add_to_done`, the same statement adds the count to the sweep's `done` and notifies
// tapedeck_sweep. Returns the index in `trials` of the first record whose (phase, index) was
// already there or repeats an earlier one of `trials` (nullopt when there is none); the others
// were inserted all the same, so on a duplicate the caller rolls its transaction back.
// REQUIRES: a transaction is open on `conn`, and the sweep's row is locked in it when
// `add_to_done`.
Result<std::optional<size_t>> InsertTrialRows(pg::Conn& conn, int64_t seq,
                                              std::span<const TrialRecord> trials,
                                              bool add_to_done);

}  // namespace tapedeck::store::internal
