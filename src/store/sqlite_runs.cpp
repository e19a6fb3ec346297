// SqliteStore: runs. A run is a row in `runs`; its result (written once, by CompleteRun) is one row
// in each of run_stats, run_equity, run_events and run_trades (the last three hold packed blobs),
// and one in run_plots when the run plotted or logged anything.
#include <algorithm>
#include <bit>
#include <chrono>
#include <boost/json.hpp>
#include <cmath>
#include <cstring>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>

#include "common/json_writer.h"
#include "store/packing.h"
#include "store/schema.h"
#include "store/sqlite_store.h"
#include "store/rows_common.h"

namespace tapedeck::store::internal {

std::string SymbolsToJson(const std::vector<std::string>& symbols) {
  JsonWriter w;
  w.BeginArray();
  for (const std::string& s : symbols) w.String(s);
  w.EndArray();
  return w.Take();
}

std::vector<std::string> SymbolsFromJson(const std::string& text) {
  std::vector<std::string> out;
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_array()) return out;  // only we write this column; treat damage as empty
  for (const boost::json::value& e : v.as_array()) {
    if (e.is_string()) out.emplace_back(e.as_string().begin(), e.as_string().end());
  }
  return out;
}

std::string RecordedSha256(const RunSpec& spec) {
  return spec.script_source.empty() ? spec.strategy_sha256 : Sha256Hex(spec.script_source);
}

Status KeepInlineSource(Db& db, const RunSpec& spec, std::string_view sha256) {
  if (spec.script_source.empty()) return Ok();
  return InsertScriptSource(db, sha256, spec.script_source);
}

