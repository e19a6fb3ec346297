// store: what tapedeck keeps across restarts — datasets (bars), runs (spec, status, progress,
// statistics, order events, equity, trades), strategy scripts and sweeps (spec, status, each trial
// run's statistics and daily returns, summary) — behind the abstract `Store`, with an embedded
// SQLite implementation (`OpenSqliteStore`).
//
// Guarantees (kill -9 at any moment):
//  - A dataset is either wholly there or absent. Its bars live in a binary series file in the data
//    directory (written to a temporary name, fsync'd, renamed, directory fsync'd) and its metadata
//    in a row inserted only after the file is durable. Opening the store deletes series files that
//    no row names (a crash between file and row) and rows whose file is gone.
//  - A run's result (events, equity, trades, statistics) is written in one transaction together
//    with its status becoming `done`: never half-written. A run left `queued` or `running` by a
//    process that died is marked `failed` with error "interrupted" by RecoverOnStart(). We fail
//    them rather than re-queue them: the request may be what crashed the process, and a client that
//    wants a retry can post it again. Sweeps likewise: one left queued or running is failed as
//    "interrupted" (the trial records it had stay readable).
//
// SQLite settings: WAL journal, synchronous=NORMAL, foreign keys on, busy_timeout 5 s. With WAL,
// NORMAL never corrupts the database and loses nothing on a process crash (kill -9): a commit is in
// the OS's hands when it returns. It is not on disk, though, until the next checkpoint: a power
// cut, a kernel crash, or a file system that aborts its journal and turns read-only (ext4 after an
// I/O error) takes back what was not synced. So the writes a client is told about are durable
// commits (synchronous=FULL for that transaction: the WAL is synced before COMMIT returns):
// creating a run or a sweep (202), its end (done or failed), deletes (204), a dataset's row (201),
// migrations and recovery. Only MarkRunning, UpdateProgress, MarkSweepRunning and PutTrials stay
// NORMAL; losing one of those leaves a run or sweep `queued` or `running`, which RecoverOnStart
// fails as interrupted. A durable CompleteRun of a
// year of minutes costs about 6 ms more (docs/perf.md). `StoreOptions::durable_commits` makes
// every commit durable.
//
// Errors: every call returns a value or an Error. Disk and database failures are IO, except a full
// disk (SQLITE_FULL) and lock contention past the busy timeout (SQLITE_BUSY/LOCKED), which are
// UNAVAILABLE (retry later); their details hold `path`, `sqlite` (SQLite's message) and, for a
// failed read or write, `reason` (the system's: a file system gone read-only is "the store's file
// system is read-only"). Specific codes per call are listed below.
//
// Thread-safety: a Store is safe for concurrent use from any number of threads. Writes are
// serialised on one connection under a mutex (a CompleteRun of a year of minutes holds it for tens
// of milliseconds); reads use a small pool of separate connections, so a reader never waits for a
// writer and sees a consistent snapshot (WAL). A background thread checkpoints the WAL, so no
// commit pays for that inline. One process per database: opening takes an exclusive lock on
// `<db>.lock`; a second open fails with UNAVAILABLE.
//
// Files: `<db>`, `<db>-wal`, `<db>-shm`, `<db>.lock` and the data directory (default `<db>.data`),
// which belongs to the store: on open it deletes every `ds-*` file there that no dataset names.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/time.h"
#include "engine/run_result.h"
#include "market/market.h"
#include "sweep/robustness.h"

