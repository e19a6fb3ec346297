// MigrateStore and VerifyMigration (migrate.h): a whole store copied into a PgStore, row by row.
//
// Runs and sweeps are written straight into their tables on a connection borrowed from the
// PgStore (CreateRun and CreateSweep would draw new ids and times), with the same packed forms
// (store/packing.h) the PgStore's readers expect; trial records through InsertTrialRows, as
// PutTrials writes them. Verification reads everything back through the Store interface, so it
// checks the reading side too.
#include <algorithm>
#include <bit>
#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "store/migrate.h"
#include "store/packing.h"
#include "store/pg_common.h"
#include "store/pg_store.h"
#include "store/pg_trial_rows.h"
#include "store/sqlite_store.h"  // SymbolsToJson

namespace tapedeck::store {
namespace {

using internal::PgStore;
using internal::SymbolsToJson;
namespace pg = internal::pg;

static_assert(std::endian::native == std::endian::little,
              "equity blobs are stored little-endian as in memory");

// Trial records per INSERT: bounds the statement's size (a year of returns is ~9 KB of hex each).
constexpr size_t kTrialChunk = 256;

template <typename T>
std::span<const std::byte> AsBytes(const std::vector<T>& v) {
  return std::as_bytes(std::span<const T>(v));
}

// A run or sweep left queued or running is copied as failed: see migrate.h.
bool Unfinished(RunStatus s) { return s == RunStatus::kQueued || s == RunStatus::kRunning; }
bool Unfinished(SweepStatus s) { return s == SweepStatus::kQueued || s == SweepStatus::kRunning; }

template <typename Info>
void MarkInterrupted(Info& info, Timestamp now) {
  info.error = RunError{};
  info.error.msg = "interrupted";
  info.error.cause = "interrupted";
  if (!info.finished) info.finished = now;
}

Timestamp WallNow() {
  return std::chrono::time_point_cast<Micros>(std::chrono::system_clock::now());
}

std::optional<int64_t> OptMicros(const std::optional<Timestamp>& t) {
  if (!t) return std::nullopt;
  return ToMicros(*t);
}

Error AlreadyThere(std::string_view key, const std::string& name, size_t count) {
  return MakeError(ErrorCode::kConflict,
                   "the target store already holds " + std::string(key) + " '" + name + "' (and " +
                       std::to_string(count - 1) +
                       " more of what would be copied); nothing was written",
                   {{std::string(key), name}, {"count", std::to_string(count)}});
}

// The names or ids of one table of the target.
Result<std::set<std::string>> TargetKeys(pg::Conn& conn, const char* sql) {
  TD_ASSIGN_OR_RETURN(pg::Rows & rows, conn.Query(sql));
  std::set<std::string> out;
  for (int i = 0; i < rows.size(); ++i) out.insert(rows.Text(i, 0));
  return out;
}

// CONFLICT when the target holds any dataset name, script name, run id or sweep id to copy.
Status CheckTargetHoldsNone(pg::Conn& conn, const std::vector<DatasetInfo>& datasets,
                            const std::vector<ScriptVersion>& scripts,
                            const std::vector<RunInfo>& runs,
                            const std::vector<SweepInfo>& sweeps) {
  struct Check {
    const char* key;
    const char* sql;
    std::vector<std::string> wanted;
  };
  Check checks[4] = {{"dataset", "SELECT name FROM datasets", {}},
                     {"strategy", "SELECT DISTINCT name FROM strategy_versions", {}},
                     {"run", "SELECT id FROM runs", {}},
                     {"sweep", "SELECT id FROM sweeps", {}}};
  for (const DatasetInfo& d : datasets) checks[0].wanted.push_back(d.name);
  for (const ScriptVersion& s : scripts) checks[1].wanted.push_back(s.name);
  for (const RunInfo& r : runs) checks[2].wanted.push_back(r.id);
  for (const SweepInfo& w : sweeps) checks[3].wanted.push_back(w.id);
  std::string first_key, first;
  size_t count = 0;
  for (const Check& c : checks) {
    TD_ASSIGN_OR_RETURN(const std::set<std::string>& held, TargetKeys(conn, c.sql));
    for (const std::string& w : c.wanted) {
      if (held.count(w) == 0) continue;
      if (count++ == 0) {
        first_key = c.key;
        first = w;
      }
    }
  }
  if (count > 0) return AlreadyThere(first_key, first, count);
  return Ok();
}

// Copies the source of `sha256` (an inline script's) unless done already.
Status CopySource(Store& from, pg::Conn& conn, const std::string& sha256,
                  std::set<std::string>& copied, MigrationCounts& counts) {
  if (sha256.empty() || copied.count(sha256)) return Ok();
  Result<std::string> source = from.GetScriptSource(sha256);
  if (!source.ok()) {
    // A run of a source the store never had (none of ours): it stays without one, as it was.
    if (source.error().code == ErrorCode::kNotFound) return Ok();
    return source.take_error();
  }
  TD_TRY(internal::InsertScriptSource(conn, sha256, *source));
  copied.insert(sha256);
  ++counts.script_sources;
  return Ok();
}

Status CopyDataset(Store& from, pg::Conn& conn, const DatasetInfo& info, MigrationCounts& counts) {
  TD_ASSIGN_OR_RETURN(const market::Series& bars, from.LoadBars(info.name));
  TD_ASSIGN_OR_RETURN(const std::vector<std::byte>& file, market::SeriesFileBytes(bars));
  // One statement: the row and its bars together, created as the source says.
  TD_TRY(
      conn.Run("INSERT INTO datasets(name, symbol, bars, from_us, to_us, created_us, series) "
               "VALUES($1, $2, $3, $4, $5, $6, $7)",
               pg::Params()
                   .Add(std::string_view(info.name))
                   .Add(std::string_view(info.symbol))
                   .Add(static_cast<int64_t>(info.bars))
                   .Add(ToMicros(info.from))
                   .Add(ToMicros(info.to))
                   .Add(ToMicros(info.created))
                   .AddBytes(file)));
  ++counts.datasets;
  counts.bars += bars.size();
  return Ok();
}

// Every version of one script, oldest first, in one transaction.
Status CopyScript(Store& from, pg::Conn& conn, const std::string& name,
                  std::set<std::string>& copied, MigrationCounts& counts) {
  TD_ASSIGN_OR_RETURN(const std::vector<ScriptVersion>& versions, from.ListScriptVersions(name));
  std::vector<ScriptVersion> full;
  for (const ScriptVersion& v : versions) {
    TD_ASSIGN_OR_RETURN(ScriptVersion & with_source, from.GetScript(name, v.version));
    full.push_back(std::move(with_source));
  }
  TD_ASSIGN_OR_RETURN(pg::Txn & txn, pg::Txn::Begin(conn));
  for (const ScriptVersion& v : full) {
    TD_TRY(internal::InsertScriptSource(conn, v.sha256, v.source));
    if (copied.insert(v.sha256).second) ++counts.script_sources;
    TD_TRY(
        conn.Run("INSERT INTO strategy_versions(name, version, sha256, params, created_us) "
                 "VALUES($1, $2, $3, $4, $5)",
                 pg::Params()
                     .Add(std::string_view(v.name))
                     .Add(v.version)
                     .Add(std::string_view(v.sha256))
                     .Add(std::string_view(v.params_json))
                     .Add(ToMicros(v.created))));
  }
  TD_TRY(txn.Commit());
  counts.script_versions += full.size();
  return Ok();
}

std::string PlotsJsonOrEmpty(const RunInfo& info) {
  return info.plots_json.empty() ? "[]" : info.plots_json;
}

Status CopyRun(Store& from, pg::Conn& conn, RunInfo info, std::set<std::string>& copied,
               MigrationCounts& counts) {
  std::optional<engine::RunResult> result;
  if (info.status == RunStatus::kDone) {
    TD_ASSIGN_OR_RETURN(engine::RunResult & r, from.LoadRunResult(info.id));
    result = std::move(r);
  }
  if (Unfinished(info.status)) {
    info.status = RunStatus::kFailed;
    MarkInterrupted(info, WallNow());
  }
  const RunSpec& s = info.spec;
  TD_ASSIGN_OR_RETURN(pg::Txn & txn, pg::Txn::Begin(conn));
  TD_TRY(CopySource(from, conn, s.strategy_sha256, copied, counts));
  pg::Params p;
  p.Add(std::string_view(info.id))
      .Add(std::string_view(s.dataset))
      .Add(
          std::string_view(SymbolsToJson(s.datasets.empty() ? std::vector{s.dataset} : s.datasets)))
      .Add(std::string_view(SymbolsToJson(s.symbols)))
      .Add(std::string_view(s.strategy))
      .Add(s.strategy_version)
      .Add(std::string_view(s.strategy_sha256))
      .Add(std::string_view(s.params_json))
      .Add(s.config.cash)
      .Add(s.config.costs.commission)
      .Add(s.config.costs.fixed_fee)
      .Add(s.config.costs.slippage)
      .Add(static_cast<int64_t>(s.config.allow_short))
      .Add(OptMicros(s.from))
      .Add(OptMicros(s.to))
      .Add(std::string_view(s.request_json))
      .Add(ToString(info.status))
      .Add(info.progress)
      .Add(std::string_view(info.error.msg))
      .Add(std::string_view(info.error.cause))
      .Add(info.error.line)
      .Add(OptMicros(info.error.bar_time))
      .Add(ToMicros(info.created))
      .Add(OptMicros(info.started))
      .Add(OptMicros(info.finished));
  TD_ASSIGN_OR_RETURN(
      pg::Rows & row,
      conn.Query("INSERT INTO runs(id, dataset, datasets, symbols, strategy, strategy_version, "
                 "strategy_sha256, params, cash, commission, fixed_fee, slippage, allow_short, "
                 "from_us, to_us, request, status, progress, error, error_cause, error_line, "
                 "error_bar_us, created_us, started_us, finished_us) VALUES($1, $2, $3, $4, $5, "
                 "$6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, "
                 "$22, $23, $24, $25) RETURNING seq",
                 p));
  const int64_t seq = row.Int(0, 0);
  if (result) {
    const engine::RunResult& r = *result;
    const engine::Stats& st = r.stats;
    TD_TRY(conn.Run(
        "INSERT INTO run_stats(run, symbols, bars, fills, trades, start_equity, final_equity, "
        "total_return, cagr, volatility, sharpe, sortino, calmar, max_drawdown, max_drawdown_us, "
        "win_rate, profit_factor, expectancy, exposure, buy_and_hold_return, periods_per_year) "
        "VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, "
        "$19, $20, $21)",
        pg::Params()
            .Add(seq)
            .Add(std::string_view(SymbolsToJson(r.symbols)))
            .Add(static_cast<int64_t>(st.bars))
            .Add(static_cast<int64_t>(st.fills))
            .Add(static_cast<int64_t>(st.trades))
            .Add(st.start_equity)
            .Add(st.final_equity)
            .Add(st.total_return)
            .Add(st.cagr)
            .Add(st.volatility)
            .Add(st.sharpe)
            .Add(st.sortino)
            .Add(st.calmar)
            .Add(st.max_drawdown)
            .Add(static_cast<int64_t>(st.max_drawdown_duration.count()))
            .Add(st.win_rate)
            .Add(st.profit_factor)
            .Add(st.expectancy)
            .Add(st.exposure)
            .Add(st.buy_and_hold_return)
            .Add(st.periods_per_year)));
    TD_TRY(conn.Run("INSERT INTO run_equity(run, points, times, equity, codec) "
                    "VALUES($1, $2, $3, $4, $5)",
                    pg::Params()
                        .Add(seq)
                        .Add(static_cast<int64_t>(r.times.size()))
                        .AddBytes(internal::PackTimes(r.times))
                        .AddBytes(internal::PackEquity(r.equity))
                        .Add(internal::kSeriesRuns)));
    const internal::PackedEvents events = internal::PackEventsCompact(r.events);
    TD_TRY(conn.Run("INSERT INTO run_events(run, count, records, reasons) VALUES($1, $2, $3, $4)",
                    pg::Params()
                        .Add(seq)
                        .Add(static_cast<int64_t>(r.events.size()))
                        .AddBytes(events.records)
                        .AddBytes(std::as_bytes(std::span(events.reasons)))));
    TD_TRY(conn.Run("INSERT INTO run_trades(run, count, records) VALUES($1, $2, $3)",
                    pg::Params()
                        .Add(seq)
                        .Add(static_cast<int64_t>(r.trades.size()))
                        .AddBytes(internal::PackTradesCompact(r.trades))));
    if (!r.plots.empty() || !r.logs.empty()) {
      const internal::PackedLogs logs = internal::PackLogs(r.logs);
      TD_TRY(
          conn.Run("INSERT INTO run_plots(run, decl, series, plots, logs, log_records, "
                   "log_text) VALUES($1, $2, $3, $4, $5, $6, $7)",
                   pg::Params()
                       .Add(seq)
                       .Add(std::string_view(PlotsJsonOrEmpty(info)))
                       .Add(static_cast<int64_t>(r.plots.size()))
                       .AddBytes(internal::PackPlots(r.plots))
                       .Add(static_cast<int64_t>(r.logs.size()))
                       .AddBytes(logs.records)
                       .AddBytes(std::as_bytes(std::span(logs.text)))));
    }
    TD_TRY(internal::InsertRunHead(conn, seq, r));
    ++counts.results;
  }
  TD_TRY(txn.Commit());
  ++counts.runs;
  return Ok();
}

// Phases a sweep's records may be in: N records per phase, `tasks` in all.
size_t PhaseCount(const SweepInfo& w) {
  if (w.spec.trials == 0) return 1;
  return std::max<size_t>(1, (w.spec.tasks + w.spec.trials - 1) / w.spec.trials);
}

Status CopySweep(Store& from, pg::Conn& conn, SweepInfo info, std::set<std::string>& copied,
                 MigrationCounts& counts) {
  std::vector<std::vector<TrialRecord>> phases;
  for (size_t phase = 0; phase < PhaseCount(info); ++phase) {
    TD_ASSIGN_OR_RETURN(std::vector<TrialRecord> & trials,
                        from.LoadTrials(info.id, phase, /*with_returns=*/true));
    phases.push_back(std::move(trials));
  }
  if (Unfinished(info.status)) {
    info.status = SweepStatus::kFailed;
    MarkInterrupted(info, WallNow());
  }
  const RunSpec& b = info.spec.base;
  TD_ASSIGN_OR_RETURN(pg::Txn & txn, pg::Txn::Begin(conn));
  TD_TRY(CopySource(from, conn, b.strategy_sha256, copied, counts));
  pg::Params p;
  p.Add(std::string_view(info.id))
      .Add(std::string_view(b.dataset))
      .Add(
          std::string_view(SymbolsToJson(b.datasets.empty() ? std::vector{b.dataset} : b.datasets)))
      .Add(std::string_view(SymbolsToJson(b.symbols)))
      .Add(std::string_view(b.strategy))
      .Add(b.strategy_version)
      .Add(std::string_view(b.strategy_sha256))
      .Add(b.config.cash)
      .Add(b.config.costs.commission)
      .Add(b.config.costs.fixed_fee)
      .Add(b.config.costs.slippage)
      .Add(static_cast<int64_t>(b.config.allow_short))
      .Add(OptMicros(b.from))
      .Add(OptMicros(b.to))
      .Add(std::string_view(info.spec.plan_json))
      .Add(std::string_view(info.spec.request_json))
      .Add(static_cast<int64_t>(info.spec.trials))
      .Add(static_cast<int64_t>(info.spec.tasks))
      .Add(ToString(info.status))
      .Add(static_cast<int64_t>(info.done))
      .Add(std::string_view(info.error.msg))
      .Add(std::string_view(info.error.cause))
      .Add(info.error.line)
      .Add(OptMicros(info.error.bar_time))
      .Add(ToMicros(info.created))
      .Add(OptMicros(info.started))
      .Add(OptMicros(info.finished))
      .Add(std::string_view(info.summary_json));
  TD_ASSIGN_OR_RETURN(
      pg::Rows & row,
      conn.Query("INSERT INTO sweeps(id, dataset, datasets, symbols, strategy, strategy_version, "
                 "strategy_sha256, cash, commission, fixed_fee, slippage, allow_short, from_us, "
                 "to_us, plan, request, trials, tasks, status, done, error, error_cause, "
                 "error_line, error_bar_us, created_us, started_us, finished_us, summary) "
                 "VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, "
                 "$17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28) RETURNING seq",
                 p));
  const int64_t seq = row.Int(0, 0);
  for (const std::vector<TrialRecord>& trials : phases) {
    for (size_t i = 0; i < trials.size(); i += kTrialChunk) {
      const auto chunk = std::span(trials).subspan(i, std::min(kTrialChunk, trials.size() - i));
      TD_ASSIGN_OR_RETURN(const std::optional<size_t> duplicate,
                          internal::InsertTrialRows(conn, seq, chunk));
      if (duplicate) {
        return MakeError(ErrorCode::kInternal, "the source holds a trial record twice",
                         {{"sweep", info.id},
                          {"phase", std::to_string(chunk[*duplicate].phase)},
                          {"trial", std::to_string(chunk[*duplicate].index)}});
      }
      counts.trials += chunk.size();
    }
  }
  TD_TRY(txn.Commit());
  ++counts.sweeps;
  return Ok();
}

// ---- Verification ----

Error Differs(std::string what, std::string field) {
  return MakeError(ErrorCode::kInternal, what + " differs in the copy: " + field,
                   {{"what", std::move(what)}, {"field", std::move(field)}});
}

bool SameBits(std::span<const double> a, std::span<const double> b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size_bytes()) == 0);
}
bool SameBits(double a, double b) {
  return std::bit_cast<uint64_t>(a) == std::bit_cast<uint64_t>(b);
}