namespace {

static_assert(std::endian::native == std::endian::little,
              "equity blobs are stored little-endian as in memory");
static_assert(sizeof(Timestamp) == sizeof(int64_t));

#define TD_RUN_SELECT                                                                            \
  "SELECT r.id, r.dataset, r.symbols, r.strategy, r.params, r.cash, r.commission, r.fixed_fee, " \
  "r.slippage, r.allow_short, r.from_us, r.to_us, r.request, r.status, r.progress, r.error, "    \
  "r.created_us, r.started_us, r.finished_us, "                                                  \
  "s.run, s.bars, s.fills, s.trades, s.start_equity, s.final_equity, s.total_return, s.cagr, "   \
  "s.volatility, s.sharpe, s.sortino, s.calmar, s.max_drawdown, s.max_drawdown_us, "             \
  "s.win_rate, s.profit_factor, s.expectancy, s.exposure, s.buy_and_hold_return, "               \
  "s.periods_per_year, "                                                                         \
  "r.strategy_version, r.strategy_sha256, r.error_cause, r.error_line, r.error_bar_us, p.decl, " \
  "r.datasets "                                                                                  \
  "FROM runs r LEFT JOIN run_stats s ON s.run = r.seq LEFT JOIN run_plots p ON p.run = r.seq "

// Stats columns in run_stats order (after `run` and `symbols`), for INSERT and SELECT alike.
constexpr int kStatsFirstCol = 20;   // index of s.bars in TD_RUN_SELECT
constexpr int kScriptFirstCol = 39;  // index of r.strategy_version in TD_RUN_SELECT
constexpr int kPlotsCol = 44;        // index of p.decl in TD_RUN_SELECT
constexpr int kDatasetsCol = 45;     // index of r.datasets in TD_RUN_SELECT

// A statistic read back from its column (ToColumn: rows_common.h).
void FromColumn(const Stmt& s, int c, size_t& v) { v = static_cast<size_t>(s.Int(c)); }
void FromColumn(const Stmt& s, int c, Micros& v) { v = Micros{s.Int(c)}; }
void FromColumn(const Stmt& s, int c, double& v) { v = s.Double(c); }

engine::Stats ReadStats(const Stmt& s, int c) {
  engine::Stats st;
  ForEachStatColumn(st, [&s, &c](auto& field) { FromColumn(s, c++, field); });
  return st;
}

void BindStats(Stmt& s, int p, const engine::Stats& st) {
  ForEachStatColumn(st, [&s, &p](const auto& field) { s.Bind(p++, ToColumn(field)); });
}

Result<RunInfo> ReadRunInfo(const Db& db, const Stmt& s) {
  RunInfo r;
  r.id = s.Text(0);
  r.spec.dataset = s.Text(1);
  r.spec.symbols = SymbolsFromJson(s.Text(2));
  r.spec.datasets = SymbolsFromJson(s.Text(kDatasetsCol));
  if (r.spec.datasets.empty()) r.spec.datasets = {r.spec.dataset};
  r.spec.strategy = s.Text(3);
  r.spec.params_json = s.Text(4);
  r.spec.config.cash = s.Double(5);
  r.spec.config.costs.commission = s.Double(6);
  r.spec.config.costs.fixed_fee = s.Double(7);
  r.spec.config.costs.slippage = s.Double(8);
  r.spec.config.allow_short = s.Int(9) != 0;
  if (auto v = s.OptInt(10)) r.spec.from = FromMicros(*v);
  if (auto v = s.OptInt(11)) r.spec.to = FromMicros(*v);
  r.spec.request_json = s.Text(12);
  const std::optional<RunStatus> status = ParseRunStatus(s.Text(13));
  if (!status) return Corrupt(db, "run " + r.id + " has status '" + s.Text(13) + "'");
  r.status = *status;
  r.progress = s.Double(14);
  r.error.msg = s.Text(15);
  r.created = FromMicros(s.Int(16));
  if (auto v = s.OptInt(17)) r.started = FromMicros(*v);
  if (auto v = s.OptInt(18)) r.finished = FromMicros(*v);
  if (!s.IsNull(19)) r.stats = ReadStats(s, kStatsFirstCol);
  r.spec.strategy_version = s.OptInt(kScriptFirstCol);
  r.spec.strategy_sha256 = s.Text(kScriptFirstCol + 1);
  r.error.cause = s.Text(kScriptFirstCol + 2);
  r.error.line = s.OptInt(kScriptFirstCol + 3);
  if (auto v = s.OptInt(kScriptFirstCol + 4)) r.error.bar_time = FromMicros(*v);
  if (!s.IsNull(kPlotsCol)) r.plots_json = s.Text(kPlotsCol);
  return r;
}

// Reads a whole blob column straight into `out` (no intermediate copy inside SQLite's memory,
// unlike sqlite3_column_blob). `rowid` is the row's INTEGER PRIMARY KEY. With `count`, the blob
// must hold exactly that many values; without, any whole number of them.
template <typename T>
Status ReadBlobInto(Db& db, const char* table, const char* column, int64_t rowid,
                    std::vector<T>& out, std::optional<size_t> count = std::nullopt) {
  sqlite3_blob* blob = nullptr;
  int rc = sqlite3_blob_open(db.raw(), "main", table, column, rowid, /*flags=*/0, &blob);
  if (rc != SQLITE_OK) {
    sqlite3_blob_close(blob);
    return db.MakeSqliteError(rc, "blob_open");
  }
  const size_t bytes = static_cast<size_t>(sqlite3_blob_bytes(blob));
  if (count ? bytes != *count * sizeof(T) : bytes % sizeof(T) != 0) {
    sqlite3_blob_close(blob);
    return Corrupt(db, std::string(table) + "." + column + " has the wrong length");
  }
  out.resize(bytes / sizeof(T));
  rc = bytes == 0 ? SQLITE_OK : sqlite3_blob_read(blob, out.data(), static_cast<int>(bytes), 0);
  sqlite3_blob_close(blob);
  if (rc != SQLITE_OK) return db.MakeSqliteError(rc, "blob_read");
  return Ok();
}

// Reads a whole blob column, whatever its length.
Result<std::vector<std::byte>> ReadBlob(Db& db, const char* table, const char* column,
                                        int64_t rowid) {
  std::vector<std::byte> out;
  TD_TRY(ReadBlobInto(db, table, column, rowid, out));
  return out;
}

// How many records a run's row in `table` says its blob holds.
Result<size_t> RecordCount(Db& db, const char* sql, int64_t seq, std::string_view what) {
  TD_ASSIGN_OR_RETURN(Stmt & s, db.Prepare(sql));
  s.Bind(1, seq);
  TD_ASSIGN_OR_RETURN(const bool row, s.Step());
  if (!row) return Corrupt(db, "a done run has no " + std::string(what));
  return static_cast<size_t>(s.Int(0));
}

Result<std::vector<engine::Trade>> ReadTrades(Db& db, int64_t seq, std::string_view id) {
  TD_ASSIGN_OR_RETURN(
      const size_t count,
      RecordCount(db, "SELECT count FROM run_trades WHERE run = ?1", seq, "trades"));
  TD_ASSIGN_OR_RETURN(const std::vector<std::byte>& records,
                      ReadBlob(db, "run_trades", "records", seq));
  auto trades = UnpackTrades(records, count);
  if (!trades.ok()) return Corrupt(db, "done run " + std::string(id) + ": " + trades.error().msg);
  return std::move(trades).value();
}

Result<std::vector<engine::OrderEvent>> ReadEvents(Db& db, int64_t seq, std::string_view id) {
  TD_ASSIGN_OR_RETURN(const size_t count, RecordCount(db,
                                                      "SELECT count FROM run_events WHERE "
                                                      "run = ?1",
                                                      seq, "order events"));
  TD_ASSIGN_OR_RETURN(const std::vector<std::byte>& records,
                      ReadBlob(db, "run_events", "records", seq));
  TD_ASSIGN_OR_RETURN(const std::vector<std::byte>& reasons,
                      ReadBlob(db, "run_events", "reasons", seq));
  auto events = UnpackEvents(
      records, std::string_view(reinterpret_cast<const char*>(reasons.data()), reasons.size()),
      count);
  if (!events.ok()) return Corrupt(db, "done run " + std::string(id) + ": " + events.error().msg);
  return std::move(events).value();
}

// The run's plots and logs, when it has a run_plots row (none: it plotted and logged nothing).
Status ReadPlots(Db& db, int64_t seq, engine::RunResult& result) {
  size_t series = 0, logs = 0;
  {
    TD_ASSIGN_OR_RETURN(Stmt & s, db.Prepare("SELECT series, logs FROM run_plots WHERE run = ?1"));
    s.Bind(1, seq);
    TD_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) return Ok();
    series = static_cast<size_t>(s.Int(0));
    logs = static_cast<size_t>(s.Int(1));
  }
  TD_ASSIGN_OR_RETURN(const std::vector<std::byte> plots, ReadBlob(db, "run_plots", "plots", seq));
  auto unpacked = UnpackPlots(plots, series, result.times.size());
  if (!unpacked.ok()) return Corrupt(db, unpacked.error().msg);
  result.plots = std::move(unpacked).value();
  TD_ASSIGN_OR_RETURN(const std::vector<std::byte> records,
                      ReadBlob(db, "run_plots", "log_records", seq));
  TD_ASSIGN_OR_RETURN(const std::vector<std::byte> text,
                      ReadBlob(db, "run_plots", "log_text", seq));
  auto entries = UnpackLogs(
      records, std::string_view(reinterpret_cast<const char*>(text.data()), text.size()), logs);
  if (!entries.ok()) return Corrupt(db, entries.error().msg);
  result.logs = std::move(entries).value();
  return Ok();
}

