// Internal to src/store: the database schema and its migrations.
#pragma once

#include "common/error.h"
#include "store/sqlite_db.h"

namespace tapedeck::store::internal {

// Brings the database from its PRAGMA user_version up to kSchemaVersion, one step per
// transaction, so a crash mid-migration leaves the last complete version. A database newer than
// this build is refused (IO, details `user_version`) rather than written with an older schema.
Status Migrate(Db& db);

}  // namespace tapedeck::store::internal
