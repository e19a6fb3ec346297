// Internal to src/store: what the PgStore's files (pg_*.cpp) share beyond pg_store.h. Helpers
// shared with the SQLite store (RandomHex64, SymbolsToJson, RecordedSha256, ...) stay declared
// in sqlite_store.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/time.h"
#include "store/packing.h"
#include "store/pg_db.h"
#include "store/store.h"

namespace tapedeck::store::internal {

// IO: the database holds something this code never writes (details `server`).
Error PgCorrupt(const pg::Conn& conn, std::string what);

// Keeps `source` under its SHA-256 `sha256` unless it is there already (a concurrent insert of
// the same source is no error).
Status InsertScriptSource(pg::Conn& conn, std::string_view sha256, std::string_view source);
// Keeps `spec`'s inline script source (if any) under `sha256` (RecordedSha256).
Status KeepInlineSource(pg::Conn& conn, const RunSpec& spec, std::string_view sha256);

// Inserts run `spec` (status queued, created at `created`) and keeps its inline source, inside the
// caller's transaction; returns the run's new id. With `client`, the run's job is queued in the
// same statement too (as JobQueue::EnqueueRun's insert, with its tapedeck_job notification; the
// caller has checked the queue's limits under its lock). INTERNAL when no fresh id was drawn.
Result<std::string> InsertRun(pg::Conn& conn, const RunSpec& spec, Timestamp created,
                              const std::string* client);

// A failure's columns as $1..$5 of "UPDATE runs (or sweeps) SET status = 'failed', error = $1,
// finished_us = $2, error_cause = $3, error_line = $4, error_bar_us = $5 WHERE ... $6"; the
// caller adds the row's key.
pg::Params FailureParams(const RunError& error, Timestamp now);

// Writes run `seq`'s head (table run_heads, schema v2) when `result` has more than
// kStoredHeadBars bars; nothing otherwise. Inside the caller's transaction.
Status InsertRunHead(pg::Conn& conn, int64_t seq, const engine::RunResult& result);
// InsertRunHead in two parts: the row's values packed (none: the run is no longer than
// kStoredHeadBars), then written.
struct PackedHead {
  size_t bars = 0;
  int64_t last_us = 0;
  std::vector<std::byte> times, equity;  // kSeriesRuns
  size_t events = 0;
  PackedEvents event_records;  // compact
  size_t series = 0;
  std::vector<std::byte> plots;
  size_t logs = 0;
  PackedLogs log_records;
};
std::optional<PackedHead> PackRunHead(const engine::RunResult& result);
Status InsertPackedHead(pg::Conn& conn, int64_t seq, const PackedHead& head);

}  // namespace tapedeck::store::internal
