// Internal to src/store: a thin RAII layer over one SQLite connection — cached prepared statements,
// typed binding, transactions, and SQLite result codes mapped onto tapedeck's errors.
//
// Thread-safety: none. A Db is used by one thread at a time (the store hands connections out under
// its own locks).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/error.h"

namespace tapedeck::store::internal {

class Db;

// A prepared statement borrowed from a Db's cache. Resets itself (and clears bindings) when it goes
// out of scope, so the next user finds it fresh and no read transaction is held open by accident.
// Bind indices are 1-based, column indices 0-based, as in SQLite.
class Stmt {
 public:
  Stmt(sqlite3_stmt* stmt, Db* db) : stmt_(stmt), db_(db) {}
  Stmt(Stmt&& other) noexcept : stmt_(other.stmt_), db_(other.db_) { other.stmt_ = nullptr; }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt& operator=(Stmt&&) = delete;
  ~Stmt();

  Stmt& Bind(int i, int64_t v);
  // NaN is stored as NULL by SQLite; Double() reads NULL back as NaN.
  Stmt& Bind(int i, double v);
  Stmt& Bind(int i, std::string_view v);  // text; the view must outlive Step()
  Stmt& Bind(int i, std::optional<int64_t> v);
  Stmt& Bind(int i, std::optional<double> v);
  // Blob; the bytes must outlive Step() (bound without a copy).
  Stmt& BindBlob(int i, std::span<const std::byte> bytes);
  Stmt& BindNull(int i);

  // true: a row is ready; false: done. Errors mapped as Db::MakeSqliteError.
  Result<bool> Step();
  // Steps once, expecting no row (INSERT/UPDATE/DELETE).
  Status Run();
  // Rewinds for another Step() with new bindings (bindings are kept until rebound).
  void Reset() { sqlite3_reset(stmt_); }

  bool IsNull(int col) const;
  int64_t Int(int col) const;
  double Double(int col) const;  // NULL -> NaN
  std::string Text(int col) const;
  std::optional<int64_t> OptInt(int col) const;
  std::span<const std::byte> Blob(int col) const;  // valid until the next Step()

 private:
  sqlite3_stmt* stmt_;
  Db* db_;
};

class Db {
 public:
  // Opens `path` (creating it when `create`), applies the connection settings (WAL is a database
  // setting, set by the writer; busy_timeout, foreign_keys, synchronous are per connection).
  static Result<std::unique_ptr<Db>> Open(const std::string& path, bool create, bool durable);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Runs one or more statements without results.
  Status Exec(const char* sql);
  // A cached prepared statement for `sql` (which must be a string literal or otherwise outlive
  // the Db: it is the cache key).
  Result<Stmt> Prepare(const char* sql);

  // IO, or UNAVAILABLE for SQLITE_FULL/BUSY/LOCKED; details `path`, `sqlite` (the connection's
  // last message, or the code's text) and `op`.
  Error MakeSqliteError(int rc, std::string_view op) const;

  // The operating system's errno behind this connection's last failed read, write or open, or 0.
  int LastOsErrno() const;

  int64_t Changes() const { return sqlite3_changes64(db_); }
  // Whether every commit on this connection is synced (synchronous=FULL, as opened).
  bool durable() const { return durable_; }
  sqlite3* raw() { return db_; }
  const std::string& path() const { return path_; }

 private:
  Db(sqlite3* db, std::string path, bool durable)
      : db_(db), path_(std::move(path)), durable_(durable) {}

  sqlite3* db_;
  std::string path_;
  bool durable_;
  std::map<const char*, sqlite3_stmt*> cache_;
};

// BEGIN IMMEDIATE (writes) or BEGIN (reads: a consistent snapshot across several SELECTs) on
// construction via Begin(); rolls back on destruction unless committed.
class Txn {
 public:
  static Result<Txn> Begin(Db& db, bool write);
  // A write whose COMMIT returns only once the WAL is on disk (synchronous=FULL for this one
  // transaction, when the connection is NORMAL): for the writes a client is told about, so that
  // no power cut or file system gone read-only can take back an answer already given.
  static Result<Txn> BeginDurable(Db& db);
  Txn(Txn&& other) noexcept : db_(other.db_), restore_normal_(other.restore_normal_) {
    other.db_ = nullptr;
    other.restore_normal_ = false;
  }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  Txn& operator=(Txn&&) = delete;
  ~Txn();
  Status Commit();

 private:
  explicit Txn(Db* db) : db_(db) {}
  void RestoreSync();

  Db* db_;
  // Set by BeginDurable on a NORMAL connection: put synchronous back once the transaction ends
  // (SQLite refuses to change it inside one).
  bool restore_normal_ = false;
};

}  // namespace tapedeck::store::internal