bool SameStats(const engine::Stats& a, const engine::Stats& b) {
  return internal::PackStats(a) == internal::PackStats(b);
}

bool SameError(const RunError& a, const RunError& b) {
  return a.msg == b.msg && a.cause == b.cause && a.line == b.line && a.bar_time == b.bar_time;
}

// The fields of a spec that both runs and sweeps keep.
std::optional<std::string> SpecDiff(const RunSpec& a, const RunSpec& b) {
  if (a.dataset != b.dataset) return "dataset";
  if (a.datasets != b.datasets) return "datasets";
  if (a.symbols != b.symbols) return "symbols";
  if (a.strategy != b.strategy) return "strategy";
  if (a.strategy_version != b.strategy_version) return "strategy_version";
  if (a.strategy_sha256 != b.strategy_sha256) return "strategy_sha256";
  if (!SameBits(a.config.cash, b.config.cash)) return "cash";
  if (!SameBits(a.config.costs.commission, b.config.costs.commission)) return "commission";
  if (!SameBits(a.config.costs.fixed_fee, b.config.costs.fixed_fee)) return "fixed_fee";
  if (!SameBits(a.config.costs.slippage, b.config.costs.slippage)) return "slippage";
  if (a.config.allow_short != b.config.allow_short) return "allow_short";
  if (a.from != b.from) return "from";
  if (a.to != b.to) return "to";
  if (a.request_json != b.request_json) return "request";
  return std::nullopt;
}

