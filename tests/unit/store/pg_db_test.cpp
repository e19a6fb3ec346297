#include "store/pg_db.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "pg_cluster.h"

namespace tapedeck::store::internal::pg {
namespace {

using Clock = std::chrono::steady_clock;
using testing::PgCluster;

// Short timeouts: a test that would hang fails within seconds instead.
Options Fast() {
  Options o;
  o.connect_timeout_s = 2;
  o.statement_timeout = std::chrono::milliseconds{10000};
  o.reconnect_backoff_initial = std::chrono::milliseconds{50};
  o.reconnect_backoff_max = std::chrono::milliseconds{200};
  return o;
}

std::unique_ptr<Conn> MustOpen(const std::string& url) {
  Result<std::unique_ptr<Conn>> c = Conn::Open(url, Fast());
  EXPECT_TRUE(c.ok()) << c.error().ToString();
  return c.ok() ? std::move(*c) : nullptr;
}

TEST(PgDbTest, EachTypeRoundTripsExactly) {
  PgCluster pg;
  ASSERT_TRUE(pg.ok()) << pg.error();
  auto db = MustOpen(pg.url());
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->Exec("CREATE TABLE t (n int PRIMARY KEY, i bigint, d double precision, "
                       "s text, b bytea)")
                  .ok());
  std::vector<std::byte> all_bytes;
  for (int v = 0; v < 256; ++v) all_bytes.push_back(static_cast<std::byte>(v));
  const double kInf = std::numeric_limits<double>::infinity();
  struct Row {
    int64_t i;
    double d;
    std::string s;
    std::vector<std::byte> b;
  };
  const std::vector<Row> rows = {
      {std::numeric_limits<int64_t>::min(), std::numeric_limits<double>::quiet_NaN(), "", {}},
      {std::numeric_limits<int64_t>::max(), kInf, "prix: 12,5 €, 株価", all_bytes},
      {-1, -kInf, "it's \"quoted\" \\ and\nnew-lined", {std::byte{0}}},
      {0, -0.0, "x", {std::byte{0xff}, std::byte{0}}},
      {42, 0.1 + 0.2, std::string(100000, 'a'), std::vector<std::byte>(70000, std::byte{7})},
      {7, std::numeric_limits<double>::denorm_min(), "e", {}},
  };
  // The same statement each time: prepared once, then reused.
  for (size_t n = 0; n < rows.size(); ++n) {
    const Row& r = rows[n];
    Result<int64_t> changed =
        db->Run("INSERT INTO t VALUES ($1, $2, $3, $4, $5)", Params()
                                                                 .Add(static_cast<int64_t>(n))
                                                                 .Add(r.i)
                                                                 .Add(r.d)
                                                                 .Add(std::string_view(r.s))
                                                                 .AddBytes(r.b));
    ASSERT_TRUE(changed.ok()) << changed.error().ToString();
    EXPECT_EQ(*changed, 1);
  }
  ASSERT_TRUE(
      db->Run("INSERT INTO t VALUES ($1, $2, $3, $4, $5)", Params()
                                                               .Add(int64_t{99})
                                                               .Add(std::optional<int64_t>())
                                                               .Add(std::optional<double>())
                                                               .AddNull()
                                                               .AddNull())
          .ok());

  Result<Rows> got =
      db->Query("SELECT n, i, d, s, b FROM t WHERE n >= $1 ORDER BY n", Params().Add(int64_t{0}));
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  ASSERT_EQ(got->size(), static_cast<int>(rows.size()) + 1);
  for (size_t n = 0; n < rows.size(); ++n) {
    const int row = static_cast<int>(n);
    const Row& want = rows[n];
    EXPECT_EQ(got->Int(row, 0), static_cast<int64_t>(n));
    EXPECT_EQ(got->Int(row, 1), want.i) << n;
    const double d = got->Double(row, 2);
    if (std::isnan(want.d)) {
      EXPECT_TRUE(std::isnan(d)) << n;
    } else {
      EXPECT_EQ(d, want.d) << n;
      EXPECT_EQ(std::signbit(d), std::signbit(want.d)) << n;
    }
    EXPECT_EQ(got->Text(row, 3), want.s) << n;
    const auto b = got->Bytes(row, 4);
    EXPECT_EQ(std::vector<std::byte>(b.begin(), b.end()), want.b) << n;
    EXPECT_FALSE(got->IsNull(row, 4)) << n;
  }
  const int last = static_cast<int>(rows.size());
  for (int col = 1; col < 5; ++col) EXPECT_TRUE(got->IsNull(last, col)) << col;
  EXPECT_EQ(got->OptInt(last, 1), std::nullopt);
  EXPECT_TRUE(std::isnan(got->Double(last, 2)));

