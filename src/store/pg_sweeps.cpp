// PgStore: sweeps. The same rows as SQLite's (sqlite_sweeps.cpp): a sweep in `sweeps`; each trial
// run's record a row of sweep_trials (statistics packed, plus a column per sortable key, NaN kept
// as NULL there as SQLite keeps it) and, for a phase-0 trial with daily returns, one of
// sweep_returns.
//
// Several processes write one sweep at once (workers storing batches, a node deleting it): every
// write locks the sweep's row first (SELECT ... FOR NO KEY UPDATE) and checks its status under
// that lock, so `done` counts exactly the records stored and nothing is stored into a sweep that
// is no longer running. NO KEY UPDATE rather than UPDATE: it still excludes the other writers
// (and DELETE), but not the key-share locks that inserting a job or a trial row referencing the
// sweep takes.
//
// A transaction that changes a sweep (running, trials stored, done, failed, deleted) sends NOTIFY
// tapedeck_sweep with its id (RETURNING pg_notify(...) of the statement that changes the row: no
// extra round trip); PostgreSQL delivers it on commit.
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "store/packing.h"
#include "store/pg_common.h"
#include "store/pg_store.h"
#include "store/pg_trial_rows.h"
#include "store/rows_common.h"
#include "store/sqlite_store.h"  // RandomHex64, SymbolsToJson/FromJson, RecordedSha256