// A blob opened for reading in pieces (sqlite3_blob_read at any offset: only the pages holding
// those bytes are read).
class PieceReader {
 public:
  PieceReader(Db& db, const char* table, const char* column, int64_t rowid) : db_(db) {
    rc_ = sqlite3_blob_open(db.raw(), "main", table, column, rowid, /*flags=*/0, &blob_);
    if (rc_ == SQLITE_OK) bytes_ = static_cast<size_t>(sqlite3_blob_bytes(blob_));
  }
  ~PieceReader() { sqlite3_blob_close(blob_); }
  PieceReader(const PieceReader&) = delete;
  PieceReader& operator=(const PieceReader&) = delete;

  size_t bytes() const { return bytes_; }
  Result<std::vector<std::byte>> Read(size_t offset, size_t length) {
    if (rc_ != SQLITE_OK) return db_.MakeSqliteError(rc_, "blob_open");
    std::vector<std::byte> out(offset >= bytes_ ? 0 : std::min(length, bytes_ - offset));
    if (out.empty()) return out;
    const int rc = sqlite3_blob_read(blob_, out.data(), static_cast<int>(out.size()),
                                     static_cast<int>(offset));
    if (rc != SQLITE_OK) return db_.MakeSqliteError(rc, "blob_read");
    return out;
  }
  BlobRead Reader() {
    return [this](size_t offset, size_t length) { return Read(offset, length); };
  }

 private:
  Db& db_;
  sqlite3_blob* blob_ = nullptr;
  int rc_ = SQLITE_OK;
  size_t bytes_ = 0;
};

// The first `count` values of a blob of `total` values of T.
template <typename T>
Status ReadBlobHead(Db& db, const char* table, const char* column, int64_t rowid,
                    std::vector<T>& out, size_t count, size_t total) {
  PieceReader blob(db, table, column, rowid);
  TD_ASSIGN_OR_RETURN(const std::vector<std::byte>& bytes, blob.Read(0, count * sizeof(T)));
  if (blob.bytes() != total * sizeof(T) || bytes.size() != count * sizeof(T)) {
    return Corrupt(db, std::string(table) + "." + column + " has the wrong length");
  }
  out.resize(count);
  if (count > 0) std::memcpy(out.data(), bytes.data(), bytes.size());
  return Ok();
}

}  // namespace

Result<std::string> SqliteStore::CreateRun(const RunSpec& spec) { return InsertRun(spec, nullptr); }

Result<std::string> SqliteStore::CreateRunAdmitted(
    const RunSpec& spec, const std::function<Status(const std::string& id)>& admit) {
  return InsertRun(spec, &admit);
}