namespace tapedeck::store {

// A dataset's metadata. `from` and `to` are the first and last bar's (open) times.
struct DatasetInfo {
  std::string name;
  std::string symbol;
  size_t bars = 0;
  Timestamp from, to;
  Timestamp created;
};

enum class RunStatus : uint8_t { kQueued, kRunning, kDone, kFailed };
// "queued", "running", "done", "failed" (as on the wire).
std::string_view ToString(RunStatus status);
std::optional<RunStatus> ParseRunStatus(std::string_view text);

// What was asked for. The store keeps it as given and does not interpret it: `params_json` and
// `request_json` are opaque text (the server validates them before CreateRun).
struct RunSpec {
  std::string dataset;  // the first of `datasets` (the one whose symbol `bar` describes)
  // Every dataset the run reads, in order (one symbol each, as `symbols`). Empty given to
  // CreateRun: just `dataset`. GetRun always fills it.
  std::vector<std::string> datasets;
  std::vector<std::string> symbols;
  std::string strategy;  // a built-in's name, a script's name, or kInlineStrategy
  // A script run: the version of the named script (nullopt for a built-in or an inline script),
  // and the SHA-256 (lowercase hex) of the source it runs (empty for a built-in).
  std::optional<int64_t> strategy_version;
  std::string strategy_sha256;
  // Input to CreateRun only (GetRun leaves it empty): an inline script's source, which CreateRun
  // keeps content-addressed in the same transaction as the run and whose SHA-256 it records as
  // strategy_sha256. Empty: the run's source (if any) is already stored (a named version's).
  std::string script_source;
  std::string params_json = "{}";     // the strategy's parameters, a JSON object
  engine::RunConfig config;           // cash, commission, fixed fee, slippage, shorting
  std::optional<Timestamp> from, to;  // the requested period; nullopt: unbounded
  std::string request_json;           // the request body as received, for the record
};

// `strategy` of a run of an inline script: not a valid script name, so never one.
inline constexpr std::string_view kInlineStrategy = "(inline)";

// Why a run failed. `cause`: a script's (syntax, error, params, instructions, memory,
// wall_time), "interrupted" (the process died while it was queued or running), or the error
// code of any other failure in lowercase ("range", "io", ...).
struct RunError {
  std::string msg;
  std::string cause;
  std::optional<int64_t> line;        // the script line, when known
  std::optional<Timestamp> bar_time;  // the bar being processed, when known
};

// How many runs, or sweeps, the store holds in each status (what /metrics reports).
struct StatusCounts {
  size_t queued = 0;
  size_t running = 0;
  size_t done = 0;
  size_t failed = 0;
};

// A run without its result: what GET /backtests and GET /backtests/{id} show.
struct RunInfo {
  std::string id;
  RunSpec spec;
  RunStatus status = RunStatus::kQueued;
  double progress = 0;  // 0..1; 1 when done
  RunError error;       // on failed only (msg and cause "interrupted" after a crash)
  Timestamp created;
  std::optional<Timestamp> started, finished;
  std::optional<engine::Stats> stats;  // on done only
  // The series the run plotted, as JSON: [{"name":"fast","pane":"price"}, ...] in declaration
  // order ("[]" until done, and for a run that plotted nothing).
  std::string plots_json = "[]";
};

struct StoreOptions {
  // Where dataset series files live. Empty: "<db path>.data" beside the database.
  std::string data_dir;
  // synchronous=FULL instead of NORMAL (see the header comment).
  bool durable_commits = false;
  // The clock for created/started/finished times; empty: the system clock. Tests inject one.
  std::function<Timestamp()> now;
};

// One version of a strategy script.
struct ScriptVersion {
  std::string name;
  int64_t version = 0;             // 1, 2, ...
  std::string sha256;              // of `source`, lowercase hex
  std::string source;              // empty in listings
  std::string params_json = "[]";  // the parameter schema, as given to SaveScript
  Timestamp created;
};

struct SavedScript {
  ScriptVersion script;
  bool created = false;  // false: the source was the latest version's, which is returned
};

// ---- Sweeps ----

enum class SweepStatus : uint8_t { kQueued, kRunning, kDone, kFailed };
// "queued", "running", "done", "failed" (as on the wire).
std::string_view ToString(SweepStatus status);

// What a sweep was asked for. Like RunSpec, kept as given: `plan_json` is opaque text (the
// server's sweep::WritePlanFields).
struct SweepSpec {
  // datasets, symbols, strategy (+ version, sha256, and for CreateSweep an inline script's
  // source, kept as CreateRun keeps it), config, from, to. params_json is unused ("{}").
  RunSpec base;
  std::string plan_json;     // the plan: parameters, method, objective, walk-forward, PBO blocks
  std::string request_json;  // the request body as received
  size_t trials = 0;         // N
  size_t tasks = 0;          // trial runs in all: N per phase (sweep::PhaseCount)
};

struct SweepInfo {
  std::string id;
  SweepSpec spec;
  SweepStatus status = SweepStatus::kQueued;
  size_t done = 0;  // trial runs done (PutTrials' records), 0..spec.tasks
  RunError error;   // on failed only
  Timestamp created;
  std::optional<Timestamp> started, finished;
  std::string summary_json;  // on done: the object sweep::WriteSummaryFields wrote (with braces)
};

// One trial run's result: phase 0 (the whole period, with its daily returns) or a walk-forward
// fold's in-sample phase (statistics only).
struct TrialRecord {
  size_t phase = 0;
  size_t index = 0;
  std::string params_json = "{}";
  std::optional<engine::Stats> stats;  // nullopt: the trial failed, `error` says why
  std::string error;
  std::vector<sweep::DailyReturn> returns;  // phase 0; empty in listings
};

struct TrialQuery {
  size_t phase = 0;
  // "index", or a key of the REST statistics object ("sharpe", "total_return", "cagr",
  // "sortino", "calmar", "profit_factor", "max_drawdown", "trades", "win_rate", ...); failed
  // trials sort last by a statistic (by "index" they keep their place), just after a NaN
  // statistic (missing); +inf is the largest value (an unbeaten profit_factor); ties go by index
  // ascending. Unknown: VALIDATION with details field "sort".
  std::string sort = "index";
  bool descending = false;
  size_t limit = 100;  // 0: all
  size_t offset = 0;
};

struct TrialPage {
  size_t total = 0;  // records of the phase in all
  std::vector<TrialRecord> trials;
};

// The SHA-256 of `data`, 64 lowercase hex digits.
std::string Sha256Hex(std::string_view data);

// What Store::LoadRunHead returns.
struct RunHead {
  engine::RunResult result;  // cut after its first bars (result.times.size() of them)
  size_t total_bars = 0;     // the whole run's bar count
  Timestamp last_time{};     // the whole run's last bar time (meaningless when total_bars is 0)
};

// The bars of a run's head the PostgreSQL store keeps beside its result (a first frame's read);
// playback asks for heads of this many bars.
inline constexpr size_t kStoredHeadBars = 16384;

// Cuts a whole result to its first `bars` bars as LoadRunHead does (bars <= result's).
RunHead CutRunHead(engine::RunResult result, size_t bars);

// What Store::GetRunAndHead returns.
struct RunAndHead {
  RunInfo run;
  // LoadRunHead(id, max_bars)'s answer when the run is done and longer than max_bars bars (or
  // has no statistics); nullopt otherwise.
  std::optional<RunHead> head;
};

class Store {
 public:
  virtual ~Store() = default;

