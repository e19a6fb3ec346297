// PostgreSQL schema v4: a run's packed equity and trades stored out of line uncompressed (STORAGE
// EXTERNAL); runs stored before, compressed, read back as before; a v3 database is upgraded.
#include <gtest/gtest.h>

#include "store/pg_db.h"
#include "store/store.h"
#include "store_test_util.h"

namespace tapedeck::store {
namespace {

using testing::Backend;
using testing::BackendStore;
using testing::ExpectSameResult;
using testing::MakeResult;

// Equity lz4 compresses well (two values in turn: no repeats for PackEquity to fold), trades and
// events of a few thousand round trips: every blob well past TOAST's 2 KB threshold.
engine::RunResult CompressibleResult() {
  engine::RunResult r = MakeResult(20000, 2000);
  for (size_t i = 0; i < r.equity.size(); ++i) r.equity[i] = i % 2 == 0 ? 100'000.5 : 100'001.25;
  return r;
}

class PgStorageTest : public ::testing::Test {
 protected:
  PgStorageTest() : db_(Backend::kPostgres) {}
  void SetUp() override {
    auto opened = db_.Open();
    ASSERT_TRUE(opened.ok()) << opened.error().ToString();
    store_ = std::move(*opened);
  }

  void Exec(const std::string& sql) {
    auto conn = internal::pg::Conn::Open(db_.url());
    ASSERT_TRUE(conn.ok()) << conn.error().ToString();
    const Status st = (*conn)->Exec(sql);
    ASSERT_TRUE(st.ok()) << st.error().ToString();
  }

  std::string Done(Store& store, const engine::RunResult& result) {
    RunSpec spec;
    spec.dataset = "ds";
    spec.symbols = result.symbols;
    spec.strategy = "sma_cross";
    auto id = store.CreateRun(spec);
    EXPECT_TRUE(id.ok()) << id.error().ToString();
    if (!id.ok()) return "";
    const Status done = store.CompleteRun(*id, result);
    EXPECT_TRUE(done.ok()) << done.error().ToString();
    return *id;
  }

  // Whether run `id`'s value in `table`.`column` is stored compressed: 1, 0, or -1 (no row).
  int64_t Compressed(const std::string& id, const std::string& table, const std::string& column) {
    return db_.Scalar("SELECT (pg_column_compression(t." + column + ") IS NOT NULL)::int FROM " +
                      table + " t JOIN runs r ON r.seq = t.run WHERE r.id = '" + id + "'");
  }

  // The storage of `table`.`column`: 'e' (EXTERNAL), 'x' (EXTENDED), ... as its character code.
  int64_t Storage(const std::string& table, const std::string& column) {
    return db_.Scalar("SELECT ascii(attstorage::text) FROM pg_attribute WHERE attrelid = '" +
                      table + "'::regclass AND attname = '" + column + "'");
  }

  BackendStore db_;
  std::unique_ptr<Store> store_;
};

TEST_F(PgStorageTest, EquityAndTradesAreStoredUncompressedEventsCompressed) {
  EXPECT_EQ(db_.Scalar("SELECT version FROM tapedeck_schema"), 4);
  EXPECT_EQ(Storage("run_equity", "equity"), 'e');
  EXPECT_EQ(Storage("run_trades", "records"), 'e');
  EXPECT_EQ(Storage("run_events", "records"), 'x');
  const engine::RunResult result = CompressibleResult();
  const std::string id = Done(*store_, result);
  EXPECT_EQ(Compressed(id, "run_equity", "equity"), 0);
  EXPECT_EQ(Compressed(id, "run_trades", "records"), 0);
  EXPECT_EQ(Compressed(id, "run_events", "records"), 1);
  auto back = store_->LoadRunResult(id);
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  ExpectSameResult(*back, result);
}

TEST_F(PgStorageTest, RunsStoredCompressedBeforeReadAsBefore) {
  // As schema v3 stored them.
  Exec(
      "ALTER TABLE run_equity ALTER COLUMN equity SET STORAGE EXTENDED;"
      "ALTER TABLE run_trades ALTER COLUMN records SET STORAGE EXTENDED");
  const engine::RunResult old_result = CompressibleResult();
  const std::string old_id = Done(*store_, old_result);
  Exec(
      "ALTER TABLE run_equity ALTER COLUMN equity SET STORAGE EXTERNAL;"
      "ALTER TABLE run_trades ALTER COLUMN records SET STORAGE EXTERNAL");
  EXPECT_EQ(Compressed(old_id, "run_equity", "equity"), 1);
  EXPECT_EQ(Compressed(old_id, "run_trades", "records"), 1);
  engine::RunResult new_result = CompressibleResult();
  new_result.equity[7] = 99'999.0;
  const std::string new_id = Done(*store_, new_result);
  EXPECT_EQ(Compressed(new_id, "run_equity", "equity"), 0);

  auto other = db_.Open();
  ASSERT_TRUE(other.ok()) << other.error().ToString();
  for (const auto& [id, want] : {std::pair{old_id, old_result}, std::pair{new_id, new_result}}) {
    auto whole = (*other)->LoadRunResult(id);
    ASSERT_TRUE(whole.ok()) << whole.error().ToString();
    ExpectSameResult(*whole, want);
    auto pieces = (*other)->LoadRunResultInPieces(id, [] {});
    ASSERT_TRUE(pieces.ok()) << pieces.error().ToString();
    ExpectSameResult(*pieces, want);
    auto trades = (*other)->LoadTrades(id);
    ASSERT_TRUE(trades.ok()) << trades.error().ToString();
    EXPECT_EQ(trades->size(), want.trades.size());
  }
}

TEST_F(PgStorageTest, AVersion3DatabaseIsUpgradedOnOpen) {
  const engine::RunResult old_result = CompressibleResult();
  Exec(
      "ALTER TABLE run_equity ALTER COLUMN equity SET STORAGE EXTENDED;"
      "ALTER TABLE run_trades ALTER COLUMN records SET STORAGE EXTENDED;"
      "UPDATE tapedeck_schema SET version = 3");
  const std::string old_id = Done(*store_, old_result);
  store_.reset();

  auto reopened = db_.Open();
  ASSERT_TRUE(reopened.ok()) << reopened.error().ToString();
  EXPECT_EQ(db_.Scalar("SELECT version FROM tapedeck_schema"), 4);
  EXPECT_EQ(Storage("run_equity", "equity"), 'e');
  EXPECT_EQ(Storage("run_trades", "records"), 'e');
  auto back = (*reopened)->LoadRunResult(old_id);
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  ExpectSameResult(*back, old_result);
  const std::string new_id = Done(**reopened, CompressibleResult());
  EXPECT_EQ(Compressed(new_id, "run_equity", "equity"), 0);
  EXPECT_EQ(Compressed(new_id, "run_trades", "records"), 0);
}

}  // namespace
}  // namespace tapedeck::store
