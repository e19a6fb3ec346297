#include "store/schema.h"

#include <string>

#include "store/store.h"

namespace tapedeck::store::internal {
namespace {

// Version 1. Times are microseconds since the Unix epoch (UTC), like Timestamp.
//
// Runs are keyed internally by `seq` (an INTEGER PRIMARY KEY, i.e. the rowid): child rows point at
// it, which is smaller and faster than the text id, and ORDER BY seq DESC is "newest first".
// Results live in child tables written only by CompleteRun, so a run's row alone says nothing
// about a result, and the status column is the one truth about whether it is there.
//
// Equity is two BLOBs (native little-endian int64 micros and float64 values) rather than a row per
// bar: 525,600 rows cost ~0.5 s to insert, a blob ~10 ms, and playback always wants all of it.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE datasets(
  name       TEXT PRIMARY KEY,
  symbol     TEXT NOT NULL,
  bars       INTEGER NOT NULL,
  from_us    INTEGER NOT NULL,
  to_us      INTEGER NOT NULL,
  created_us INTEGER NOT NULL,
  file       TEXT NOT NULL UNIQUE   -- file name inside the data directory
);

CREATE TABLE runs(
  seq          INTEGER PRIMARY KEY,
  id           TEXT NOT NULL UNIQUE,
  dataset      TEXT NOT NULL,        -- by name; no foreign key: runs outlive their dataset
  symbols      TEXT NOT NULL,        -- JSON array of strings
  strategy     TEXT NOT NULL,
  params       TEXT NOT NULL,        -- JSON object, as given
  cash         REAL NOT NULL,
  commission   REAL NOT NULL,
  fixed_fee    REAL NOT NULL,
  slippage     REAL NOT NULL,
  allow_short  INTEGER NOT NULL,
  from_us      INTEGER,
  to_us        INTEGER,
  request      TEXT NOT NULL,
  status       TEXT NOT NULL CHECK(status IN ('queued', 'running', 'done', 'failed')),
  progress     REAL NOT NULL DEFAULT 0,
  error        TEXT NOT NULL DEFAULT '',
  created_us   INTEGER NOT NULL,
  started_us   INTEGER,
  finished_us  INTEGER
);
CREATE INDEX runs_by_status ON runs(status);

CREATE TABLE run_stats(
  run                 INTEGER PRIMARY KEY REFERENCES runs(seq) ON DELETE CASCADE,
  symbols             TEXT NOT NULL,  -- the result's symbols, JSON array
  bars                INTEGER NOT NULL,
  fills               INTEGER NOT NULL,
  trades              INTEGER NOT NULL,
  start_equity        REAL,
  final_equity        REAL,
  total_return        REAL,
  cagr                REAL,
  volatility          REAL,
  sharpe              REAL,
  sortino             REAL,
  calmar              REAL,
  max_drawdown        REAL,
  max_drawdown_us     INTEGER NOT NULL,
  win_rate            REAL,
  profit_factor       REAL,
  expectancy          REAL,
  exposure            REAL,
  buy_and_hold_return REAL,
  periods_per_year    REAL
);

CREATE TABLE run_equity(
  run     INTEGER PRIMARY KEY REFERENCES runs(seq) ON DELETE CASCADE,
  points  INTEGER NOT NULL,
  times   BLOB NOT NULL,
  equity  BLOB NOT NULL
);

CREATE TABLE run_events(
  run        INTEGER NOT NULL REFERENCES runs(seq) ON DELETE CASCADE,
  seq        INTEGER NOT NULL,  -- position in the run's event list
  order_id   INTEGER NOT NULL,
  ts_us      INTEGER NOT NULL,
  bar        INTEGER NOT NULL,
  symbol     INTEGER NOT NULL,
  side       TEXT NOT NULL CHECK(side IN ('buy', 'sell')),
  type       TEXT NOT NULL CHECK(type IN ('market', 'limit', 'stop', 'stop_limit')),
  status     TEXT NOT NULL CHECK(status IN ('submitted', 'filled', 'cancelled', 'rejected')),
  qty        REAL,              -- NULL: sized at fill
  px         REAL,              -- NULL: no fill price (NaN in memory)
  commission REAL NOT NULL,
  reason     TEXT NOT NULL DEFAULT '',
  PRIMARY KEY(run, seq)
) WITHOUT ROWID;

CREATE TABLE run_trades(
  run        INTEGER NOT NULL REFERENCES runs(seq) ON DELETE CASCADE,
  seq        INTEGER NOT NULL,
  symbol     INTEGER NOT NULL,
  side       TEXT NOT NULL CHECK(side IN ('buy', 'sell')),
  entry_us   INTEGER NOT NULL,
  exit_us    INTEGER NOT NULL,
  entry_bar  INTEGER NOT NULL,
  exit_bar   INTEGER NOT NULL,
  qty        REAL,
  entry_px   REAL,
  exit_px    REAL,
  pnl        REAL,
  ret        REAL,
  open       INTEGER NOT NULL,
  PRIMARY KEY(run, seq)
) WITHOUT ROWID;
)sql";

