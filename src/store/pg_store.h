// Internal to src/store: the PostgreSQL implementation of Store, for a deployment whose every
// process (serve nodes, workers) shares one database. Split over pg_store.cpp (opening, the
// connection pool, the schema: pg_schema.cpp), pg_datasets.cpp, pg_runs.cpp, pg_sweeps.cpp and
// pg_scripts.cpp. See store.h for the contract, which is the same as SQLite's except where noted
// on OpenPostgresStore.
//
// Connections: a small pool of pg::Conn (pg_db.h), each used by one thread at a time; a call
// borrows one for its statements (and its transaction) and gives it back. Every commit is durable
// (PostgreSQL's synchronous_commit default), so StoreOptions::durable_commits changes nothing.
//
// Notifications: a transaction that ends a run (done or failed) sends NOTIFY tapedeck_run with
// the run's id; one that changes a sweep (running, trials stored, done, failed, deleted) sends
// NOTIFY tapedeck_sweep with the sweep's id. Payloads are ids only. (NOTIFY is delivered on
// commit, so a listener never hears of a change it cannot read.)
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "store/pg_db.h"
#include "store/store.h"

namespace tapedeck::store::internal {

// The PostgreSQL schema's version this build writes (table tapedeck_schema).
inline constexpr int kPgSchemaVersion = 4;

// Creates or upgrades the schema under an advisory lock, so that nodes starting together do not
// race; a database newer than this build is refused (IO, details `schema_version`).
Status MigratePg(pg::Conn& conn);

class PgStore final : public Store {
 public:
  PgStore(std::string url, StoreOptions options, pg::Options pg_options);
  ~PgStore() override;

  // Opens the first connection and migrates the schema. Called once by OpenPostgresStore.
  Status Init();

  // ---- Datasets (pg_datasets.cpp) ----

  Result<DatasetInfo> PutDataset(std::string_view name, const market::Series& bars) override;
  Result<DatasetInfo> GetDataset(std::string_view name) override;
  Result<std::vector<DatasetInfo>> ListDatasets() override;
  Result<market::Series> LoadBars(std::string_view name) override;
  Result<market::Series> LoadBarsBetween(std::string_view name, Timestamp from,
                                         Timestamp to) override;
  Status DeleteDataset(std::string_view name) override;

  // ---- Runs (pg_runs.cpp) ----

  Result<std::string> CreateRun(const RunSpec& spec) override;
  Status MarkRunning(std::string_view id) override;
  Status UpdateProgress(std::string_view id, double progress) override;
  Status CompleteRun(std::string_view id, const engine::RunResult& result) override;
  Status FailRun(std::string_view id, const RunError& error) override;
  Result<RunInfo> GetRun(std::string_view id) override;
  Result<std::vector<RunInfo>> ListRuns(size_t limit, size_t offset) override;
  Result<StatusCounts> CountRuns() override;
  Result<engine::RunResult> LoadRunResult(std::string_view id) override;
  Result<engine::RunResult> LoadRunResultInPieces(std::string_view id,
                                                  const std::function<void()>& between) override;
  Result<RunHead> LoadRunHead(std::string_view id, size_t max_bars) override;
  Result<RunAndHead> GetRunAndHead(std::string_view id, size_t max_bars) override;
  Result<std::vector<engine::Trade>> LoadTrades(std::string_view id) override;
  Status DeleteRun(std::string_view id) override;
  Result<size_t> RecoverOnStart() override;

  // ---- Sweeps (pg_sweeps.cpp) ----

  Result<std::string> CreateSweep(const SweepSpec& spec) override;
  Status MarkSweepRunning(std::string_view id) override;
  Status PutTrials(std::string_view id, std::span<const TrialRecord> trials) override;
  Status CompleteSweep(std::string_view id, std::string_view summary_json) override;
  Status FailSweep(std::string_view id, const RunError& error) override;
  Result<SweepInfo> GetSweep(std::string_view id) override;
  Result<std::vector<SweepInfo>> ListSweeps(size_t limit, size_t offset) override;
  Result<StatusCounts> CountSweeps() override;
  Result<TrialPage> ListTrials(std::string_view id, const TrialQuery& query) override;
  Result<std::vector<TrialRecord>> LoadTrials(std::string_view id, size_t phase,
                                              bool with_returns) override;
  Result<TrialRecord> GetTrial(std::string_view id, size_t phase, size_t index) override;
  Status DeleteSweep(std::string_view id) override;

  // ---- Strategy scripts (pg_scripts.cpp) ----

  Result<SavedScript> SaveScript(std::string_view name, std::string_view source,
                                 std::string_view params_json) override;
  Result<ScriptVersion> GetScript(std::string_view name, std::optional<int64_t> version) override;
  Result<std::vector<ScriptVersion>> ListScriptVersions(std::string_view name) override;
  Result<std::vector<ScriptVersion>> ListScripts() override;
  Result<std::string> GetScriptSource(std::string_view sha256) override;

  // A connection on loan from the pool; goes back when destroyed. (Also for pg_migrate.cpp.)
  class Lease {
   public:
    Lease(PgStore* store, std::unique_ptr<pg::Conn> conn) : store_(store), conn_(std::move(conn)) {}
    Lease(Lease&&) = default;
    ~Lease() {
      if (conn_) store_->Return(std::move(conn_));
    }
    pg::Conn& operator*() { return *conn_; }
    pg::Conn* operator->() { return conn_.get(); }

   private:
    PgStore* store_;
    std::unique_ptr<pg::Conn> conn_;
  };
  // Waits for an idle connection (or opens one, up to the pool's size).
  Result<Lease> Borrow();

  // CountRuns and CountSweeps: `sql` selects (status, count) rows.
  Result<StatusCounts> CountByStatus(const char* sql);

  // The database's postgresql:// URL, as opened.
  const std::string& url() const { return url_; }

  Timestamp Now() const {
    if (options_.now) return options_.now();
    return std::chrono::time_point_cast<Micros>(std::chrono::system_clock::now());
  }

 private:
  void Return(std::unique_ptr<pg::Conn> conn);

  const std::string url_;
  const StoreOptions options_;
  const pg::Options pg_options_;

  // Parsed bars by dataset name (pg_datasets.cpp): the checksum pass and the copy out of the
  // database are paid once per process and dataset. An entry is good while the row it came from
  // is: same xmin (the inserting transaction) and created_us, so a dataset deleted and put again
  // under its name by another process is read afresh. Least recently used entries go past a
  // total size.
  struct CachedBars {
    int64_t xmin = 0;
    int64_t created_us = 0;
    market::Series bars;
    uint64_t used = 0;  // bars_tick_ at the last use
  };
  std::mutex bars_mu_;
  std::map<std::string, CachedBars, std::less<>> bars_;  // GUARDED_BY(bars_mu_)
  size_t bars_bytes_ = 0;                                // GUARDED_BY(bars_mu_)
  uint64_t bars_tick_ = 0;                               // GUARDED_BY(bars_mu_)
  void CacheBars(std::string_view name, int64_t xmin, int64_t created_us, market::Series bars);

  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<pg::Conn>> idle_;  // GUARDED_BY(pool_mu_)
  size_t open_ = 0;                              // GUARDED_BY(pool_mu_): idle + on loan
};

}  // namespace tapedeck::store::internal
