// store: copying everything one store holds into a PostgreSQL store (`tapedeck migrate`), and
// checking the copy against its source.
//
// What is copied, keeping every identity: datasets (name, symbol, creation time, the bars bit for
// bit); strategy scripts (every version with its number, SHA-256, parameter schema and time);
// the sources of inline-script runs and sweeps (by SHA-256); runs (id, spec, status, progress,
// times, error, and for a done run its whole result: statistics, order events, equity, trades,
// plots and logs); sweeps (id, spec, status, `done`, times, error, summary, and every trial record
// with its daily returns). Runs and sweeps keep their order (ListRuns/ListSweeps list them as the
// source did).
//
// A run or sweep the source holds as queued or running is copied as failed with error and cause
// "interrupted": the source's process is not running it (a SQLite store is open in one process
// only, and that process is the migration) and would fail it so on its next start, while in the
// shared store a queued row without a job would wait forever.
//
// Thread-safety: the calls read and write through the stores' own thread-safe calls; nothing else
// may write to the target meanwhile.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "store/store.h"

namespace tapedeck::store {

struct MigrationCounts {
  size_t datasets = 0;
  size_t bars = 0;             // over every dataset
  size_t script_versions = 0;  // of named scripts
  size_t script_sources = 0;   // distinct sources (named versions' and inline runs'/sweeps')
  size_t runs = 0;
  size_t results = 0;  // done runs, whose result came along
  size_t sweeps = 0;
  size_t trials = 0;  // trial records over every sweep
};

// Called after each item: what it was ("dataset", "script", "run", "sweep") and its name or id.
using MigrationProgress = std::function<void(std::string_view kind, std::string_view name)>;

// Copies everything `from` holds into `to`, one transaction per item (a dataset, a script's
// versions, a run with its result, a sweep with its records), oldest first.
// REQUIRES: `to` was opened by OpenPostgresStore (else VALIDATION, details `field` "to").
// Before writing anything, checks that `to` holds none of the names and ids to copy: CONFLICT
// naming the first it holds (details `dataset`, `strategy`, `run` or `sweep`, and `count`: how
// many it holds) and nothing written. Errors of either store pass through; after an error
// mid-way, the items copied before it stay (each whole) and a second migration into that target
// is refused.
Result<MigrationCounts> MigrateStore(Store& from, Store& to,
                                     const MigrationProgress& progress = {});

// Reads back everything `from` holds from `to` and compares: datasets (info and every bar),
// script versions (and sources), runs (spec, status — queued and running as MigrateStore maps
// them —, times, error, statistics; for a done run the whole result: equity, order events,
// trades, plots, logs), sweeps (info and every trial record with its returns). Doubles compare bit
// for bit. Returns the counts compared; the first difference is INTERNAL with details `what` (the
// item: "dataset btc", "run 0123...") and `field`. `to` may be any store.
Result<MigrationCounts> VerifyMigration(Store& from, Store& to);

}  // namespace tapedeck::store