namespace tapedeck::store::internal {
namespace {

#define TD_PG_SWEEP_SELECT                                                                       \
  "SELECT id, dataset, datasets, symbols, strategy, strategy_version, strategy_sha256, cash, "   \
  "commission, fixed_fee, slippage, allow_short, from_us, to_us, plan, request, trials, tasks, " \
  "status, done, error, error_cause, error_line, error_bar_us, created_us, started_us, "         \
  "finished_us, summary FROM sweeps "

Result<SweepInfo> ReadSweepInfo(const pg::Conn& conn, const pg::Rows& rows, int i) {
  SweepInfo w;
  w.id = rows.Text(i, 0);
  RunSpec& b = w.spec.base;
  b.dataset = rows.Text(i, 1);
  b.datasets = SymbolsFromJson(rows.Text(i, 2));
  if (b.datasets.empty()) b.datasets = {b.dataset};
  b.symbols = SymbolsFromJson(rows.Text(i, 3));
  b.strategy = rows.Text(i, 4);
  b.strategy_version = rows.OptInt(i, 5);
  b.strategy_sha256 = rows.Text(i, 6);
  b.config.cash = rows.Double(i, 7);
  b.config.costs.commission = rows.Double(i, 8);
  b.config.costs.fixed_fee = rows.Double(i, 9);
  b.config.costs.slippage = rows.Double(i, 10);
  b.config.allow_short = rows.Int(i, 11) != 0;
  if (auto v = rows.OptInt(i, 12)) b.from = FromMicros(*v);
  if (auto v = rows.OptInt(i, 13)) b.to = FromMicros(*v);
  w.spec.plan_json = rows.Text(i, 14);
  w.spec.request_json = rows.Text(i, 15);
  b.request_json = w.spec.request_json;
  w.spec.trials = static_cast<size_t>(rows.Int(i, 16));
  w.spec.tasks = static_cast<size_t>(rows.Int(i, 17));
  const std::string status_text = rows.Text(i, 18);
  const std::optional<SweepStatus> status = ParseSweepStatus(status_text);
  if (!status) return PgCorrupt(conn, "sweep " + w.id + " has status '" + status_text + "'");
  w.status = *status;
  w.done = static_cast<size_t>(rows.Int(i, 19));
  w.error.msg = rows.Text(i, 20);
  w.error.cause = rows.Text(i, 21);
  w.error.line = rows.OptInt(i, 22);
  if (auto v = rows.OptInt(i, 23)) w.error.bar_time = FromMicros(*v);
  w.created = FromMicros(rows.Int(i, 24));
  if (auto v = rows.OptInt(i, 25)) w.started = FromMicros(*v);
  if (auto v = rows.OptInt(i, 26)) w.finished = FromMicros(*v);
  w.summary_json = rows.Text(i, 27);
  return w;
}

// The sort keys of ListTrials and their statements. By index: in index order, failed trials among
// the others. By a statistic: failed trials (stats NULL) last, then missing values (NaN, stored as
// NULL), then ties by index. +inf sorts as the largest value, as in SQLite. $3 is never NULL (no
// limit is the largest bigint): one prepared statement per key and direction.
//
// One statement reads the sweep, the page and the phase's total (a window count, taken before
// LIMIT), so they agree without a transaction: no row means no such sweep or a page past the end;
// a row with a NULL phase, a phase without records.
#define TD_PG_TRIAL_SELECT                                                                      \
  "SELECT s.seq, t.phase, t.idx, t.params, t.error, t.stats, count(t.idx) OVER () FROM sweeps " \
  "s LEFT JOIN sweep_trials t ON t.sweep = s.seq AND t.phase = $2 WHERE s.id = $1 "
#define TD_PG_TRIAL_PAGE TD_PG_TRIAL_SELECT "ORDER BY t.stats IS NULL, "
#define TD_PG_TRIAL_LIMIT " LIMIT $3 OFFSET $4"
#define TD_PG_TRIAL_SORT(col)                                                          \
  SortKey {                                                                            \
    col, TD_PG_TRIAL_PAGE "t." col " IS NULL, t." col " ASC, t.idx" TD_PG_TRIAL_LIMIT, \
        TD_PG_TRIAL_PAGE "t." col " IS NULL, t." col " DESC, t.idx" TD_PG_TRIAL_LIMIT  \
  }

struct SortKey {
  std::string_view key;
  const char* asc;
  const char* desc;
};

constexpr SortKey kSortKeys[] = {
    SortKey{"index", TD_PG_TRIAL_SELECT "ORDER BY t.idx ASC" TD_PG_TRIAL_LIMIT,
            TD_PG_TRIAL_SELECT "ORDER BY t.idx DESC" TD_PG_TRIAL_LIMIT},
    TD_PG_TRIAL_SORT("bars"),
    TD_PG_TRIAL_SORT("fills"),
    TD_PG_TRIAL_SORT("trades"),
    TD_PG_TRIAL_SORT("start_equity"),
    TD_PG_TRIAL_SORT("final_equity"),
    TD_PG_TRIAL_SORT("total_return"),
    TD_PG_TRIAL_SORT("cagr"),
    TD_PG_TRIAL_SORT("volatility"),
    TD_PG_TRIAL_SORT("sharpe"),
    TD_PG_TRIAL_SORT("sortino"),
    TD_PG_TRIAL_SORT("calmar"),
    TD_PG_TRIAL_SORT("max_drawdown"),
    TD_PG_TRIAL_SORT("max_drawdown_duration_s"),
    TD_PG_TRIAL_SORT("win_rate"),
    TD_PG_TRIAL_SORT("profit_factor"),
    TD_PG_TRIAL_SORT("expectancy"),
    TD_PG_TRIAL_SORT("exposure"),
    TD_PG_TRIAL_SORT("buy_and_hold_return"),
};

// A trial record from row `i`'s columns first..first+4 (phase, idx, params, error, stats) and its
// returns at `returns_col`.
Result<TrialRecord> ReadTrial(const pg::Conn& conn, const pg::Rows& rows, int i, int first,
                              std::optional<int> returns_col) {
  TrialRecord t;
  t.phase = static_cast<size_t>(rows.Int(i, first));
  t.index = static_cast<size_t>(rows.Int(i, first + 1));
  t.params_json = rows.Text(i, first + 2);
  t.error = rows.Text(i, first + 3);
  if (!rows.IsNull(i, first + 4)) {
    auto stats = UnpackStats(rows.Bytes(i, first + 4));
    if (!stats.ok()) return PgCorrupt(conn, stats.error().msg);
    t.stats = *stats;
  }
  if (returns_col && !rows.IsNull(i, *returns_col)) {
    auto returns = UnpackDailyReturns(rows.Bytes(i, *returns_col));
    if (!returns.ok()) return PgCorrupt(conn, returns.error().msg);
    t.returns = std::move(returns).value();
  }
  return t;
}

// The sweep's seq and status, its row locked until the open transaction ends.
Result<std::pair<int64_t, SweepStatus>> LockedSweepState(pg::Conn& conn, std::string_view id) {
  TD_ASSIGN_OR_RETURN(pg::Rows & rows,
                      conn.Query("SELECT seq, status FROM sweeps WHERE id = $1 FOR NO KEY UPDATE",
                                 pg::Params().Add(id)));
  if (rows.size() == 0) return SweepNotFound(id);
  const std::optional<SweepStatus> status = ParseSweepStatus(rows.Text(0, 1));
  if (!status) return PgCorrupt(conn, "sweep " + std::string(id) + " has a bad status");
  return std::pair{rows.Int(0, 0), *status};
}

int64_t PgLimit(size_t limit) {
  return limit == 0 ? std::numeric_limits<int64_t>::max() : static_cast<int64_t>(limit);
}

// A PostgreSQL array literal, built element by element and sent as one text parameter that the
// statement casts ($2::float8[]): pg::Params carries scalars, and an array per column lets one
// INSERT ... SELECT FROM unnest(...) write a whole batch in one round trip with one prepared
// statement whatever the batch's size. Doubles go in their shortest exact decimal form (PostgreSQL
// reads them back bit for bit).
class ArrayLiteral {
 public:
  ArrayLiteral() { text_ = "{"; }

