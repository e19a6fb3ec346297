#include "store/sqlite_db.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "store/checkpointer.h"
#include "store_test_util.h"

namespace tapedeck::store::internal {
namespace {

using testing::TempDir;

TEST(SqliteDbTest, FullDiskAndBusyAreUnavailableOthersIo) {
  TempDir dir;
  Result<std::unique_ptr<Db>> db = Db::Open(dir.File("x.db"), /*create=*/true, false);
  ASSERT_TRUE(db.ok());
  for (int rc : {SQLITE_FULL, SQLITE_BUSY, SQLITE_LOCKED, SQLITE_BUSY_SNAPSHOT}) {
    const Error e = (*db)->MakeSqliteError(rc, "COMMIT");
    EXPECT_EQ(e.code, ErrorCode::kUnavailable) << rc;
    EXPECT_EQ(e.details.at("path"), dir.File("x.db"));
    EXPECT_FALSE(e.details.at("sqlite").empty());
  }
  for (int rc :
       {SQLITE_IOERR, SQLITE_IOERR_FSYNC, SQLITE_CORRUPT, SQLITE_READONLY, SQLITE_CANTOPEN}) {
    EXPECT_EQ((*db)->MakeSqliteError(rc, "x").code, ErrorCode::kIo) << rc;
  }
}

TEST(SqliteDbTest, FailedStatementNamesTheDatabaseAndSqliteMessage) {
  TempDir dir;
  Result<std::unique_ptr<Db>> db = Db::Open(dir.File("x.db"), /*create=*/true, false);
  ASSERT_TRUE(db.ok());
  Status s = (*db)->Exec("SELECT * FROM no_such_table");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kIo);
  EXPECT_NE(s.error().details.at("sqlite").find("no_such_table"), std::string::npos);
}

TEST(SqliteDbTest, TxnRollsBackUnlessCommitted) {
  TempDir dir;
  Result<std::unique_ptr<Db>> opened = Db::Open(dir.File("x.db"), /*create=*/true, false);
  ASSERT_TRUE(opened.ok());
  Db& db = **opened;
  ASSERT_TRUE(db.Exec("CREATE TABLE t(x)").ok());
  {
    Result<Txn> txn = Txn::Begin(db, /*write=*/true);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(db.Exec("INSERT INTO t VALUES(1)").ok());
  }
  {
    Result<Txn> txn = Txn::Begin(db, /*write=*/true);
    ASSERT_TRUE(db.Exec("INSERT INTO t VALUES(2)").ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  Result<Stmt> s = db.Prepare("SELECT group_concat(x) FROM t");
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(*s->Step());
  EXPECT_EQ(s->Text(0), "2");
}

// PRAGMA synchronous: 1 is NORMAL, 2 is FULL.
int64_t Synchronous(Db& db) {
  Result<Stmt> s = db.Prepare("PRAGMA synchronous");
  EXPECT_TRUE(s.ok());
  EXPECT_TRUE(*s->Step());
  return s->Int(0);
}

TEST(SqliteDbTest, DurableTxnSyncsItsOwnCommitOnly) {
  TempDir dir;
  Result<std::unique_ptr<Db>> opened = Db::Open(dir.File("x.db"), /*create=*/true, false);
  ASSERT_TRUE(opened.ok());
  Db& db = **opened;
  ASSERT_TRUE(db.Exec("PRAGMA journal_mode=WAL; CREATE TABLE t(x)").ok());
  ASSERT_EQ(Synchronous(db), 1);
  {
    Result<Txn> txn = Txn::BeginDurable(db);
    ASSERT_TRUE(txn.ok());
    EXPECT_EQ(Synchronous(db), 2);  // the COMMIT below syncs the WAL
    ASSERT_TRUE(db.Exec("INSERT INTO t VALUES(1)").ok());
    ASSERT_TRUE(txn->Commit().ok());
    EXPECT_EQ(Synchronous(db), 1);  // and the next ordinary write does not
  }
  {
    Result<Txn> txn = Txn::BeginDurable(db);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(db.Exec("INSERT INTO t VALUES(2)").ok());
  }  // rolled back
  EXPECT_EQ(Synchronous(db), 1);
  {
    // Moved: only the last owner ends it, once.
    Result<Txn> txn = Txn::BeginDurable(db);
    ASSERT_TRUE(txn.ok());
    Txn moved = std::move(*txn);
    ASSERT_TRUE(db.Exec("INSERT INTO t VALUES(3)").ok());
    ASSERT_TRUE(moved.Commit().ok());
  }
  EXPECT_EQ(Synchronous(db), 1);
  Result<Stmt> s = db.Prepare("SELECT group_concat(x) FROM t");
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(*s->Step());
  EXPECT_EQ(s->Text(0), "1,3");
}

TEST(SqliteDbTest, DurableConnectionStaysFull) {
  TempDir dir;
  Result<std::unique_ptr<Db>> opened = Db::Open(dir.File("x.db"), /*create=*/true, true);
  ASSERT_TRUE(opened.ok());
  Db& db = **opened;
  ASSERT_EQ(Synchronous(db), 2);
  {
    Result<Txn> txn = Txn::BeginDurable(db);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  EXPECT_EQ(Synchronous(db), 2);
}

TEST(CheckpointerTest, BigCommitsAreCheckpointedInTheBackground) {
  TempDir dir;
  const std::string path = dir.File("x.db");
  Result<std::unique_ptr<Db>> opened = Db::Open(path, /*create=*/true, false);
  ASSERT_TRUE(opened.ok());
  Db& db = **opened;
  ASSERT_TRUE(db.Exec("PRAGMA journal_mode=WAL; CREATE TABLE t(b BLOB)").ok());
  Result<std::unique_ptr<Checkpointer>> c = Checkpointer::Start(path, db, 64 << 10);
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  ASSERT_TRUE(db.Exec("INSERT INTO t VALUES(zeroblob(1000000))").ok());
  for (int i = 0; i < 500 && (*c)->passes() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE((*c)->passes(), 1);
  // The copy reached the database file itself, not only the WAL.
  EXPECT_GT(std::filesystem::file_size(path), 1'000'000u);
  (*c)->Detach(db);
}

}  // namespace
}  // namespace tapedeck::store::internal
