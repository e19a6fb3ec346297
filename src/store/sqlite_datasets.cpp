// SqliteStore: datasets. Bars live in series files in the data directory, metadata in `datasets`.
#include <filesystem>
#include <mutex>
#include <set>
#include <string>

#include "store/sqlite_store.h"

namespace tapedeck::store::internal {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxNameBytes = 200;
// Dataset files are named "ds-<16 hex>.bars"; anything in the data directory starting with the
// prefix and not named by a row (including a writer's temporary file) is debris of a crash.
constexpr std::string_view kDatasetFilePrefix = "ds-";
constexpr std::string_view kDatasetFileSuffix = ".bars";

Error DatasetNotFound(std::string_view name) {
  return MakeError(ErrorCode::kNotFound, "no dataset has this name",
                   {{"dataset", std::string(name)}});
}

// ---- Column lists shared by the SELECTs (macros: the statement cache keys on literal addresses).

#define TD_DATASET_COLUMNS "name, symbol, bars, from_us, to_us, created_us, file"

DatasetInfo ReadDataset(const Stmt& s) {
  DatasetInfo d;
  d.name = s.Text(0);
  d.symbol = s.Text(1);
  d.bars = static_cast<size_t>(s.Int(2));
  d.from = FromMicros(s.Int(3));
  d.to = FromMicros(s.Int(4));
  d.created = FromMicros(s.Int(5));
  return d;
}

}  // namespace

Status SqliteStore::CleanDataDir() {
  std::lock_guard lock(write_mu_);
  Db& db = *writer_;
  TD_ASSIGN_OR_RETURN(Txn & txn, Txn::BeginDurable(db));
  std::set<std::string> named;
  std::vector<std::string> missing;  // rows whose file is gone
  {
    TD_ASSIGN_OR_RETURN(Stmt & s, db.Prepare("SELECT name, file FROM datasets"));
    for (;;) {
      TD_ASSIGN_OR_RETURN(const bool row, s.Step());
      if (!row) break;
      std::string file = s.Text(1);
      std::error_code ec;
      if (!fs::is_regular_file(DataPath(file), ec)) missing.push_back(s.Text(0));
      named.insert(std::move(file));
    }
  }
  for (const std::string& name : missing) {
    TD_ASSIGN_OR_RETURN(Stmt & s, db.Prepare("DELETE FROM datasets WHERE name = ?1"));
    TD_TRY(s.Bind(1, std::string_view(name)).Run());
  }
  TD_TRY(txn.Commit());

  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(options_.data_dir, ec)) {
    const std::string file = e.path().filename().string();
    if (!file.starts_with(kDatasetFilePrefix) || named.contains(file)) continue;
    std::error_code rm_ec;
    fs::remove(e.path(), rm_ec);  // best effort: debris left now is retried at the next open
  }
  if (ec) {
    return MakeError(ErrorCode::kIo, "cannot list the data directory",
                     {{"path", options_.data_dir}, {"errno", ec.message()}});
  }
  return Ok();
}

Result<DatasetInfo> SqliteStore::PutDataset(std::string_view name, const market::Series& bars) {
  if (name.empty() || name.size() > kMaxNameBytes) {
    return MakeError(ErrorCode::kValidation, "a dataset name must be 1 to 200 bytes",
                     {{"field", "name"}});
  }
  if (bars.empty()) {
    return MakeError(ErrorCode::kValidation, "a dataset needs at least one bar",
                     {{"field", "bars"}, {"dataset", std::string(name)}});
  }
  // Checked early so a duplicate costs no file write; the INSERT below still decides a race.
  if (GetDataset(name).ok()) {
    return MakeError(ErrorCode::kConflict, "a dataset of this name exists",
                     {{"dataset", std::string(name)}});
  }
  DatasetInfo info;
  info.name = std::string(name);
  info.symbol = bars.symbol();
  info.bars = bars.size();
  info.from = bars.times().front();
  info.to = bars.times().back();
  info.created = Now();

  // File first, made durable, then the row: a crash in between leaves only an orphan file, which
  // the next open deletes. The random name keeps a new dataset of a deleted one's name from ever
  // meeting a reader of the old file.
  const std::string file =
      std::string(kDatasetFilePrefix) + RandomHex64() + std::string(kDatasetFileSuffix);
  const std::string full = DataPath(file);
  auto remove_file = [&full] {
    std::error_code ec;
    fs::remove(full, ec);
  };
  // WriteSeriesFile writes "<full>.tmp", fsyncs it, renames it and fsyncs the directory: when it
  // returns, the file is durable under its final name.
  if (Status s = market::WriteSeriesFile(bars, full); !s.ok()) {
    remove_file();
    return s.take_error();
  }

  Status inserted = [&]() -> Status {
    std::lock_guard lock(write_mu_);
    Db& db = *writer_;
    TD_ASSIGN_OR_RETURN(Txn & txn, Txn::BeginDurable(db));
    {
      TD_ASSIGN_OR_RETURN(Stmt & s, db.Prepare("INSERT INTO datasets(" TD_DATASET_COLUMNS
                                               ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) "
                                               "ON CONFLICT(name) DO NOTHING"));
      TD_TRY(s.Bind(1, name)
                 .Bind(2, std::string_view(info.symbol))
                 .Bind(3, static_cast<int64_t>(info.bars))
                 .Bind(4, ToMicros(info.from))
                 .Bind(5, ToMicros(info.to))
                 .Bind(6, ToMicros(info.created))
                 .Bind(7, std::string_view(file))
                 .Run());
    }
    if (db.Changes() == 0) {
      return MakeError(ErrorCode::kConflict, "a dataset of this name exists",
                       {{"dataset", std::string(name)}});
    }
    return txn.Commit();
  }();
  if (!inserted.ok()) {
    remove_file();
    return inserted.take_error();
  }
  // Written from these very bars a moment ago: the first LoadBars need not re-read it to check.
  {
    std::lock_guard lock(verified_mu_);
    verified_files_.insert(full);
  }
  return info;
}