Result<std::string> SqliteStore::InsertRun(
    const RunSpec& spec, const std::function<Status(const std::string& id)>* admit) {
  const std::string symbols = SymbolsToJson(spec.symbols);
  const std::string datasets =
      SymbolsToJson(spec.datasets.empty() ? std::vector<std::string>{spec.dataset} : spec.datasets);
  const std::string sha256 = RecordedSha256(spec);
  std::lock_guard lock(write_mu_);
  Db& db = *writer_;
  // Durable: the 202 that follows promises the run exists.
  TD_ASSIGN_OR_RETURN(Txn & txn, Txn::BeginDurable(db));
  TD_TRY(KeepInlineSource(db, spec, sha256));
  // 64 random bits collide about never; the retry makes "about" into "never" cheaply.
  for (int attempt = 0; attempt < 4; ++attempt) {
    std::string id = RandomHex64();
    TD_ASSIGN_OR_RETURN(
        Stmt & s,
        db.Prepare(
            "INSERT INTO runs(id, dataset, symbols, strategy, params, cash, commission, "
            "fixed_fee, slippage, allow_short, from_us, to_us, request, status, "
            "created_us, strategy_version, strategy_sha256, datasets) VALUES(?1, ?2, ?3, ?4, "
            "?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 'queued', ?14, ?15, ?16, ?17) "
            "ON CONFLICT(id) DO NOTHING"));
    std::optional<int64_t> from, to;
    if (spec.from) from = ToMicros(*spec.from);
    if (spec.to) to = ToMicros(*spec.to);
    TD_TRY(s.Bind(1, std::string_view(id))
               .Bind(2, std::string_view(spec.dataset))
               .Bind(3, std::string_view(symbols))
               .Bind(4, std::string_view(spec.strategy))
               .Bind(5, std::string_view(spec.params_json))
               .Bind(6, spec.config.cash)
               .Bind(7, spec.config.costs.commission)
               .Bind(8, spec.config.costs.fixed_fee)
               .Bind(9, spec.config.costs.slippage)
               .Bind(10, static_cast<int64_t>(spec.config.allow_short))
               .Bind(11, from)
               .Bind(12, to)
               .Bind(13, std::string_view(spec.request_json))
               .Bind(14, ToMicros(Now()))
               .Bind(15, spec.strategy_version)
               .Bind(16, std::string_view(sha256))
               .Bind(17, std::string_view(datasets))
               .Run());
    if (db.Changes() == 1) {
      // Refused: the transaction rolls back (the Txn's destructor), the run never was.
      if (admit != nullptr) TD_TRY((*admit)(id));
      TD_TRY(txn.Commit());
      return id;
    }
  }
  return MakeError(ErrorCode::kInternal, "could not draw a fresh run id");
}

Result<std::pair<int64_t, RunStatus>> SqliteStore::LockedRunState(std::string_view id) {
  Db& db = *writer_;
  TD_ASSIGN_OR_RETURN(Stmt & s, db.Prepare("SELECT seq, status FROM runs WHERE id = ?1"));
  s.Bind(1, id);
  TD_ASSIGN_OR_RETURN(const bool row, s.Step());
  if (!row) return RunNotFound(id);
  const std::optional<RunStatus> status = ParseRunStatus(s.Text(1));
  if (!status) return Corrupt(db, "run " + std::string(id) + " has a bad status");
  return std::pair{s.Int(0), *status};
}

Status SqliteStore::MarkRunning(std::string_view id) {
  std::lock_guard lock(write_mu_);
  Db& db = *writer_;
  TD_ASSIGN_OR_RETURN(Txn & txn, Txn::Begin(db, /*write=*/true));
  TD_ASSIGN_OR_RETURN(const auto state, LockedRunState(id));
  if (state.second != RunStatus::kQueued) return BadTransition(id, state.second, "start");
  {
    TD_ASSIGN_OR_RETURN(
        Stmt & s, db.Prepare("UPDATE runs SET status = 'running', started_us = ?2 WHERE seq = ?1"));
    TD_TRY(s.Bind(1, state.first).Bind(2, ToMicros(Now())).Run());
  }
  return txn.Commit();
}

Status SqliteStore::UpdateProgress(std::string_view id, double progress) {
  if (!std::isfinite(progress)) {
    return MakeError(ErrorCode::kValidation, "progress must be a number in 0..1",
                     {{"field", "progress"}});
  }
  progress = std::clamp(progress, 0.0, 1.0);
  std::lock_guard lock(write_mu_);
  Db& db = *writer_;
  {
    // One statement: its own implicit transaction, the cheapest commit there is.
    TD_ASSIGN_OR_RETURN(
        Stmt & s, db.Prepare("UPDATE runs SET progress = ?2 WHERE id = ?1 AND status = 'running'"));
    TD_TRY(s.Bind(1, id).Bind(2, progress).Run());
  }
  if (db.Changes() == 1) return Ok();
  TD_ASSIGN_OR_RETURN(const auto state, LockedRunState(id));
  return BadTransition(id, state.second, "update progress");
}

