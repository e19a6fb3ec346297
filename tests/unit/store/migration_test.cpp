// Stores written by older builds open in this one with everything in them.
#include <gtest/gtest.h>

#include "store/schema.h"
#include "store/sqlite_db.h"
#include "store/store.h"
#include "store_test_util.h"

namespace tapedeck::store::internal {
namespace {

using testing::ExpectSameResult;
using testing::MakeResult;
using testing::TempDir;

// Writes `result` as run `id` the way schema v2 laid it out: a row per event and per trade.
void WriteV2Run(Db& db, int64_t seq, const std::string& id, const engine::RunResult& result) {
  const std::string sql =
      "INSERT INTO runs(seq, id, dataset, symbols, strategy, params, cash, commission, fixed_fee, "
      "slippage, allow_short, request, status, progress, created_us, started_us, finished_us) "
      "VALUES(" +
      std::to_string(seq) + ", '" + id +
      "', 'ds', '[\"A\",\"B\"]', 'sma_cross', '{}', 1000, 0, 0, 0, 0, '{}', 'done', 1, 1, 2, 3);"
      "INSERT INTO run_stats(run, symbols, bars, fills, trades, max_drawdown_us) VALUES(" +
      std::to_string(seq) + ", '[\"A\",\"B\"]', 0, 0, 0, 0);";
  ASSERT_TRUE(db.Exec(sql.c_str()).ok());
  {
    Result<Stmt> s = db.Prepare("INSERT INTO run_equity(run, points, times, equity) "
                                "VALUES(?1, ?2, ?3, ?4)");
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE(s->Bind(1, seq)
                    .Bind(2, static_cast<int64_t>(result.times.size()))
                    .BindBlob(3, std::as_bytes(std::span(result.times)))
                    .BindBlob(4, std::as_bytes(std::span(result.equity)))
                    .Run()
                    .ok());
  }
  Result<Stmt> ev = db.Prepare(
      "INSERT INTO run_events(run, seq, order_id, ts_us, bar, symbol, side, type, status, qty, px, "
      "commission, reason) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
  ASSERT_TRUE(ev.ok());
  // Inserted in reverse: the migration must keep the list's order (seq), not the insertion order.
  for (size_t i = result.events.size(); i-- > 0;) {
    const engine::OrderEvent& e = result.events[i];
    ASSERT_TRUE(ev->Bind(1, seq)
                    .Bind(2, static_cast<int64_t>(i))
                    .Bind(3, static_cast<int64_t>(e.id))
                    .Bind(4, ToMicros(e.ts))
                    .Bind(5, static_cast<int64_t>(e.bar))
                    .Bind(6, static_cast<int64_t>(e.symbol))
                    .Bind(7, engine::ToString(e.side))
                    .Bind(8, engine::ToString(e.type))
                    .Bind(9, engine::ToString(e.status))
                    .Bind(10, e.qty)
                    .Bind(11, e.px)
                    .Bind(12, e.commission)
                    .Bind(13, std::string_view(e.reason))
                    .Run()
                    .ok());
    ev->Reset();
  }
  Result<Stmt> tr = db.Prepare(
      "INSERT INTO run_trades(run, seq, symbol, side, entry_us, exit_us, entry_bar, exit_bar, qty, "
      "entry_px, exit_px, pnl, ret, open) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
      "?12, ?13, ?14)");
  ASSERT_TRUE(tr.ok());
  for (size_t i = 0; i < result.trades.size(); ++i) {
    const engine::Trade& t = result.trades[i];
    ASSERT_TRUE(tr->Bind(1, seq)
                    .Bind(2, static_cast<int64_t>(i))
                    .Bind(3, static_cast<int64_t>(t.symbol))
                    .Bind(4, engine::ToString(t.side))
                    .Bind(5, ToMicros(t.entry_time))
                    .Bind(6, ToMicros(t.exit_time))
                    .Bind(7, static_cast<int64_t>(t.entry_bar))
                    .Bind(8, static_cast<int64_t>(t.exit_bar))
                    .Bind(9, t.qty)
                    .Bind(10, t.entry_px)
                    .Bind(11, t.exit_px)
                    .Bind(12, t.pnl)
                    .Bind(13, t.ret)
                    .Bind(14, static_cast<int64_t>(t.open))
                    .Run()
                    .ok());
    tr->Reset();
  }
}

TEST(MigrationTest, V2RunsComeBackWholeFromV3) {
  TempDir dir;
  const std::string path = dir.File("old.db");
  engine::RunResult big = MakeResult(2000, 60);
  big.symbols = {"A", "B"};
  engine::RunResult empty;
  empty.symbols = {"A", "B"};
  {
    Result<std::unique_ptr<Db>> db = Db::Open(path, /*create=*/true, /*durable=*/false);
    ASSERT_TRUE(db.ok()) << db.error().ToString();
    ASSERT_TRUE(MigrateTo(**db, 2).ok());
    WriteV2Run(**db, 1, "00000000000000aa", big);
    WriteV2Run(**db, 2, "00000000000000bb", empty);
    // A queued run has no result and must stay as it is.
    ASSERT_TRUE((*db)->Exec("INSERT INTO runs(seq, id, dataset, symbols, strategy, params, cash, "
                            "commission, fixed_fee, slippage, allow_short, request, status, "
                            "created_us) VALUES(3, '00000000000000cc', 'ds', '[]', 'sma_cross', "
                            "'{}', 1, 0, 0, 0, 0, '{}', 'queued', 4)")
                    .ok());
  }
  Result<std::unique_ptr<Store>> store = OpenSqliteStore(path);
  ASSERT_TRUE(store.ok()) << store.error().ToString();
  for (const auto& [id, want] : {std::pair{"00000000000000aa", &big}, {"00000000000000bb", &empty}}) {
    SCOPED_TRACE(id);
    Result<engine::RunResult> got = (*store)->LoadRunResult(id);
    ASSERT_TRUE(got.ok()) << got.error().ToString();
    engine::RunResult expected = *want;
    expected.stats = got->stats;  // the hand-written stats row is not what this test is about
    ExpectSameResult(expected, *got);
    Result<std::vector<engine::Trade>> trades = (*store)->LoadTrades(id);
    ASSERT_TRUE(trades.ok());
    testing::ExpectSameTrades(want->trades, *trades);
  }
  EXPECT_EQ((*store)->GetRun("00000000000000cc")->status, RunStatus::kQueued);
}

TEST(MigrationTest, V5RunsGetTheirOneDatasetAsTheirList) {
  TempDir dir;
  const std::string path = dir.File("v5.db");
  {
    Result<std::unique_ptr<Db>> db = Db::Open(path, /*create=*/true, /*durable=*/false);
    ASSERT_TRUE(db.ok()) << db.error().ToString();
    ASSERT_TRUE(MigrateTo(**db, 5).ok());
    ASSERT_TRUE((*db)
                    ->Exec("INSERT INTO runs(seq, id, dataset, symbols, strategy, params, cash, "
                           "commission, fixed_fee, slippage, allow_short, request, status, "
                           "created_us) VALUES(1, '00000000000000dd', 'spx \"daily\"', "
                           "'[\"SPX\"]', 'sma_cross', '{}', 1, 0, 0, 0, 0, '{}', 'queued', 4)")
                    .ok());
  }
  Result<std::unique_ptr<Store>> store = OpenSqliteStore(path);
  ASSERT_TRUE(store.ok()) << store.error().ToString();
  Result<RunInfo> run = (*store)->GetRun("00000000000000dd");
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  EXPECT_EQ(run->spec.dataset, "spx \"daily\"");
  EXPECT_EQ(run->spec.datasets, std::vector<std::string>{"spx \"daily\""});
  EXPECT_EQ(run->spec.symbols, std::vector<std::string>{"SPX"});
  store->reset();
  // The column holds the list (not only a reader's fallback).
  Result<std::unique_ptr<Db>> db = Db::Open(path, /*create=*/false, /*durable=*/false);
  ASSERT_TRUE(db.ok()) << db.error().ToString();
  Result<Stmt> s = (*db)->Prepare("SELECT datasets FROM runs WHERE seq = 1");
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  ASSERT_TRUE(s->Step().ok());
  EXPECT_EQ(s->Text(0), R"(["spx \"daily\""])");
}

TEST(MigrationTest, V6StoresKeepTheirRunsAndGainSweeps) {
  TempDir dir;
  const std::string path = dir.File("v6.db");
  {
    Result<std::unique_ptr<Db>> db = Db::Open(path, /*create=*/true, /*durable=*/false);
    ASSERT_TRUE(db.ok()) << db.error().ToString();
    ASSERT_TRUE(MigrateTo(**db, 6).ok());
    ASSERT_TRUE((*db)
                    ->Exec("INSERT INTO runs(seq, id, dataset, symbols, strategy, params, cash, "
                           "commission, fixed_fee, slippage, allow_short, request, status, "
                           "created_us, datasets) VALUES(1, '00000000000000ee', 'a', "
                           "'[\"A\",\"B\"]', 'sma_cross', '{\"fast\":3}', 1, 0, 0, 0, 0, "
                           "'{}', 'running', 4, '[\"a\",\"b\"]')")
                    .ok());
    Result<Stmt> s = (*db)->Prepare("SELECT count(*) FROM sqlite_master WHERE name = 'sweeps'");
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE(s->Step().ok());
    EXPECT_EQ(s->Int(0), 0);
  }
  Result<std::unique_ptr<Store>> store = OpenSqliteStore(path);
  ASSERT_TRUE(store.ok()) << store.error().ToString();
  Result<RunInfo> run = (*store)->GetRun("00000000000000ee");
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  EXPECT_EQ(run->status, RunStatus::kRunning);
  EXPECT_EQ(run->spec.datasets, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(run->spec.params_json, R"({"fast":3})");
  // The sweep tables are there and work.
  SweepSpec spec;
  spec.base.dataset = "a";
  spec.base.strategy = "sma_cross";
  spec.trials = 1;
  spec.tasks = 1;
  Result<std::string> id = (*store)->CreateSweep(spec);
  ASSERT_TRUE(id.ok()) << id.error().ToString();
  ASSERT_TRUE((*store)->MarkSweepRunning(*id).ok());
  TrialRecord t;
  t.stats = MakeResult(3, 2).stats;
  t.returns = {{19'000, 0.5}};
  ASSERT_TRUE((*store)->PutTrials(*id, std::span(&t, 1)).ok());
  EXPECT_EQ((*store)->GetTrial(*id, 0, 0)->returns.size(), 1u);
  // Recovery covers both.
  EXPECT_EQ(*(*store)->RecoverOnStart(), 2u);
  store->reset();
  Result<std::unique_ptr<Db>> db = Db::Open(path, /*create=*/false, /*durable=*/false);
  ASSERT_TRUE(db.ok());
  Result<Stmt> s = (*db)->Prepare("PRAGMA user_version");
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(s->Step().ok());
  EXPECT_EQ(s->Int(0), 8);
  EXPECT_EQ(kSchemaVersion, 8);
}

TEST(MigrationTest, ANewerStoreIsRefused) {
  TempDir dir;
  const std::string path = dir.File("new.db");
  {
    Result<std::unique_ptr<Db>> db = Db::Open(path, /*create=*/true, /*durable=*/false);
    ASSERT_TRUE(db.ok());
    const std::string set = "PRAGMA user_version=" + std::to_string(kSchemaVersion + 1);
    ASSERT_TRUE((*db)->Exec(set.c_str()).ok());
  }
  Result<std::unique_ptr<Store>> store = OpenSqliteStore(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kIo);
  EXPECT_EQ(store.error().details.at("user_version"), std::to_string(kSchemaVersion + 1));
}

}  // namespace
}  // namespace tapedeck::store::internal
