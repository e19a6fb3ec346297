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
// for those with daily returns): one statement per table, whatever the count. Returns the index
// in `trials` of the first record whose (phase, index) was already there or repeats an earlier
// one of `trials` (nullopt when there is none). Others may have been inserted meanwhile: on a
// duplicate the caller rolls its transaction back. REQUIRES: a transaction is open on `conn`.
Result<std::optional<size_t>> InsertTrialRows(pg::Conn& conn, int64_t seq,
                                              std::span<const TrialRecord> trials);

}  // namespace tapedeck::store::internal