  // The server's own NaN and infinities (text input there), and narrower column types.
  Result<Rows> lit = db->Query(
      "SELECT 'NaN'::float8, '-Infinity'::float8, 1.5::float4, (-3)::int2, 2147483647::int4, "
      "count(*) FROM t");
  ASSERT_TRUE(lit.ok()) << lit.error().ToString();
  EXPECT_TRUE(std::isnan(lit->Double(0, 0)));
  EXPECT_EQ(lit->Double(0, 1), -kInf);
  EXPECT_EQ(lit->Double(0, 2), 1.5);
  EXPECT_EQ(lit->Int(0, 3), -3);
  EXPECT_EQ(lit->Int(0, 4), 2147483647);
  EXPECT_EQ(lit->Int(0, 5), static_cast<int64_t>(rows.size()) + 1);

  // Values the server compares: the bound double matches the stored one bit for bit.
  Result<Rows> eq = db->Query("SELECT n FROM t WHERE d = $1 AND s = $2",
                              Params().Add(0.1 + 0.2).Add(std::string_view(rows[4].s)));
  ASSERT_TRUE(eq.ok()) << eq.error().ToString();
  ASSERT_EQ(eq->size(), 1);
  EXPECT_EQ(eq->Int(0, 0), 4);

  // Text is sent with its length: a NUL is refused, never silently cut.
  Result<int64_t> nul =
      db->Run("INSERT INTO t (n, s) VALUES (100, $1)", Params().Add(std::string_view("a\0b", 3)));
  ASSERT_FALSE(nul.ok());
  EXPECT_EQ(nul.error().code, ErrorCode::kIo);
}

TEST(PgDbTest, BorrowedBytesGoAsTheyAreAndMixWithCopiedParameters) {
  PgCluster pg;
  ASSERT_TRUE(pg.ok()) << pg.error();
  auto db = MustOpen(pg.url());
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->Exec("CREATE TABLE t (n bigint PRIMARY KEY, a bytea, s text, b bytea)").ok());
  std::vector<std::byte> big(3'000'000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::byte>((i * 131) % 251);
  const std::vector<std::byte> one = {std::byte{0}};
  const std::vector<std::byte> none;
  struct Row {
    const std::vector<std::byte>* a;
    const std::vector<std::byte>* b;
  };
  const Row rows[] = {{&big, &one}, {&one, &none}, {&none, &big}};
  for (int64_t n = 0; n < 3; ++n) {
    // The same statement each time (prepared by the first, reused by the others).
    Result<int64_t> changed =
        db->Run("INSERT INTO t VALUES ($1, $2, $3, $4)", Params()
                                                             .Add(n)
                                                             .AddBytesRef(*rows[n].a)
                                                             .Add(std::string_view("between"))
                                                             .AddBytesRef(*rows[n].b));
    ASSERT_TRUE(changed.ok()) << changed.error().ToString();
  }
  Result<Rows> got = db->Query("SELECT a, s, b, a IS NULL, b IS NULL FROM t ORDER BY n");
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  ASSERT_EQ(got->size(), 3);
  for (int n = 0; n < 3; ++n) {
    const auto a = got->Bytes(n, 0);
    const auto b = got->Bytes(n, 2);
    EXPECT_TRUE(std::equal(a.begin(), a.end(), rows[n].a->begin(), rows[n].a->end())) << n;
    EXPECT_TRUE(std::equal(b.begin(), b.end(), rows[n].b->begin(), rows[n].b->end())) << n;
    EXPECT_EQ(got->Text(n, 1), "between");
    EXPECT_EQ(got->Int(n, 3), 0) << n;  // an empty blob is empty, not NULL
    EXPECT_EQ(got->Int(n, 4), 0) << n;
  }
}

TEST(PgDbTest, FailingStatementNamesSqlstateAndMessage) {
  PgCluster pg;
  ASSERT_TRUE(pg.ok()) << pg.error();
  auto db = MustOpen(pg.url());
  ASSERT_TRUE(db);

  Result<Rows> missing = db->Query("SELECT * FROM no_such_table");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kIo);
  EXPECT_EQ(missing.error().details.at("sqlstate"), "42P01");
  EXPECT_NE(missing.error().details.at("pg").find("no_such_table"), std::string::npos);
  EXPECT_EQ(missing.error().details.at("op"), "SELECT * FROM no_such_table");
  EXPECT_NE(missing.error().details.at("server").find("127.0.0.1:"), std::string::npos);

