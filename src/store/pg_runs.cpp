// PgStore: runs. The same rows as SQLite's (sqlite_runs.cpp): a run in `runs`; its result, written
// once by CompleteRun, one row in each of run_stats, run_equity, run_events and run_trades (packed
// blobs, store/packing.h), and in run_plots when the run plotted or logged anything.
//
// Several processes change runs at once: a status move reads and locks the run's row in its
// transaction (SELECT ... FOR UPDATE), or is one UPDATE whose WHERE names the statuses it may move
// from, so two workers never both complete one run.
#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <system_error>

#include "store/packing.h"
#include "store/pg_common.h"
#include "store/pg_store.h"
#include "store/rows_common.h"
#include "store/sqlite_store.h"  // RandomHex64, SymbolsToJson/FromJson, RecordedSha256

namespace tapedeck::store::internal {

pg::Params FailureParams(const RunError& error, Timestamp now) {
  std::optional<int64_t> bar_us;
  if (error.bar_time) bar_us = ToMicros(*error.bar_time);
  pg::Params p;
  p.Add(std::string_view(error.msg))
      .Add(ToMicros(now))
      .Add(std::string_view(error.cause))
      .Add(error.line)
      .Add(bar_us);
  return p;
}

namespace {

static_assert(std::endian::native == std::endian::little,
              "equity blobs are stored little-endian as in memory");
static_assert(sizeof(Timestamp) == sizeof(int64_t));

// The run's seq and status; with `lock`, the row stays locked until the open transaction ends.
Result<std::pair<int64_t, RunStatus>> RunState(pg::Conn& conn, std::string_view id, bool lock) {
  TD_ASSIGN_OR_RETURN(pg::Rows & rows,
                      conn.Query(lock ? "SELECT seq, status FROM runs WHERE id = $1 FOR UPDATE"
                                      : "SELECT seq, status FROM runs WHERE id = $1",
                                 pg::Params().Add(id)));
  if (rows.size() == 0) return RunNotFound(id);
  const std::optional<RunStatus> status = ParseRunStatus(rows.Text(0, 1));
  if (!status) return PgCorrupt(conn, "run " + std::string(id) + " has a bad status");
  return std::pair{rows.Int(0, 0), *status};
}

// After an UPDATE that changed nothing: why (the run is gone, or its status forbids the move).
Error WhyNot(pg::Conn& conn, std::string_view id, std::string_view want) {
  Result<std::pair<int64_t, RunStatus>> state = RunState(conn, id, /*lock=*/false);
  if (!state.ok()) return state.take_error();
  return BadTransition(id, state->second, want);
}

#define TD_PG_RUN_COLUMNS                                                                        \
  "r.id, r.dataset, r.symbols, r.strategy, r.params, r.cash, r.commission, r.fixed_fee, "        \
  "r.slippage, r.allow_short, r.from_us, r.to_us, r.request, r.status, r.progress, r.error, "    \
  "r.created_us, r.started_us, r.finished_us, "                                                  \
  "s.run, s.bars, s.fills, s.trades, s.start_equity, s.final_equity, s.total_return, s.cagr, "   \
  "s.volatility, s.sharpe, s.sortino, s.calmar, s.max_drawdown, s.max_drawdown_us, "             \
  "s.win_rate, s.profit_factor, s.expectancy, s.exposure, s.buy_and_hold_return, "               \
  "s.periods_per_year, "                                                                         \
  "r.strategy_version, r.strategy_sha256, r.error_cause, r.error_line, r.error_bar_us, p.decl, " \
  "r.datasets "
#define TD_PG_RUN_FROM \
  "FROM runs r LEFT JOIN run_stats s ON s.run = r.seq LEFT JOIN run_plots p ON p.run = r.seq "
#define TD_PG_RUN_SELECT "SELECT " TD_PG_RUN_COLUMNS TD_PG_RUN_FROM

constexpr int kStatsFirstCol = 20;   // index of s.bars in TD_PG_RUN_SELECT
constexpr int kScriptFirstCol = 39;  // index of r.strategy_version
constexpr int kPlotsCol = 44;        // index of p.decl
constexpr int kDatasetsCol = 45;     // index of r.datasets

// A statistic read back from its column (ToColumn: rows_common.h).
void FromColumn(const pg::Rows& rows, int r, int c, size_t& v) {
  v = static_cast<size_t>(rows.Int(r, c));
}
void FromColumn(const pg::Rows& rows, int r, int c, Micros& v) { v = Micros{rows.Int(r, c)}; }
void FromColumn(const pg::Rows& rows, int r, int c, double& v) { v = rows.Double(r, c); }

engine::Stats ReadStats(const pg::Rows& rows, int r, int c) {
  engine::Stats st;
  ForEachStatColumn(st, [&](auto& field) { FromColumn(rows, r, c++, field); });
  return st;
}

void AddStats(pg::Params& p, const engine::Stats& st) {
  ForEachStatColumn(st, [&p](const auto& field) { p.Add(ToColumn(field)); });
}

Result<RunInfo> ReadRunInfo(const pg::Conn& conn, const pg::Rows& rows, int i) {
  RunInfo r;
  r.id = rows.Text(i, 0);
  r.spec.dataset = rows.Text(i, 1);
  r.spec.symbols = SymbolsFromJson(rows.Text(i, 2));
  r.spec.datasets = SymbolsFromJson(rows.Text(i, kDatasetsCol));
  if (r.spec.datasets.empty()) r.spec.datasets = {r.spec.dataset};
  r.spec.strategy = rows.Text(i, 3);
  r.spec.params_json = rows.Text(i, 4);
  r.spec.config.cash = rows.Double(i, 5);
  r.spec.config.costs.commission = rows.Double(i, 6);
  r.spec.config.costs.fixed_fee = rows.Double(i, 7);
  r.spec.config.costs.slippage = rows.Double(i, 8);
  r.spec.config.allow_short = rows.Int(i, 9) != 0;
  if (auto v = rows.OptInt(i, 10)) r.spec.from = FromMicros(*v);
  if (auto v = rows.OptInt(i, 11)) r.spec.to = FromMicros(*v);
  r.spec.request_json = rows.Text(i, 12);
  const std::optional<RunStatus> status = ParseRunStatus(rows.Text(i, 13));
  if (!status) return PgCorrupt(conn, "run " + r.id + " has status '" + rows.Text(i, 13) + "'");
  r.status = *status;
  r.progress = rows.Double(i, 14);
  r.error.msg = rows.Text(i, 15);
  r.created = FromMicros(rows.Int(i, 16));
  if (auto v = rows.OptInt(i, 17)) r.started = FromMicros(*v);
  if (auto v = rows.OptInt(i, 18)) r.finished = FromMicros(*v);
  if (!rows.IsNull(i, 19)) r.stats = ReadStats(rows, i, kStatsFirstCol);
  r.spec.strategy_version = rows.OptInt(i, kScriptFirstCol);
  r.spec.strategy_sha256 = rows.Text(i, kScriptFirstCol + 1);
  r.error.cause = rows.Text(i, kScriptFirstCol + 2);
  r.error.line = rows.OptInt(i, kScriptFirstCol + 3);
  if (auto v = rows.OptInt(i, kScriptFirstCol + 4)) r.error.bar_time = FromMicros(*v);
  if (!rows.IsNull(i, kPlotsCol)) r.plots_json = rows.Text(i, kPlotsCol);
  return r;
}

std::string_view AsText(std::span<const std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Copies a blob of exactly `count` values of T into `out`.
template <typename T>
Status CopyBlob(const pg::Conn& conn, std::span<const std::byte> blob, size_t count,
                std::string_view what, std::vector<T>& out) {
  if (blob.size() != count * sizeof(T)) {
    return PgCorrupt(conn, std::string(what) + " has the wrong length");
  }
  out.resize(count);
  if (count > 0) std::memcpy(out.data(), blob.data(), blob.size());
  return Ok();
}

// A run's times or equity column as UnpackTimes / UnpackEquity gave it (store/packing.h) into
// `out`; CORRUPT naming `where` (a table, or "done run <id>") when the blob did not decode.
template <typename T>
Status TakeDecoded(const pg::Conn& conn, Result<std::vector<T>> decoded, std::string_view where,
                   std::vector<T>& out) {
  if (!decoded.ok()) return PgCorrupt(conn, std::string(where) + ": " + decoded.error().msg);
  out = std::move(decoded).value();
  return Ok();
}

// Reads the status columns of `rows` (seq 0, status 1, error 2) and checks the run has a
// result (done); RUN_FAILED or RANGE otherwise, as SQLite's DoneRunSeq.
Status CheckDone(const pg::Conn& conn, const pg::Rows& rows, std::string_view id) {
  const std::optional<RunStatus> status = ParseRunStatus(rows.Text(0, 1));
  if (status == RunStatus::kDone) return Ok();
  if (status == RunStatus::kFailed) {
    return MakeError(ErrorCode::kRunFailed, "the run failed: " + rows.Text(0, 2),
                     {{"id", std::string(id)}, {"error", rows.Text(0, 2)}});
  }
  if (!status) return PgCorrupt(conn, "run " + std::string(id) + " has a bad status");
  return MakeError(ErrorCode::kRange, "the run has no result yet",
                   {{"id", std::string(id)}, {"status", std::string(ToString(*status))}});
}

// The first columns (24) of every read of a done run's result, row 0; each read adds its own
// after them. ReadDoneRunStats checks the run is done and reads its symbols and statistics into
// `result`. Errors: NOT_FOUND (no row), as CheckDone, CORRUPT (no statistics).
#define TD_PG_RESULT_COLUMNS                                                                 \
  "r.seq, r.status, r.error, s.run, s.symbols, s.bars, s.fills, s.trades, s.start_equity, " \
  "s.final_equity, s.total_return, s.cagr, s.volatility, s.sharpe, s.sortino, s.calmar, "   \
  "s.max_drawdown, s.max_drawdown_us, s.win_rate, s.profit_factor, s.expectancy, "          \
  "s.exposure, s.buy_and_hold_return, s.periods_per_year, "
#define TD_PG_RESULT_FROM "FROM runs r LEFT JOIN run_stats s ON s.run = r.seq "

Status ReadDoneRunStats(const pg::Conn& conn, const pg::Rows& rows, std::string_view id,
                        engine::RunResult& result) {
  if (rows.size() == 0) return RunNotFound(id);
  TD_TRY(CheckDone(conn, rows, id));
  if (rows.IsNull(0, 3)) {
    return PgCorrupt(conn, "done run " + std::string(id) + " has no statistics");
  }
  result.symbols = SymbolsFromJson(rows.Text(0, 4));
  result.stats = ReadStats(rows, 0, 5);
  return Ok();
}

Result<std::vector<engine::Trade>> ReadTrades(const pg::Conn& conn, const pg::Rows& rows,
                                              int count_col, std::string_view id) {
  if (rows.IsNull(0, count_col)) {
    return PgCorrupt(conn, "done run " + std::string(id) + " has no trades");
  }
  auto trades =
      UnpackTrades(rows.Bytes(0, count_col + 1), static_cast<size_t>(rows.Int(0, count_col)));
  if (!trades.ok()) {
    return PgCorrupt(conn, "done run " + std::string(id) + ": " + trades.error().msg);
  }
  return std::move(trades).value();
}

// run_heads' columns, for ReadStoredHead.
#define TD_PG_HEAD_COLUMNS                                                                   \
  "h.bars, h.last_us, h.times, h.equity, h.events, h.event_records, h.event_reasons, h.series, " \
  "h.plots, h.logs, h.log_records, h.log_text, h.codec "

// Whether row 0 has a run_heads row (TD_PG_HEAD_COLUMNS from column `col`) of `bars` bars or more.
bool HasStoredHead(const pg::Rows& rows, int col, size_t bars) {
  return !rows.IsNull(0, col) && static_cast<size_t>(rows.Int(0, col)) >= bars && bars > 0;
}

// The first `bars` bars of a run of `total_bars` out of row 0's run_heads columns (from `col`);
// `result` comes with the run's symbols and statistics. REQUIRES: HasStoredHead(rows, col, bars).
Result<RunHead> ReadStoredHead(const pg::Conn& c, const pg::Rows& rows, int col, size_t total_bars,
                               size_t bars, engine::RunResult result, std::string_view id) {
  const auto stored = static_cast<size_t>(rows.Int(0, col));
  const int64_t codec = rows.Int(0, col + 12);
  engine::RunResult& r = result;
  TD_TRY(TakeDecoded(c, UnpackTimes(codec, rows.Bytes(0, col + 2), stored), "run_heads", r.times));
  TD_TRY(
      TakeDecoded(c, UnpackEquity(codec, rows.Bytes(0, col + 3), stored), "run_heads", r.equity));
  auto events = UnpackEvents(rows.Bytes(0, col + 5), AsText(rows.Bytes(0, col + 6)),
                             static_cast<size_t>(rows.Int(0, col + 4)));
  if (!events.ok()) {
    return PgCorrupt(c, "done run " + std::string(id) + ": " + events.error().msg);
  }
  r.events = std::move(events).value();
  auto plots =
      UnpackPlots(rows.Bytes(0, col + 8), static_cast<size_t>(rows.Int(0, col + 7)), stored);
  if (!plots.ok()) return PgCorrupt(c, plots.error().msg);
  r.plots = std::move(plots).value();
  auto logs = UnpackLogs(rows.Bytes(0, col + 10), AsText(rows.Bytes(0, col + 11)),
                         static_cast<size_t>(rows.Int(0, col + 9)));
  if (!logs.ok()) return PgCorrupt(c, logs.error().msg);
  r.logs = std::move(logs).value();
  RunHead head = CutRunHead(std::move(r), bars);
  head.total_bars = total_bars;
  head.last_time = FromMicros(rows.Int(0, col + 1));
  return head;
}

// Pieces of one blob of run `seq`: `sql` selects substring(column from $2 for $3) of its row
// ($1 the run). A run deleted meanwhile has no row: not found.
BlobRead BlobPiece(pg::Conn& q, const char* sql, int64_t seq, std::string_view id) {
  return [&q, sql, seq, id](size_t offset, size_t length) -> Result<std::vector<std::byte>> {
    const auto len = static_cast<int64_t>(std::min<size_t>(length, INT32_MAX));
    TD_ASSIGN_OR_RETURN(
        pg::Rows & got,
        q.Query(sql, pg::Params().Add(seq).Add(static_cast<int64_t>(offset) + 1).Add(len)));
    if (got.size() == 0 || got.IsNull(0, 0)) return RunNotFound(id);
    const std::span<const std::byte> bytes = got.Bytes(0, 0);
    return std::vector<std::byte>(bytes.begin(), bytes.end());
  };
}

}  // namespace

Result<std::string> InsertRun(pg::Conn& conn, const RunSpec& spec, Timestamp created,
                              const std::string* client) {
  const std::string symbols = SymbolsToJson(spec.symbols);
  const std::string datasets =
      SymbolsToJson(spec.datasets.empty() ? std::vector<std::string>{spec.dataset} : spec.datasets);
  const std::string sha256 = RecordedSha256(spec);
  std::optional<int64_t> from, to;
  if (spec.from) from = ToMicros(*spec.from);
  if (spec.to) to = ToMicros(*spec.to);
  TD_TRY(KeepInlineSource(conn, spec, sha256));
  // The run's row, and with a client its job too (the same statement: no round trip more; the
  // job's foreign key is checked at the statement's end, when the run's row is there).
  constexpr const char* kInsert =
      "INSERT INTO runs(id, dataset, symbols, strategy, params, cash, commission, fixed_fee, "
      "slippage, allow_short, from_us, to_us, request, status, created_us, strategy_version, "
      "strategy_sha256, datasets) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
      "'queued', $14, $15, $16, $17) ON CONFLICT(id) DO NOTHING";
  const std::string with_job =
      std::string("WITH r AS (") + kInsert +
      " RETURNING seq), i AS (INSERT INTO jobs(kind, run, client, priority) "
      "SELECT 'run', seq, $18, 0 FROM r RETURNING id) "
      "SELECT pg_notify('tapedeck_job', id::text) FROM i";
  // 64 random bits collide about never; the retry makes "about" into "never" cheaply.
  for (int attempt = 0; attempt < 4; ++attempt) {
    std::string id = RandomHex64();
    pg::Params p;
    p.Add(std::string_view(id))
        .Add(std::string_view(spec.dataset))
        .Add(std::string_view(symbols))
        .Add(std::string_view(spec.strategy))
        .Add(std::string_view(spec.params_json))
        .Add(spec.config.cash)
        .Add(spec.config.costs.commission)
        .Add(spec.config.costs.fixed_fee)
        .Add(spec.config.costs.slippage)
        .Add(static_cast<int64_t>(spec.config.allow_short))
        .Add(from)
        .Add(to)
        .Add(std::string_view(spec.request_json))
        .Add(ToMicros(created))
        .Add(spec.strategy_version)
        .Add(std::string_view(sha256))
        .Add(std::string_view(datasets));
    int64_t inserted = 0;
    if (client == nullptr) {
      TD_ASSIGN_OR_RETURN(inserted, conn.Run(kInsert, p));
    } else {
      p.Add(std::string_view(*client));
      TD_ASSIGN_OR_RETURN(pg::Rows & rows, conn.Query(with_job, p));
      inserted = rows.size();
    }
    if (inserted == 1) return id;
  }
  return MakeError(ErrorCode::kInternal, "could not draw a fresh run id");
}

Result<std::string> PgStore::CreateRun(const RunSpec& spec) {
  TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
  TD_ASSIGN_OR_RETURN(pg::Txn & txn, pg::Txn::Begin(*conn));
  TD_ASSIGN_OR_RETURN(std::string id, InsertRun(*conn, spec, Now(), nullptr));
  TD_TRY(txn.Commit());
  return id;
}

Status PgStore::MarkRunning(std::string_view id) {
  TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
  // Without waiting for the disk (TD_PG_COMMIT_WITHOUT_FLUSH): lost in a crash, the run is
  // `queued` again, as its job (claimed before it, so lost too, or its lease running out), and is
  // started again; its end (CompleteRun, FailRun) is a durable commit after this one.
  TD_ASSIGN_OR_RETURN(pg::Rows & changed,
                      conn->Query("UPDATE runs SET status = 'running', started_us = $2 "
                                  "WHERE id = $1 AND status = 'queued' "
                                  "RETURNING " TD_PG_COMMIT_WITHOUT_FLUSH,
                                  pg::Params().Add(id).Add(ToMicros(Now()))));
  if (changed.size() == 1) return Ok();
  return WhyNot(*conn, id, "start");
}

Status PgStore::UpdateProgress(std::string_view id, double progress) {
  if (!std::isfinite(progress)) {
    return MakeError(ErrorCode::kValidation, "progress must be a number in 0..1",
                     {{"field", "progress"}});
  }
  progress = std::clamp(progress, 0.0, 1.0);
  TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
  // Without waiting for the disk (TD_PG_COMMIT_WITHOUT_FLUSH): progress is a hint; a crash
  // losing it loses the run's progress since the last durable commit, which the run redoes.
  TD_ASSIGN_OR_RETURN(
      pg::Rows & changed,
      conn->Query("UPDATE runs SET progress = $2 WHERE id = $1 AND status = 'running' "
                  "RETURNING " TD_PG_COMMIT_WITHOUT_FLUSH,
                  pg::Params().Add(id).Add(progress)));
  if (changed.size() == 1) return Ok();
  return WhyNot(*conn, id, "update progress");
}

std::optional<PackedHead> PackRunHead(const engine::RunResult& result) {
  const size_t bars = kStoredHeadBars;
  if (result.times.size() <= bars) return std::nullopt;
  PackedHead head;
  head.bars = bars;
  head.last_us = ToMicros(result.times.back());
  const auto events_end =
      std::find_if(result.events.begin(), result.events.end(),
                   [&](const engine::OrderEvent& ev) { return ev.bar >= bars; });
  head.events = static_cast<size_t>(events_end - result.events.begin());
  head.event_records = PackEventsCompact(std::span(result.events.begin(), events_end));
  std::vector<engine::PlotSeries> cut;
  cut.reserve(result.plots.size());
  for (const engine::PlotSeries& p : result.plots) {
    cut.push_back({p.name, p.pane,
                   std::vector<double>(
                       p.values.begin(),
                       p.values.begin() + static_cast<ptrdiff_t>(std::min(bars, p.values.size()))),
                   p.derivation});
  }
  head.series = cut.size();
  head.plots = PackPlots(cut);
  const auto logs_end = std::find_if(result.logs.begin(), result.logs.end(),
                                     [&](const engine::LogEntry& log) { return log.bar >= bars; });
  head.logs = static_cast<size_t>(logs_end - result.logs.begin());
  head.log_records = PackLogs(std::span(result.logs.begin(), logs_end));
  head.times = PackTimes(std::span(result.times.data(), bars));
  head.equity = PackEquity(std::span(result.equity.data(), bars));
  return head;
}

Status InsertPackedHead(pg::Conn& conn, int64_t seq, const PackedHead& head) {
  TD_TRY(conn.Run(
      "INSERT INTO run_heads(run, bars, last_us, times, equity, events, event_records, "
      "event_reasons, series, plots, logs, log_records, log_text, codec) VALUES($1, $2, $3, $4, "
      "$5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
      pg::Params()
          .Add(seq)
          .Add(static_cast<int64_t>(head.bars))
          .Add(head.last_us)
          .AddBytesRef(head.times)
          .AddBytesRef(head.equity)
          .Add(static_cast<int64_t>(head.events))
          .AddBytesRef(head.event_records.records)
          .AddBytesRef(std::as_bytes(std::span(head.event_records.reasons)))
          .Add(static_cast<int64_t>(head.series))
          .AddBytesRef(head.plots)
          .Add(static_cast<int64_t>(head.logs))
          .AddBytesRef(head.log_records.records)
          .AddBytesRef(std::as_bytes(std::span(head.log_records.text)))
          .Add(kSeriesRuns)));
  return Ok();
}

Status InsertRunHead(pg::Conn& conn, int64_t seq, const engine::RunResult& result) {
  const std::optional<PackedHead> head = PackRunHead(result);
  if (!head) return Ok();
  return InsertPackedHead(conn, seq, *head);
}

namespace {

// What CompleteRun packs besides the times and equity.
struct PackedRest {
  PackedResult records;  // PackRecords
  std::optional<PackedHead> head;
  std::string symbols;
};

PackedRest PackRest(const engine::RunResult& result) {
  return {PackRecords(result), PackRunHead(result), SymbolsToJson(result.symbols)};
}

}  // namespace

Status PgStore::CompleteRun(std::string_view id, const engine::RunResult& result) {
  using Clock = std::chrono::steady_clock;
  CompleteTimings& timings = LastCompleteTimings();
  timings = {};
  const auto t_start = Clock::now();
  // The records, the head row and the symbols are packed on a thread of their own while this one
  // packs the times and equity and stores them: the packing overlaps the database's work on the
  // equity, the largest value (~2 MB for a year of minutes), where this thread would only wait
  // (docs/perf.md, "Scale-out"). The timings' pack is then the series' alone; the rest's, when
  // it outlasts the equity's insert, shows in write. No thread to be had: packed here, in turn.
  std::future<PackedRest> rest_packing;
  try {
    rest_packing = std::async(std::launch::async, PackRest, std::cref(result));
  } catch (const std::system_error&) {
  }
  // Packed before borrowing a connection: the pool's connections wait only for database work.
  TD_ASSIGN_OR_RETURN(const PackedResult& series, PackSeries(result));
  const auto t_packed = Clock::now();
  timings.pack_ms = std::chrono::duration<double, std::milli>(t_packed - t_start).count();
  TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
  TD_ASSIGN_OR_RETURN(pg::Txn & txn, pg::Txn::Begin(*conn));
  // Locked until the commit: a second CompleteRun (another worker's) waits, then sees done.
  TD_ASSIGN_OR_RETURN(const auto state, RunState(*conn, id, /*lock=*/true));
  const auto [seq, status] = state;
  if (status != RunStatus::kQueued && status != RunStatus::kRunning) {
    return BadTransition(id, status, "complete");
  }
  TD_TRY(conn->Run("INSERT INTO run_equity(run, points, times, equity, codec) "
                   "VALUES($1, $2, $3, $4, $5)",
                   pg::Params()
                       .Add(seq)
                       .Add(static_cast<int64_t>(result.times.size()))
                       .AddBytesRef(series.times)
                       .AddBytesRef(series.equity)
                       .Add(kSeriesRuns)));
  const PackedRest rest = rest_packing.valid() ? rest_packing.get() : PackRest(result);
  const PackedResult& packed = rest.records;
  {
    pg::Params p;
    p.Add(seq).Add(std::string_view(rest.symbols));
    AddStats(p, result.stats);
    TD_TRY(
        conn->Run("INSERT INTO run_stats(run, symbols, bars, fills, trades, start_equity, "
                  "final_equity, total_return, cagr, volatility, sharpe, sortino, calmar, "
                  "max_drawdown, max_drawdown_us, win_rate, profit_factor, expectancy, "
                  "exposure, buy_and_hold_return, periods_per_year) VALUES($1, $2, $3, $4, "
                  "$5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, "
                  "$20, $21)",
                  p));
  }
  TD_TRY(conn->Run("INSERT INTO run_events(run, count, records, reasons) VALUES($1, $2, $3, $4)",
                   pg::Params()
                       .Add(seq)
                       .Add(static_cast<int64_t>(result.events.size()))
                       .AddBytesRef(packed.events.records)
                       .AddBytesRef(std::as_bytes(std::span(packed.events.reasons)))));
  TD_TRY(conn->Run("INSERT INTO run_trades(run, count, records) VALUES($1, $2, $3)",
                   pg::Params()
                       .Add(seq)
                       .Add(static_cast<int64_t>(result.trades.size()))
                       .AddBytesRef(packed.trades)));
  if (packed.has_plots) {
    TD_TRY(
        conn->Run("INSERT INTO run_plots(run, decl, series, plots, logs, log_records, "
                  "log_text) VALUES($1, $2, $3, $4, $5, $6, $7)",
                  pg::Params()
                      .Add(seq)
                      .Add(std::string_view(packed.plots_decl))
                      .Add(static_cast<int64_t>(result.plots.size()))
                      .AddBytesRef(packed.plots)
                      .Add(static_cast<int64_t>(result.logs.size()))
                      .AddBytesRef(packed.logs.records)
                      .AddBytesRef(std::as_bytes(std::span(packed.logs.text)))));
  }
  if (rest.head) TD_TRY(InsertPackedHead(*conn, seq, *rest.head));
  // The status and the notification in one statement; NOTIFY is delivered on commit.
  TD_TRY(
      conn->Query("WITH done AS (UPDATE runs SET status = 'done', progress = 1, "
                  "started_us = COALESCE(started_us, $2), finished_us = $2 WHERE seq = $1 "
                  "RETURNING id) SELECT pg_notify('tapedeck_run', id) FROM done",
                  pg::Params().Add(seq).Add(ToMicros(Now()))));
  const auto t_written = Clock::now();
  timings.write_ms = std::chrono::duration<double, std::milli>(t_written - t_packed).count();
  TD_TRY(txn.Commit());
  timings.commit_ms = std::chrono::duration<double, std::milli>(Clock::now() - t_written).count();
  return Ok();
}

Status PgStore::FailRun(std::string_view id, const RunError& error) {
  if (error.msg.empty()) {
    return MakeError(ErrorCode::kValidation, "a failed run needs a message", {{"field", "error"}});
  }
  TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
  // One statement (its own transaction): the move, allowed from queued or running only, and its
  // notification.
  pg::Params p = FailureParams(error, Now());
  p.Add(id);
  TD_ASSIGN_OR_RETURN(
      pg::Rows & rows,
      conn->Query("WITH failed AS (UPDATE runs SET status = 'failed', error = $1, "
                  "finished_us = $2, error_cause = $3, error_line = $4, error_bar_us = $5 "
                  "WHERE id = $6 AND status IN ('queued', 'running') RETURNING id) "
                  "SELECT pg_notify('tapedeck_run', id) FROM failed",
                  p));
  if (rows.size() == 1) return Ok();
  return WhyNot(*conn, id, "fail");
}

Result<RunInfo> PgStore::GetRun(std::string_view id) {
  TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
  TD_ASSIGN_OR_RETURN(pg::Rows & rows,
                      conn->Query(TD_PG_RUN_SELECT "WHERE r.id = $1", pg::Params().Add(id)));
  if (rows.size() == 0) return RunNotFound(id);
  return ReadRunInfo(*conn, rows, 0);
}

Result<RunAndHead> PgStore::GetRunAndHead(std::string_view id, size_t max_bars) {
  RunAndHead out;
  {
    TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
    // The run as GetRun reads it, its bar count and symbols, and its run_heads row when it has
    // one (done runs longer than kStoredHeadBars): one statement.
    constexpr int kPoints = kDatasetsCol + 1, kSymbols = kPoints + 1, kHead = kSymbols + 1;
    TD_ASSIGN_OR_RETURN(
        pg::Rows & rows,
        conn->Query("SELECT " TD_PG_RUN_COLUMNS ", e.points, s.symbols, " TD_PG_HEAD_COLUMNS
                    TD_PG_RUN_FROM "LEFT JOIN run_equity e ON e.run = r.seq "
                    "LEFT JOIN run_heads h ON h.run = r.seq WHERE r.id = $1",
                    pg::Params().Add(id)));
    if (rows.size() == 0) return RunNotFound(id);
    TD_ASSIGN_OR_RETURN(out.run, ReadRunInfo(*conn, rows, 0));
    if (out.run.status != RunStatus::kDone || (out.run.stats && out.run.stats->bars <= max_bars)) {
      return out;
    }
    const auto total = static_cast<size_t>(rows.Int(0, kPoints));
    const size_t bars = std::min(max_bars, total);
    if (out.run.stats && !rows.IsNull(0, kPoints) && HasStoredHead(rows, kHead, bars)) {
      engine::RunResult result;
      result.symbols = SymbolsFromJson(rows.Text(0, kSymbols));
      result.stats = *out.run.stats;
      Result<RunHead> head = ReadStoredHead(*conn, rows, kHead, total, bars, std::move(result),
                                              id);
      if (!head.ok()) return head.take_error();
      out.head = std::move(head).value();
      return out;
    }
  }
  // No head stored (a run from before schema v2): LoadRunHead reads it out of the result.
  Result<RunHead> head = LoadRunHead(id, max_bars);
  if (!head.ok()) return head.take_error();
  out.head = std::move(head).value();
  return out;
}

Result<std::vector<RunInfo>> PgStore::ListRuns(size_t limit, size_t offset) {
  TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
  std::optional<int64_t> lim;  // NULL: LIMIT ALL
  if (limit != 0) lim = static_cast<int64_t>(limit);
  TD_ASSIGN_OR_RETURN(pg::Rows & rows,
                      conn->Query(TD_PG_RUN_SELECT "ORDER BY r.seq DESC LIMIT $1::bigint OFFSET $2",
                                  pg::Params().Add(lim).Add(static_cast<int64_t>(offset))));
  std::vector<RunInfo> out;
  out.reserve(static_cast<size_t>(rows.size()));
  for (int i = 0; i < rows.size(); ++i) {
    TD_ASSIGN_OR_RETURN(RunInfo info, ReadRunInfo(*conn, rows, i));
    out.push_back(std::move(info));
  }
  return out;
}

Result<engine::RunResult> PgStore::LoadRunResult(std::string_view id) {
  TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
  // One statement, so one snapshot (a DeleteRun committed meanwhile cannot leave us half a
  // result) and one round trip.
  TD_ASSIGN_OR_RETURN(
      pg::Rows & rows,
      conn->Query("SELECT " TD_PG_RESULT_COLUMNS
                  "e.points, e.times, e.equity, "
                  "v.count, v.records, v.reasons, "
                  "t.count, t.records, "
                  "p.series, p.plots, p.logs, p.log_records, p.log_text, e.codec "
                  TD_PG_RESULT_FROM
                  "LEFT JOIN run_equity e ON e.run = r.seq "
                  "LEFT JOIN run_events v ON v.run = r.seq "
                  "LEFT JOIN run_trades t ON t.run = r.seq "
                  "LEFT JOIN run_plots p ON p.run = r.seq WHERE r.id = $1",
                  pg::Params().Add(id)));
  const pg::Conn& c = *conn;
  const std::string what = "done run " + std::string(id);
  engine::RunResult result;
  TD_TRY(ReadDoneRunStats(c, rows, id, result));
  constexpr int kEquity = 24, kEvents = 27, kTrades = 30, kPlots = 32, kCodec = 37;
  if (rows.IsNull(0, kEquity)) return PgCorrupt(c, what + " has no equity");
  const auto points = static_cast<size_t>(rows.Int(0, kEquity));
  const int64_t codec = rows.Int(0, kCodec);
  TD_TRY(
      TakeDecoded(c, UnpackTimes(codec, rows.Bytes(0, kEquity + 1), points), what, result.times));
  TD_TRY(
      TakeDecoded(c, UnpackEquity(codec, rows.Bytes(0, kEquity + 2), points), what, result.equity));
  if (rows.IsNull(0, kEvents)) return PgCorrupt(c, what + " has no order events");
  {
    auto events = UnpackEvents(rows.Bytes(0, kEvents + 1), AsText(rows.Bytes(0, kEvents + 2)),
                               static_cast<size_t>(rows.Int(0, kEvents)));
    if (!events.ok()) return PgCorrupt(c, what + ": " + events.error().msg);
    result.events = std::move(events).value();
  }
  TD_ASSIGN_OR_RETURN(result.trades, ReadTrades(c, rows, kTrades, id));
  if (!rows.IsNull(0, kPlots)) {
    auto plots = UnpackPlots(rows.Bytes(0, kPlots + 1), static_cast<size_t>(rows.Int(0, kPlots)),
                             result.times.size());
    if (!plots.ok()) return PgCorrupt(c, plots.error().msg);
    result.plots = std::move(plots).value();
    auto logs = UnpackLogs(rows.Bytes(0, kPlots + 3), AsText(rows.Bytes(0, kPlots + 4)),
                           static_cast<size_t>(rows.Int(0, kPlots + 2)));
    if (!logs.ok()) return PgCorrupt(c, logs.error().msg);
    result.logs = std::move(logs).value();
  }
  return result;
}

Result<engine::RunResult> PgStore::LoadRunResultInPieces(std::string_view id,
                                                        const std::function<void()>& between) {
  TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
  // One snapshot for every piece, as LoadRunResult's one statement: a DeleteRun committed
  // meanwhile cannot leave us half a result.
  TD_ASSIGN_OR_RETURN(pg::Txn & txn,
                      pg::Txn::Begin(*conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  // First the run, its statistics, counts and trades (small); then each big blob on its own.
  TD_ASSIGN_OR_RETURN(
      pg::Rows & rows,
      conn->Query("SELECT " TD_PG_RESULT_COLUMNS
                  "e.points, v.count, t.count, t.records, p.series, p.logs, e.codec "
                  TD_PG_RESULT_FROM
                  "LEFT JOIN run_equity e ON e.run = r.seq "
                  "LEFT JOIN run_events v ON v.run = r.seq "
                  "LEFT JOIN run_trades t ON t.run = r.seq "
                  "LEFT JOIN run_plots p ON p.run = r.seq WHERE r.id = $1",
                  pg::Params().Add(id)));
  const pg::Conn& c = *conn;
  const std::string what = "done run " + std::string(id);
  engine::RunResult result;
  TD_TRY(ReadDoneRunStats(c, rows, id, result));
  const int64_t seq = rows.Int(0, 0);
  constexpr int kPoints = 24, kEvents = 25, kTrades = 26, kPlots = 28, kCodec = 30;
  if (rows.IsNull(0, kPoints)) return PgCorrupt(c, what + " has no equity");
  if (rows.IsNull(0, kEvents)) return PgCorrupt(c, what + " has no order events");
  const auto points = static_cast<size_t>(rows.Int(0, kPoints));
  const auto event_count = static_cast<size_t>(rows.Int(0, kEvents));
  TD_ASSIGN_OR_RETURN(result.trades, ReadTrades(c, rows, kTrades, id));
  const bool has_plots = !rows.IsNull(0, kPlots);
  const auto plot_count = has_plots ? static_cast<size_t>(rows.Int(0, kPlots)) : 0;
  const auto log_count = has_plots ? static_cast<size_t>(rows.Int(0, kPlots + 1)) : 0;
  const auto piece = [&](const char* sql) -> Result<pg::Rows> {
    between();
    TD_ASSIGN_OR_RETURN(pg::Rows & got, conn->Query(sql, pg::Params().Add(seq)));
    if (got.size() == 0) return PgCorrupt(c, what + " lost a row of its result");
    return std::move(got);
  };
  {
    TD_ASSIGN_OR_RETURN(const pg::Rows& got, piece("SELECT times FROM run_equity WHERE run = $1"));
    TD_TRY(TakeDecoded(c, UnpackTimes(rows.Int(0, kCodec), got.Bytes(0, 0), points), what,
                       result.times));
  }
  {
    TD_ASSIGN_OR_RETURN(const pg::Rows& got, piece("SELECT equity FROM run_equity WHERE run = $1"));
    TD_TRY(TakeDecoded(c, UnpackEquity(rows.Int(0, kCodec), got.Bytes(0, 0), points), what,
                       result.equity));
  }
  {
    TD_ASSIGN_OR_RETURN(const pg::Rows& got,
                        piece("SELECT records, reasons FROM run_events WHERE run = $1"));
    auto events = UnpackEvents(got.Bytes(0, 0), AsText(got.Bytes(0, 1)), event_count);
    if (!events.ok()) return PgCorrupt(c, what + ": " + events.error().msg);
    result.events = std::move(events).value();
  }
  if (has_plots) {
    {
      TD_ASSIGN_OR_RETURN(const pg::Rows& got, piece("SELECT plots FROM run_plots WHERE run = $1"));
      auto plots = UnpackPlots(got.Bytes(0, 0), plot_count, result.times.size());
      if (!plots.ok()) return PgCorrupt(c, plots.error().msg);
      result.plots = std::move(plots).value();
    }
    TD_ASSIGN_OR_RETURN(const pg::Rows& got,
                        piece("SELECT log_records, log_text FROM run_plots WHERE run = $1"));
    auto logs = UnpackLogs(got.Bytes(0, 0), AsText(got.Bytes(0, 1)), log_count);
    if (!logs.ok()) return PgCorrupt(c, logs.error().msg);
    result.logs = std::move(logs).value();
  }
  TD_TRY(txn.Commit());
  return result;
}

Result<RunHead> PgStore::LoadRunHead(std::string_view id, size_t max_bars) {
  TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
  TD_ASSIGN_OR_RETURN(
      pg::Rows & rows,
      conn->Query("SELECT " TD_PG_RESULT_COLUMNS
                  "e.points, v.count, p.series, p.logs, " TD_PG_HEAD_COLUMNS
                  ", e.codec " TD_PG_RESULT_FROM
                  "LEFT JOIN run_equity e ON e.run = r.seq "
                  "LEFT JOIN run_events v ON v.run = r.seq "
                  "LEFT JOIN run_plots p ON p.run = r.seq "
                  "LEFT JOIN run_heads h ON h.run = r.seq WHERE r.id = $1",
                  pg::Params().Add(id)));
  const pg::Conn& c = *conn;
  const std::string what = "done run " + std::string(id);
  RunHead head;
  engine::RunResult& result = head.result;
  TD_TRY(ReadDoneRunStats(c, rows, id, result));
  const int64_t seq = rows.Int(0, 0);
  constexpr int kEquity = 24, kEvents = 25, kPlots = 26, kHead = 28, kCodec = kHead + 13;
  if (rows.IsNull(0, kEquity)) return PgCorrupt(c, what + " has no equity");
  head.total_bars = static_cast<size_t>(rows.Int(0, kEquity));
  const size_t bars = std::min(max_bars, head.total_bars);
  // The row of run_heads, when the run has one with bars enough: one small read.
  if (HasStoredHead(rows, kHead, bars)) {
    return ReadStoredHead(c, rows, kHead, head.total_bars, bars, std::move(result), id);
  }
  // Else from the result's blobs. substring() of an out-of-line value reads just the chunks that
  // hold the bytes asked for when it is stored uncompressed; a compressed one is fetched whole on
  // the server (only its head is decompressed and sent).
  const int64_t codec = rows.Int(0, kCodec);
  pg::Conn& q = *conn;
  if (codec != kSeriesRaw) {
    // Packed times are a few bytes: read whole. Equity a piece at a time from its front.
    TD_ASSIGN_OR_RETURN(pg::Rows & got, conn->Query("SELECT times FROM run_equity WHERE run = $1",
                                                    pg::Params().Add(seq)));
    if (got.size() == 0) return RunNotFound(id);
    auto times = UnpackTimesHead(codec, got.Bytes(0, 0), head.total_bars, bars);
    if (!times.ok()) return PgCorrupt(c, what + ": " + times.error().msg);
    result.times = std::move(times->times);
    if (times->last) head.last_time = *times->last;
    auto equity = ReadEquityHead(
        codec,
        BlobPiece(q, "SELECT substring(equity from $2::int for $3::int) FROM run_equity "
                     "WHERE run = $1",
                  seq, id),
        head.total_bars, bars);
    if (!equity.ok()) {
      if (equity.error().code == ErrorCode::kRunNotFound) return equity.take_error();
      return PgCorrupt(c, what + ": " + equity.error().msg);
    }
    result.equity = std::move(equity).value();
  } else {
    const auto head_bytes = static_cast<int64_t>(std::min<size_t>(bars, INT32_MAX / 8) * 8);
    TD_ASSIGN_OR_RETURN(pg::Rows & got,
                        conn->Query("SELECT substring(times from 1 for $2::int), "
                                    "substring(equity from 1 for $2::int), "
                                    "substring(times from greatest(points * 8 - 7, 1)::int for 8) "
                                    "FROM run_equity WHERE run = $1",
                                    pg::Params().Add(seq).Add(head_bytes)));
    if (got.size() == 0) return RunNotFound(id);
    TD_TRY(CopyBlob(c, got.Bytes(0, 0), bars, "run_equity.times", result.times));
    TD_TRY(CopyBlob(c, got.Bytes(0, 1), bars, "run_equity.equity", result.equity));
    if (head.total_bars > 0) {
      std::vector<int64_t> last;
      TD_TRY(CopyBlob(c, got.Bytes(0, 2), 1, "run_equity.times", last));
      head.last_time = FromMicros(last[0]);
    }
  }
  if (rows.IsNull(0, kEvents)) return PgCorrupt(c, what + " has no order events");
  const auto event_count = static_cast<size_t>(rows.Int(0, kEvents));
  const bool has_plots = !rows.IsNull(0, kPlots);
  const auto plot_count = has_plots ? static_cast<size_t>(rows.Int(0, kPlots)) : 0;
  const auto log_count = has_plots ? static_cast<size_t>(rows.Int(0, kPlots + 1)) : 0;
  // Pieces of the other blobs, a query each.
  const auto piece = [&](const char* sql) { return BlobPiece(q, sql, seq, id); };
  {
    auto events = ReadEventsHead(
        piece("SELECT substring(records from $2::int for $3::int) FROM run_events WHERE run = $1"),
        piece("SELECT substring(reasons from $2::int for $3::int) FROM run_events WHERE run = $1"),
        event_count, head.total_bars, bars);
    if (!events.ok()) {
      if (events.error().code == ErrorCode::kRunNotFound) return events.take_error();
      return PgCorrupt(c, what + ": " + events.error().msg);
    }
    result.events = std::move(events).value();
  }
  if (has_plots) {
    auto plots = ReadPlotsHead(
        piece("SELECT substring(plots from $2::int for $3::int) FROM run_plots WHERE run = $1"),
        plot_count, head.total_bars, bars);
    if (!plots.ok()) {
      if (plots.error().code == ErrorCode::kRunNotFound) return plots.take_error();
      return PgCorrupt(c, plots.error().msg);
    }
    result.plots = std::move(plots).value();
    auto logs = ReadLogsHead(
        piece(
            "SELECT substring(log_records from $2::int for $3::int) FROM run_plots WHERE run = $1"),
        piece("SELECT substring(log_text from $2::int for $3::int) FROM run_plots WHERE run = $1"),
        log_count, head.total_bars, bars);
    if (!logs.ok()) {
      if (logs.error().code == ErrorCode::kRunNotFound) return logs.take_error();
      return PgCorrupt(c, logs.error().msg);
    }
    result.logs = std::move(logs).value();
  }
  return head;
}

Result<std::vector<engine::Trade>> PgStore::LoadTrades(std::string_view id) {
  TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
  TD_ASSIGN_OR_RETURN(pg::Rows & rows,
                      conn->Query("SELECT r.seq, r.status, r.error, t.count, t.records "
                                  "FROM runs r LEFT JOIN run_trades t ON t.run = r.seq "
                                  "WHERE r.id = $1",
                                  pg::Params().Add(id)));
  if (rows.size() == 0) return RunNotFound(id);
  TD_TRY(CheckDone(*conn, rows, id));
  return ReadTrades(*conn, rows, 3, id);
}

Status PgStore::DeleteRun(std::string_view id) {
  TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
  // The result tables (and a queued job) go with it: ON DELETE CASCADE, in this one statement.
  TD_ASSIGN_OR_RETURN(const int64_t deleted,
                      conn->Run("DELETE FROM runs WHERE id = $1", pg::Params().Add(id)));
  if (deleted == 0) return RunNotFound(id);
  return Ok();
}

// Nothing to recover here: another process may be executing any queued or running run, and the
// job queue's leases bring back the work of one that died (store.h, OpenPostgresStore).
Result<size_t> PgStore::RecoverOnStart() { return size_t{0}; }

}  // namespace tapedeck::store::internal