Result<DatasetInfo> SqliteStore::GetDataset(std::string_view name) {
  TD_ASSIGN_OR_RETURN(Reader & db, BorrowReader());
  TD_ASSIGN_OR_RETURN(Stmt & s,
                      db->Prepare("SELECT " TD_DATASET_COLUMNS " FROM datasets WHERE name = ?1"));
  s.Bind(1, name);
  TD_ASSIGN_OR_RETURN(const bool row, s.Step());
  if (!row) return DatasetNotFound(name);
  return ReadDataset(s);
}

Result<std::vector<DatasetInfo>> SqliteStore::ListDatasets() {
  TD_ASSIGN_OR_RETURN(Reader & db, BorrowReader());
  TD_ASSIGN_OR_RETURN(Stmt & s,
                      db->Prepare("SELECT " TD_DATASET_COLUMNS " FROM datasets ORDER BY name"));
  std::vector<DatasetInfo> out;
  for (;;) {
    TD_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    out.push_back(ReadDataset(s));
  }
  return out;
}

Result<std::string> SqliteStore::DatasetFile(std::string_view name) {
  TD_ASSIGN_OR_RETURN(Reader & db, BorrowReader());
  TD_ASSIGN_OR_RETURN(Stmt & s, db->Prepare("SELECT file FROM datasets WHERE name = ?1"));
  s.Bind(1, name);
  TD_ASSIGN_OR_RETURN(const bool row, s.Step());
  if (!row) return DatasetNotFound(name);
  return DataPath(s.Text(0));
}

Result<market::Series> SqliteStore::LoadBars(std::string_view name) {
  TD_ASSIGN_OR_RETURN(const std::string full, DatasetFile(name));
  {
    std::lock_guard lock(bars_mu_);
    for (auto it = bars_cache_.begin(); it != bars_cache_.end(); ++it) {
      if (it->first != full) continue;
      bars_cache_.splice(bars_cache_.begin(), bars_cache_, it);
      return bars_cache_.front().second;
    }
  }
  // The checksum pass reads every byte (milliseconds for a year of minutes), so it is paid once
  // per file and process; later loads are a bare mmap. Files never change once named by a row.
  bool verified = false;
  {
    std::lock_guard lock(verified_mu_);
    verified = verified_files_.contains(full);
  }
  Result<market::Series> series = market::Series{};
  if (!verified) {
    if (Status s = market::VerifySeriesFile(full); !s.ok()) series = s.take_error();
  }
  if (series.ok()) series = market::ReadSeriesFile(full);
  if (series.ok() && !verified) {
    std::lock_guard lock(verified_mu_);
    verified_files_.insert(full);
  }
  if (!series.ok()) {
    // Deleted between the row and the read: report it as the absence it now is.
    std::error_code ec;
    if (!fs::exists(full, ec)) return DatasetNotFound(name);
    return series;
  }
  if (series->size() <= kBarsCacheBars) {
    std::lock_guard lock(bars_mu_);
    // Another thread may have loaded it meanwhile: one entry per file.
    std::erase_if(bars_cache_, [&full](const auto& entry) { return entry.first == full; });
    bars_cache_.emplace_front(full, *series);
    size_t bars = 0, kept = 0;
    for (auto it = bars_cache_.begin(); it != bars_cache_.end(); ++it, ++kept) {
      bars += it->second.size();
      if (kept == kBarsCacheEntries || bars > kBarsCacheBars) {
        bars_cache_.erase(it, bars_cache_.end());
        break;
      }
    }
  }
  return series;
}

Result<market::Series> SqliteStore::LoadBarsBetween(std::string_view name, Timestamp from,
                                                    Timestamp to) {
  TD_ASSIGN_OR_RETURN(const std::string full, DatasetFile(name));
  // A mapping: only the pages of the bars sliced are read. No checksum pass (LoadBars makes it).
  Result<market::Series> series = market::ReadSeriesFile(full);
  if (!series.ok()) {
    std::error_code ec;
    if (!fs::exists(full, ec)) return DatasetNotFound(name);
    return series.take_error();
  }
  return series->Slice(from, to);
}

Status SqliteStore::DeleteDataset(std::string_view name) {
  std::string full;
  {
    std::lock_guard lock(write_mu_);
    Db& db = *writer_;
    TD_ASSIGN_OR_RETURN(Txn & txn, Txn::BeginDurable(db));
    {
      TD_ASSIGN_OR_RETURN(Stmt & s, db.Prepare("SELECT file FROM datasets WHERE name = ?1"));
      s.Bind(1, name);
      TD_ASSIGN_OR_RETURN(const bool row, s.Step());
      if (!row) return DatasetNotFound(name);
      full = DataPath(s.Text(0));
    }
    {
      TD_ASSIGN_OR_RETURN(Stmt & s, db.Prepare("DELETE FROM datasets WHERE name = ?1"));
      TD_TRY(s.Bind(1, name).Run());
    }
    TD_TRY(txn.Commit());
  }
  {
    std::lock_guard lock(bars_mu_);
    std::erase_if(bars_cache_, [&full](const auto& entry) { return entry.first == full; });
  }
  // Row first, then file: a crash in between leaves an orphan file, cleaned at the next open.
  // Readers holding a mapping of it keep their pages (unlink, not truncate).
  std::error_code ec;
  fs::remove(full, ec);
  return Ok();
}

}  // namespace tapedeck::store::internal