  // ---- Datasets ----

  // Stores `bars` under `name` (its symbol is bars.symbol()). Returns the new dataset's info.
  // Errors: VALIDATION (`name` empty or longer than 200 bytes, or no bars), CONFLICT (a dataset of
  // that name exists; nothing is written), IO/UNAVAILABLE. On any error nothing is left behind.
  virtual Result<DatasetInfo> PutDataset(std::string_view name, const market::Series& bars) = 0;

  // Errors: NOT_FOUND (no such dataset; details `dataset`), IO.
  virtual Result<DatasetInfo> GetDataset(std::string_view name) = 0;

  // All datasets, by name.
  virtual Result<std::vector<DatasetInfo>> ListDatasets() = 0;

  // The dataset's bars, memory-mapped (the Series keeps the mapping alive, and stays valid even if
  // the dataset is deleted meanwhile). The first load of a dataset in a process that did not put
  // it also checks its checksum (a pass over every byte, ~20-40 ms for a year of minutes); later
  // loads are a bare mmap (well under 1 ms).
  // Errors: NOT_FOUND, IO (unreadable, truncated or corrupt file; details `path`).
  virtual Result<market::Series> LoadBars(std::string_view name) = 0;

  // The dataset's bars with from <= time < to (market::Series::Slice's), for playback's first
  // frames: cheaper than LoadBars when the range is short, since it reads only those bars and
  // skips the checksum pass (LoadBars, called for the whole dataset afterwards, still makes it).
  // The default calls LoadBars. Errors: as LoadBars.
  virtual Result<market::Series> LoadBarsBetween(std::string_view name, Timestamp from,
                                                 Timestamp to);