// Version 2: the same run_events and run_trades with CHECKs written as comparisons. SQLite
// evaluates `x IN ('a', 'b', ...)` by building an ephemeral index per row inserted; a run of
// 40,000 order events spent two thirds of its CompleteRun doing that. A CHECK cannot be altered
// in place, so the tables are rebuilt.
constexpr const char* kSchemaV2 = R"sql(
CREATE TABLE run_events_v2(
  run        INTEGER NOT NULL REFERENCES runs(seq) ON DELETE CASCADE,
  seq        INTEGER NOT NULL,  -- position in the run's event list
  order_id   INTEGER NOT NULL,
  ts_us      INTEGER NOT NULL,
  bar        INTEGER NOT NULL,
  symbol     INTEGER NOT NULL,
  side       TEXT NOT NULL CHECK(side = 'buy' OR side = 'sell'),
  type       TEXT NOT NULL CHECK(type = 'market' OR type = 'limit' OR type = 'stop'
                                 OR type = 'stop_limit'),
  status     TEXT NOT NULL CHECK(status = 'submitted' OR status = 'filled'
                                 OR status = 'cancelled' OR status = 'rejected'),
  qty        REAL,              -- NULL: sized at fill
  px         REAL,              -- NULL: no fill price (NaN in memory)
  commission REAL NOT NULL,
  reason     TEXT NOT NULL DEFAULT '',
  PRIMARY KEY(run, seq)
) WITHOUT ROWID;
INSERT INTO run_events_v2 SELECT * FROM run_events;
DROP TABLE run_events;
ALTER TABLE run_events_v2 RENAME TO run_events;

CREATE TABLE run_trades_v2(
  run        INTEGER NOT NULL REFERENCES runs(seq) ON DELETE CASCADE,
  seq        INTEGER NOT NULL,
  symbol     INTEGER NOT NULL,
  side       TEXT NOT NULL CHECK(side = 'buy' OR side = 'sell'),
  entry_us   INTEGER NOT NULL,
  exit_us    INTEGER NOT NULL,
  entry_bar  INTEGER NOT NULL,
  exit_bar   INTEGER NOT NULL,
  qty        REAL,
  entry_px   REAL,
  exit_px    REAL,
  pnl        REAL,
  ret        REAL,
  open       INTEGER NOT NULL,
  PRIMARY KEY(run, seq)
) WITHOUT ROWID;
INSERT INTO run_trades_v2 SELECT * FROM run_trades;
DROP TABLE run_trades;
ALTER TABLE run_trades_v2 RENAME TO run_trades;
)sql";