// Status, error and finished as MigrateStore writes them (`finished` of an interrupted one is the
// migration's time: only its presence compares).
template <typename Info>
std::optional<std::string> LifeDiff(Info want, const Info& got) {
  bool interrupted = false;
  if (Unfinished(want.status)) {
    want.status = decltype(want.status)::kFailed;
    MarkInterrupted(want, Timestamp{});
    interrupted = true;
  }
  if (want.status != got.status) return "status";
  if (!SameError(want.error, got.error)) return "error";
  if (want.created != got.created) return "created";
  if (want.started != got.started) return "started";
  if (interrupted ? !got.finished : want.finished != got.finished) return "finished";
  return std::nullopt;
}

Status VerifyDataset(Store& from, Store& to, const DatasetInfo& want) {
  const std::string what = "dataset " + want.name;
  TD_ASSIGN_OR_RETURN(const DatasetInfo& got, to.GetDataset(want.name));
  if (got.symbol != want.symbol) return Differs(what, "symbol");
  if (got.bars != want.bars) return Differs(what, "bars");
  if (got.from != want.from || got.to != want.to) return Differs(what, "period");
  if (got.created != want.created) return Differs(what, "created");
  TD_ASSIGN_OR_RETURN(const market::Series& a, from.LoadBars(want.name));
  TD_ASSIGN_OR_RETURN(const market::Series& b, to.LoadBars(want.name));
  if (a.symbol() != b.symbol() || a.size() != b.size()) return Differs(what, "bars");
  const auto times_a = a.times(), times_b = b.times();
  if (!std::equal(times_a.begin(), times_a.end(), times_b.begin())) return Differs(what, "times");
  if (!SameBits(a.open(), b.open()) || !SameBits(a.high(), b.high()) ||
      !SameBits(a.low(), b.low()) || !SameBits(a.close(), b.close()) ||
      !SameBits(a.volume(), b.volume())) {
    return Differs(what, "prices");
  }
  return Ok();
}