  Status syntax = db->Exec("SELEC 1");
  ASSERT_FALSE(syntax.ok());
  EXPECT_EQ(syntax.error().details.at("sqlstate"), "42601");

  ASSERT_TRUE(db->Exec("CREATE TABLE u (k bigint PRIMARY KEY)").ok());
  ASSERT_TRUE(db->Run("INSERT INTO u VALUES ($1)", Params().Add(int64_t{1})).ok());
  Result<int64_t> dup = db->Run("INSERT INTO u VALUES ($1)", Params().Add(int64_t{1}));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, ErrorCode::kIo);
  EXPECT_EQ(dup.error().details.at("sqlstate"), "23505");

  // A statement over its time is cancelled by the server, not waited on.
  Options slow = Fast();
  slow.statement_timeout = std::chrono::milliseconds{200};
  auto limited = Conn::Open(pg.url(), slow);
  ASSERT_TRUE(limited.ok()) << limited.error().ToString();
  Result<Rows> sleep = (*limited)->Query("SELECT pg_sleep(5)");
  ASSERT_FALSE(sleep.ok());
  EXPECT_EQ(sleep.error().details.at("sqlstate"), "57014");

  // The connection goes on after each failure.
  Result<Rows> one = db->Query("SELECT count(*) FROM u");
  ASSERT_TRUE(one.ok()) << one.error().ToString();
  EXPECT_EQ(one->Int(0, 0), 1);
}

TEST(PgDbTest, TransactionsCommitOrRollBack) {
  PgCluster pg;
  ASSERT_TRUE(pg.ok()) << pg.error();
  auto db = MustOpen(pg.url());
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->Exec("CREATE TABLE t (k bigint PRIMARY KEY)").ok());
  auto count = [&] {
    Result<Rows> r = db->Query("SELECT count(*) FROM t");
    return r.ok() ? r->Int(0, 0) : -1;
  };
  {
    Result<Txn> txn = Txn::Begin(*db);
    ASSERT_TRUE(txn.ok()) << txn.error().ToString();
    ASSERT_TRUE(db->Run("INSERT INTO t VALUES ($1)", Params().Add(int64_t{1})).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  EXPECT_EQ(count(), 1);
  {
    Result<Txn> txn = Txn::Begin(*db, "BEGIN ISOLATION LEVEL SERIALIZABLE");
    ASSERT_TRUE(txn.ok()) << txn.error().ToString();
    ASSERT_TRUE(db->Run("INSERT INTO t VALUES ($1)", Params().Add(int64_t{2})).ok());
  }  // not committed: rolled back
  EXPECT_EQ(count(), 1);
  {
    Result<Txn> txn = Txn::Begin(*db);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(db->Run("INSERT INTO t VALUES ($1)", Params().Add(int64_t{3})).ok());
    EXPECT_FALSE(db->Run("INSERT INTO t VALUES ($1)", Params().Add(int64_t{1})).ok());
    Status s = txn->Commit();
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, ErrorCode::kIo);
  }
  EXPECT_EQ(count(), 1);
}

TEST(PgDbTest, StoppedClusterIsUnavailableQuickly) {
  PgCluster pg;
  ASSERT_TRUE(pg.ok()) << pg.error();
  auto db = MustOpen(pg.url());
  ASSERT_TRUE(db);
  ASSERT_TRUE(pg.Stop());

  const auto t0 = Clock::now();
  Result<Rows> r = db->Query("SELECT 1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable) << r.error().ToString();
  EXPECT_EQ(HttpStatus(r.error().code), 503);
  EXPECT_FALSE(r.error().details.at("server").empty());
  EXPECT_FALSE(r.error().details.at("retry_after_ms").empty());
  // Within the backoff the next call does not even try: it fails at once.
  Result<Rows> again = db->Query("SELECT 1");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kUnavailable);
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(3));
  EXPECT_FALSE(db->connected());

  const auto t1 = Clock::now();
  Result<std::unique_ptr<Conn>> fresh = Conn::Open(pg.url(), Fast());
  ASSERT_FALSE(fresh.ok());
  EXPECT_EQ(fresh.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(fresh.error().details.at("pg").find("127.0.0.1"), std::string::npos)
      << fresh.error().ToString();
  EXPECT_LT(Clock::now() - t1, std::chrono::seconds(3));

  // Back up: after the backoff, the same Conn reconnects by itself.
  ASSERT_TRUE(pg.Start());
  Result<Rows> later = db->Query("SELECT 1");
  for (int i = 0; i < 50 && !later.ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    later = db->Query("SELECT 1");
  }
  ASSERT_TRUE(later.ok()) << later.error().ToString();
  EXPECT_EQ(later->Int(0, 0), 1);
  EXPECT_EQ(db->reconnects(), 1);
}