  // Removes the dataset (row first, then its file). Runs made from it are kept.
  // Errors: NOT_FOUND, IO.
  virtual Status DeleteDataset(std::string_view name) = 0;

  // ---- Runs ----
  // Status moves queued -> running -> done | failed (queued -> done | failed too). A call that asks
  // for a move the run's status does not allow returns CONFLICT with details `status` (the current
  // one) and changes nothing. Every call on an unknown id returns RUN_NOT_FOUND with details `id`.

  // Records a new run, status queued, and returns its id: 16 lowercase hex digits (64 random bits
  // from the OS), URL-safe and not guessable from other ids.
  virtual Result<std::string> CreateRun(const RunSpec& spec) = 0;
  // CreateRun, with `admit(id)` called once the run is written: before its durable commit where
  // the store can (SqliteStore: inside the run's transaction, under its write lock, so that what
  // admit hands the run to can start while the commit is being synced), else after it (this
  // default). An error from admit undoes the run (rolled back, or deleted again) and is returned.
  // Whoever admit hands the run to may find it not yet committed, or gone if the commit then
  // fails: the store's own calls on it (MarkRunning, CompleteRun) wait for the commit and answer
  // RUN_NOT_FOUND then. Errors: CreateRun's, admit's.
  virtual Result<std::string> CreateRunAdmitted(
      const RunSpec& spec, const std::function<Status(const std::string& id)>& admit);

  // queued -> running; sets `started`.
  virtual Status MarkRunning(std::string_view id) = 0;

  // Sets the progress (clamped to 0..1) of a running run. Cheap (one small commit), but callers
  // should still throttle it (a few times a second). CONFLICT when the run is not running — a
  // worker can take that, or RUN_NOT_FOUND after a DeleteRun, as a sign to stop.
  virtual Status UpdateProgress(std::string_view id, double progress) = 0;

  // queued|running -> done with its result, in one transaction: events, equity, trades, statistics,
  // progress 1, `finished`. On any error nothing of it is written and the status is unchanged.
  // REQUIRES: result.times.size() == result.equity.size() (else VALIDATION).
  virtual Status CompleteRun(std::string_view id, const engine::RunResult& result) = 0;
  // Where the calling thread's last CompleteRun spent its time, for the runner's per-run timings
  // (TAPEDECK_RUN_TIMINGS, docs/perf.md): packing the result, the writes inside the transaction
  // (waiting for the write lock included) and its commit (the sync). Zero where a store does not
  // measure them.
  struct CompleteTimings {
    double pack_ms = 0, write_ms = 0, commit_ms = 0;
  };
  static CompleteTimings& LastCompleteTimings();

  // queued|running -> failed with `error`; sets `finished`.
  // REQUIRES: error.msg is not empty.
  virtual Status FailRun(std::string_view id, const RunError& error) = 0;

  virtual Result<RunInfo> GetRun(std::string_view id) = 0;

  // Runs, newest first (by creation), with statistics for done ones. limit 0: all.
  virtual Result<std::vector<RunInfo>> ListRuns(size_t limit = 0, size_t offset = 0) = 0;

  // How many runs are in each status: one aggregate over the status index, however many there are.
  virtual Result<StatusCounts> CountRuns() = 0;

