#include "store/sqlite_db.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>

namespace tapedeck::store::internal {
namespace {

constexpr int kBusyTimeoutMs = 5000;

}  // namespace

// ---- Stmt ----

Stmt::~Stmt() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Stmt& Stmt::Bind(int i, int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}

Stmt& Stmt::Bind(int i, double v) {
  sqlite3_bind_double(stmt_, i, v);
  return *this;
}

Stmt& Stmt::Bind(int i, std::string_view v) {
  // A null data pointer would bind NULL; an empty string must stay an empty string.
  sqlite3_bind_text64(stmt_, i, v.data() == nullptr ? "" : v.data(), v.size(), SQLITE_STATIC,
                      SQLITE_UTF8);
  return *this;
}

Stmt& Stmt::Bind(int i, std::optional<int64_t> v) { return v ? Bind(i, *v) : BindNull(i); }

Stmt& Stmt::Bind(int i, std::optional<double> v) { return v ? Bind(i, *v) : BindNull(i); }

Stmt& Stmt::BindBlob(int i, std::span<const std::byte> bytes) {
  static const std::byte kEmpty{};
  sqlite3_bind_blob64(stmt_, i, bytes.empty() ? &kEmpty : bytes.data(), bytes.size(),
                      SQLITE_STATIC);
  return *this;
}

Stmt& Stmt::BindNull(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}

Result<bool> Stmt::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_->MakeSqliteError(rc, sqlite3_sql(stmt_));
}

Status Stmt::Run() {
  Result<bool> r = Step();
  if (!r.ok()) return r.take_error();
  return Ok();
}

bool Stmt::IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

int64_t Stmt::Int(int col) const { return sqlite3_column_int64(stmt_, col); }

double Stmt::Double(int col) const {
  if (IsNull(col)) return std::numeric_limits<double>::quiet_NaN();
  return sqlite3_column_double(stmt_, col);
}

std::string Stmt::Text(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  if (p == nullptr) return {};
  return std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

std::optional<int64_t> Stmt::OptInt(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Int(col);
}

std::span<const std::byte> Stmt::Blob(int col) const {
  const auto* p = static_cast<const std::byte*>(sqlite3_column_blob(stmt_, col));
  const int n = sqlite3_column_bytes(stmt_, col);
  if (p == nullptr || n <= 0) return {};
  return {p, static_cast<size_t>(n)};
}

// ---- Db ----

Result<std::unique_ptr<Db>> Db::Open(const std::string& path, bool create, bool durable) {
  sqlite3* raw = nullptr;
  // NOMUTEX: the store serialises access to each connection itself, so SQLite's own per-connection
  // mutex would only cost time.
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (create) flags |= SQLITE_OPEN_CREATE;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close_v2(raw);
    return MakeError(ErrorCode::kIo, "cannot open the store", {{"path", path}, {"sqlite", msg}});
  }
  sqlite3_extended_result_codes(raw, 1);
  std::unique_ptr<Db> db(new Db(raw, path, durable));
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  const char* settings = durable ? "PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL;"
                                 : "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;";
  if (Status s = db->Exec(settings); !s.ok()) return s.take_error();
  return db;
}

Db::~Db() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Status Db::Exec(const char* sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  sqlite3_free(err);  // the same text is in sqlite3_errmsg, which MakeSqliteError reads
  if (rc != SQLITE_OK) return MakeSqliteError(rc, sql);
  return Ok();
}

Result<Stmt> Db::Prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return MakeSqliteError(rc, sql);
    it = cache_.emplace(sql, stmt).first;
  }
  return Stmt(it->second, this);
}

Error Db::MakeSqliteError(int rc, std::string_view op) const {
  const int primary = rc & 0xff;
  const bool transient =
      primary == SQLITE_FULL || primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
  // sqlite3_errmsg describes the connection's most recent failure, which is this one.
  std::string msg = sqlite3_errcode(db_) == rc ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  // For a failed read or write, the operating system's reason ("disk I/O error" alone tells an
  // operator nothing); sqlite3_system_errno is the errno of this connection's last failed call.
  const int os_errno =
      primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN || primary == SQLITE_READONLY
          ? LastOsErrno()
          : 0;
  std::string text = primary == SQLITE_FULL ? "the store's disk is full"
                     : transient            ? "the store is busy"
                     : os_errno == EROFS    ? "the store's file system is read-only"
                     : os_errno != 0        ? "the store failed: " + std::string(std::strerror(os_errno))
                                            : "the store failed";
  std::map<std::string, std::string> details{
      {"path", path_}, {"sqlite", std::move(msg)}, {"op", std::string(op)}};
  if (os_errno != 0) details.emplace("reason", std::strerror(os_errno));
  return MakeError(transient ? ErrorCode::kUnavailable : ErrorCode::kIo, std::move(text),
                   std::move(details));
}

int Db::LastOsErrno() const {
  // sqlite3_system_errno is set for some failures only (not for a COMMIT's write to the WAL,
  // which is where a file system gone read-only shows first); the unix VFS also keeps the last
  // errno of each file, the WAL's and the database's.
  if (const int e = sqlite3_system_errno(db_); e != 0) return e;
  sqlite3_file* wal = nullptr;
  if (sqlite3_file_control(db_, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal) == SQLITE_OK &&
      wal != nullptr && wal->pMethods != nullptr) {
    int e = 0;
    if (wal->pMethods->xFileControl(wal, SQLITE_FCNTL_LAST_ERRNO, &e) == SQLITE_OK && e != 0) {
      return e;
    }
  }
  int e = 0;
  if (sqlite3_file_control(db_, "main", SQLITE_FCNTL_LAST_ERRNO, &e) == SQLITE_OK) return e;
  return 0;
}

// ---- Txn ----

Result<Txn> Txn::Begin(Db& db, bool write) {
  // IMMEDIATE takes the write lock up front: a deferred transaction that upgrades later could fail
  // with SQLITE_BUSY that busy_timeout cannot wait out.
  if (Status s = db.Exec(write ? "BEGIN IMMEDIATE" : "BEGIN"); !s.ok()) return s.take_error();
  return Txn(&db);
}

Result<Txn> Txn::BeginDurable(Db& db) {
  const bool raise = !db.durable();
  if (raise) {
    if (Status s = db.Exec("PRAGMA synchronous=FULL"); !s.ok()) return s.take_error();
  }
  Result<Txn> txn = Begin(db, /*write=*/true);
  if (!txn.ok()) {
    if (raise) (void)db.Exec("PRAGMA synchronous=NORMAL");
    return txn.take_error();
  }
  txn->restore_normal_ = raise;
  return txn;
}

Txn::~Txn() {
  if (db_ == nullptr) return;
  (void)db_->Exec("ROLLBACK");
  RestoreSync();
}

Status Txn::Commit() {
  Status s = db_->Exec("COMMIT");
  if (s.ok()) {
    RestoreSync();
    db_ = nullptr;  // else the destructor rolls back
  }
  return s;
}

void Txn::RestoreSync() {
  // On failure the connection stays at FULL: slower, never less safe.
  if (restore_normal_) (void)db_->Exec("PRAGMA synchronous=NORMAL");
  restore_normal_ = false;
}

}  // namespace tapedeck::store::internal
