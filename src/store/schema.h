// Internal to src/store: the database schema and its migrations.
#pragma once

#include <cstdint>
#include <span>

#include "common/error.h"
#include "store/packing.h"
#include "store/sqlite_db.h"

namespace tapedeck::store::internal {

// Brings the database from its PRAGMA user_version up to kSchemaVersion, one step per
// transaction, so a crash mid-migration leaves the last complete version. A database newer than
// this build is refused (IO, details `user_version`) rather than written with an older schema.
Status Migrate(Db& db);
// The same, stopping at `version` (tests build old databases with it).
Status MigrateTo(Db& db, int version);

// Step 3's conversion: packs every run's run_events and run_trades rows (schema v2) into
// run_events_v3 and run_trades_v3. Called inside the migration's transaction.
Status PackRunRowsV3(Db& db);

// The tables InsertPackedRows writes: schema v3's under their own names (run_events,
// run_trades), or under the names step 3 gives them while it fills them (run_events_v3,
// run_trades_v3).
enum class PackedTables { kCurrent, kStep3 };

// Inserts run `run`'s packed order events and trades as one row each, with the counts given
// (either form, packing.h). The one writer of these rows, for CompleteRun and step 3 alike.
// REQUIRES: a write transaction is open.
// Errors as Stmt::Run (a run that already has rows: a constraint error, IO).
Status InsertPackedRows(Db& db, PackedTables tables, int64_t run, const PackedEvents& events,
                        size_t event_count, std::span<const std::byte> trades, size_t trade_count);
// The same for fixed-width records, the counts taken from the blobs' lengths.
// REQUIRES: `events` and `trades` are whole kEventRecordBytes / kTradeRecordBytes records.
Status InsertPackedRows(Db& db, PackedTables tables, int64_t run, const PackedEvents& events,
                        std::span<const std::byte> trades);

}  // namespace tapedeck::store::internal