// Version 3: a run's order events and trades as one packed blob each (store/packing.h) instead of
// a row each: CompleteRun of a year of one-minute sma_cross wrote ~41,000 + ~10,000 rows, most of
// POST /backtests -> done. The new tables are filled from the old ones by PackRunRowsV3, then the
// old ones go and the new ones take their names.
constexpr const char* kSchemaV3Before = R"sql(
CREATE TABLE run_events_v3(
  run     INTEGER PRIMARY KEY REFERENCES runs(seq) ON DELETE CASCADE,
  count   INTEGER NOT NULL,
  records BLOB NOT NULL,  -- count events of 64 bytes (store/packing.h)
  reasons BLOB NOT NULL   -- the rejected orders' reasons, concatenated
);
CREATE TABLE run_trades_v3(
  run     INTEGER PRIMARY KEY REFERENCES runs(seq) ON DELETE CASCADE,
  count   INTEGER NOT NULL,
  records BLOB NOT NULL   -- count trades of 80 bytes (store/packing.h)
);
)sql";
constexpr const char* kSchemaV3After = R"sql(
DROP TABLE run_events;
DROP TABLE run_trades;
ALTER TABLE run_events_v3 RENAME TO run_events;
ALTER TABLE run_trades_v3 RENAME TO run_trades;
)sql";

// Version 4: strategy scripts. Every source is kept once, addressed by its SHA-256
// (script_sources): a named script's versions point at theirs, and an inline script's run at its
// own, so that any run can be re-run and its source shown. A run records which script version and
// source it ran, and a failed run the parts of its error (cause, script line, bar time) beside the
// message. Runs failed before this version get cause "interrupted" or "error".
constexpr const char* kSchemaV4 = R"sql(
CREATE TABLE script_sources(
  sha256     TEXT PRIMARY KEY,  -- lowercase hex of source
  source     TEXT NOT NULL,
  created_us INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE strategy_versions(
  name       TEXT NOT NULL,
  version    INTEGER NOT NULL CHECK(version >= 1),
  sha256     TEXT NOT NULL REFERENCES script_sources(sha256),
  params     TEXT NOT NULL,     -- the parameter schema, JSON as the server wrote it
  created_us INTEGER NOT NULL,
  PRIMARY KEY(name, version)
) WITHOUT ROWID;

ALTER TABLE runs ADD COLUMN strategy_version INTEGER;
ALTER TABLE runs ADD COLUMN strategy_sha256 TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN error_cause TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN error_line INTEGER;
ALTER TABLE runs ADD COLUMN error_bar_us INTEGER;
UPDATE runs SET error_cause = CASE WHEN error = 'interrupted' THEN 'interrupted' ELSE 'error' END
  WHERE status = 'failed';
)sql";

// Version 5: what a run plotted and logged (engine::RunResult::plots and logs), one row per run
// that has any, written by CompleteRun in the run's transaction. `decl` is the run JSON's "plots"
// ([{"name","pane"}] in declaration order), read with the run's row; the rest is packed
// (store/packing.h). Runs of earlier versions have none: nothing to convert.
constexpr const char* kSchemaV5 = R"sql(
CREATE TABLE run_plots(
  run         INTEGER PRIMARY KEY REFERENCES runs(seq) ON DELETE CASCADE,
  decl        TEXT NOT NULL,
  series      INTEGER NOT NULL,
  plots       BLOB NOT NULL,
  logs        INTEGER NOT NULL,
  log_records BLOB NOT NULL,  -- logs records of 24 bytes
  log_text    BLOB NOT NULL   -- the messages, concatenated
);
)sql";

// Version 6: a run over several datasets (one symbol each) records them all, in order, as a JSON
// array of names; `dataset` stays the first, for readers that know only it. Earlier runs had one.
constexpr const char* kSchemaV6 = R"sql(
ALTER TABLE runs ADD COLUMN datasets TEXT NOT NULL DEFAULT '[]';
UPDATE runs SET datasets = json_array(dataset);
)sql";

