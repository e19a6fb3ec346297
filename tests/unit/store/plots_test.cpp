// A run's plots and logs: stored with its result, loaded back whole, and the run's "plots" list.
#include <gtest/gtest.h>

#include <cmath>

#include "store/packing.h"
#include "store/schema.h"
#include "store/sqlite_db.h"
#include "store/store.h"
#include "store_test_util.h"

namespace tapedeck::store::internal {
namespace {

using testing::Backend;
using testing::BackendStore;
using testing::ExpectSameResult;
using testing::MakeResult;
using testing::SameDouble;
using testing::TempDir;

// MakeResult plus two series (one with a warm-up and a gap, one never plotted) and some logs.
engine::RunResult WithPlots(size_t bars) {
  engine::RunResult r = MakeResult(bars, 6);
  engine::PlotSeries fast{"fast", engine::PlotPane::kPrice, std::vector<double>(bars, NAN)};
  for (size_t i = 5; i + 3 < bars; ++i) fast.values[i] = 100 + std::sin(static_cast<double>(i));
  if (bars > 10) fast.values[9] = NAN;
  engine::PlotSeries rsi{"r\"si \xC3\xA9", engine::PlotPane::kOwn, std::vector<double>(bars, NAN)};
  r.plots = {fast, rsi};
  for (size_t b = 0; b < bars; b += 7) {
    r.logs.push_back({r.times[b], b, "at " + std::to_string(b) + (b % 2 ? "" : " \"q\"\n")});
  }
  return r;
}

void ExpectSamePlots(const engine::RunResult& a, const engine::RunResult& b) {
  ASSERT_EQ(a.plots.size(), b.plots.size());
  for (size_t p = 0; p < a.plots.size(); ++p) {
    SCOPED_TRACE(a.plots[p].name);
    EXPECT_EQ(a.plots[p].name, b.plots[p].name);
    EXPECT_EQ(a.plots[p].pane, b.plots[p].pane);
    ASSERT_EQ(a.plots[p].values.size(), b.plots[p].values.size());
    for (size_t i = 0; i < a.plots[p].values.size(); ++i) {
      ASSERT_TRUE(SameDouble(a.plots[p].values[i], b.plots[p].values[i])) << i;
    }
  }
  ASSERT_EQ(a.logs.size(), b.logs.size());
  for (size_t i = 0; i < a.logs.size(); ++i) {
    EXPECT_EQ(a.logs[i].ts, b.logs[i].ts);
    EXPECT_EQ(a.logs[i].bar, b.logs[i].bar);
    EXPECT_EQ(a.logs[i].msg, b.logs[i].msg);
  }
}

RunSpec Spec() {
  RunSpec spec;
  spec.dataset = "ds";
  spec.symbols = {"BTCUSDT", "ETH \"quoted\" \\ sym"};
  spec.strategy = "sma_cross";
  spec.params_json = "{}";
  spec.request_json = "{}";
  return spec;
}

class PlotStore : public ::testing::TestWithParam<Backend> {
 protected:
  PlotStore() : db_(GetParam()) {}
  BackendStore db_;
};
TD_STORE_BACKENDS(PlotStore);

TEST_P(PlotStore, PlotsAndLogsComeBackWhole) {
  auto store = db_.Open();
  ASSERT_TRUE(store.ok()) << store.error().ToString();
  const engine::RunResult want = WithPlots(500);
  auto id = (*store)->CreateRun(Spec());
  ASSERT_TRUE(id.ok());
  EXPECT_EQ((*store)->GetRun(*id)->plots_json, "[]");  // not done yet
  ASSERT_TRUE((*store)->CompleteRun(*id, want).ok());
  auto bare = (*store)->CreateRun(Spec());
  ASSERT_TRUE((*store)->CompleteRun(*bare, MakeResult(50, 2)).ok());

  store->reset();
  store = db_.Open();
  ASSERT_TRUE(store.ok());
  auto got = (*store)->LoadRunResult(*id);
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  ExpectSameResult(want, *got);
  ExpectSamePlots(want, *got);
  const std::string decl = R"([{"name":"fast","pane":"price"},{"name":"r\"si é","pane":"own"}])";
  EXPECT_EQ((*store)->GetRun(*id)->plots_json, decl);
  auto list = (*store)->ListRuns(0, 0);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].plots_json, "[]");  // newest first: the run without plots
  EXPECT_EQ((*list)[1].plots_json, decl);

  auto none = (*store)->LoadRunResult(*bare);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->plots.empty());
  EXPECT_TRUE(none->logs.empty());
}

