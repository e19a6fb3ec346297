// Internal to src/store: a thin layer over one libpq connection to PostgreSQL — opened from a
// postgresql:// URL, parameterised statements (prepared once per connection, in the round trip of
// their first execution, and cached), typed parameters and columns in PostgreSQL's binary format,
// transactions, server errors mapped onto tapedeck's, and reconnection with backoff after the
// connection drops. The PostgreSQL counterpart of sqlite_db.h, for the store that shares one
// database between processes.
//
// Errors: UNAVAILABLE (HTTP 503: the caller may retry later) when the server cannot be reached or
// the connection was lost, or the server refuses connections (SQLSTATE classes 08 and 57P, 53300);
// IO for every other failure. Details: `server` (user@host:port/db, never the password), `op` (the
// statement), and from the server `sqlstate` and `pg` (its message), or `pg` alone (libpq's, when
// the server said nothing). A password in the URL appears in no message.
//
// Metrics: every round trip (a statement, prepared with it on its first use on a connection: one
// round trip for both, in libpq's pipeline mode; BEGIN/COMMIT) and every reconnection is
// counted in the process-wide store::ReadDbMetrics() (store/db_metrics.h).
//
// Thread-safety: none. A Conn is used by one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "store/pq_lib.h"

// A column for the RETURNING list (or the select list) of a statement run as its own transaction,
// or of any statement inside an explicit one: that transaction commits without waiting for its WAL
// to reach the disk (`synchronous_commit = off` for this transaction only: set_config's
// is_local, reverted when it ends; PostgreSQL reads the setting at commit). No extra round trip.
// Its value is the text 'off'; it is evaluated only when the statement returns a row.
//
// Only for commits that acknowledge nothing to anyone, whose loss in a crash of the database
// leaves a state the system recovers from by itself (docs/perf.md, "Scale-out"): PostgreSQL's WAL
// is one sequence, so a crash loses at most the last commits not yet flushed, never one before a
// later durable commit: any later commit made durable (a completed run, an enqueued job) makes
// every such commit before it durable too.
#define TD_PG_COMMIT_WITHOUT_FLUSH "set_config('synchronous_commit', 'off', true)"

namespace tapedeck::store::internal::pg {

struct Options {
  // Bounds each connection attempt (libpq's connect_timeout; it counts whole seconds, at least 2).
  int connect_timeout_s = 5;
  // The server cancels a statement running longer (statement_timeout; 0: no limit).
  std::chrono::milliseconds statement_timeout{30000};
  // A peer that vanished without closing (a cut network) is noticed by TCP keepalives on an idle
  // connection, and by tcp_user_timeout on unacknowledged sends: within about 10 s either way.
  int keepalive_idle_s = 5;
  int keepalive_interval_s = 2;
  int keepalive_count = 3;
  std::chrono::milliseconds tcp_user_timeout{10000};
  // After a failed reconnect, calls fail at once with UNAVAILABLE until this much has passed, then
  // try again; the wait doubles after each failure up to the maximum, and resets on success.
  std::chrono::milliseconds reconnect_backoff_initial{100};
  std::chrono::milliseconds reconnect_backoff_max{5000};
};

// Values for $1, $2, ... in order. Integers, doubles and bytes go in binary (exact: NaN and
// infinities included), text as text. The Params own copies of what they are given.
class Params {
 public:
  Params& Add(int64_t v);           // bigint
  Params& Add(double v);            // double precision
  Params& Add(std::string_view v);  // text
  Params& Add(const char* v) { return Add(std::string_view(v)); }
  Params& AddBytes(std::span<const std::byte> v);  // bytea
  // bytea, not copied: `v` must stay valid and unchanged until the statement has run. For large
  // blobs (a run's packed result: megabytes), where a copy costs as much as its sending.
  Params& AddBytesRef(std::span<const std::byte> v);
  Params& Add(std::optional<int64_t> v) { return v ? Add(*v) : AddNull(); }
  Params& Add(std::optional<double> v) { return v ? Add(*v) : AddNull(); }
  Params& AddNull();  // type left to the server

  int size() const { return static_cast<int>(types_.size()); }
  // The parameters' type OIDs, as a cache key part: a statement is prepared per type list.
  std::string TypeKey() const;

 private:
  friend class Conn;
  std::vector<std::string> values_;
  // AddBytesRef's values (values_[i] is then empty); nullptr for the others.
  std::vector<std::span<const std::byte>> refs_;
  std::vector<bool> null_;
  std::vector<Oid> types_;
  std::vector<int> formats_;
};

// PQclear through the loaded libpq (pq_lib.h): a result's deleter.
void ClearResult(PGresult* res);

// The rows of one statement's result, all columns in binary. Row and column indices are 0-based.
// Reading a column as a type it is not is a programming error (asserted; 0 or empty otherwise).
class Rows {
 public:
  explicit Rows(PGresult* res) : res_(res, &ClearResult) {}

  int size() const { return Pq().PQntuples(res_.get()); }
  int columns() const { return Pq().PQnfields(res_.get()); }
  // Rows changed by an INSERT/UPDATE/DELETE (PQcmdTuples), 0 for other statements.
  int64_t Affected() const;
  // The command tag ("INSERT 0 1", "COMMIT", "ROLLBACK", ...).
  std::string_view Command() const { return Pq().PQcmdStatus(res_.get()); }

