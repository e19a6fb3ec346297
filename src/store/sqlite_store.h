// Internal to src/store: the SQLite implementation of Store, split over sqlite_store.cpp (opening,
// connections), sqlite_datasets.cpp, sqlite_runs.cpp, sqlite_sweeps.cpp and sqlite_scripts.cpp.
// See store.h for the contract.
//
// Connections: one writer, guarded by write_mu_, does every write inside a transaction (BEGIN
// IMMEDIATE). Readers borrow a connection from a small pool, so a 10 MB equity read never waits for
// a progress update and vice versa; WAL gives each read transaction a consistent snapshot. A
// background Checkpointer copies the WAL into the database, so no commit pays for that (and its
// fsyncs) inline.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "store/checkpointer.h"
#include "store/sqlite_db.h"
#include "store/store.h"

namespace tapedeck::store::internal {

// 16 lowercase hex digits of OS randomness.
std::string RandomHex64();
// IO naming `path` with errno's text (UNAVAILABLE for ENOSPC: space may come back).
Error ErrnoError(std::string msg, const std::string& path, int err);
// Keeps `source` under its SHA-256 `sha256` unless it is there already. REQUIRES: a write
// transaction is open on `db`.
Status InsertScriptSource(Db& db, std::string_view sha256, std::string_view source);
// IO: the database holds something this code never writes.
Error Corrupt(const Db& db, std::string what);
// A list of names as a JSON array, and back (damage reads as an empty list: only we write it).
std::string SymbolsToJson(const std::vector<std::string>& symbols);
std::vector<std::string> SymbolsFromJson(const std::string& text);
// The SHA-256 a run (or a sweep) of `spec` records: its inline script's, else the given one.
std::string RecordedSha256(const RunSpec& spec);
// Keeps `spec`'s inline script source (if any) under `sha256` (RecordedSha256). REQUIRES: a write
// transaction is open on `db`.
Status KeepInlineSource(Db& db, const RunSpec& spec, std::string_view sha256);

// Binds a failure's columns to an "UPDATE ... SET status = 'failed', error = ?2, finished_us = ?3,
// error_cause = ?4, error_line = ?5, error_bar_us = ?6 WHERE seq = ?1" (runs' and sweeps').
Stmt& BindFailure(Stmt& s, int64_t seq, const RunError& error, Timestamp now);

class SqliteStore final : public Store {
 public:
  // Takes ownership of `lock_fd` (the flock'd lock file), closed by the destructor.
  SqliteStore(std::string path, StoreOptions options, int lock_fd);
  ~SqliteStore() override;

  // Opens the writer (creating the database), sets WAL, migrates, starts the checkpointer and
  // cleans the data directory. Called once by OpenSqliteStore, before anyone else can use it.
  Status Init();

  // ---- Datasets ----

  Result<DatasetInfo> PutDataset(std::string_view name, const market::Series& bars) override;
  Result<DatasetInfo> GetDataset(std::string_view name) override;
  Result<std::vector<DatasetInfo>> ListDatasets() override;
  Result<market::Series> LoadBars(std::string_view name) override;
  Result<market::Series> LoadBarsBetween(std::string_view name, Timestamp from,
                                         Timestamp to) override;
  Status DeleteDataset(std::string_view name) override;

  // ---- Runs ----

  Result<std::string> CreateRun(const RunSpec& spec) override;
  // admit is called inside the run's transaction, under the write lock, before the durable
  // commit: a refusal rolls the run back.
  Result<std::string> CreateRunAdmitted(
      const RunSpec& spec, const std::function<Status(const std::string& id)>& admit) override;
  Status MarkRunning(std::string_view id) override;
  Status UpdateProgress(std::string_view id, double progress) override;
  Status CompleteRun(std::string_view id, const engine::RunResult& result) override;
  Status FailRun(std::string_view id, const RunError& error) override;
  Result<RunInfo> GetRun(std::string_view id) override;
  Result<std::vector<RunInfo>> ListRuns(size_t limit, size_t offset) override;
  Result<StatusCounts> CountRuns() override;
  Result<engine::RunResult> LoadRunResult(std::string_view id) override;
  Result<RunHead> LoadRunHead(std::string_view id, size_t max_bars) override;
  Result<std::vector<engine::Trade>> LoadTrades(std::string_view id) override;
  Status DeleteRun(std::string_view id) override;
  Result<size_t> RecoverOnStart() override;