Status SqliteStore::CompleteRun(std::string_view id, const engine::RunResult& result) {
  using Clock = std::chrono::steady_clock;
  CompleteTimings& timings = LastCompleteTimings();
  timings = {};
  const auto t_start = Clock::now();
  // The records (events, trades, plots, logs) are packed on a thread of their own while this one
  // packs the times and equity and inserts them, as PgStore::CompleteRun does: on two cores the
  // two packings overlap, and the records' with the equity's insert (docs/perf.md, "POST → done
  // on SQLite: the run beside the POST's commit"). The timings' pack is then the series' alone;
  // the records', when it outlasts the equity's insert, shows in write. No thread to be had:
  // packed here, in turn.
  std::future<PackedResult> records_packing;
  try {
    records_packing = std::async(std::launch::async, PackRecords, std::cref(result));
  } catch (const std::system_error&) {
  }
  // Packed before taking the write lock: other writers wait only for the database work.
  TD_ASSIGN_OR_RETURN(const PackedResult& series, PackSeries(result));
  const std::string symbols = SymbolsToJson(result.symbols);
  const auto t_packed = Clock::now();
  timings.pack_ms = std::chrono::duration<double, std::milli>(t_packed - t_start).count();
  std::lock_guard lock(write_mu_);
  Db& db = *writer_;
  TD_ASSIGN_OR_RETURN(Txn & txn, Txn::BeginDurable(db));
  TD_ASSIGN_OR_RETURN(const auto state, LockedRunState(id));
  const auto [seq, status] = state;
  if (status != RunStatus::kQueued && status != RunStatus::kRunning) {
    return BadTransition(id, status, "complete");
  }
  {
    TD_ASSIGN_OR_RETURN(
        Stmt & s,
        db.Prepare("INSERT INTO run_stats(run, symbols, bars, fills, trades, start_equity, "
                   "final_equity, total_return, cagr, volatility, sharpe, sortino, calmar, "
                   "max_drawdown, max_drawdown_us, win_rate, profit_factor, expectancy, "
                   "exposure, buy_and_hold_return, periods_per_year) VALUES(?1, ?2, ?3, ?4, ?5, "
                   "?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)"));
    s.Bind(1, seq).Bind(2, std::string_view(symbols));
    BindStats(s, 3, result.stats);
    TD_TRY(s.Run());
  }
  {
    TD_ASSIGN_OR_RETURN(Stmt & s,
                        db.Prepare("INSERT INTO run_equity(run, points, times, equity, codec) "
                                   "VALUES(?1, ?2, ?3, ?4, ?5)"));
    TD_TRY(s.Bind(1, seq)
               .Bind(2, static_cast<int64_t>(result.times.size()))
               .BindBlob(3, series.times)
               .BindBlob(4, series.equity)
               .Bind(5, kSeriesRuns)
               .Run());
  }
  const PackedResult packed =
      records_packing.valid() ? records_packing.get() : PackRecords(result);
  TD_TRY(InsertPackedRows(db, PackedTables::kCurrent, seq, packed.events, result.events.size(),
                          packed.trades, result.trades.size()));
  if (packed.has_plots) {
    TD_ASSIGN_OR_RETURN(Stmt & s,
                        db.Prepare("INSERT INTO run_plots(run, decl, series, plots, logs, "
                                   "log_records, log_text) VALUES(?1, ?2, ?3, ?4, ?5, "
                                   "?6, ?7)"));
    TD_TRY(s.Bind(1, seq)
               .Bind(2, std::string_view(packed.plots_decl))
               .Bind(3, static_cast<int64_t>(result.plots.size()))
               .BindBlob(4, packed.plots)
               .Bind(5, static_cast<int64_t>(result.logs.size()))
               .BindBlob(6, packed.logs.records)
               .BindBlob(7, std::as_bytes(std::span(packed.logs.text)))
               .Run());
  }
  {
    const int64_t now = ToMicros(Now());
    TD_ASSIGN_OR_RETURN(Stmt & s, db.Prepare("UPDATE runs SET status = 'done', progress = 1, "
                                             "started_us = COALESCE(started_us, ?2), "
                                             "finished_us = ?2 WHERE seq = ?1"));
    TD_TRY(s.Bind(1, seq).Bind(2, now).Run());
  }
  const auto t_written = Clock::now();
  timings.write_ms = std::chrono::duration<double, std::milli>(t_written - t_packed).count();
  Status committed = txn.Commit();
  timings.commit_ms = std::chrono::duration<double, std::milli>(Clock::now() - t_written).count();
  return committed;
}

