// SqliteStore: opening, connections, the checkpointer, and OpenSqliteStore.
#include "store/sqlite_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include "store/rows_common.h"
#include "store/schema.h"

namespace tapedeck::store {
namespace internal {

namespace {

constexpr size_t kMaxIdleReaders = 8;
// The WAL size past which the checkpointer copies it into the database: SQLite's own default
// (1000 pages of 4 KiB).
constexpr int64_t kCheckpointBytes = 4 << 20;

}  // namespace

std::string RandomHex64() {
  // std::random_device reads the OS's entropy source (getrandom on Linux): ids must not be
  // predictable from earlier ones, which a seeded PRNG would allow.
  std::random_device rd;
  const uint64_t v = (static_cast<uint64_t>(rd()) << 32) | rd();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 0; i < 16; ++i) out[i] = kHex[(v >> (60 - 4 * i)) & 15];
  return out;
}

Error ErrnoError(std::string msg, const std::string& path, int err) {
  return MakeError(err == ENOSPC ? ErrorCode::kUnavailable : ErrorCode::kIo, std::move(msg),
                   {{"path", path}, {"errno", std::strerror(err)}});
}

Error Corrupt(const Db& db, std::string what) {
  return MakeError(ErrorCode::kIo, "the store holds damaged data: " + std::move(what),
                   {{"path", db.path()}});
}

Result<SqliteStore::Reader> SqliteStore::BorrowReader() {
  {
    std::lock_guard lock(pool_mu_);
    if (!idle_readers_.empty()) {
      std::unique_ptr<Db> db = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return Reader(this, std::move(db));
    }
  }
  Result<std::unique_ptr<Db>> db = Db::Open(path_, /*create=*/false, options_.durable_commits);
  if (!db.ok()) return db.take_error();
  // A reader's page cache at 256 KiB instead of SQLite's 2,000 KiB: its big reads (a run's result,
  // a tape) are blobs read once, front to back, from the OS's page cache, and the pool keeps the
  // connection, and what its cache filled up to, for as long as the process lives.
  if (Status s = (*db)->Exec("PRAGMA cache_size=-256"); !s.ok()) return s.take_error();
  return Reader(this, std::move(*db));
}

Result<StatusCounts> SqliteStore::CountByStatus(const char* sql) {
  TD_ASSIGN_OR_RETURN(Reader & db, BorrowReader());
  TD_ASSIGN_OR_RETURN(Stmt & s, db->Prepare(sql));
  StatusCounts counts;
  for (;;) {
    TD_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    TD_TRY(AddToCounts(counts, s.Text(0), s.Int(1)));
  }
  return counts;
}

Result<StatusCounts> SqliteStore::CountRuns() {
  return CountByStatus("SELECT status, count(*) FROM runs GROUP BY status");
}

Result<StatusCounts> SqliteStore::CountSweeps() {
  return CountByStatus("SELECT status, count(*) FROM sweeps GROUP BY status");
}

void SqliteStore::ReturnReader(std::unique_ptr<Db> db) {
  std::lock_guard lock(pool_mu_);
  if (idle_readers_.size() < kMaxIdleReaders) idle_readers_.push_back(std::move(db));
}

Result<int> TakeLockFile(const std::string& db_path) {
  const std::string path = db_path + ".lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot open the store's lock file", path, errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return MakeError(ErrorCode::kUnavailable, "the store is in use by another process",
                       {{"path", db_path}});
    }
    return ErrnoError("cannot lock the store", path, err);
  }
  return fd;
}

SqliteStore::SqliteStore(std::string path, StoreOptions options, int lock_fd)
    : path_(std::move(path)), options_(std::move(options)), lock_fd_(lock_fd) {}

SqliteStore::~SqliteStore() {
  if (checkpointer_) {
    checkpointer_->Detach(*writer_);
    checkpointer_.reset();
  }
  {
    std::lock_guard lock(pool_mu_);
    idle_readers_.clear();
  }
  writer_.reset();    // the last connection to close checkpoints and removes the WAL
  ::close(lock_fd_);  // releases the flock
}

Status SqliteStore::Init() {
  {
    std::lock_guard lock(write_mu_);
    TD_ASSIGN_OR_RETURN(std::unique_ptr<Db> & writer,
                        Db::Open(path_, /*create=*/true, options_.durable_commits));
    writer_ = std::move(writer);
    Db& db = *writer_;
    // page_size only takes on a new, empty database (before WAL). 16 KiB, not the default 4: a
    // year-long equity curve is 8 MB of blob, and per-page costs dominate — store_bench's
    // CompleteRun and LoadRunResult take about half the CPU time at 16 KiB; small rows do not
    // mind. WAL is a property of the database file: set once, it holds for every later
    // connection. journal_size_limit trims the WAL back after a big commit so it does not keep
    // its high-water size on disk.
    TD_TRY(db.Exec(
        "PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA journal_size_limit=67108864;"));
    TD_TRY(Migrate(db));
    TD_ASSIGN_OR_RETURN(std::unique_ptr<Checkpointer> & checkpointer,
                        Checkpointer::Start(path_, db, kCheckpointBytes));
    checkpointer_ = std::move(checkpointer);
  }
  return CleanDataDir();
}

}  // namespace internal

std::string_view ToString(RunStatus status) {
  switch (status) {
    case RunStatus::kQueued:
      return "queued";
    case RunStatus::kRunning:
      return "running";
    case RunStatus::kDone:
      return "done";
    case RunStatus::kFailed:
      return "failed";
  }
  return "queued";
}

std::optional<RunStatus> ParseRunStatus(std::string_view text) {
  for (auto s : {RunStatus::kQueued, RunStatus::kRunning, RunStatus::kDone, RunStatus::kFailed}) {
    if (ToString(s) == text) return s;
  }
  return std::nullopt;
}

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path, StoreOptions options) {
  if (options.data_dir.empty()) options.data_dir = path + ".data";
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) {
    return MakeError(ErrorCode::kIo, "cannot create the data directory",
                     {{"path", options.data_dir}, {"errno", ec.message()}});
  }
  TD_ASSIGN_OR_RETURN(const int lock_fd, internal::TakeLockFile(path));
  auto store = std::make_unique<internal::SqliteStore>(path, std::move(options), lock_fd);
  TD_TRY(store->Init());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace tapedeck::store
