#include "store/pg_db.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cassert>
#include <charconv>
#include <cstring>
#include <limits>

#include "store/db_metrics.h"

namespace tapedeck::store {
namespace {

// Process-wide (store/db_metrics.h). Relaxed: counters, read a few times a minute.
std::array<std::atomic<uint64_t>, DbMetrics::kRoundTripBuckets.size() + 1> g_round_trips{};
std::atomic<uint64_t> g_round_trip_ns{0};
std::atomic<uint64_t> g_reconnects{0};

}  // namespace

DbMetrics ReadDbMetrics() {
  DbMetrics m;
  for (size_t i = 0; i < m.round_trips.size(); ++i) {
    m.round_trips[i] = g_round_trips[i].load(std::memory_order_relaxed);
  }
  m.round_trip_seconds = double(g_round_trip_ns.load(std::memory_order_relaxed)) / 1e9;
  m.reconnects = g_reconnects.load(std::memory_order_relaxed);
  return m;
}

}  // namespace tapedeck::store

namespace tapedeck::store::internal::pg {
namespace {

// One round trip to the server, timed from `start`, into the process's histogram.
void CountRoundTrip(std::chrono::steady_clock::time_point start) {
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count();
  const double seconds = double(ns) / 1e9;
  size_t bucket = 0;
  while (bucket < DbMetrics::kRoundTripBuckets.size() &&
         seconds > DbMetrics::kRoundTripBuckets[bucket]) {
    ++bucket;
  }
  g_round_trips[bucket].fetch_add(1, std::memory_order_relaxed);
  g_round_trip_ns.fetch_add(static_cast<uint64_t>(std::max<int64_t>(ns, 0)),
                            std::memory_order_relaxed);
}

// Type OIDs from PostgreSQL's catalog (pg_type.dat); stable across versions.
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kTextOid = 25;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;
constexpr int kBinary = 1;

std::string BigEndian(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

uint64_t ReadBigEndian(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Connection failures and a server going away or refusing new work: the caller may try again.
bool IsUnavailableState(std::string_view sqlstate) {
  return sqlstate.starts_with("08") ||   // connection_exception
         sqlstate.starts_with("57P") ||  // admin/crash shutdown, cannot_connect_now
         sqlstate == "53300";            // too_many_connections
}

// libpq prints notices (and a server's shutdown message, read while idle) to stderr otherwise.
void IgnoreNotice(void*, const char*) {}

}  // namespace

// ---- Params ----

Params& Params::Add(int64_t v) {
  values_.push_back(BigEndian(static_cast<uint64_t>(v)));
  refs_.emplace_back();
  null_.push_back(false);
  types_.push_back(kInt8Oid);
  formats_.push_back(kBinary);
  return *this;
}

Params& Params::Add(double v) {
  // float8's binary form is the IEEE 754 bits in network order: NaN and infinities go as they are.
  values_.push_back(BigEndian(std::bit_cast<uint64_t>(v)));
  refs_.emplace_back();
  null_.push_back(false);
  types_.push_back(kFloat8Oid);
  formats_.push_back(kBinary);
  return *this;
}

Params& Params::Add(std::string_view v) {
  // Binary text is the bytes with their length, so a NUL is refused by the server rather than
  // cutting the string short as the text format (a C string) would.
  values_.emplace_back(v);
  refs_.emplace_back();
  null_.push_back(false);
  types_.push_back(kTextOid);
  formats_.push_back(kBinary);
  return *this;
}

Params& Params::AddBytes(std::span<const std::byte> v) {
  values_.emplace_back(reinterpret_cast<const char*>(v.data()), v.size());
  refs_.emplace_back();
  null_.push_back(false);
  types_.push_back(kByteaOid);
  formats_.push_back(kBinary);
  return *this;
}

Params& Params::AddBytesRef(std::span<const std::byte> v) {
  // An empty span's data() may be null, which libpq would send as SQL NULL: copied instead.
  if (v.empty()) return AddBytes(v);
  values_.emplace_back();
  refs_.push_back(v);
  null_.push_back(false);
  types_.push_back(kByteaOid);
  formats_.push_back(kBinary);
  return *this;
}

Params& Params::AddNull() {
  values_.emplace_back();
  refs_.emplace_back();
  null_.push_back(true);
  types_.push_back(0);
  formats_.push_back(kBinary);
  return *this;
}

std::string Params::TypeKey() const {
  std::string key;
  for (Oid t : types_) key += std::to_string(t) + ",";
  return key;
}

// ---- Rows ----

int64_t Rows::Affected() const {
  const char* n = Pq().PQcmdTuples(res_.get());
  int64_t v = 0;
  if (n != nullptr) std::from_chars(n, n + std::strlen(n), v);
  return v;
}

int64_t Rows::Int(int row, int col) const {
  if (IsNull(row, col)) return 0;
  const char* p = Pq().PQgetvalue(res_.get(), row, col);
  switch (Pq().PQftype(res_.get(), col)) {
    case kInt8Oid:
      return static_cast<int64_t>(ReadBigEndian(p, 8));
    case kInt4Oid:
      return static_cast<int32_t>(ReadBigEndian(p, 4));
    case kInt2Oid:
      return static_cast<int16_t>(ReadBigEndian(p, 2));
    case kBoolOid:
      return p[0] != 0 ? 1 : 0;
    default:
      assert(false && "Rows::Int on a column that is not an integer");
      return 0;
  }
}

std::optional<int64_t> Rows::OptInt(int row, int col) const {
  if (IsNull(row, col)) return std::nullopt;
  return Int(row, col);
}

double Rows::Double(int row, int col) const {
  if (IsNull(row, col)) return std::numeric_limits<double>::quiet_NaN();
  const char* p = Pq().PQgetvalue(res_.get(), row, col);
  switch (Pq().PQftype(res_.get(), col)) {
    case kFloat8Oid:
      return std::bit_cast<double>(ReadBigEndian(p, 8));
    case kFloat4Oid:
      return std::bit_cast<float>(static_cast<uint32_t>(ReadBigEndian(p, 4)));
    default:
      assert(false && "Rows::Double on a column that is not real or double precision");
      return std::numeric_limits<double>::quiet_NaN();
  }
}

std::string Rows::Text(int row, int col) const {
  if (IsNull(row, col)) return {};
  return std::string(Pq().PQgetvalue(res_.get(), row, col),
                     static_cast<size_t>(Pq().PQgetlength(res_.get(), row, col)));
}

std::span<const std::byte> Rows::Bytes(int row, int col) const {
  assert(Pq().PQftype(res_.get(), col) == kByteaOid);
  if (IsNull(row, col)) return {};
  return {reinterpret_cast<const std::byte*>(Pq().PQgetvalue(res_.get(), row, col)),
          static_cast<size_t>(Pq().PQgetlength(res_.get(), row, col))};
}

void ClearResult(PGresult* res) { Pq().PQclear(res); }

// ---- Conn ----

Result<std::unique_ptr<Conn>> Conn::Open(const std::string& url, Options options) {
  if (Result<const PqLib*> lib = LoadPq(); !lib.ok()) return lib.take_error();
  char* err = nullptr;
  PQconninfoOption* parsed = Pq().PQconninfoParse(url.c_str(), &err);
  if (parsed == nullptr) {
    std::string why = err != nullptr ? Trim(err) : "out of memory";
    Pq().PQfreemem(err);
    // The URL itself is not repeated: it may hold a password.
    return MakeError(ErrorCode::kValidation, "not a PostgreSQL connection URL",
                     {{"store", "postgresql"}, {"pg", why}});
  }
  std::map<std::string, std::string> given;
  for (PQconninfoOption* o = parsed; o->keyword != nullptr; ++o) {
    if (o->val != nullptr) given[o->keyword] = o->val;
  }
  Pq().PQconninfoFree(parsed);
  auto get = [&](const char* k, const char* fallback) {
    auto it = given.find(k);
    return it != given.end() && !it->second.empty() ? it->second : std::string(fallback);
  };
  const std::string server = get("user", "") + (given.contains("user") ? "@" : "") +
                             get("host", "localhost") + ":" + get("port", "5432") + "/" +
                             get("dbname", get("user", "").c_str());
  std::unique_ptr<Conn> conn(new Conn(url, options, server, get("password", "")));
  if (Status s = conn->Connect(); !s.ok()) return s.take_error();
  return conn;
}

Conn::~Conn() {
  if (conn_ != nullptr) Pq().PQfinish(conn_);
}

bool Conn::connected() const { return conn_ != nullptr && Pq().PQstatus(conn_) == CONNECTION_OK; }

Status Conn::Connect() {
  const std::string connect_timeout = std::to_string(std::max(options_.connect_timeout_s, 1));
  const std::string idle = std::to_string(options_.keepalive_idle_s);
  const std::string interval = std::to_string(options_.keepalive_interval_s);
  const std::string count = std::to_string(options_.keepalive_count);
  const std::string user_timeout = std::to_string(options_.tcp_user_timeout.count());
  const std::string pg_options =
      "-c statement_timeout=" + std::to_string(options_.statement_timeout.count());
  // Ours first: libpq keeps the last value of a repeated keyword, so the URL's own parameters
  // (expanded from `dbname`) win.
  const char* keys[] = {"connect_timeout",  "keepalives",
                        "keepalives_idle",  "keepalives_interval",
                        "keepalives_count", "tcp_user_timeout",
                        "options",          "application_name",
                        "dbname",           nullptr};
  const char* values[] = {connect_timeout.c_str(),
                          "1",
                          idle.c_str(),
                          interval.c_str(),
                          count.c_str(),
                          user_timeout.c_str(),
                          pg_options.c_str(),
                          "tapedeck",
                          url_.c_str(),
                          nullptr};
  PGconn* c = Pq().PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (c == nullptr || Pq().PQstatus(c) != CONNECTION_OK) {
    std::string why = c != nullptr ? Trim(Pq().PQerrorMessage(c)) : "out of memory";
    Pq().PQfinish(c);
    return MakeError(ErrorCode::kUnavailable, "the database is unavailable",
                     {{"server", server_}, {"pg", Scrub(std::move(why))}});
  }
  Pq().PQsetNoticeProcessor(c, &IgnoreNotice, nullptr);
  if (conn_ != nullptr) {
    Pq().PQfinish(conn_);
    ++reconnects_;
    g_reconnects.fetch_add(1, std::memory_order_relaxed);
  }
  conn_ = c;
  ++generation_;
  prepared_.clear();
  backoff_ = std::chrono::milliseconds{0};
  return Ok();
}

Status Conn::EnsureConnected(std::string_view op) {
  if (conn_ != nullptr && Pq().PQstatus(conn_) == CONNECTION_OK) {
    // A server that shut down or dropped us while we were idle has sent its last words (FATAL
    // 57P01) and closed the socket. Reading what is there (libpq's socket is non-blocking: an
    // idle healthy connection costs two empty reads) turns that into CONNECTION_BAD now, before
    // a statement is sent into it: the first read takes the message, the second the end.
    for (int i = 0; i < 2 && Pq().PQstatus(conn_) == CONNECTION_OK; ++i)
      (void)Pq().PQconsumeInput(conn_);
    if (Pq().PQstatus(conn_) == CONNECTION_OK) return Ok();
  }
  if (in_txn_) {
    return LostError(op, conn_ != nullptr ? Trim(Pq().PQerrorMessage(conn_)) : "no connection");
  }
  const auto now = std::chrono::steady_clock::now();
  if (now < next_attempt_) {
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(next_attempt_ - now);
    return MakeError(ErrorCode::kUnavailable, "the database is unavailable",
                     {{"server", server_},
                      {"op", Scrub(std::string(op))},
                      {"pg", "reconnecting: the last attempt failed"},
                      {"retry_after_ms", std::to_string(wait.count())}});
  }
  Status s = Connect();
  if (!s.ok()) {
    backoff_ = backoff_.count() == 0 ? options_.reconnect_backoff_initial
                                     : std::min(backoff_ * 2, options_.reconnect_backoff_max);
    next_attempt_ = now + backoff_;
    Error e = s.take_error();
    e.details["op"] = Scrub(std::string(op));
    e.details["retry_after_ms"] = std::to_string(backoff_.count());
    return e;
  }
  return Ok();
}

Result<Rows> Conn::Query(std::string_view sql, const Params& params) {
  return Execute(sql, params, /*simple=*/false);
}

Result<int64_t> Conn::Run(std::string_view sql, const Params& params) {
  Result<Rows> rows = Execute(sql, params, /*simple=*/false);
  if (!rows.ok()) return rows.take_error();
  return rows->Affected();
}

Status Conn::Exec(std::string_view sql) {
  Result<Rows> rows = Execute(sql, Params{}, /*simple=*/true);
  if (!rows.ok()) return rows.take_error();
  return Ok();
}

Result<Rows> Conn::Execute(std::string_view sql, const Params& params, bool simple) {
  if (Status s = EnsureConnected(sql); !s.ok()) return s.take_error();
  PGresult* res = nullptr;
  if (simple) {
    const auto start = std::chrono::steady_clock::now();
    res = Pq().PQexec(conn_, std::string(sql).c_str());
    CountRoundTrip(start);
  } else {
    std::string key = params.TypeKey();
    key += '\n';
    key += sql;
    std::vector<const char*> values(params.values_.size());
    std::vector<int> lengths(params.values_.size());
    for (size_t i = 0; i < values.size(); ++i) {
      const std::span<const std::byte> ref = params.refs_[i];
      if (ref.data() != nullptr) {
        values[i] = reinterpret_cast<const char*>(ref.data());
        lengths[i] = static_cast<int>(ref.size());
      } else {
        values[i] = params.null_[i] ? nullptr : params.values_[i].data();
        lengths[i] = static_cast<int>(params.values_[i].size());
      }
    }
    auto it = prepared_.find(key);
    if (it == prepared_.end()) {
      std::string name = "td" + std::to_string(prepared_.size() + 1);
      const auto start = std::chrono::steady_clock::now();
      PGresult* prep = nullptr;
      res = PrepareAndExecute(name, sql, params, values, lengths, prep);
      CountRoundTrip(start);
      if (prep == nullptr || Pq().PQresultStatus(prep) != PGRES_COMMAND_OK) {
        Error e = ServerError(prep, sql);
        Pq().PQclear(prep);
        Pq().PQclear(res);
        return e;
      }
      Pq().PQclear(prep);
      prepared_.emplace(std::move(key), std::move(name));
    } else {
      const auto start = std::chrono::steady_clock::now();
      res = Pq().PQexecPrepared(conn_, it->second.c_str(), params.size(), values.data(),
                                lengths.data(), params.formats_.data(), /*resultFormat=*/kBinary);
      CountRoundTrip(start);
    }
  }
  const ExecStatusType st = res != nullptr ? Pq().PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) {
    return Rows(res);
  }
  Error e = ServerError(res, sql);
  Pq().PQclear(res);
  return e;
}

PGresult* Conn::PrepareAndExecute(const std::string& name, std::string_view sql,
                                  const Params& params, const std::vector<const char*>& values,
                                  const std::vector<int>& lengths, PGresult*& prep) {
  const std::string text(sql);
  // Parse, Bind/Execute and Sync sent together: one round trip where PQprepare and
  // PQexecPrepared take two. Without pipeline mode (it could not be entered), those two.
  if (Pq().PQenterPipelineMode(conn_) != 1) {
    prep = Pq().PQprepare(conn_, name.c_str(), text.c_str(), params.size(), params.types_.data());
    if (prep == nullptr || Pq().PQresultStatus(prep) != PGRES_COMMAND_OK) return nullptr;
    return Pq().PQexecPrepared(conn_, name.c_str(), params.size(), values.data(), lengths.data(),
                               params.formats_.data(), /*resultFormat=*/kBinary);
  }
  PGresult* res = nullptr;
  if (Pq().PQsendPrepare(conn_, name.c_str(), text.c_str(), params.size(), params.types_.data()) ==
          1 &&
      Pq().PQsendQueryPrepared(conn_, name.c_str(), params.size(), values.data(), lengths.data(),
                               params.formats_.data(), /*resultFormat=*/kBinary) == 1 &&
      Pq().PQpipelineSync(conn_) == 1) {
    // The prepare's result, a null; the execution's (PGRES_PIPELINE_ABORTED when the prepare
    // failed), a null; then the sync's. Anything else is dropped.
    int query = 0;
    for (int nulls = 0; nulls < 4;) {
      PGresult* r = Pq().PQgetResult(conn_);
      if (r == nullptr) {
        if (Pq().PQstatus(conn_) != CONNECTION_OK) break;
        ++query;
        ++nulls;
        continue;
      }
      if (Pq().PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
        Pq().PQclear(r);
        break;
      }
      if (query == 0 && prep == nullptr) {
        prep = r;
      } else if (query == 1 && res == nullptr) {
        res = r;
      } else {
        Pq().PQclear(r);
      }
    }
  }
  if (Pq().PQexitPipelineMode(conn_) != 1 && Pq().PQstatus(conn_) == CONNECTION_OK) {
    // Results left unread (should not happen): the connection's state is unknown, so it is
    // dropped and the next statement reconnects.
    Pq().PQclear(res);
    res = nullptr;
    Pq().PQclear(prep);
    prep = nullptr;
    Pq().PQfinish(conn_);
    conn_ = nullptr;
  }
  return res;
}

Error Conn::ServerError(const PGresult* res, std::string_view op) const {
  const char* state = res != nullptr ? Pq().PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary =
      res != nullptr ? Pq().PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string msg = primary != nullptr ? std::string(primary)
                    : res != nullptr && *Pq().PQresultErrorMessage(res) != 0
                        ? Pq().PQresultErrorMessage(res)
                        : Pq().PQerrorMessage(conn_);
  msg = Trim(std::move(msg));
  if (Pq().PQstatus(conn_) != CONNECTION_OK) {
    Error e = LostError(op, std::move(msg));
    if (state != nullptr) e.details["sqlstate"] = state;
    return e;
  }
  const std::string sqlstate = state != nullptr ? state : "";
  const bool unavailable = IsUnavailableState(sqlstate);
  std::map<std::string, std::string> details{
      {"server", server_}, {"op", Scrub(std::string(op))}, {"pg", Scrub(std::move(msg))}};
  if (!sqlstate.empty()) details.emplace("sqlstate", sqlstate);
  return MakeError(unavailable ? ErrorCode::kUnavailable : ErrorCode::kIo,
                   unavailable ? "the database is unavailable" : "the database failed",
                   std::move(details));
}

Error Conn::LostError(std::string_view op, std::string reason) const {
  return MakeError(
      ErrorCode::kUnavailable, "the database connection was lost",
      {{"server", server_}, {"op", Scrub(std::string(op))}, {"pg", Scrub(std::move(reason))}});
}

std::string Conn::Scrub(std::string text) const {
  if (password_.empty()) return text;
  for (size_t at = text.find(password_); at != std::string::npos;
       at = text.find(password_, at + 3)) {
    text.replace(at, password_.size(), "***");
  }
  return text;
}

// ---- Txn ----

Result<Txn> Txn::Begin(Conn& conn, const char* begin) {
  if (Status s = conn.Exec(begin); !s.ok()) return s.take_error();
  conn.in_txn_ = true;
  return Txn(&conn, conn.generation_);
}

Txn::~Txn() {
  if (conn_ == nullptr) return;
  conn_->in_txn_ = false;
  if (conn_->generation_ == generation_ && conn_->connected()) {
    Pq().PQclear(Pq().PQexec(conn_->conn_, "ROLLBACK"));
  }
}

Status Txn::Commit() {
  Conn* conn = conn_;
  conn_ = nullptr;  // whatever happens, the destructor has nothing left to roll back
  if (conn->generation_ != generation_) {
    conn->in_txn_ = false;
    return conn->LostError("COMMIT", "the connection was replaced");
  }
  Result<Rows> r = conn->Execute("COMMIT", Params{}, /*simple=*/true);
  conn->in_txn_ = false;
  if (!r.ok()) return r.take_error();
  // COMMIT of a transaction that had failed succeeds on the wire and says ROLLBACK.
  if (r->Command() != "COMMIT") {
    return MakeError(ErrorCode::kIo, "the database rolled the transaction back",
                     {{"server", conn->server_},
                      {"op", "COMMIT"},
                      {"pg", "an earlier statement in the transaction failed"}});
  }
  return Ok();
}

}  // namespace tapedeck::store::internal::pg