Status VerifyScript(Store& from, Store& to, const std::string& name, MigrationCounts& counts) {
  const std::string what = "script " + name;
  TD_ASSIGN_OR_RETURN(const std::vector<ScriptVersion>& want, from.ListScriptVersions(name));
  TD_ASSIGN_OR_RETURN(const std::vector<ScriptVersion>& got, to.ListScriptVersions(name));
  if (want.size() != got.size()) return Differs(what, "versions");
  for (size_t i = 0; i < want.size(); ++i) {
    const ScriptVersion& a = want[i];
    const ScriptVersion& b = got[i];
    if (a.version != b.version || a.sha256 != b.sha256 || a.params_json != b.params_json ||
        a.created != b.created) {
      return Differs(what, "version " + std::to_string(a.version));
    }
    TD_ASSIGN_OR_RETURN(const ScriptVersion& full, to.GetScript(name, b.version));
    if (Sha256Hex(full.source) != a.sha256) return Differs(what, "source");
  }
  counts.script_versions += want.size();
  return Ok();
}

Status VerifyRun(Store& from, Store& to, const RunInfo& want, MigrationCounts& counts) {
  const std::string what = "run " + want.id;
  TD_ASSIGN_OR_RETURN(const RunInfo& got, to.GetRun(want.id));
  if (auto d = SpecDiff(want.spec, got.spec)) return Differs(what, *d);
  if (want.spec.params_json != got.spec.params_json) return Differs(what, "params");
  if (auto d = LifeDiff(want, got)) return Differs(what, *d);
  if (!SameBits(want.progress, got.progress)) return Differs(what, "progress");
  if (want.stats.has_value() != got.stats.has_value() ||
      (want.stats && !SameStats(*want.stats, *got.stats))) {
    return Differs(what, "stats");
  }
  if (want.plots_json != got.plots_json) return Differs(what, "plots");
  if (!want.spec.strategy_sha256.empty()) {
    Result<std::string> a = from.GetScriptSource(want.spec.strategy_sha256);
    if (a.ok()) {
      TD_ASSIGN_OR_RETURN(const std::string& b, to.GetScriptSource(want.spec.strategy_sha256));
      if (*a != b) return Differs(what, "script source");
    }
  }
  ++counts.runs;
  if (want.status != RunStatus::kDone) return Ok();
  TD_ASSIGN_OR_RETURN(const engine::RunResult& a, from.LoadRunResult(want.id));
  TD_ASSIGN_OR_RETURN(const engine::RunResult& b, to.LoadRunResult(want.id));
  if (a.symbols != b.symbols) return Differs(what, "result symbols");
  if (a.times != b.times) return Differs(what, "times");
  if (!SameBits(a.equity, b.equity)) return Differs(what, "equity");
  const internal::PackedEvents ea = internal::PackEvents(a.events);
  const internal::PackedEvents eb = internal::PackEvents(b.events);
  if (ea.records != eb.records || ea.reasons != eb.reasons) return Differs(what, "events");
  if (internal::PackTrades(a.trades) != internal::PackTrades(b.trades)) {
    return Differs(what, "trades");
  }
  if (!SameStats(a.stats, b.stats)) return Differs(what, "result stats");
  if (internal::PackPlots(a.plots) != internal::PackPlots(b.plots)) return Differs(what, "plots");
  const internal::PackedLogs la = internal::PackLogs(a.logs);
  const internal::PackedLogs lb = internal::PackLogs(b.logs);
  if (la.records != lb.records || la.text != lb.text) return Differs(what, "logs");
  TD_ASSIGN_OR_RETURN(const std::vector<engine::Trade>& trades, to.LoadTrades(want.id));
  if (internal::PackTrades(trades) != internal::PackTrades(a.trades)) {
    return Differs(what, "trades");
  }
  ++counts.results;
  return Ok();
}

