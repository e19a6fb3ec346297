// PgStore's schema: the same data as SQLite's schema v8 (schema.cpp), in PostgreSQL's types —
// bigint for integers and microsecond times, double precision for REAL (NaN and infinities kept
// exactly), bytea for packed blobs (store/packing.h, byte for byte as SQLite holds them), text
// for JSON kept opaque — plus what a shared deployment needs: a dataset's bars in the database
// (no node has a data directory the others can read) and the job queue.
//
// Versions live in tapedeck_schema (one row). Migrations run in one transaction each, under
// pg_advisory_xact_lock, so that nodes starting at once take turns and the second finds the work
// done.
#include <string>

#include "store/pg_store.h"

namespace tapedeck::store::internal {
namespace {

// Version 1.
//
// datasets.series: the dataset's series file (market::WriteSeriesFile's format, checksum
// included), whole.
//
// jobs: the queue of work for `tapedeck worker` processes. A row exists from when the work is
// queued until it is finished (then deleted); `state` running with `lease_until` in the past is a
// job whose worker died. kind:
//   run      one backtest (run = the run's seq);
//   sweep    start a sweep: mark it running and queue its batches (sweep = its seq);
//   batch    trial runs [first, last) of a sweep;
//   summary  summarise a sweep whose trial runs are all stored (one per sweep at most).
// Waiting work (priority 0: runs and sweeps to start) is claimed before sweep batches
// (priority 1), oldest first. Rows go with their run or sweep (ON DELETE CASCADE).
constexpr const char* kPgSchemaV1 = R"sql(
CREATE TABLE datasets(
  name       text PRIMARY KEY,
  symbol     text NOT NULL,
  bars       bigint NOT NULL,
  from_us    bigint NOT NULL,
  to_us      bigint NOT NULL,
  created_us bigint NOT NULL,
  series     bytea NOT NULL
);

CREATE TABLE runs(
  seq              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id               text NOT NULL UNIQUE,
  dataset          text NOT NULL,
  datasets         text NOT NULL DEFAULT '[]',  -- JSON array of names
  symbols          text NOT NULL,               -- JSON array of strings
  strategy         text NOT NULL,
  strategy_version bigint,
  strategy_sha256  text NOT NULL DEFAULT '',
  params           text NOT NULL,
  cash             double precision NOT NULL,
  commission       double precision NOT NULL,
  fixed_fee        double precision NOT NULL,
  slippage         double precision NOT NULL,
  allow_short      bigint NOT NULL,
  from_us          bigint,
  to_us            bigint,
  request          text NOT NULL,
  status           text NOT NULL CHECK(status IN ('queued', 'running', 'done', 'failed')),
  progress         double precision NOT NULL DEFAULT 0,
  error            text NOT NULL DEFAULT '',
  error_cause      text NOT NULL DEFAULT '',
  error_line       bigint,
  error_bar_us     bigint,
  created_us       bigint NOT NULL,
  started_us       bigint,
  finished_us      bigint
);
CREATE INDEX runs_by_status ON runs(status);

CREATE TABLE run_stats(
  run                 bigint PRIMARY KEY REFERENCES runs(seq) ON DELETE CASCADE,
  symbols             text NOT NULL,
  bars                bigint NOT NULL,
  fills               bigint NOT NULL,
  trades              bigint NOT NULL,
  start_equity        double precision,
  final_equity        double precision,
  total_return        double precision,
  cagr                double precision,
  volatility          double precision,
  sharpe              double precision,
  sortino             double precision,
  calmar              double precision,
  max_drawdown        double precision,
  max_drawdown_us     bigint NOT NULL,
  win_rate            double precision,
  profit_factor       double precision,
  expectancy          double precision,
  exposure            double precision,
  buy_and_hold_return double precision,
  periods_per_year    double precision
);

CREATE TABLE run_equity(
  run    bigint PRIMARY KEY REFERENCES runs(seq) ON DELETE CASCADE,
  points bigint NOT NULL,
  times  bytea NOT NULL,
  equity bytea NOT NULL
);

CREATE TABLE run_events(
  run     bigint PRIMARY KEY REFERENCES runs(seq) ON DELETE CASCADE,
  count   bigint NOT NULL,
  records bytea NOT NULL,
  reasons bytea NOT NULL
);

CREATE TABLE run_trades(
  run     bigint PRIMARY KEY REFERENCES runs(seq) ON DELETE CASCADE,
  count   bigint NOT NULL,
  records bytea NOT NULL
);

CREATE TABLE run_plots(
  run         bigint PRIMARY KEY REFERENCES runs(seq) ON DELETE CASCADE,
  decl        text NOT NULL,
  series      bigint NOT NULL,
  plots       bytea NOT NULL,
  logs        bigint NOT NULL,
  log_records bytea NOT NULL,
  log_text    bytea NOT NULL
);

CREATE TABLE script_sources(
  sha256     text PRIMARY KEY,
  source     text NOT NULL,
  created_us bigint NOT NULL
);

CREATE TABLE strategy_versions(
  name       text NOT NULL,
  version    bigint NOT NULL CHECK(version >= 1),
  sha256     text NOT NULL REFERENCES script_sources(sha256),
  params     text NOT NULL,
  created_us bigint NOT NULL,
  PRIMARY KEY(name, version)
);

CREATE TABLE sweeps(
  seq              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id               text NOT NULL UNIQUE,
  dataset          text NOT NULL,
  datasets         text NOT NULL,
  symbols          text NOT NULL,
  strategy         text NOT NULL,
  strategy_version bigint,
  strategy_sha256  text NOT NULL DEFAULT '',
  cash             double precision NOT NULL,
  commission       double precision NOT NULL,
  fixed_fee        double precision NOT NULL,
  slippage         double precision NOT NULL,
  allow_short      bigint NOT NULL,
  from_us          bigint,
  to_us            bigint,
  plan             text NOT NULL,
  request          text NOT NULL,
  trials           bigint NOT NULL,
  tasks            bigint NOT NULL,
  status           text NOT NULL CHECK(status IN ('queued', 'running', 'done', 'failed')),
  done             bigint NOT NULL DEFAULT 0,
  error            text NOT NULL DEFAULT '',
  error_cause      text NOT NULL DEFAULT '',
  error_line       bigint,
  error_bar_us     bigint,
  created_us       bigint NOT NULL,
  started_us       bigint,
  finished_us      bigint,
  summary          text NOT NULL DEFAULT ''
);
CREATE INDEX sweeps_by_status ON sweeps(status);

CREATE TABLE sweep_trials(
  sweep                   bigint NOT NULL REFERENCES sweeps(seq) ON DELETE CASCADE,
  phase                   bigint NOT NULL,
  idx                     bigint NOT NULL,
  params                  text NOT NULL,
  error                   text NOT NULL DEFAULT '',
  stats                   bytea,
  bars                    double precision,
  fills                   double precision,
  trades                  double precision,
  start_equity            double precision,
  final_equity            double precision,
  total_return            double precision,
  cagr                    double precision,
  volatility              double precision,
  sharpe                  double precision,
  sortino                 double precision,
  calmar                  double precision,
  max_drawdown            double precision,
  max_drawdown_duration_s double precision,
  win_rate                double precision,
  profit_factor           double precision,
  expectancy              double precision,
  exposure                double precision,
  buy_and_hold_return     double precision,
  PRIMARY KEY(sweep, phase, idx)
);

CREATE TABLE sweep_returns(
  sweep   bigint NOT NULL REFERENCES sweeps(seq) ON DELETE CASCADE,
  phase   bigint NOT NULL,
  idx     bigint NOT NULL,
  days    bigint NOT NULL,
  returns bytea NOT NULL,
  PRIMARY KEY(sweep, phase, idx)
);

CREATE TABLE jobs(
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind        text NOT NULL CHECK(kind IN ('run', 'sweep', 'batch', 'summary')),
  run         bigint REFERENCES runs(seq) ON DELETE CASCADE,
  sweep       bigint REFERENCES sweeps(seq) ON DELETE CASCADE,
  first       bigint NOT NULL DEFAULT 0,
  last        bigint NOT NULL DEFAULT 0,
  client      text NOT NULL DEFAULT '',
  priority    integer NOT NULL,
  state       text NOT NULL DEFAULT 'queued' CHECK(state IN ('queued', 'running')),
  worker      text,
  lease_until timestamptz,
  attempts    integer NOT NULL DEFAULT 0,
  queued_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  claimed_at  timestamptz,
  CHECK((kind = 'run') = (run IS NOT NULL)),
  CHECK((kind = 'run') = (sweep IS NULL))
);
CREATE INDEX jobs_to_claim ON jobs(priority, id) WHERE state = 'queued';
CREATE INDEX jobs_leased ON jobs(lease_until) WHERE state = 'running';
CREATE INDEX jobs_by_run ON jobs(run);
CREATE INDEX jobs_by_sweep ON jobs(sweep);
CREATE UNIQUE INDEX jobs_one_summary ON jobs(sweep) WHERE kind = 'summary';
CREATE UNIQUE INDEX jobs_one_start ON jobs(sweep) WHERE kind = 'sweep';
CREATE UNIQUE INDEX jobs_one_run ON jobs(run) WHERE kind = 'run';

-- The packed blobs: a year of minutes is 12 MB of them per run. lz4 (PostgreSQL 14+, when built
-- with it, as Debian's and the PGDG packages are) costs little on the way in and out; without it,
-- stored uncompressed (pglz, the default, takes several times longer to write than the rows do).
DO $$
BEGIN
  ALTER TABLE datasets ALTER COLUMN series SET COMPRESSION lz4;
  ALTER TABLE run_equity ALTER COLUMN times SET COMPRESSION lz4,
                         ALTER COLUMN equity SET COMPRESSION lz4;
  ALTER TABLE run_events ALTER COLUMN records SET COMPRESSION lz4,
                         ALTER COLUMN reasons SET COMPRESSION lz4;
  ALTER TABLE run_trades ALTER COLUMN records SET COMPRESSION lz4;
  ALTER TABLE run_plots ALTER COLUMN plots SET COMPRESSION lz4,
                        ALTER COLUMN log_records SET COMPRESSION lz4,
                        ALTER COLUMN log_text SET COMPRESSION lz4;
  ALTER TABLE sweep_returns ALTER COLUMN returns SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
  ALTER TABLE datasets ALTER COLUMN series SET STORAGE EXTERNAL;
  ALTER TABLE run_equity ALTER COLUMN times SET STORAGE EXTERNAL,
                         ALTER COLUMN equity SET STORAGE EXTERNAL;
  ALTER TABLE run_events ALTER COLUMN records SET STORAGE EXTERNAL,
                         ALTER COLUMN reasons SET STORAGE EXTERNAL;
  ALTER TABLE run_trades ALTER COLUMN records SET STORAGE EXTERNAL;
  ALTER TABLE run_plots ALTER COLUMN plots SET STORAGE EXTERNAL,
                        ALTER COLUMN log_records SET STORAGE EXTERNAL,
                        ALTER COLUMN log_text SET STORAGE EXTERNAL;
  ALTER TABLE sweep_returns ALTER COLUMN returns SET STORAGE EXTERNAL;
END $$;
)sql";

// Version 2: datasets.series stored out of line uncompressed, so that substring() reads only
// the chunks holding the bars asked for (PgStore::LoadBarsBetween, a first frame's bars). A
// compressed value is fetched whole however little of it is asked for. Bars change little under
// lz4 (a year of minutes: 25 MB to 12 MB), and a dataset is written once. Only rows written from
// now on are stored so: older ones keep their compression and are still read whole.
//
// run_heads: a done run's first kStoredHeadBars bars (when it has more), packed as its result is
// (store/packing.h) but cut after those bars: times, equity, the events and logs of those bars,
// the plotted series cut there; plus the run's last bar time. A node that has not seen the run
// reads this one small row for its first frames (PgStore::LoadRunHead), where the same bytes
// taken from the result's compressed blobs would cost a fetch of each whole blob on the server.
// Stored uncompressed (so no pglz on the way in). Runs stored before have none: their heads are
// read from the result's blobs.
constexpr const char* kPgSchemaV2 = R"sql(
ALTER TABLE datasets ALTER COLUMN series SET STORAGE EXTERNAL;
CREATE TABLE run_heads(
  run           bigint PRIMARY KEY REFERENCES runs(seq) ON DELETE CASCADE,
  bars          bigint NOT NULL,
  last_us       bigint NOT NULL,
  times         bytea NOT NULL,
  equity        bytea NOT NULL,
  events        bigint NOT NULL,
  event_records bytea NOT NULL,
  event_reasons bytea NOT NULL,
  series        bigint NOT NULL,
  plots         bytea NOT NULL,
  logs          bigint NOT NULL,
  log_records   bytea NOT NULL,
  log_text      bytea NOT NULL
);
ALTER TABLE run_heads ALTER COLUMN times SET STORAGE EXTERNAL,
                      ALTER COLUMN equity SET STORAGE EXTERNAL,
                      ALTER COLUMN event_records SET STORAGE EXTERNAL,
                      ALTER COLUMN event_reasons SET STORAGE EXTERNAL,
                      ALTER COLUMN plots SET STORAGE EXTERNAL,
                      ALTER COLUMN log_records SET STORAGE EXTERNAL,
                      ALTER COLUMN log_text SET STORAGE EXTERNAL;
)sql";

// Version 3 (SQLite's v8): a run's times and equity packed (store/packing.h, kSeriesRuns), in
// run_equity and in run_heads alike; `codec` says which form a row holds, earlier rows are raw
// (0). The columns keep their storage: lz4 still takes ~13 % off a packed equity blob (mostly
// unrepeated doubles; a year of one-minute sma_cross: 2.05 MB to 1.78 MB). Also from this
// version, a built-in's plotted series is stored as its derivation, without values, in
// run_plots.plots and run_heads.plots (see schema.cpp's version 8); an older build would read
// such a series as empty, and refuses the database.
constexpr const char* kPgSchemaV3 = R"sql(
ALTER TABLE run_equity ADD COLUMN codec bigint NOT NULL DEFAULT 0;
ALTER TABLE run_heads ADD COLUMN codec bigint NOT NULL DEFAULT 0;
)sql";