  void Int(int64_t v) {
    Next();
    char buf[24];
    text_.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
  }
  // NaN goes in as NULL: a sort column holds a missing value as NULL, as SQLite does.
  void Double(double v) {
    Next();
    if (std::isnan(v)) {
      text_ += "NULL";
    } else if (std::isinf(v)) {
      text_ += v > 0 ? "Infinity" : "-Infinity";
    } else {
      char buf[32];
      text_.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
    }
  }
  void Null() {
    Next();
    text_ += "NULL";
  }
  void Text(std::string_view s) {
    Next();
    text_ += '"';
    for (char c : s) {
      if (c == '"' || c == '\\') text_ += '\\';
      text_ += c;
    }
    text_ += '"';
  }
  // bytea's hex form, "\x0a1b...", its backslash escaped for the array's quoting.
  void Bytes(std::span<const std::byte> b) {
    static constexpr char kHex[] = "0123456789abcdef";
    Next();
    text_.reserve(text_.size() + 2 * b.size() + 6);
    text_ += "\"\\\\x";
    for (std::byte x : b) {
      const auto v = static_cast<unsigned char>(x);
      text_ += kHex[v >> 4];
      text_ += kHex[v & 15];
    }
    text_ += '"';
  }
  std::string Take() {
    text_ += '}';
    return std::move(text_);
  }

