// Internal to src/store: the database schema and its migrations.
#pragma once

#include "common/error.h"
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

}  // namespace tapedeck::store::internal