Stmt& BindFailure(Stmt& s, int64_t seq, const RunError& error, Timestamp now) {
  std::optional<int64_t> bar_us;
  if (error.bar_time) bar_us = ToMicros(*error.bar_time);
  return s.Bind(1, seq)
      .Bind(2, std::string_view(error.msg))
      .Bind(3, ToMicros(now))
      .Bind(4, std::string_view(error.cause))
      .Bind(5, error.line)
      .Bind(6, bar_us);
}

Status SqliteStore::FailRun(std::string_view id, const RunError& error) {
  if (error.msg.empty()) {
    return MakeError(ErrorCode::kValidation, "a failed run needs a message", {{"field", "error"}});
  }
  std::lock_guard lock(write_mu_);
  Db& db = *writer_;
  TD_ASSIGN_OR_RETURN(Txn & txn, Txn::BeginDurable(db));
  TD_ASSIGN_OR_RETURN(const auto state, LockedRunState(id));
  if (state.second != RunStatus::kQueued && state.second != RunStatus::kRunning) {
    return BadTransition(id, state.second, "fail");
  }
  {
    TD_ASSIGN_OR_RETURN(Stmt & s, db.Prepare("UPDATE runs SET status = 'failed', error = ?2, "
                                             "finished_us = ?3, error_cause = ?4, "
                                             "error_line = ?5, error_bar_us = ?6 WHERE seq = ?1"));
    TD_TRY(BindFailure(s, state.first, error, Now()).Run());
  }
  return txn.Commit();
}

Result<RunInfo> SqliteStore::GetRun(std::string_view id) {
  TD_ASSIGN_OR_RETURN(Reader & db, BorrowReader());
  TD_ASSIGN_OR_RETURN(Stmt & s, db->Prepare(TD_RUN_SELECT "WHERE r.id = ?1"));
  s.Bind(1, id);
  TD_ASSIGN_OR_RETURN(const bool row, s.Step());
  if (!row) return RunNotFound(id);
  return ReadRunInfo(*db, s);
}

Result<std::vector<RunInfo>> SqliteStore::ListRuns(size_t limit, size_t offset) {
  TD_ASSIGN_OR_RETURN(Reader & db, BorrowReader());
  TD_ASSIGN_OR_RETURN(Stmt & s,
                      db->Prepare(TD_RUN_SELECT "ORDER BY r.seq DESC LIMIT ?1 OFFSET ?2"));
  // LIMIT -1 is SQLite's "no limit".
  s.Bind(1, limit == 0 ? int64_t{-1} : static_cast<int64_t>(limit))
      .Bind(2, static_cast<int64_t>(offset));
  std::vector<RunInfo> out;
  for (;;) {
    TD_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    TD_ASSIGN_OR_RETURN(RunInfo info, ReadRunInfo(*db, s));
    out.push_back(std::move(info));
  }
  return out;
}

Result<int64_t> SqliteStore::DoneRunSeq(Db& db, std::string_view id) {
  TD_ASSIGN_OR_RETURN(Stmt & s, db.Prepare("SELECT seq, status, error FROM runs WHERE id = ?1"));
  s.Bind(1, id);
  TD_ASSIGN_OR_RETURN(const bool row, s.Step());
  if (!row) return RunNotFound(id);
  const std::optional<RunStatus> status = ParseRunStatus(s.Text(1));
  if (status == RunStatus::kDone) return s.Int(0);
  if (status == RunStatus::kFailed) {
    return MakeError(ErrorCode::kRunFailed, "the run failed: " + s.Text(2),
                     {{"id", std::string(id)}, {"error", s.Text(2)}});
  }
  const std::string text = status ? std::string(ToString(*status)) : s.Text(1);
  return MakeError(ErrorCode::kRange, "the run has no result yet",
                   {{"id", std::string(id)}, {"status", text}});
}

namespace {

// A done run's symbols and statistics into `result` (LoadRunResult and LoadRunHead).
Status ReadRunStats(Db& db, int64_t seq, std::string_view id, engine::RunResult& result) {
  TD_ASSIGN_OR_RETURN(
      Stmt & s,
      db.Prepare("SELECT symbols, bars, fills, trades, start_equity, final_equity, "
                 "total_return, cagr, volatility, sharpe, sortino, calmar, max_drawdown, "
                 "max_drawdown_us, win_rate, profit_factor, expectancy, exposure, "
                 "buy_and_hold_return, periods_per_year FROM run_stats WHERE run = ?1"));
  s.Bind(1, seq);
  TD_ASSIGN_OR_RETURN(const bool row, s.Step());
  if (!row) return Corrupt(db, "done run " + std::string(id) + " has no statistics");
  result.symbols = SymbolsFromJson(s.Text(0));
  result.stats = ReadStats(s, 1);
  return Ok();
}

// A done run's row of run_equity: how many points and in which form (store/packing.h).
struct EquityRow {
  size_t points = 0;
  int64_t codec = kSeriesRaw;
};

Result<EquityRow> ReadEquityRow(Db& db, int64_t seq, std::string_view id) {
  TD_ASSIGN_OR_RETURN(Stmt & s, db.Prepare("SELECT points, codec FROM run_equity WHERE run = ?1"));
  s.Bind(1, seq);
  TD_ASSIGN_OR_RETURN(const bool row, s.Step());
  if (!row) return Corrupt(db, "done run " + std::string(id) + " has no equity");
  return EquityRow{static_cast<size_t>(s.Int(0)), s.Int(1)};
}

// CORRUPT naming the run, for a times or equity blob that does not decode.
Error DamagedEquity(const Db& db, std::string_view id, const Error& why) {
  return Corrupt(db, "done run " + std::string(id) + ": " + why.msg);
}

}  // namespace

