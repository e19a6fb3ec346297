// SqliteStore: sweeps (schema v7). A sweep is a row in `sweeps`; each trial run's record is a row
// of sweep_trials (statistics packed, plus a REAL column per sortable key) and, for a phase-0
// trial with daily returns, one of sweep_returns. See schema.cpp's version 7.
//
// Durability: CreateSweep, CompleteSweep, FailSweep and DeleteSweep are durable commits (a client
// is told about them); MarkSweepRunning and PutTrials stay NORMAL — a crash that takes one back
// leaves the sweep queued or running, which RecoverOnStart fails as interrupted anyway.
#include <array>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "store/packing.h"
#include "store/sqlite_store.h"
#include "store/rows_common.h"

namespace tapedeck::store {

std::string_view ToString(SweepStatus status) {
  switch (status) {
    case SweepStatus::kQueued:
      return "queued";
    case SweepStatus::kRunning:
      return "running";
    case SweepStatus::kDone:
      return "done";
    case SweepStatus::kFailed:
      return "failed";
  }
  return "queued";
}

}  // namespace tapedeck::store

namespace tapedeck::store::internal {
namespace {

#define TD_SWEEP_SELECT                                                                          \
  "SELECT id, dataset, datasets, symbols, strategy, strategy_version, strategy_sha256, cash, "   \
  "commission, fixed_fee, slippage, allow_short, from_us, to_us, plan, request, trials, tasks, " \
  "status, done, error, error_cause, error_line, error_bar_us, created_us, started_us, "         \
  "finished_us, summary FROM sweeps "

Result<SweepInfo> ReadSweepInfo(const Db& db, const Stmt& s) {
  SweepInfo w;
  w.id = s.Text(0);
  RunSpec& b = w.spec.base;
  b.dataset = s.Text(1);
  b.datasets = SymbolsFromJson(s.Text(2));
  if (b.datasets.empty()) b.datasets = {b.dataset};
  b.symbols = SymbolsFromJson(s.Text(3));
  b.strategy = s.Text(4);
  b.strategy_version = s.OptInt(5);
  b.strategy_sha256 = s.Text(6);
  b.config.cash = s.Double(7);
  b.config.costs.commission = s.Double(8);
  b.config.costs.fixed_fee = s.Double(9);
  b.config.costs.slippage = s.Double(10);
  b.config.allow_short = s.Int(11) != 0;
  if (auto v = s.OptInt(12)) b.from = FromMicros(*v);
  if (auto v = s.OptInt(13)) b.to = FromMicros(*v);
  w.spec.plan_json = s.Text(14);
  w.spec.request_json = s.Text(15);
  b.request_json = w.spec.request_json;
  w.spec.trials = static_cast<size_t>(s.Int(16));
  w.spec.tasks = static_cast<size_t>(s.Int(17));
  const std::optional<SweepStatus> status = ParseSweepStatus(s.Text(18));
  if (!status) return Corrupt(db, "sweep " + w.id + " has status '" + s.Text(18) + "'");
  w.status = *status;
  w.done = static_cast<size_t>(s.Int(19));
  w.error.msg = s.Text(20);
  w.error.cause = s.Text(21);
  w.error.line = s.OptInt(22);
  if (auto v = s.OptInt(23)) w.error.bar_time = FromMicros(*v);
  w.created = FromMicros(s.Int(24));
  if (auto v = s.OptInt(25)) w.started = FromMicros(*v);
  if (auto v = s.OptInt(26)) w.finished = FromMicros(*v);
  w.summary_json = s.Text(27);
  return w;
}

// The sort keys of ListTrials and their statements (string literals: Prepare caches by address).
// By index: in index order, failed trials among the others. By a statistic: failed trials (stats
// NULL) last, then missing values (NaN, stored as NULL), then ties by index.
#define TD_TRIAL_SELECT \
  "SELECT phase, idx, params, error, stats FROM sweep_trials WHERE sweep = ?1 AND phase = ?2 "
#define TD_TRIAL_PAGE TD_TRIAL_SELECT "ORDER BY stats IS NULL, "
#define TD_TRIAL_LIMIT " LIMIT ?3 OFFSET ?4"
#define TD_TRIAL_SORT(col)                                              \
  SortKey {                                                             \
    col, TD_TRIAL_PAGE col " IS NULL, " col " ASC, idx" TD_TRIAL_LIMIT, \
        TD_TRIAL_PAGE col " IS NULL, " col " DESC, idx" TD_TRIAL_LIMIT  \
  }

struct SortKey {
  std::string_view key;
  const char* asc;
  const char* desc;
};

constexpr std::array kSortKeys = {
    SortKey{"index", TD_TRIAL_SELECT "ORDER BY idx ASC" TD_TRIAL_LIMIT,
            TD_TRIAL_SELECT "ORDER BY idx DESC" TD_TRIAL_LIMIT},
    TD_TRIAL_SORT("bars"),
    TD_TRIAL_SORT("fills"),
    TD_TRIAL_SORT("trades"),
    TD_TRIAL_SORT("start_equity"),
    TD_TRIAL_SORT("final_equity"),
    TD_TRIAL_SORT("total_return"),
    TD_TRIAL_SORT("cagr"),
    TD_TRIAL_SORT("volatility"),
    TD_TRIAL_SORT("sharpe"),
    TD_TRIAL_SORT("sortino"),
    TD_TRIAL_SORT("calmar"),
    TD_TRIAL_SORT("max_drawdown"),
    TD_TRIAL_SORT("max_drawdown_duration_s"),
    TD_TRIAL_SORT("win_rate"),
    TD_TRIAL_SORT("profit_factor"),
    TD_TRIAL_SORT("expectancy"),
    TD_TRIAL_SORT("exposure"),
    TD_TRIAL_SORT("buy_and_hold_return"),
};

// A trial record from columns phase, idx, params, error, stats (and returns at `returns_col`).
Result<TrialRecord> ReadTrial(const Db& db, const Stmt& s, std::optional<int> returns_col) {
  TrialRecord t;
  t.phase = static_cast<size_t>(s.Int(0));
  t.index = static_cast<size_t>(s.Int(1));
  t.params_json = s.Text(2);
  t.error = s.Text(3);
  if (!s.IsNull(4)) {
    auto stats = UnpackStats(s.Blob(4));
    if (!stats.ok()) return Corrupt(db, stats.error().msg);
    t.stats = *stats;
  }
  if (returns_col && !s.IsNull(*returns_col)) {
    auto returns = UnpackDailyReturns(s.Blob(*returns_col));
    if (!returns.ok()) return Corrupt(db, returns.error().msg);
    t.returns = std::move(returns).value();
  }
  return t;
}

// The sweep's seq on a reader, NOT_FOUND when there is none.
Result<int64_t> SweepSeq(Db& db, std::string_view id) {
  TD_ASSIGN_OR_RETURN(Stmt & s, db.Prepare("SELECT seq FROM sweeps WHERE id = ?1"));
  s.Bind(1, id);
  TD_ASSIGN_OR_RETURN(const bool row, s.Step());
  if (!row) return SweepNotFound(id);
  return s.Int(0);
}

int64_t SqlLimit(size_t limit) {
  return limit == 0 ? int64_t{-1} : static_cast<int64_t>(limit);  // -1: SQLite's "no limit"
}

}  // namespace

Result<std::string> SqliteStore::CreateSweep(const SweepSpec& spec) {
  const RunSpec& b = spec.base;
  const std::string symbols = SymbolsToJson(b.symbols);
  const std::string datasets =
      SymbolsToJson(b.datasets.empty() ? std::vector<std::string>{b.dataset} : b.datasets);
  const std::string sha256 = RecordedSha256(b);
  std::lock_guard lock(write_mu_);
  Db& db = *writer_;
  // Durable: the 202 that follows promises the sweep exists.
  TD_ASSIGN_OR_RETURN(Txn & txn, Txn::BeginDurable(db));
  TD_TRY(KeepInlineSource(db, b, sha256));
  for (int attempt = 0; attempt < 4; ++attempt) {
    std::string id = RandomHex64();
    TD_ASSIGN_OR_RETURN(
        Stmt & s,
        db.Prepare("INSERT INTO sweeps(id, dataset, datasets, symbols, strategy, "
                   "strategy_version, strategy_sha256, cash, commission, fixed_fee, slippage, "
                   "allow_short, from_us, to_us, plan, request, trials, tasks, status, "
                   "created_us) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
                   "?14, ?15, ?16, ?17, ?18, 'queued', ?19) ON CONFLICT(id) DO NOTHING"));
    std::optional<int64_t> from, to;
    if (b.from) from = ToMicros(*b.from);
    if (b.to) to = ToMicros(*b.to);
    TD_TRY(s.Bind(1, std::string_view(id))
               .Bind(2, std::string_view(b.dataset))
               .Bind(3, std::string_view(datasets))
               .Bind(4, std::string_view(symbols))
               .Bind(5, std::string_view(b.strategy))
               .Bind(6, b.strategy_version)
               .Bind(7, std::string_view(sha256))
               .Bind(8, b.config.cash)
               .Bind(9, b.config.costs.commission)
               .Bind(10, b.config.costs.fixed_fee)
               .Bind(11, b.config.costs.slippage)
               .Bind(12, static_cast<int64_t>(b.config.allow_short))
               .Bind(13, from)
               .Bind(14, to)
               .Bind(15, std::string_view(spec.plan_json))
               .Bind(16, std::string_view(spec.request_json))
               .Bind(17, static_cast<int64_t>(spec.trials))
               .Bind(18, static_cast<int64_t>(spec.tasks))
               .Bind(19, ToMicros(Now()))
               .Run());
    if (db.Changes() == 1) {
      TD_TRY(txn.Commit());
      return id;
    }
  }
  return MakeError(ErrorCode::kInternal, "could not draw a fresh sweep id");
}

Result<std::pair<int64_t, SweepStatus>> SqliteStore::LockedSweepState(std::string_view id) {
  Db& db = *writer_;
  TD_ASSIGN_OR_RETURN(Stmt & s, db.Prepare("SELECT seq, status FROM sweeps WHERE id = ?1"));
  s.Bind(1, id);
  TD_ASSIGN_OR_RETURN(const bool row, s.Step());
  if (!row) return SweepNotFound(id);
  const std::optional<SweepStatus> status = ParseSweepStatus(s.Text(1));
  if (!status) return Corrupt(db, "sweep " + std::string(id) + " has a bad status");
  return std::pair{s.Int(0), *status};
}

Status SqliteStore::MarkSweepRunning(std::string_view id) {
  std::lock_guard lock(write_mu_);
  Db& db = *writer_;
  TD_ASSIGN_OR_RETURN(Txn & txn, Txn::Begin(db, /*write=*/true));
  TD_ASSIGN_OR_RETURN(const auto state, LockedSweepState(id));
  if (state.second != SweepStatus::kQueued) return BadTransition(id, state.second, "start");
  {
    TD_ASSIGN_OR_RETURN(Stmt & s, db.Prepare("UPDATE sweeps SET status = 'running', "
                                             "started_us = ?2 WHERE seq = ?1"));
    TD_TRY(s.Bind(1, state.first).Bind(2, ToMicros(Now())).Run());
  }
  return txn.Commit();
}

Status SqliteStore::PutTrials(std::string_view id, std::span<const TrialRecord> trials) {
  // Packed before taking the write lock: other writers wait only for the database work.
  struct Packed {
    std::vector<std::byte> stats;  // empty: failed
    std::vector<std::byte> returns;
  };
  std::vector<Packed> packed(trials.size());
  for (size_t i = 0; i < trials.size(); ++i) {
    if (trials[i].stats) packed[i].stats = PackStats(*trials[i].stats);
    packed[i].returns = PackDailyReturns(trials[i].returns);
  }
  std::lock_guard lock(write_mu_);
  Db& db = *writer_;
  // NORMAL, not durable: losing a batch to a power cut leaves the sweep running, which
  // RecoverOnStart fails as interrupted.
  TD_ASSIGN_OR_RETURN(Txn & txn, Txn::Begin(db, /*write=*/true));
  TD_ASSIGN_OR_RETURN(const auto state, LockedSweepState(id));
  const auto [seq, status] = state;
  if (status != SweepStatus::kRunning) return BadTransition(id, status, "record trials");
  {
    TD_ASSIGN_OR_RETURN(
        Stmt & ins,
        db.Prepare("INSERT INTO sweep_trials(sweep, phase, idx, params, error, stats, bars, "
                   "fills, trades, start_equity, final_equity, total_return, cagr, volatility, "
                   "sharpe, sortino, calmar, max_drawdown, max_drawdown_duration_s, win_rate, "
                   "profit_factor, expectancy, exposure, buy_and_hold_return) VALUES(?1, ?2, "
                   "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
                   "?19, ?20, ?21, ?22, ?23, ?24) ON CONFLICT DO NOTHING"));
    TD_ASSIGN_OR_RETURN(Stmt & ret, db.Prepare("INSERT INTO sweep_returns(sweep, phase, idx, "
                                               "days, returns) VALUES(?1, ?2, ?3, ?4, ?5)"));
    for (size_t i = 0; i < trials.size(); ++i) {
      const TrialRecord& t = trials[i];
      const auto phase = static_cast<int64_t>(t.phase);
      const auto idx = static_cast<int64_t>(t.index);
      ins.Reset();
      ins.Bind(1, seq)
          .Bind(2, phase)
          .Bind(3, idx)
          .Bind(4, std::string_view(t.params_json))
          .Bind(5, std::string_view(t.error));
      if (t.stats) {
        const engine::Stats& st = *t.stats;
        ins.BindBlob(6, packed[i].stats)
            .Bind(7, static_cast<double>(st.bars))
            .Bind(8, static_cast<double>(st.fills))
            .Bind(9, static_cast<double>(st.trades))
            .Bind(10, st.start_equity)
            .Bind(11, st.final_equity)
            .Bind(12, st.total_return)
            .Bind(13, st.cagr)
            .Bind(14, st.volatility)
            .Bind(15, st.sharpe)
            .Bind(16, st.sortino)
            .Bind(17, st.calmar)
            .Bind(18, st.max_drawdown)
            .Bind(19, std::chrono::duration<double>(st.max_drawdown_duration).count())
            .Bind(20, st.win_rate)
            .Bind(21, st.profit_factor)
            .Bind(22, st.expectancy)
            .Bind(23, st.exposure)
            .Bind(24, st.buy_and_hold_return);
      } else {
        for (int p = 6; p <= 24; ++p) ins.BindNull(p);
      }
      TD_TRY(ins.Run());
      if (db.Changes() != 1) {
        // The transaction rolls back: nothing of this batch is written.
        return MakeError(ErrorCode::kConflict, "the sweep has a record of this trial already",
                         {{"sweep", std::string(id)},
                          {"phase", std::to_string(t.phase)},
                          {"trial", std::to_string(t.index)}});
      }
      if (!t.returns.empty()) {
        ret.Reset();
        TD_TRY(ret.Bind(1, seq)
                   .Bind(2, phase)
                   .Bind(3, idx)
                   .Bind(4, static_cast<int64_t>(t.returns.size()))
                   .BindBlob(5, packed[i].returns)
                   .Run());
      }
    }
  }
  {
    TD_ASSIGN_OR_RETURN(Stmt & s, db.Prepare("UPDATE sweeps SET done = done + ?2 WHERE seq = ?1"));
    TD_TRY(s.Bind(1, seq).Bind(2, static_cast<int64_t>(trials.size())).Run());
  }
  return txn.Commit();
}

Status SqliteStore::CompleteSweep(std::string_view id, std::string_view summary_json) {
  std::lock_guard lock(write_mu_);
  Db& db = *writer_;
  TD_ASSIGN_OR_RETURN(Txn & txn, Txn::BeginDurable(db));
  TD_ASSIGN_OR_RETURN(const auto state, LockedSweepState(id));
  if (state.second != SweepStatus::kRunning) return BadTransition(id, state.second, "complete");
  {
    TD_ASSIGN_OR_RETURN(Stmt & s, db.Prepare("UPDATE sweeps SET status = 'done', summary = ?2, "
                                             "finished_us = ?3 WHERE seq = ?1"));
    TD_TRY(s.Bind(1, state.first).Bind(2, summary_json).Bind(3, ToMicros(Now())).Run());
  }
  return txn.Commit();
}

Status SqliteStore::FailSweep(std::string_view id, const RunError& error) {
  if (error.msg.empty()) {
    return MakeError(ErrorCode::kValidation, "a failed sweep needs a message",
                     {{"field", "error"}});
  }
  std::lock_guard lock(write_mu_);
  Db& db = *writer_;
  TD_ASSIGN_OR_RETURN(Txn & txn, Txn::BeginDurable(db));
  TD_ASSIGN_OR_RETURN(const auto state, LockedSweepState(id));
  if (state.second != SweepStatus::kQueued && state.second != SweepStatus::kRunning) {
    return BadTransition(id, state.second, "fail");
  }
  {
    TD_ASSIGN_OR_RETURN(Stmt & s, db.Prepare("UPDATE sweeps SET status = 'failed', error = ?2, "
                                             "finished_us = ?3, error_cause = ?4, "
                                             "error_line = ?5, error_bar_us = ?6 WHERE seq = ?1"));
    TD_TRY(BindFailure(s, state.first, error, Now()).Run());
  }
  return txn.Commit();
}

Result<SweepInfo> SqliteStore::GetSweep(std::string_view id) {
  TD_ASSIGN_OR_RETURN(Reader & db, BorrowReader());
  TD_ASSIGN_OR_RETURN(Stmt & s, db->Prepare(TD_SWEEP_SELECT "WHERE id = ?1"));
  s.Bind(1, id);
  TD_ASSIGN_OR_RETURN(const bool row, s.Step());
  if (!row) return SweepNotFound(id);
  return ReadSweepInfo(*db, s);
}

Result<std::vector<SweepInfo>> SqliteStore::ListSweeps(size_t limit, size_t offset) {
  TD_ASSIGN_OR_RETURN(Reader & db, BorrowReader());
  TD_ASSIGN_OR_RETURN(Stmt & s,
                      db->Prepare(TD_SWEEP_SELECT "ORDER BY seq DESC LIMIT ?1 OFFSET ?2"));
  s.Bind(1, SqlLimit(limit)).Bind(2, static_cast<int64_t>(offset));
  std::vector<SweepInfo> out;
  for (;;) {
    TD_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    TD_ASSIGN_OR_RETURN(SweepInfo info, ReadSweepInfo(*db, s));
    out.push_back(std::move(info));
  }
  return out;
}

Result<TrialPage> SqliteStore::ListTrials(std::string_view id, const TrialQuery& query) {
  const SortKey* key = nullptr;
  for (const SortKey& k : kSortKeys) {
    if (k.key == query.sort) key = &k;
  }
  if (key == nullptr) {
    return MakeError(ErrorCode::kValidation, "cannot sort trials by '" + query.sort + "'",
                     {{"field", "sort"}, {"sort", query.sort}});
  }
  TD_ASSIGN_OR_RETURN(Reader & reader, BorrowReader());
  Db& db = *reader;
  // One snapshot: the total and the page agree.
  TD_ASSIGN_OR_RETURN(Txn & txn, Txn::Begin(db, /*write=*/false));
  TD_ASSIGN_OR_RETURN(const int64_t seq, SweepSeq(db, id));
  TrialPage page;
  {
    TD_ASSIGN_OR_RETURN(Stmt & s, db.Prepare("SELECT COUNT(*) FROM sweep_trials "
                                             "WHERE sweep = ?1 AND phase = ?2"));
    s.Bind(1, seq).Bind(2, static_cast<int64_t>(query.phase));
    TD_ASSIGN_OR_RETURN(const bool row, s.Step());
    page.total = row ? static_cast<size_t>(s.Int(0)) : 0;
  }
  {
    TD_ASSIGN_OR_RETURN(Stmt & s, db.Prepare(query.descending ? key->desc : key->asc));
    s.Bind(1, seq)
        .Bind(2, static_cast<int64_t>(query.phase))
        .Bind(3, SqlLimit(query.limit))
        .Bind(4, static_cast<int64_t>(query.offset));
    for (;;) {
      TD_ASSIGN_OR_RETURN(const bool row, s.Step());
      if (!row) break;
      TD_ASSIGN_OR_RETURN(TrialRecord t, ReadTrial(db, s, std::nullopt));
      page.trials.push_back(std::move(t));
    }
  }
  TD_TRY(txn.Commit());
  return page;
}

Result<std::vector<TrialRecord>> SqliteStore::LoadTrials(std::string_view id, size_t phase,
                                                         bool with_returns) {
  TD_ASSIGN_OR_RETURN(Reader & reader, BorrowReader());
  Db& db = *reader;
  TD_ASSIGN_OR_RETURN(Txn & txn, Txn::Begin(db, /*write=*/false));
  TD_ASSIGN_OR_RETURN(const int64_t seq, SweepSeq(db, id));
  std::vector<TrialRecord> out;
  {
    TD_ASSIGN_OR_RETURN(
        Stmt & s,
        db.Prepare(with_returns
                       ? "SELECT t.phase, t.idx, t.params, t.error, t.stats, r.returns "
                         "FROM sweep_trials t LEFT JOIN sweep_returns r ON r.sweep = t.sweep "
                         "AND r.phase = t.phase AND r.idx = t.idx "
                         "WHERE t.sweep = ?1 AND t.phase = ?2 ORDER BY t.idx"
                       : "SELECT phase, idx, params, error, stats FROM sweep_trials "
                         "WHERE sweep = ?1 AND phase = ?2 ORDER BY idx"));
    s.Bind(1, seq).Bind(2, static_cast<int64_t>(phase));
    for (;;) {
      TD_ASSIGN_OR_RETURN(const bool row, s.Step());
      if (!row) break;
      TD_ASSIGN_OR_RETURN(TrialRecord t,
                          ReadTrial(db, s, with_returns ? std::optional<int>(5) : std::nullopt));
      out.push_back(std::move(t));
    }
  }
  TD_TRY(txn.Commit());
  return out;
}

Result<TrialRecord> SqliteStore::GetTrial(std::string_view id, size_t phase, size_t index) {
  TD_ASSIGN_OR_RETURN(Reader & reader, BorrowReader());
  Db& db = *reader;
  TD_ASSIGN_OR_RETURN(Txn & txn, Txn::Begin(db, /*write=*/false));
  TD_ASSIGN_OR_RETURN(const int64_t seq, SweepSeq(db, id));
  TrialRecord t;
  {
    TD_ASSIGN_OR_RETURN(
        Stmt & s, db.Prepare("SELECT t.phase, t.idx, t.params, t.error, t.stats, r.returns "
                             "FROM sweep_trials t LEFT JOIN sweep_returns r ON r.sweep = t.sweep "
                             "AND r.phase = t.phase AND r.idx = t.idx "
                             "WHERE t.sweep = ?1 AND t.phase = ?2 AND t.idx = ?3"));
    s.Bind(1, seq).Bind(2, static_cast<int64_t>(phase)).Bind(3, static_cast<int64_t>(index));
    TD_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) {
      return MakeError(ErrorCode::kNotFound, "the sweep has no record of this trial",
                       {{"sweep", std::string(id)},
                        {"phase", std::to_string(phase)},
                        {"trial", std::to_string(index)}});
    }
    TD_ASSIGN_OR_RETURN(TrialRecord & read, ReadTrial(db, s, 5));
    t = std::move(read);
  }
  TD_TRY(txn.Commit());
  return t;
}

Status SqliteStore::DeleteSweep(std::string_view id) {
  std::lock_guard lock(write_mu_);
  Db& db = *writer_;
  TD_ASSIGN_OR_RETURN(Txn & txn, Txn::BeginDurable(db));
  {
    // Its trials and returns go with it: ON DELETE CASCADE, inside this transaction.
    TD_ASSIGN_OR_RETURN(Stmt & s, db.Prepare("DELETE FROM sweeps WHERE id = ?1"));
    TD_TRY(s.Bind(1, id).Run());
  }
  if (db.Changes() == 0) return SweepNotFound(id);
  return txn.Commit();
}

}  // namespace tapedeck::store::internal