// Version 7: sweeps (store.h, "Sweeps"). A sweep's row holds what was asked for (the columns of a
// run's spec, its plan and request as opaque JSON), its status and progress (`done` of `tasks`
// trial runs) and, once done, its summary. Each trial run's record is a row of sweep_trials,
// written by PutTrials in batches: its parameters, its error or its statistics — packed whole in
// `stats` (store/packing.h; NULL: the trial failed) and again, for ORDER BY, as a REAL column per
// key of the REST statistics object (NaN reads as NULL: "missing"). A phase-0 trial's daily
// returns are a separate row of sweep_returns (12-byte records), so that sorting a 100,000-trial
// sweep scans ~300-byte rows rather than years of returns. Both go with their sweep (ON DELETE
// CASCADE). Nothing to convert: earlier stores have no sweeps.
constexpr const char* kSchemaV7 = R"sql(
CREATE TABLE sweeps(
  seq              INTEGER PRIMARY KEY,
  id               TEXT NOT NULL UNIQUE,
  dataset          TEXT NOT NULL,
  datasets         TEXT NOT NULL,  -- JSON array of names
  symbols          TEXT NOT NULL,  -- JSON array of strings
  strategy         TEXT NOT NULL,
  strategy_version INTEGER,
  strategy_sha256  TEXT NOT NULL DEFAULT '',
  cash             REAL NOT NULL,
  commission       REAL NOT NULL,
  fixed_fee        REAL NOT NULL,
  slippage         REAL NOT NULL,
  allow_short      INTEGER NOT NULL,
  from_us          INTEGER,
  to_us            INTEGER,
  plan             TEXT NOT NULL,  -- JSON, as the server wrote it
  request          TEXT NOT NULL,
  trials           INTEGER NOT NULL,
  tasks            INTEGER NOT NULL,
  status           TEXT NOT NULL CHECK(status = 'queued' OR status = 'running'
                                       OR status = 'done' OR status = 'failed'),
  done             INTEGER NOT NULL DEFAULT 0,
  error            TEXT NOT NULL DEFAULT '',
  error_cause      TEXT NOT NULL DEFAULT '',
  error_line       INTEGER,
  error_bar_us     INTEGER,
  created_us       INTEGER NOT NULL,
  started_us       INTEGER,
  finished_us      INTEGER,
  summary          TEXT NOT NULL DEFAULT ''  -- JSON object, once done
);
CREATE INDEX sweeps_by_status ON sweeps(status);

CREATE TABLE sweep_trials(
  sweep                   INTEGER NOT NULL REFERENCES sweeps(seq) ON DELETE CASCADE,
  phase                   INTEGER NOT NULL,
  idx                     INTEGER NOT NULL,
  params                  TEXT NOT NULL,  -- JSON object
  error                   TEXT NOT NULL DEFAULT '',
  stats                   BLOB,           -- packed engine::Stats; NULL: the trial failed
  bars                    REAL,
  fills                   REAL,
  trades                  REAL,
  start_equity            REAL,
  final_equity            REAL,
  total_return            REAL,
  cagr                    REAL,
  volatility              REAL,
  sharpe                  REAL,
  sortino                 REAL,
  calmar                  REAL,
  max_drawdown            REAL,
  max_drawdown_duration_s REAL,
  win_rate                REAL,
  profit_factor           REAL,
  expectancy              REAL,
  exposure                REAL,
  buy_and_hold_return     REAL,
  PRIMARY KEY(sweep, phase, idx)
) WITHOUT ROWID;

CREATE TABLE sweep_returns(
  sweep   INTEGER NOT NULL REFERENCES sweeps(seq) ON DELETE CASCADE,
  phase   INTEGER NOT NULL,
  idx     INTEGER NOT NULL,
  days    INTEGER NOT NULL,
  returns BLOB NOT NULL,  -- days records of 12 bytes (store/packing.h)
  PRIMARY KEY(sweep, phase, idx)
);
)sql";

// Version 8: a run's times and equity packed (store/packing.h, kSeriesRuns): a regular grid of
// times in a few bytes, a flat stretch of equity in one segment, where the raw arrays were 8.4 MB
// for a year of minutes. `codec` says which form a row holds; earlier rows are raw (0) and are
// read as they are. Also from this version, a built-in's plotted series is stored as what it is,
// its derivation (e.g. "sma:10"), without values (run_plots.plots, store/packing.h: the header's
// byte 5 gives the derivation's length, its text follows the name); readers compute the values
// from the run's bars (strategies::MaterialisePlots). Series stored before keep their values and
// read as before; an older build, which would read a derived series as one that plotted nothing,
// refuses the database.
constexpr const char* kSchemaV8 = R"sql(
ALTER TABLE run_equity ADD COLUMN codec INTEGER NOT NULL DEFAULT 0;
)sql";