 private:
  void Next() {
    if (text_.size() > 1) text_ += ',';
  }
  std::string text_;
};

}  // namespace

namespace {

// The columns a batch of trial records fills, and the arrays ($2..$28) that carry them: see
// AddTrialArrays.
#define TD_PG_TRIAL_COLUMNS                                                                   \
  "sweep_trials(sweep, phase, idx, params, error, stats, bars, fills, trades, start_equity, " \
  "final_equity, total_return, cagr, volatility, sharpe, sortino, calmar, max_drawdown, "     \
  "max_drawdown_duration_s, win_rate, profit_factor, expectancy, exposure, buy_and_hold_return)"
#define TD_PG_TRIAL_ARRAYS                                                                     \
  "unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::bytea[], $7::float8[], "     \
  "$8::float8[], $9::float8[], $10::float8[], $11::float8[], $12::float8[], $13::float8[], "   \
  "$14::float8[], $15::float8[], $16::float8[], $17::float8[], $18::float8[], $19::float8[], " \
  "$20::float8[], $21::float8[], $22::float8[], $23::float8[], $24::float8[])"
#define TD_PG_RETURN_COLUMNS "sweep_returns(sweep, phase, idx, days, returns)"
// sweep_returns' rows: the packed returns of every record travel as one binary bytea ($29), cut
// at the offsets $28 (text arrays of bytea would cost twice the bytes and a parse of each).
#define TD_PG_RETURN_ROWS                                                                \
  " r.p, r.i, r.d, substring($29 from (r.o + 1)::integer for (r.d * 12)::integer) FROM " \
  "unnest($25::bigint[], $26::bigint[], $27::bigint[], $28::bigint[]) AS r(p, i, d, o)"

// Appends $2..$29 after the caller's $1: sweep_trials' columns after `sweep` (phase, idx,
// params, error, stats, the 18 sort keys), then for the records with daily returns their phase,
// index, days, offset in $29, and $29: their packed returns end to end.
void AddTrialArrays(pg::Params& p, std::span<const TrialRecord> trials) {
  static_assert(kDailyReturnBytes == 12, "TD_PG_RETURN_ROWS cuts records of 12 bytes");
  constexpr size_t kTrialColumns = 23;
  std::vector<ArrayLiteral> cols(kTrialColumns + 4);
  std::vector<std::byte> returns;
  for (const TrialRecord& t : trials) {
    cols[0].Int(static_cast<int64_t>(t.phase));
    cols[1].Int(static_cast<int64_t>(t.index));
    cols[2].Text(t.params_json);
    cols[3].Text(t.error);
    if (t.stats) {
      const engine::Stats& st = *t.stats;
      cols[4].Bytes(PackStats(st));
      size_t c = 5;
      for (double v :
           {static_cast<double>(st.bars), static_cast<double>(st.fills),
            static_cast<double>(st.trades), st.start_equity, st.final_equity, st.total_return,
            st.cagr, st.volatility, st.sharpe, st.sortino, st.calmar, st.max_drawdown,
            std::chrono::duration<double>(st.max_drawdown_duration).count(), st.win_rate,
            st.profit_factor, st.expectancy, st.exposure, st.buy_and_hold_return}) {
        cols[c++].Double(v);
      }
    } else {
      for (size_t c = 4; c < kTrialColumns; ++c) cols[c].Null();
    }
    if (!t.returns.empty()) {
      cols[kTrialColumns].Int(static_cast<int64_t>(t.phase));
      cols[kTrialColumns + 1].Int(static_cast<int64_t>(t.index));
      cols[kTrialColumns + 2].Int(static_cast<int64_t>(t.returns.size()));
      cols[kTrialColumns + 3].Int(static_cast<int64_t>(returns.size()));
      const std::vector<std::byte> packed = PackDailyReturns(t.returns);
      returns.insert(returns.end(), packed.begin(), packed.end());
    }
  }
  for (ArrayLiteral& c : cols) p.Add(std::string_view(c.Take()));
  p.AddBytes(returns);
}

using Key = std::pair<int64_t, int64_t>;  // (phase, index)

// The first of `trials` whose key is in `taken` or repeats an earlier one's; nullopt if none.
std::optional<size_t> FirstDuplicate(std::span<const TrialRecord> trials, std::set<Key> taken) {
  for (size_t i = 0; i < trials.size(); ++i) {
    const Key key{static_cast<int64_t>(trials[i].phase), static_cast<int64_t>(trials[i].index)};
    if (!taken.insert(key).second) return i;
  }
  return std::nullopt;
}

Error DuplicateTrial(std::string_view id, const TrialRecord& t) {
  return MakeError(ErrorCode::kConflict, "the sweep has a record of this trial already",
                   {{"sweep", std::string(id)},
                    {"phase", std::to_string(t.phase)},
                    {"trial", std::to_string(t.index)}});
}

}  // namespace

Result<std::optional<size_t>> InsertTrialRows(pg::Conn& conn, int64_t seq,
                                              std::span<const TrialRecord> trials) {
  pg::Params p;
  p.Add(seq);
  AddTrialArrays(p, trials);
  // A data-modifying WITH runs whether or not the outer query reads it. ON CONFLICT DO NOTHING
  // and RETURNING tell which records were new; a duplicate within the batch is skipped the same
  // way (the first of them goes in).
  TD_ASSIGN_OR_RETURN(
      pg::Rows & inserted,
      conn.Query("WITH trials AS (INSERT INTO " TD_PG_TRIAL_COLUMNS
                 " SELECT $1, * FROM " TD_PG_TRIAL_ARRAYS
                 " ON CONFLICT DO NOTHING RETURNING phase, idx), returns AS "
                 "(INSERT INTO " TD_PG_RETURN_COLUMNS " SELECT $1," TD_PG_RETURN_ROWS
                 " ON CONFLICT DO NOTHING) SELECT phase, idx FROM trials",
                 p));
  if (static_cast<size_t>(inserted.size()) == trials.size()) return std::optional<size_t>();
  // Each new key went to its first record: every other record is a duplicate.
  std::map<Key, size_t> first;
  for (size_t i = trials.size(); i-- > 0;) {
    first[{static_cast<int64_t>(trials[i].phase), static_cast<int64_t>(trials[i].index)}] = i;
  }
  std::set<size_t> fresh;
  for (int r = 0; r < inserted.size(); ++r) {
    fresh.insert(first.at({inserted.Int(r, 0), inserted.Int(r, 1)}));
  }
  for (size_t i = 0; i < trials.size(); ++i) {
    if (fresh.count(i) == 0) return std::optional<size_t>(i);
  }
  return PgCorrupt(conn, "sweep_trials returned keys that were not inserted");
}

Result<std::string> PgStore::CreateSweep(const SweepSpec& spec) {
  const RunSpec& b = spec.base;
  const std::string symbols = SymbolsToJson(b.symbols);
  const std::string datasets =
      SymbolsToJson(b.datasets.empty() ? std::vector<std::string>{b.dataset} : b.datasets);
  const std::string sha256 = RecordedSha256(b);
  std::optional<int64_t> from, to;
  if (b.from) from = ToMicros(*b.from);
  if (b.to) to = ToMicros(*b.to);
  TD_ASSIGN_OR_RETURN(Lease & lease, Borrow());
  pg::Conn& conn = *lease;
  TD_ASSIGN_OR_RETURN(pg::Txn & txn, pg::Txn::Begin(conn));
  TD_TRY(KeepInlineSource(conn, b, sha256));
  // 64 random bits collide about never; the retry makes "about" into "never" cheaply.
  for (int attempt = 0; attempt < 4; ++attempt) {
    std::string id = RandomHex64();
    pg::Params p;
    p.Add(std::string_view(id))
        .Add(std::string_view(b.dataset))
        .Add(std::string_view(datasets))
        .Add(std::string_view(symbols))
        .Add(std::string_view(b.strategy))
        .Add(b.strategy_version)
        .Add(std::string_view(sha256))
        .Add(b.config.cash)
        .Add(b.config.costs.commission)
        .Add(b.config.costs.fixed_fee)
        .Add(b.config.costs.slippage)
        .Add(static_cast<int64_t>(b.config.allow_short))
        .Add(from)
        .Add(to)
        .Add(std::string_view(spec.plan_json))
        .Add(std::string_view(spec.request_json))
        .Add(static_cast<int64_t>(spec.trials))
        .Add(static_cast<int64_t>(spec.tasks))
        .Add(ToMicros(Now()));
    TD_ASSIGN_OR_RETURN(
        const int64_t added,
        conn.Run("INSERT INTO sweeps(id, dataset, datasets, symbols, strategy, strategy_version, "
                 "strategy_sha256, cash, commission, fixed_fee, slippage, allow_short, from_us, "
                 "to_us, plan, request, trials, tasks, status, created_us) VALUES($1, $2, $3, $4, "
                 "$5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, 'queued', $19) "
                 "ON CONFLICT(id) DO NOTHING",
                 p));
    if (added == 1) {
      TD_TRY(txn.Commit());
      return id;
    }
  }
  return MakeError(ErrorCode::kInternal, "could not draw a fresh sweep id");
}

Status PgStore::MarkSweepRunning(std::string_view id) {
  TD_ASSIGN_OR_RETURN(Lease & lease, Borrow());
  pg::Conn& conn = *lease;
  TD_ASSIGN_OR_RETURN(pg::Txn & txn, pg::Txn::Begin(conn));
  TD_ASSIGN_OR_RETURN(const auto state, LockedSweepState(conn, id));
  if (state.second != SweepStatus::kQueued) return BadTransition(id, state.second, "start");
  TD_TRY(
      conn.Query("UPDATE sweeps SET status = 'running', started_us = $2 WHERE seq = $1 "
                 "RETURNING pg_notify('tapedeck_sweep', id)",
                 pg::Params().Add(state.first).Add(ToMicros(Now()))));
  return txn.Commit();
}

// One statement, so one round trip and its own transaction: lock the sweep's row and read its
// status (s), insert the records and their returns if it is running, add their count to `done`
// and notify, then tell the status. A duplicate fails the statement (a unique violation), so
// nothing of the batch is written; a second look then finds which record it was.
Status PgStore::PutTrials(std::string_view id, std::span<const TrialRecord> trials) {
  pg::Params p;
  p.Add(id);
  AddTrialArrays(p, trials);
  TD_ASSIGN_OR_RETURN(Lease & lease, Borrow());
  pg::Conn& conn = *lease;
  Result<pg::Rows> rows = conn.Query(
      "WITH s AS MATERIALIZED (SELECT seq, status FROM sweeps WHERE id = $1 FOR NO KEY UPDATE), "
      "trials AS (INSERT INTO " TD_PG_TRIAL_COLUMNS " SELECT s.seq, u.* FROM s, " TD_PG_TRIAL_ARRAYS
      " AS u WHERE s.status = 'running' RETURNING 1), returns AS (INSERT INTO " TD_PG_RETURN_COLUMNS
      " SELECT s.seq," TD_PG_RETURN_ROWS
      ", s WHERE s.status = 'running'), counted AS (UPDATE sweeps w SET done = w.done + (SELECT "
      "count(*) "
      "FROM trials) FROM s WHERE w.seq = s.seq AND s.status = 'running' RETURNING "
      "pg_notify('tapedeck_sweep', w.id)) SELECT s.status, (SELECT count(*) FROM counted) FROM s",
      p);
  if (!rows.ok()) {
    const auto sqlstate = rows.error().details.find("sqlstate");
    if (sqlstate == rows.error().details.end() || sqlstate->second != "23505") {
      return rows.take_error();
    }
    // unique_violation: a record of the batch is there already, or the batch repeats one.
    pg::Params keys;
    keys.Add(id);
    ArrayLiteral phases, indices;
    for (const TrialRecord& t : trials) {
      phases.Int(static_cast<int64_t>(t.phase));
      indices.Int(static_cast<int64_t>(t.index));
    }
    keys.Add(std::string_view(phases.Take())).Add(std::string_view(indices.Take()));
    TD_ASSIGN_OR_RETURN(
        pg::Rows & there,
        conn.Query("SELECT t.phase, t.idx FROM sweep_trials t JOIN sweeps s ON s.seq = t.sweep "
                   "WHERE s.id = $1 AND (t.phase, t.idx) IN (SELECT * FROM unnest($2::bigint[], "
                   "$3::bigint[]))",
                   keys));
    std::set<Key> taken;
    for (int r = 0; r < there.size(); ++r) taken.emplace(there.Int(r, 0), there.Int(r, 1));
    if (const std::optional<size_t> dup = FirstDuplicate(trials, std::move(taken))) {
      return DuplicateTrial(id, trials[*dup]);
    }
    return rows.take_error();  // the record is gone again (its sweep deleted meanwhile)
  }
  if (rows->size() == 0) return SweepNotFound(id);
  const std::string status_text = rows->Text(0, 0);
  const std::optional<SweepStatus> status = ParseSweepStatus(status_text);
  if (!status) return PgCorrupt(conn, "sweep " + std::string(id) + " has a bad status");
  if (*status != SweepStatus::kRunning) return BadTransition(id, *status, "record trials");
  return Ok();
}

Status PgStore::CompleteSweep(std::string_view id, std::string_view summary_json) {
  TD_ASSIGN_OR_RETURN(Lease & lease, Borrow());
  pg::Conn& conn = *lease;
  TD_ASSIGN_OR_RETURN(pg::Txn & txn, pg::Txn::Begin(conn));
  TD_ASSIGN_OR_RETURN(const auto state, LockedSweepState(conn, id));
  if (state.second != SweepStatus::kRunning) return BadTransition(id, state.second, "complete");
  TD_TRY(
      conn.Query("UPDATE sweeps SET status = 'done', summary = $2, finished_us = $3 WHERE seq = $1 "
                 "RETURNING pg_notify('tapedeck_sweep', id)",
                 pg::Params().Add(state.first).Add(summary_json).Add(ToMicros(Now()))));
  return txn.Commit();
}

Status PgStore::FailSweep(std::string_view id, const RunError& error) {
  if (error.msg.empty()) {
    return MakeError(ErrorCode::kValidation, "a failed sweep needs a message",
                     {{"field", "error"}});
  }
  TD_ASSIGN_OR_RETURN(Lease & lease, Borrow());
  pg::Conn& conn = *lease;
  TD_ASSIGN_OR_RETURN(pg::Txn & txn, pg::Txn::Begin(conn));
  TD_ASSIGN_OR_RETURN(const auto state, LockedSweepState(conn, id));
  if (state.second != SweepStatus::kQueued && state.second != SweepStatus::kRunning) {
    return BadTransition(id, state.second, "fail");
  }
  pg::Params p = FailureParams(error, Now());
  p.Add(state.first);
  TD_TRY(
      conn.Query("UPDATE sweeps SET status = 'failed', error = $1, finished_us = $2, "
                 "error_cause = $3, error_line = $4, error_bar_us = $5 WHERE seq = $6 "
                 "RETURNING pg_notify('tapedeck_sweep', id)",
                 p));
  return txn.Commit();
}

Result<SweepInfo> PgStore::GetSweep(std::string_view id) {
  TD_ASSIGN_OR_RETURN(Lease & lease, Borrow());
  pg::Conn& conn = *lease;
  TD_ASSIGN_OR_RETURN(pg::Rows & rows,
                      conn.Query(TD_PG_SWEEP_SELECT "WHERE id = $1", pg::Params().Add(id)));
  if (rows.size() == 0) return SweepNotFound(id);
  return ReadSweepInfo(conn, rows, 0);
}

Result<std::vector<SweepInfo>> PgStore::ListSweeps(size_t limit, size_t offset) {
  TD_ASSIGN_OR_RETURN(Lease & lease, Borrow());
  pg::Conn& conn = *lease;
  TD_ASSIGN_OR_RETURN(
      pg::Rows & rows,
      conn.Query(TD_PG_SWEEP_SELECT "ORDER BY seq DESC LIMIT $1 OFFSET $2",
                 pg::Params().Add(PgLimit(limit)).Add(static_cast<int64_t>(offset))));
  std::vector<SweepInfo> out;
  out.reserve(static_cast<size_t>(rows.size()));
  for (int i = 0; i < rows.size(); ++i) {
    TD_ASSIGN_OR_RETURN(SweepInfo & info, ReadSweepInfo(conn, rows, i));
    out.push_back(std::move(info));
  }
  return out;
}

Result<TrialPage> PgStore::ListTrials(std::string_view id, const TrialQuery& query) {
  const SortKey* key = nullptr;
  for (const SortKey& k : kSortKeys) {
    if (k.key == query.sort) key = &k;
  }
  if (key == nullptr) {
    return MakeError(ErrorCode::kValidation, "cannot sort trials by '" + query.sort + "'",
                     {{"field", "sort"}, {"sort", query.sort}});
  }
  TD_ASSIGN_OR_RETURN(Lease & lease, Borrow());
  pg::Conn& conn = *lease;
  TD_ASSIGN_OR_RETURN(pg::Rows & rows, conn.Query(query.descending ? key->desc : key->asc,
                                                  pg::Params()
                                                      .Add(id)
                                                      .Add(static_cast<int64_t>(query.phase))
                                                      .Add(PgLimit(query.limit))
                                                      .Add(static_cast<int64_t>(query.offset))));
  TrialPage page;
  if (rows.size() == 0) {
    // Past the end of the records (or no such sweep): the total on its own.
    TD_ASSIGN_OR_RETURN(
        pg::Rows & sweep,
        conn.Query("SELECT s.seq, (SELECT count(*) FROM sweep_trials t WHERE t.sweep = s.seq "
                   "AND t.phase = $2) FROM sweeps s WHERE s.id = $1",
                   pg::Params().Add(id).Add(static_cast<int64_t>(query.phase))));
    if (sweep.size() == 0) return SweepNotFound(id);
    page.total = static_cast<size_t>(sweep.Int(0, 1));
    return page;
  }
  page.total = static_cast<size_t>(rows.Int(0, 6));
  if (rows.IsNull(0, 1)) return page;
  page.trials.reserve(static_cast<size_t>(rows.size()));
  for (int i = 0; i < rows.size(); ++i) {
    TD_ASSIGN_OR_RETURN(TrialRecord & t, ReadTrial(conn, rows, i, 1, std::nullopt));
    page.trials.push_back(std::move(t));
  }
  return page;
}

// LoadTrials and GetTrial read the sweep and its records in one statement (one snapshot): no row
// is an unknown sweep, one row with a NULL phase a sweep without such records.
Result<std::vector<TrialRecord>> PgStore::LoadTrials(std::string_view id, size_t phase,
                                                     bool with_returns) {
  TD_ASSIGN_OR_RETURN(Lease & lease, Borrow());
  pg::Conn& conn = *lease;
  TD_ASSIGN_OR_RETURN(
      pg::Rows & rows,
      conn.Query(with_returns
                     ? "SELECT s.seq, t.phase, t.idx, t.params, t.error, t.stats, r.returns "
                       "FROM sweeps s LEFT JOIN sweep_trials t ON t.sweep = s.seq AND "
                       "t.phase = $2 LEFT JOIN sweep_returns r ON r.sweep = t.sweep AND "
                       "r.phase = t.phase AND r.idx = t.idx WHERE s.id = $1 ORDER BY t.idx"
                     : "SELECT s.seq, t.phase, t.idx, t.params, t.error, t.stats "
                       "FROM sweeps s LEFT JOIN sweep_trials t ON t.sweep = s.seq AND "
                       "t.phase = $2 WHERE s.id = $1 ORDER BY t.idx",
                 pg::Params().Add(id).Add(static_cast<int64_t>(phase))));
  if (rows.size() == 0) return SweepNotFound(id);
  std::vector<TrialRecord> out;
  if (rows.IsNull(0, 1)) return out;
  out.reserve(static_cast<size_t>(rows.size()));
  for (int i = 0; i < rows.size(); ++i) {
    TD_ASSIGN_OR_RETURN(
        TrialRecord & t,
        ReadTrial(conn, rows, i, 1, with_returns ? std::optional<int>(6) : std::nullopt));
    out.push_back(std::move(t));
  }
  return out;
}

Result<TrialRecord> PgStore::GetTrial(std::string_view id, size_t phase, size_t index) {
  TD_ASSIGN_OR_RETURN(Lease & lease, Borrow());
  pg::Conn& conn = *lease;
  TD_ASSIGN_OR_RETURN(
      pg::Rows & rows,
      conn.Query(
          "SELECT s.seq, t.phase, t.idx, t.params, t.error, t.stats, r.returns "
          "FROM sweeps s LEFT JOIN sweep_trials t ON t.sweep = s.seq AND t.phase = $2 "
          "AND t.idx = $3 LEFT JOIN sweep_returns r ON r.sweep = t.sweep AND "
          "r.phase = t.phase AND r.idx = t.idx WHERE s.id = $1",
          pg::Params().Add(id).Add(static_cast<int64_t>(phase)).Add(static_cast<int64_t>(index))));
  if (rows.size() == 0) return SweepNotFound(id);
  if (rows.IsNull(0, 1)) {
    return MakeError(ErrorCode::kNotFound, "the sweep has no record of this trial",
                     {{"sweep", std::string(id)},
                      {"phase", std::to_string(phase)},
                      {"trial", std::to_string(index)}});
  }
  return ReadTrial(conn, rows, 0, 1, 6);
}

Status PgStore::DeleteSweep(std::string_view id) {
  TD_ASSIGN_OR_RETURN(Lease & lease, Borrow());
  pg::Conn& conn = *lease;
  TD_ASSIGN_OR_RETURN(pg::Txn & txn, pg::Txn::Begin(conn));
  // Its trials, returns and queued jobs go with it: ON DELETE CASCADE, inside this transaction.
  TD_ASSIGN_OR_RETURN(pg::Rows & deleted, conn.Query("DELETE FROM sweeps WHERE id = $1 "
                                                     "RETURNING pg_notify('tapedeck_sweep', id)",
                                                     pg::Params().Add(id)));
  if (deleted.size() == 0) return SweepNotFound(id);
  return txn.Commit();
}

}  // namespace tapedeck::store::internal