  bool IsNull(int row, int col) const { return Pq().PQgetisnull(res_.get(), row, col) != 0; }
  // REQUIRES: smallint, integer, bigint (or boolean: 0 or 1). NULL reads as 0.
  int64_t Int(int row, int col) const;
  std::optional<int64_t> OptInt(int row, int col) const;
  // REQUIRES: real or double precision. NULL reads as NaN.
  double Double(int row, int col) const;
  // Any text-like column (text, varchar, name, ...): its bytes. NULL reads as "".
  std::string Text(int row, int col) const;
  // REQUIRES: bytea. Valid while the Rows live. NULL reads as empty.
  std::span<const std::byte> Bytes(int row, int col) const;

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> res_;
};

class Conn {
 public:
  // Connects to `url` (postgresql://[USER[:PASSWORD]@]HOST[:PORT]/DB[?PARAM=VALUE...], parsed by
  // libpq; its parameters override `options`). A malformed URL is VALIDATION; an unreachable or
  // refusing server UNAVAILABLE; libpq itself missing IO (loaded here on first use: pq_lib.h).
  static Result<std::unique_ptr<Conn>> Open(const std::string& url, Options options = {});
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // Runs `sql` with `params`, prepared on first use on this connection (per SQL text and
  // parameter types) and reused after. Outside a transaction, a connection found dropped before
  // the statement is sent is reconnected first (subject to the backoff); a connection lost while
  // the statement runs is UNAVAILABLE, and whether the statement took effect is then unknown.
  Result<Rows> Query(std::string_view sql, const Params& params = {});
  // Query for statements without rows; returns the rows affected.
  Result<int64_t> Run(std::string_view sql, const Params& params = {});
  // One or more statements without parameters or results (schema scripts), as one simple query.
  Status Exec(std::string_view sql);

  // Whether the connection is up as far as libpq knows (without a round trip).
  bool connected() const;
  // Successful reconnections so far (for metrics and tests).
  int64_t reconnects() const { return reconnects_; }
  // user@host:port/db, without the password: for messages and logs.
  const std::string& server() const { return server_; }
  // The libpq connection itself (nullptr when none), for what this layer does not wrap: LISTEN's
  // socket and notifications (pg_jobs.cpp). It changes on reconnect; do not keep it.
  PGconn* native() const { return conn_; }

 private:
  friend class Txn;
  Conn(std::string url, Options options, std::string server, std::string password)
      : url_(std::move(url)),
        options_(options),
        server_(std::move(server)),
        password_(std::move(password)) {}

  // Connects (or reconnects) now; UNAVAILABLE with libpq's reason on failure.
  Status Connect();
  // Before a statement: notices a connection the server closed while idle, and reconnects when
  // allowed (not inside a transaction; not before the backoff has passed).
  Status EnsureConnected(std::string_view op);
  Result<Rows> Execute(std::string_view sql, const Params& params, bool simple);
  // Prepares `sql` as `name` and executes it with `values`/`lengths` (params') in one round trip.
  // `prep` gets the prepare's result (nullptr if none came); returns the execution's.
  PGresult* PrepareAndExecute(const std::string& name, std::string_view sql, const Params& params,
                              const std::vector<const char*>& values,
                              const std::vector<int>& lengths, PGresult*& prep);
  Error ServerError(const PGresult* res, std::string_view op) const;
  Error LostError(std::string_view op, std::string reason) const;
  std::string Scrub(std::string text) const;

  std::string url_;
  Options options_;
  std::string server_;
  std::string password_;
  PGconn* conn_ = nullptr;
  // Statement names by SQL text and parameter types; emptied on reconnect.
  std::map<std::string, std::string, std::less<>> prepared_;
  bool in_txn_ = false;
  // Bumped on each reconnect: a transaction begun on an earlier connection is gone.
  int64_t generation_ = 0;
  int64_t reconnects_ = 0;
  std::chrono::milliseconds backoff_{0};
  std::chrono::steady_clock::time_point next_attempt_{};
};

// BEGIN on Begin(); ROLLBACK on destruction unless committed. While it is open the Conn does not
// reconnect: a connection lost inside the transaction fails every statement (and the Commit)
// with UNAVAILABLE, and the transaction did not happen.
class Txn {
 public:
  // `begin`: "BEGIN", or e.g. "BEGIN ISOLATION LEVEL SERIALIZABLE".
  static Result<Txn> Begin(Conn& conn, const char* begin = "BEGIN");
  Txn(Txn&& other) noexcept : conn_(other.conn_), generation_(other.generation_) {
    other.conn_ = nullptr;
  }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  Txn& operator=(Txn&&) = delete;
  ~Txn();
  // COMMIT. IO when the server rolled back instead (an earlier statement had failed: details
  // `pg`); UNAVAILABLE when the connection was lost, before COMMIT (nothing committed) or while
  // it ran (the outcome is then unknown to this side).
  Status Commit();

 private:
  Txn(Conn* conn, int64_t generation) : conn_(conn), generation_(generation) {}
  Conn* conn_;
  int64_t generation_;
};

}  // namespace tapedeck::store::internal::pg