struct Migration {
  int to_version;
  const char* sql;
  Status (*convert)(Db&) = nullptr;  // runs after `sql`, in the same transaction
  const char* sql_after = nullptr;
};

// Append only: a released step is never edited, a change is a new step.
constexpr Migration kMigrations[] = {
    {1, kSchemaV1}, {2, kSchemaV2}, {3, kSchemaV3Before, PackRunRowsV3, kSchemaV3After},
    {4, kSchemaV4}, {5, kSchemaV5}, {6, kSchemaV6}, {7, kSchemaV7}, {8, kSchemaV8},
};

Result<int> UserVersion(Db& db) {
  Result<Stmt> stmt = db.Prepare("PRAGMA user_version");
  if (!stmt.ok()) return stmt.take_error();
  Result<bool> row = stmt->Step();
  if (!row.ok()) return row.take_error();
  return static_cast<int>(stmt->Int(0));
}

}  // namespace

Status Migrate(Db& db) { return MigrateTo(db, kSchemaVersion); }

Status MigrateTo(Db& db, int target) {
  Result<int> version = UserVersion(db);
  if (!version.ok()) return version.take_error();
  if (*version > kSchemaVersion) {
    return MakeError(ErrorCode::kIo, "the store was written by a newer tapedeck",
                     {{"path", db.path()},
                      {"user_version", std::to_string(*version)},
                      {"supported", std::to_string(kSchemaVersion)}});
  }
  for (const Migration& m : kMigrations) {
    if (m.to_version <= *version || m.to_version > target) continue;
    Result<Txn> txn = Txn::BeginDurable(db);
    if (!txn.ok()) return txn.take_error();
    if (Status s = db.Exec(m.sql); !s.ok()) return s;
    if (m.convert) {
      if (Status s = m.convert(db); !s.ok()) return s;
    }
    if (m.sql_after) {
      if (Status s = db.Exec(m.sql_after); !s.ok()) return s;
    }
    // PRAGMA takes no bound parameters; the number is ours.
    const std::string set = "PRAGMA user_version=" + std::to_string(m.to_version);
    if (Status s = db.Exec(set.c_str()); !s.ok()) return s;
    if (Status s = txn->Commit(); !s.ok()) return s;
  }
  return Ok();
}

Status InsertPackedRows(Db& db, PackedTables tables, int64_t run, const PackedEvents& events,
                        std::span<const std::byte> trades) {
  return InsertPackedRows(db, tables, run, events, events.records.size() / kEventRecordBytes,
                          trades, trades.size() / kTradeRecordBytes);
}

Status InsertPackedRows(Db& db, PackedTables tables, int64_t run, const PackedEvents& events,
                        size_t event_count, std::span<const std::byte> trades, size_t trade_count) {
  // String literals: Prepare caches statements by the address of their text, so a text built at
  // run time (and freed) could hand a later call another statement.
  const bool step3 = tables == PackedTables::kStep3;
  {
    const char* sql =
        step3 ? "INSERT INTO run_events_v3(run, count, records, reasons) VALUES(?1, ?2, ?3, ?4)"
              : "INSERT INTO run_events(run, count, records, reasons) VALUES(?1, ?2, ?3, ?4)";
    TD_ASSIGN_OR_RETURN(Stmt & s, db.Prepare(sql));
    TD_TRY(s.Bind(1, run)
               .Bind(2, static_cast<int64_t>(event_count))
               .BindBlob(3, events.records)
               .BindBlob(4, std::as_bytes(std::span(events.reasons)))
               .Run());
  }
  const char* sql = step3 ? "INSERT INTO run_trades_v3(run, count, records) VALUES(?1, ?2, ?3)"
                          : "INSERT INTO run_trades(run, count, records) VALUES(?1, ?2, ?3)";
  TD_ASSIGN_OR_RETURN(Stmt & s, db.Prepare(sql));
  return s.Bind(1, run)
      .Bind(2, static_cast<int64_t>(trade_count))
      .BindBlob(3, trades)
      .Run();
}

}  // namespace tapedeck::store::internal