Result<engine::RunResult> SqliteStore::LoadRunResult(std::string_view id) {
  TD_ASSIGN_OR_RETURN(Reader & reader, BorrowReader());
  Db& db = *reader;
  // One read transaction: a DeleteRun committed meanwhile cannot leave us half a result.
  TD_ASSIGN_OR_RETURN(Txn & txn, Txn::Begin(db, /*write=*/false));
  TD_ASSIGN_OR_RETURN(const int64_t seq, DoneRunSeq(db, id));
  engine::RunResult result;
  TD_TRY(ReadRunStats(db, seq, id, result));
  {
    TD_ASSIGN_OR_RETURN(const EquityRow row, ReadEquityRow(db, seq, id));
    TD_ASSIGN_OR_RETURN(const std::vector<std::byte>& times,
                        ReadBlob(db, "run_equity", "times", seq));
    auto unpacked_times = UnpackTimes(row.codec, times, row.points);
    if (!unpacked_times.ok()) return DamagedEquity(db, id, unpacked_times.error());
    result.times = std::move(unpacked_times).value();
    if (row.codec == kSeriesRaw) {
      TD_TRY(ReadBlobInto(db, "run_equity", "equity", seq, result.equity, row.points));
    } else {
      // Decoded a piece at a time: no copy of the whole blob beside the values.
      PieceReader blob(db, "run_equity", "equity", seq);
      auto unpacked_equity = row.codec == kSeriesRuns
                                 ? ReadEquity(blob.Reader(), row.points)
                                 : UnpackEquity(row.codec, {}, row.points);  // the codec's error
      if (!unpacked_equity.ok()) return DamagedEquity(db, id, unpacked_equity.error());
      result.equity = std::move(unpacked_equity).value();
    }
  }
  {
    auto events = ReadEvents(db, seq, id);
    if (!events.ok()) return events.take_error();
    result.events = std::move(events).value();
    auto trades = ReadTrades(db, seq, id);
    if (!trades.ok()) return trades.take_error();
    result.trades = std::move(trades).value();
  }
  TD_TRY(ReadPlots(db, seq, result));
  TD_TRY(txn.Commit());
  return result;
}