Status VerifySweep(Store& from, Store& to, const SweepInfo& want, MigrationCounts& counts) {
  const std::string what = "sweep " + want.id;
  TD_ASSIGN_OR_RETURN(const SweepInfo& got, to.GetSweep(want.id));
  if (auto d = SpecDiff(want.spec.base, got.spec.base)) return Differs(what, *d);
  if (want.spec.plan_json != got.spec.plan_json) return Differs(what, "plan");
  if (want.spec.request_json != got.spec.request_json) return Differs(what, "request");
  if (want.spec.trials != got.spec.trials || want.spec.tasks != got.spec.tasks) {
    return Differs(what, "trials");
  }
  if (auto d = LifeDiff(want, got)) return Differs(what, *d);
  if (want.done != got.done) return Differs(what, "done");
  if (want.summary_json != got.summary_json) return Differs(what, "summary");
  for (size_t phase = 0; phase < PhaseCount(want); ++phase) {
    TD_ASSIGN_OR_RETURN(const std::vector<TrialRecord>& a, from.LoadTrials(want.id, phase, true));
    TD_ASSIGN_OR_RETURN(const std::vector<TrialRecord>& b, to.LoadTrials(want.id, phase, true));
    if (a.size() != b.size()) return Differs(what, "trials of phase " + std::to_string(phase));
    for (size_t i = 0; i < a.size(); ++i) {
      const TrialRecord& x = a[i];
      const TrialRecord& y = b[i];
      const std::string trial = "trial " + std::to_string(phase) + "/" + std::to_string(x.index);
      if (x.phase != y.phase || x.index != y.index || x.params_json != y.params_json ||
          x.error != y.error || x.stats.has_value() != y.stats.has_value() ||
          (x.stats && !SameStats(*x.stats, *y.stats))) {
        return Differs(what, trial);
      }
      if (internal::PackDailyReturns(x.returns) != internal::PackDailyReturns(y.returns)) {
        return Differs(what, trial + " returns");
      }
    }
    counts.trials += a.size();
  }
  ++counts.sweeps;
  return Ok();
}