  // ---- Sweeps (sqlite_sweeps.cpp) ----

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

  // ---- Strategy scripts (sqlite_scripts.cpp) ----

  Result<SavedScript> SaveScript(std::string_view name, std::string_view source,
                                 std::string_view params_json) override;
  Result<ScriptVersion> GetScript(std::string_view name, std::optional<int64_t> version) override;
  Result<std::vector<ScriptVersion>> ListScriptVersions(std::string_view name) override;
  Result<std::vector<ScriptVersion>> ListScripts() override;
  Result<std::string> GetScriptSource(std::string_view sha256) override;

 private:
  // Deletes dataset files no row names and rows whose file is gone (part of Init).
  Status CleanDataDir();
  // CreateRun and CreateRunAdmitted (`admit` may be null).
  Result<std::string> InsertRun(const RunSpec& spec,
                                const std::function<Status(const std::string& id)>* admit);

  // A reader connection on loan; goes back to the pool when destroyed.
  class Reader {
   public:
    Reader(SqliteStore* store, std::unique_ptr<Db> db) : store_(store), db_(std::move(db)) {}
    Reader(Reader&&) = default;
    ~Reader() {
      if (db_) store_->ReturnReader(std::move(db_));
    }
    Db& operator*() { return *db_; }
    Db* operator->() { return db_.get(); }

   private:
    SqliteStore* store_;
    std::unique_ptr<Db> db_;
  };

  Result<Reader> BorrowReader();
  void ReturnReader(std::unique_ptr<Db> db);

  // CountRuns and CountSweeps: `sql` selects (status, count) rows.
  Result<StatusCounts> CountByStatus(const char* sql);

  // The full path of the file holding dataset `name`'s bars. Errors: NOT_FOUND.
  Result<std::string> DatasetFile(std::string_view name);

  Timestamp Now() const {
    if (options_.now) return options_.now();
    return std::chrono::time_point_cast<Micros>(std::chrono::system_clock::now());
  }
  std::string DataPath(const std::string& file) const {
    return (std::filesystem::path(options_.data_dir) / file).string();
  }

  // The run's seq and status inside the writer's open transaction. REQUIRES: write_mu_ held.
  Result<std::pair<int64_t, RunStatus>> LockedRunState(std::string_view id);
  // The sweep's seq and status inside the writer's open transaction. REQUIRES: write_mu_ held.
  Result<std::pair<int64_t, SweepStatus>> LockedSweepState(std::string_view id);
  // Reads the run's seq and status on `db`, and checks it has a result (status done).
  Result<int64_t> DoneRunSeq(Db& db, std::string_view id);

  const std::string path_;
  const StoreOptions options_;
  const int lock_fd_;

  std::mutex write_mu_;
  std::unique_ptr<Db> writer_;  // GUARDED_BY(write_mu_)
  std::unique_ptr<Checkpointer> checkpointer_;

  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Db>> idle_readers_;  // GUARDED_BY(pool_mu_)

  std::mutex verified_mu_;
  std::set<std::string> verified_files_;  // GUARDED_BY(verified_mu_): checksum passed

  // The series of the datasets loaded last, by file, most recent first: a later LoadBars of one
  // is a copy of its handle, and the mapping stays with its pages already faulted in, instead of
  // a new mapping whose every page the next run faults in again. Files never change once named
  // by a row, and names are random, so an entry is never stale; DeleteDataset drops its own.
  // At most kBarsCacheEntries series and kBarsCacheBars bars in all.
  static constexpr size_t kBarsCacheEntries = 4;
  static constexpr size_t kBarsCacheBars = 4'000'000;
  std::mutex bars_mu_;
  std::list<std::pair<std::string, market::Series>> bars_cache_;  // GUARDED_BY(bars_mu_)
};

}  // namespace tapedeck::store::internal