  // The full result of a done run, exactly as passed to CompleteRun (a NaN `px` and a nullopt `qty`
  // come back as such). Errors: RUN_NOT_FOUND; RUN_FAILED (details `error`) for a failed run;
  // RANGE (details `status`) for a queued or running one, which has no result yet.
  virtual Result<engine::RunResult> LoadRunResult(std::string_view id) = 0;

  // LoadRunResult read in pieces, calling `between` between them (it may block: playback's
  // background reads wait there while first frames' reads go), so that other reads of the same
  // database need not wait behind the whole of a big result. PostgreSQL reads a statement per
  // blob, all in one read-only snapshot; the default is LoadRunResult, in one piece.
  virtual Result<engine::RunResult> LoadRunResultInPieces(std::string_view id,
                                                          const std::function<void()>& between);

  // The first bars of a done run's result, for playback's first frames: `result` holds times,
  // equity and plots cut after the first min(max_bars, bars) bars (the exact cut may be a few
  // bars earlier, see RunHead), the order events and log entries of those bars, symbols and
  // statistics; no trades. Cheap beside LoadRunResult: only those bytes are read. The default
  // cuts LoadRunResult's. Errors: as LoadRunResult.
  virtual Result<RunHead> LoadRunHead(std::string_view id, size_t max_bars);

  // GetRun, and LoadRunHead(id, max_bars) when the run is done and its statistics count more than
  // `max_bars` bars (or it has none): playback's first read of a run it has not loaded. The
  // default makes the two calls; PostgreSQL reads both in one statement (one round trip, one
  // snapshot) when the run has a stored head. Errors: as GetRun, then as LoadRunHead.
  virtual Result<RunAndHead> GetRunAndHead(std::string_view id, size_t max_bars);

  // Only the trades of a done run (cheap: no equity, no events). Errors as LoadRunResult.
  virtual Result<std::vector<engine::Trade>> LoadTrades(std::string_view id) = 0;

  // Removes the run and all its rows in one transaction, whatever its status. A worker still busy
  // with it then gets RUN_NOT_FOUND from UpdateProgress/CompleteRun/FailRun.
  virtual Status DeleteRun(std::string_view id) = 0;

  // Call once at start, before any worker runs: every run and every sweep left queued or running
  // (by a process that died) becomes failed with error "interrupted". Returns how many.
  virtual Result<size_t> RecoverOnStart() = 0;

  // ---- Sweeps ----
  // Status moves queued -> running -> done | failed (queued -> failed too); a move the status
  // does not allow is CONFLICT (details `status`). An unknown id: NOT_FOUND with details `sweep`.

  // Records a new sweep, status queued, durable; its id is 16 lowercase hex digits like a run's.
  virtual Result<std::string> CreateSweep(const SweepSpec& spec) = 0;

  // queued -> running; sets `started`.
  virtual Status MarkSweepRunning(std::string_view id) = 0;

  // Adds trial runs' records in one transaction and adds their count to `done`. CONFLICT when
  // the sweep is not running or a record of the same (phase, index) exists (nothing written;
  // details `status`, or `phase` and `trial`); NOT_FOUND after DeleteSweep (a worker takes it as
  // a sign to stop). Cheap in batches: 1000 records with a year of daily returns each, 16 a call,
  // take ~120-250 ms in all (sweep_test, on a loaded 2-core machine).
  virtual Status PutTrials(std::string_view id, std::span<const TrialRecord> trials) = 0;

  // running -> done with its summary (JSON text), durable; sets `finished`.
  virtual Status CompleteSweep(std::string_view id, std::string_view summary_json) = 0;

  // queued|running -> failed with `error`, durable; sets `finished`. REQUIRES: error.msg not empty.
  virtual Status FailSweep(std::string_view id, const RunError& error) = 0;

  virtual Result<SweepInfo> GetSweep(std::string_view id) = 0;

  // Sweeps, newest first. limit 0: all.
  virtual Result<std::vector<SweepInfo>> ListSweeps(size_t limit = 0, size_t offset = 0) = 0;