template <typename T>
std::vector<T> OldestFirst(std::vector<T> newest_first) {
  std::reverse(newest_first.begin(), newest_first.end());
  return newest_first;
}

}  // namespace

Result<MigrationCounts> MigrateStore(Store& from, Store& to, const MigrationProgress& progress) {
  auto* target = dynamic_cast<PgStore*>(&to);
  if (target == nullptr) {
    return MakeError(ErrorCode::kValidation, "the target of a migration must be a PostgreSQL store",
                     {{"field", "to"}});
  }
  auto report = [&progress](std::string_view kind, std::string_view name) {
    if (progress) progress(kind, name);
  };
  TD_ASSIGN_OR_RETURN(const std::vector<DatasetInfo>& datasets, from.ListDatasets());
  TD_ASSIGN_OR_RETURN(const std::vector<ScriptVersion>& scripts, from.ListScripts());
  TD_ASSIGN_OR_RETURN(std::vector<RunInfo> & newest_runs, from.ListRuns(0, 0));
  TD_ASSIGN_OR_RETURN(std::vector<SweepInfo> & newest_sweeps, from.ListSweeps(0, 0));
  const std::vector<RunInfo> runs = OldestFirst(std::move(newest_runs));
  const std::vector<SweepInfo> sweeps = OldestFirst(std::move(newest_sweeps));

  TD_ASSIGN_OR_RETURN(PgStore::Lease & lease, target->Borrow());
  pg::Conn& conn = *lease;
  TD_TRY(CheckTargetHoldsNone(conn, datasets, scripts, runs, sweeps));

  MigrationCounts counts;
  std::set<std::string> sources;  // SHA-256 of the sources copied
  for (const DatasetInfo& d : datasets) {
    TD_TRY(CopyDataset(from, conn, d, counts));
    report("dataset", d.name);
  }
  for (const ScriptVersion& s : scripts) {
    TD_TRY(CopyScript(from, conn, s.name, sources, counts));
    report("script", s.name);
  }
  for (const RunInfo& r : runs) {
    TD_TRY(CopyRun(from, conn, r, sources, counts));
    report("run", r.id);
  }
  for (const SweepInfo& w : sweeps) {
    TD_TRY(CopySweep(from, conn, w, sources, counts));
    report("sweep", w.id);
  }
  return counts;
}