// Version 4: a run's packed equity and trades stored out of line uncompressed (STORAGE
// EXTERNAL), as datasets.series and run_heads are since version 2. lz4 took little off them
// (mostly unrepeated doubles; a year of one-minute sma_cross: equity 2.05 to 1.78 MB, trades 0.54
// to 0.44 MB) for ~3 ms of CompleteRun's ~15 ms of writing (docs/perf.md, "Scale-out"). Events
// keep lz4 (it halves them). Only rows written from now on are stored so: older ones keep their
// compression and read as before. Nothing else changes: an older build could read these rows,
// but refuses the database by its version as for any step.
constexpr const char* kPgSchemaV4 = R"sql(
ALTER TABLE run_equity ALTER COLUMN equity SET STORAGE EXTERNAL;
ALTER TABLE run_trades ALTER COLUMN records SET STORAGE EXTERNAL;
)sql";

struct Migration {
  int to_version;
  const char* sql;
};

// Append only: a released step is never edited, a change is a new step.
constexpr Migration kPgMigrations[] = {
    {1, kPgSchemaV1}, {2, kPgSchemaV2}, {3, kPgSchemaV3}, {4, kPgSchemaV4}};

// pg_advisory_xact_lock's key: "tapedeck" in ASCII.
constexpr int64_t kMigrationLock = 0x7461706564656b;

}  // namespace