Result<RunHead> SqliteStore::LoadRunHead(std::string_view id, size_t max_bars) {
  TD_ASSIGN_OR_RETURN(Reader & reader, BorrowReader());
  Db& db = *reader;
  TD_ASSIGN_OR_RETURN(Txn & txn, Txn::Begin(db, /*write=*/false));
  TD_ASSIGN_OR_RETURN(const int64_t seq, DoneRunSeq(db, id));
  RunHead head;
  engine::RunResult& result = head.result;
  TD_TRY(ReadRunStats(db, seq, id, result));
  TD_ASSIGN_OR_RETURN(const EquityRow equity_row, ReadEquityRow(db, seq, id));
  head.total_bars = equity_row.points;
  const size_t bars = std::min(max_bars, head.total_bars);
  if (equity_row.codec == kSeriesRaw) {
    // Raw (before schema v8): the head's values, and the last time, straight from their pages.
    TD_TRY(ReadBlobHead(db, "run_equity", "times", seq, result.times, bars, head.total_bars));
    if (head.total_bars > 0) {
      PieceReader times(db, "run_equity", "times", seq);
      TD_ASSIGN_OR_RETURN(const std::vector<std::byte>& last,
                          times.Read((head.total_bars - 1) * sizeof(int64_t), sizeof(int64_t)));
      if (last.size() != sizeof(int64_t)) return Corrupt(db, "run_equity.times is too short");
      int64_t us = 0;
      std::memcpy(&us, last.data(), sizeof us);
      head.last_time = FromMicros(us);
    }
  } else {
    // Packed: a few bytes for a regular grid, read whole.
    TD_ASSIGN_OR_RETURN(const std::vector<std::byte>& times,
                        ReadBlob(db, "run_equity", "times", seq));
    auto unpacked = UnpackTimesHead(equity_row.codec, times, head.total_bars, bars);
    if (!unpacked.ok()) return DamagedEquity(db, id, unpacked.error());
    result.times = std::move(unpacked->times);
    if (unpacked->last) head.last_time = *unpacked->last;
  }
  {
    PieceReader equity(db, "run_equity", "equity", seq);
    auto values = ReadEquityHead(equity_row.codec, equity.Reader(), head.total_bars, bars);
    if (!values.ok()) {
      if (values.error().code != ErrorCode::kIo) return values.take_error();
      return DamagedEquity(db, id, values.error());
    }
    result.equity = std::move(values).value();
  }
  {
    TD_ASSIGN_OR_RETURN(
        const size_t count,
        RecordCount(db, "SELECT count FROM run_events WHERE run = ?1", seq, "order events"));
    PieceReader records(db, "run_events", "records", seq);
    PieceReader reasons(db, "run_events", "reasons", seq);
    auto events = ReadEventsHead(records.Reader(), reasons.Reader(), count, head.total_bars, bars);
    if (!events.ok()) {
      return Corrupt(db, "done run " + std::string(id) + ": " + events.error().msg);
    }
    result.events = std::move(events).value();
  }
  size_t series = 0, logs = 0;
  bool has_plots = false;
  {
    TD_ASSIGN_OR_RETURN(Stmt & s, db.Prepare("SELECT series, logs FROM run_plots WHERE run = ?1"));
    s.Bind(1, seq);
    TD_ASSIGN_OR_RETURN(has_plots, s.Step());
    if (has_plots) {
      series = static_cast<size_t>(s.Int(0));
      logs = static_cast<size_t>(s.Int(1));
    }
  }
  if (has_plots) {
    PieceReader plots(db, "run_plots", "plots", seq);
    auto unpacked = ReadPlotsHead(plots.Reader(), series, head.total_bars, bars);
    if (!unpacked.ok()) return Corrupt(db, unpacked.error().msg);
    result.plots = std::move(unpacked).value();
    PieceReader records(db, "run_plots", "log_records", seq);
    PieceReader text(db, "run_plots", "log_text", seq);
    auto entries = ReadLogsHead(records.Reader(), text.Reader(), logs, head.total_bars, bars);
    if (!entries.ok()) return Corrupt(db, entries.error().msg);
    result.logs = std::move(entries).value();
  }
  TD_TRY(txn.Commit());
  return head;
}

Result<std::vector<engine::Trade>> SqliteStore::LoadTrades(std::string_view id) {
  TD_ASSIGN_OR_RETURN(Reader & reader, BorrowReader());
  Db& db = *reader;
  TD_ASSIGN_OR_RETURN(Txn & txn, Txn::Begin(db, /*write=*/false));
  TD_ASSIGN_OR_RETURN(const int64_t seq, DoneRunSeq(db, id));
  TD_ASSIGN_OR_RETURN(std::vector<engine::Trade> trades, ReadTrades(db, seq, id));
  TD_TRY(txn.Commit());
  return trades;
}

Status SqliteStore::DeleteRun(std::string_view id) {
  std::lock_guard lock(write_mu_);
  Db& db = *writer_;
  TD_ASSIGN_OR_RETURN(Txn & txn, Txn::BeginDurable(db));
  {
    // The result tables go with it: ON DELETE CASCADE, inside this transaction.
    TD_ASSIGN_OR_RETURN(Stmt & s, db.Prepare("DELETE FROM runs WHERE id = ?1"));
    TD_TRY(s.Bind(1, id).Run());
  }
  if (db.Changes() == 0) return RunNotFound(id);
  return txn.Commit();
}

Result<size_t> SqliteStore::RecoverOnStart() {
  std::lock_guard lock(write_mu_);
  Db& db = *writer_;
  TD_ASSIGN_OR_RETURN(Txn & txn, Txn::BeginDurable(db));
  {
    TD_ASSIGN_OR_RETURN(Stmt & s,
                        db.Prepare("UPDATE runs SET status = 'failed', error = 'interrupted', "
                                   "error_cause = 'interrupted', finished_us = ?1 "
                                   "WHERE status IN ('queued', 'running')"));
    TD_TRY(s.Bind(1, ToMicros(Now())).Run());
  }
  auto n = static_cast<size_t>(db.Changes());
  {
    TD_ASSIGN_OR_RETURN(Stmt & s,
                        db.Prepare("UPDATE sweeps SET status = 'failed', error = 'interrupted', "
                                   "error_cause = 'interrupted', finished_us = ?1 "
                                   "WHERE status = 'queued' OR status = 'running'"));
    TD_TRY(s.Bind(1, ToMicros(Now())).Run());
  }
  n += static_cast<size_t>(db.Changes());
  TD_TRY(txn.Commit());
  return n;
}

}  // namespace tapedeck::store::internal