  // How many sweeps are in each status, as CountRuns.
  virtual Result<StatusCounts> CountSweeps() = 0;

  // A page of one phase's trial records, without daily returns.
  virtual Result<TrialPage> ListTrials(std::string_view id, const TrialQuery& query) = 0;

  // Every record of one phase, by index (with daily returns when asked).
  virtual Result<std::vector<TrialRecord>> LoadTrials(std::string_view id, size_t phase,
                                                      bool with_returns) = 0;

  // One record with its daily returns. NOT_FOUND with details `sweep` and `trial` when absent.
  virtual Result<TrialRecord> GetTrial(std::string_view id, size_t phase, size_t index) = 0;

  // Removes the sweep and its records in one durable transaction, whatever its status.
  virtual Status DeleteSweep(std::string_view id) = 0;

  // ---- Strategy scripts ----
  // A script is saved under a name as immutable versions 1, 2, ...; every source (a named
  // version's or an inline run's) is kept once, addressed by its SHA-256. Nothing is ever deleted:
  // a run can always be re-run and its source shown.

  // Saves `source` as the next version of `name`, with its parameter schema `params_json` (opaque
  // JSON text, as the server wrote it), in one durable transaction. When `source` is identical
  // to the latest version's, nothing is written and that version is returned with `created`
  // false. Errors: VALIDATION (`name` empty or over 64 bytes), IO/UNAVAILABLE; on any error
  // nothing is written.
  virtual Result<SavedScript> SaveScript(std::string_view name, std::string_view source,
                                         std::string_view params_json) = 0;

  // A version of a script (nullopt: the latest), with its source. Errors: NOT_FOUND with details
  // `strategy` (no script of that name) or `strategy` and `version` (no such version).
  virtual Result<ScriptVersion> GetScript(std::string_view name,
                                          std::optional<int64_t> version = std::nullopt) = 0;

  // Every version of a script, oldest first, without sources. NOT_FOUND as GetScript.
  virtual Result<std::vector<ScriptVersion>> ListScriptVersions(std::string_view name) = 0;

  // The latest version of every script, by name, without sources.
  virtual Result<std::vector<ScriptVersion>> ListScripts() = 0;

  // The source whose SHA-256 is `sha256`. Errors: NOT_FOUND (details `sha256`).
  virtual Result<std::string> GetScriptSource(std::string_view sha256) = 0;
};

// Opens (creating when absent) the SQLite database at `path`, migrates its schema to the current
// version, and cleans the data directory (see the header comment). Errors: IO (cannot create or
// open the file or the data directory, or the database is newer than this build understands:
// details `user_version`), UNAVAILABLE (another process has it open).
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path, StoreOptions options = {});

// Opens the PostgreSQL database at `url` (postgresql://USER[:PASSWORD]@HOST[:PORT]/DB[?...]),
// creating or migrating its schema (several processes may open it at once; they take turns).
// Differences from SQLite's store: every commit is durable; dataset bars live in the database
// (LoadBars reads them into memory and checks their checksum once per process and dataset);
// RecoverOnStart changes nothing (another process may be executing the work: the job queue's
// leases take care of dead workers, store/job_queue.h). Errors: VALIDATION (a malformed URL),
// UNAVAILABLE (the server cannot be reached), IO (the schema is newer than this build: details
// `schema_version`).
Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url, StoreOptions options = {});

// Whether `spec` names a PostgreSQL database ("postgresql://..." or "postgres://...").
bool IsPostgresUrl(std::string_view spec);

// Opens the store `spec` names: "postgresql://..." or "postgres://..." (OpenPostgresStore),
// "sqlite:PATH" or a bare PATH (OpenSqliteStore). VALIDATION (details `field` "store") for an
// empty PATH or another scheme ("mysql://...").
Result<std::unique_ptr<Store>> OpenStore(const std::string& spec, StoreOptions options = {});

// The schema version this build writes (PRAGMA user_version).
inline constexpr int kSchemaVersion = 8;

}  // namespace tapedeck::store