Status MigratePg(pg::Conn& conn) {
  for (const Migration& m : kPgMigrations) {
    TD_ASSIGN_OR_RETURN(pg::Txn & txn, pg::Txn::Begin(conn));
    TD_TRY(conn.Query("SELECT pg_advisory_xact_lock($1)", pg::Params().Add(kMigrationLock)));
    TD_TRY(conn.Exec("CREATE TABLE IF NOT EXISTS tapedeck_schema(version integer NOT NULL)"));
    TD_ASSIGN_OR_RETURN(pg::Rows & rows, conn.Query("SELECT version FROM tapedeck_schema"));
    int64_t version = 0;
    if (rows.size() == 0) {
      TD_TRY(conn.Run("INSERT INTO tapedeck_schema(version) VALUES (0)"));
    } else {
      version = rows.Int(0, 0);
    }
    if (version > kPgSchemaVersion) {
      return MakeError(ErrorCode::kIo, "the store was written by a newer tapedeck",
                       {{"server", conn.server()},
                        {"schema_version", std::to_string(version)},
                        {"supported", std::to_string(kPgSchemaVersion)}});
    }
    if (version >= m.to_version) continue;  // done (by us earlier, or by another node)
    TD_TRY(conn.Exec(m.sql));
    TD_TRY(conn.Run("UPDATE tapedeck_schema SET version = $1",
                    pg::Params().Add(static_cast<int64_t>(m.to_version))));
    TD_TRY(txn.Commit());
  }
  return Ok();
}

}  // namespace tapedeck::store::internal