TEST_P(PlotStore, TheRowGoesWithItsRun) {
  {
    auto store = db_.Open();
    ASSERT_TRUE(store.ok());
    auto id = (*store)->CreateRun(Spec());
    ASSERT_TRUE((*store)->CompleteRun(*id, WithPlots(40)).ok());
    EXPECT_EQ(db_.CountRows("run_plots"), 1);
    ASSERT_TRUE((*store)->DeleteRun(*id).ok());
  }
  EXPECT_EQ(db_.CountRows("run_plots"), 0);
}

TEST(SqlitePlotStore, V3StoresOpenWithRunsWithoutPlots) {
  TempDir dir;
  const std::string path = dir.File("old.db");
  const engine::RunResult old = MakeResult(30, 4);
  {
    auto db = Db::Open(path, /*create=*/true, /*durable=*/false);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(MigrateTo(**db, 3).ok());
    ASSERT_TRUE((*db)
                    ->Exec("INSERT INTO runs(seq, id, dataset, symbols, strategy, params, cash, "
                           "commission, fixed_fee, slippage, allow_short, request, status, "
                           "progress, created_us) VALUES(1, '00000000000000aa', 'ds', '[]', "
                           "'sma_cross', '{}', 1, 0, 0, 0, 0, '{}', 'done', 1, 4);"
                           "INSERT INTO run_stats(run, symbols, bars, fills, trades, "
                           "max_drawdown_us) VALUES(1, '[\"BTCUSDT\",\"ETH\"]', 0, 0, 0, 0)")
                    .ok());
    auto s = (*db)->Prepare(
        "INSERT INTO run_equity(run, points, times, equity) "
        "VALUES(1, ?1, ?2, ?3)");
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE(s->Bind(1, static_cast<int64_t>(old.times.size()))
                    .BindBlob(2, std::as_bytes(std::span(old.times)))
                    .BindBlob(3, std::as_bytes(std::span(old.equity)))
                    .Run()
                    .ok());
    ASSERT_TRUE(InsertPackedRows(**db, PackedTables::kCurrent, 1, PackEvents(old.events),
                                 PackTrades(old.trades))
                    .ok());
  }
  auto store = OpenSqliteStore(path);
  ASSERT_TRUE(store.ok()) << store.error().ToString();
  auto run = (*store)->GetRun("00000000000000aa");
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  EXPECT_EQ(run->plots_json, "[]");
  auto got = (*store)->LoadRunResult("00000000000000aa");
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  EXPECT_EQ(got->events.size(), old.events.size());
  EXPECT_TRUE(got->plots.empty());
  // And the migrated store takes new runs with plots.
  auto id = (*store)->CreateRun(Spec());
  const engine::RunResult fresh = WithPlots(60);
  ASSERT_TRUE((*store)->CompleteRun(*id, fresh).ok());
  auto back = (*store)->LoadRunResult(*id);
  ASSERT_TRUE(back.ok());
  ExpectSamePlots(fresh, *back);
}

TEST(PlotPacking, DamagedBlobsAreErrors) {
  const engine::RunResult r = WithPlots(40);
  const std::vector<std::byte> plots = PackPlots(r.plots);
  auto ok = UnpackPlots(plots, 2, 40);
  ASSERT_TRUE(ok.ok());
  // A warm-up and a tail cost nothing: fast holds bars 5..36 only, rsi nothing.
  EXPECT_EQ(plots.size(), 2 * kPlotHeaderBytes + 4 + 7 + (36 - 5 + 1) * sizeof(double));
  EXPECT_EQ(UnpackPlots(std::span(plots).first(plots.size() - 1), 2, 40).error().code,
            ErrorCode::kIo);
  EXPECT_FALSE(UnpackPlots(plots, 1, 40).ok());  // bytes left over
  EXPECT_FALSE(UnpackPlots(plots, 3, 40).ok());  // a header missing
  EXPECT_FALSE(UnpackPlots(plots, 2, 20).ok());  // runs past the bars
  std::vector<std::byte> bad_pane = plots;
  bad_pane[4] = std::byte{7};
  EXPECT_FALSE(UnpackPlots(bad_pane, 2, 40).ok());
  const PackedLogs logs = PackLogs(r.logs);
  EXPECT_TRUE(UnpackLogs(logs.records, logs.text, r.logs.size()).ok());
  EXPECT_FALSE(UnpackLogs(logs.records, logs.text, r.logs.size() + 1).ok());
  EXPECT_FALSE(UnpackLogs(logs.records, logs.text + "x", r.logs.size()).ok());
  EXPECT_FALSE(UnpackLogs(logs.records, std::string_view(logs.text).substr(1), r.logs.size()).ok());
}

}  // namespace
}  // namespace tapedeck::store::internal