Result<MigrationCounts> VerifyMigration(Store& from, Store& to) {
  MigrationCounts counts;
  TD_ASSIGN_OR_RETURN(const std::vector<DatasetInfo>& datasets, from.ListDatasets());
  for (const DatasetInfo& d : datasets) {
    TD_TRY(VerifyDataset(from, to, d));
    ++counts.datasets;
    counts.bars += d.bars;
  }
  TD_ASSIGN_OR_RETURN(const std::vector<ScriptVersion>& scripts, from.ListScripts());
  for (const ScriptVersion& s : scripts) TD_TRY(VerifyScript(from, to, s.name, counts));
  TD_ASSIGN_OR_RETURN(const std::vector<RunInfo>& runs, from.ListRuns(0, 0));
  TD_ASSIGN_OR_RETURN(const std::vector<RunInfo>& runs_copied, to.ListRuns(0, 0));
  for (const RunInfo& r : runs) TD_TRY(VerifyRun(from, to, r, counts));
  TD_ASSIGN_OR_RETURN(const std::vector<SweepInfo>& sweeps, from.ListSweeps(0, 0));
  TD_ASSIGN_OR_RETURN(const std::vector<SweepInfo>& sweeps_copied, to.ListSweeps(0, 0));
  for (const SweepInfo& w : sweeps) TD_TRY(VerifySweep(from, to, w, counts));
  // The same order: the copies keep their places relative to each other in the target's
  // newest-first lists (whatever else the target holds).
  auto same_order = [](const auto& want, const auto& got) {
    std::map<std::string, size_t> place;
    for (size_t i = 0; i < got.size(); ++i) place[got[i].id] = i;
    size_t last = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      const auto it = place.find(want[i].id);
      if (it == place.end() || (i > 0 && it->second <= last)) return false;
      last = it->second;
    }
    return true;
  };
  if (!same_order(runs, runs_copied)) return Differs("the runs", "order");
  if (!same_order(sweeps, sweeps_copied)) return Differs("the sweeps", "order");
  return counts;
}

}  // namespace tapedeck::store