TEST(PgDbTest, RestartedClusterIsReconnectedTo) {
  PgCluster pg;
  ASSERT_TRUE(pg.ok()) << pg.error();
  auto db = MustOpen(pg.url());
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->Exec("CREATE TABLE t (k bigint)").ok());
  ASSERT_TRUE(db->Run("INSERT INTO t VALUES ($1)", Params().Add(int64_t{5})).ok());
  ASSERT_TRUE(pg.Restart());

  // The dropped connection is noticed before the statement is sent, and replaced; statements
  // prepared on the old connection are prepared again on the new one.
  Result<Rows> r = db->Query("SELECT k FROM t WHERE k = $1", Params().Add(int64_t{5}));
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->Int(0, 0), 5);
  EXPECT_EQ(db->reconnects(), 1);
  ASSERT_TRUE(db->Run("INSERT INTO t VALUES ($1)", Params().Add(int64_t{6})).ok());

  // Inside a transaction there is no reconnecting: the transaction is gone, and says so.
  {
    Result<Txn> txn = Txn::Begin(*db);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(db->Run("INSERT INTO t VALUES ($1)", Params().Add(int64_t{7})).ok());
    ASSERT_TRUE(pg.Restart());
    Result<int64_t> in = db->Run("INSERT INTO t VALUES ($1)", Params().Add(int64_t{8}));
    ASSERT_FALSE(in.ok());
    EXPECT_EQ(in.error().code, ErrorCode::kUnavailable);
    Status c = txn->Commit();
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.error().code, ErrorCode::kUnavailable);
  }
  Result<Rows> after = db->Query("SELECT count(*) FROM t");
  ASSERT_TRUE(after.ok()) << after.error().ToString();
  EXPECT_EQ(after->Int(0, 0), 2);
  EXPECT_EQ(db->reconnects(), 2);
}

TEST(PgDbTest, SilentServerTimesOutInsteadOfHanging) {
  // A socket that listens (the kernel completes the handshake) but never answers.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 8), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string url =
      "postgresql://tapedeck@127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/tapedeck";

  const auto t0 = Clock::now();
  Result<std::unique_ptr<Conn>> c = Conn::Open(url, Fast());
  const auto took = Clock::now() - t0;
  ::close(fd);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::kUnavailable);
  EXPECT_LT(took, std::chrono::seconds(5));
}

TEST(PgDbTest, PasswordAppearsInNoMessage) {
  const std::string kPassword = "Hunter2-secret";
  PgCluster pg(kPassword);
  ASSERT_TRUE(pg.ok()) << pg.error();
  ASSERT_NE(pg.url_with_password().find(kPassword), std::string::npos);

  auto db = MustOpen(pg.url_with_password());
  ASSERT_TRUE(db);
  EXPECT_EQ(db->server().find(kPassword), std::string::npos);

  std::string wrong = pg.url_with_password();
  wrong.replace(wrong.find(kPassword), kPassword.size(), "Wrong-secret");
  Result<std::unique_ptr<Conn>> refused = Conn::Open(wrong, Fast());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(refused.error().ToString().find("Wrong-secret"), std::string::npos);
  EXPECT_NE(refused.error().details.at("pg").find("password authentication failed"),
            std::string::npos);

  Result<std::unique_ptr<Conn>> bad_url =
      Conn::Open("postgresql://tapedeck:" + kPassword + "@127.0.0.1:notaport/x?nope=1", Fast());
  ASSERT_FALSE(bad_url.ok());
  EXPECT_EQ(bad_url.error().code, ErrorCode::kValidation);
  EXPECT_EQ(bad_url.error().ToString().find(kPassword), std::string::npos);

  // A statement that carries the password text, failing: scrubbed from the op and the message.
  Status s = db->Exec("SELECT no_such_column_" + kPassword);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().ToString().find(kPassword), std::string::npos) << s.error().ToString();

  ASSERT_TRUE(pg.Stop());
  Result<Rows> gone = db->Query("SELECT 1");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(gone.error().ToString().find(kPassword), std::string::npos);
}

}  // namespace
}  // namespace tapedeck::store::internal::pg
