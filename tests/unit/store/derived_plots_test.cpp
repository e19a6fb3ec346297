// Schema v8 (PostgreSQL v3): a built-in's plotted series stored as its derivation, without values,
// comes back as it went in (whole, as a head, in pieces, on both backends), costs the blob its
// header, name and derivation only; and series stored with their values, before or after, read as
// before.
#include <gtest/gtest.h>

#include <cmath>
#include <span>

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

constexpr size_t kBars = kStoredHeadBars + 3000;

// Two derived series around one with values (a script's kind), and a log.
engine::RunResult Mixed(size_t bars) {
  engine::RunResult r = MakeResult(bars, 40);
  engine::PlotSeries valued{"mine", engine::PlotPane::kOwn, std::vector<double>(bars, NAN)};
  for (size_t i = 3; i + 2 < bars; ++i) valued.values[i] = std::cos(static_cast<double>(i));
  r.plots = {engine::PlotSeries{"fast", engine::PlotPane::kPrice, {}, "sma:10"}, valued,
             engine::PlotSeries{"upper", engine::PlotPane::kPrice, {}, "bollinger.upper:20,0.3"}};
  r.logs.push_back({r.times[1], 1, "hello"});
  return r;
}

// `got` holds `want`'s series cut after `bars` bars: derived ones as derivations, without values.
void ExpectSeries(const engine::RunResult& want, const engine::RunResult& got, size_t bars) {
  ASSERT_EQ(got.plots.size(), want.plots.size());
  for (size_t p = 0; p < want.plots.size(); ++p) {
    SCOPED_TRACE(want.plots[p].name);
    EXPECT_EQ(got.plots[p].name, want.plots[p].name);
    EXPECT_EQ(got.plots[p].pane, want.plots[p].pane);
    EXPECT_EQ(got.plots[p].derivation, want.plots[p].derivation);
    const size_t n = std::min(bars, want.plots[p].values.size());
    ASSERT_EQ(got.plots[p].values.size(), n);
    for (size_t i = 0; i < n; ++i) {
      ASSERT_TRUE(SameDouble(got.plots[p].values[i], want.plots[p].values[i])) << i;
    }
  }
}

class DerivedPlotStore : public ::testing::TestWithParam<Backend> {
 protected:
  DerivedPlotStore() : db_(GetParam()) {}
  BackendStore db_;
};
TD_STORE_BACKENDS(DerivedPlotStore);

TEST_P(DerivedPlotStore, DerivedSeriesComeBackAsDerivationsWholeInPiecesAndAsHeads) {
  auto store = db_.Open();
  ASSERT_TRUE(store.ok()) << store.error().ToString();
  const engine::RunResult want = Mixed(kBars);
  RunSpec spec;
  spec.dataset = "ds";
  spec.symbols = want.symbols;
  spec.strategy = "sma_cross";
  auto id = (*store)->CreateRun(spec);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE((*store)->CompleteRun(*id, want).ok());
  EXPECT_EQ((*store)->GetRun(*id)->plots_json,
            R"([{"name":"fast","pane":"price"},{"name":"mine","pane":"own"},)"
            R"({"name":"upper","pane":"price"}])");
  auto whole = (*store)->LoadRunResult(*id);
  ASSERT_TRUE(whole.ok()) << whole.error().ToString();
  ExpectSameResult(want, *whole);
  ExpectSeries(want, *whole, kBars);
  auto pieces = (*store)->LoadRunResultInPieces(*id, [] {});
  ASSERT_TRUE(pieces.ok()) << pieces.error().ToString();
  ExpectSeries(want, *pieces, kBars);
  // PostgreSQL's stored head (run_heads) and the heads read from the blob's front.
  for (size_t bars : {size_t{1}, size_t{700}, kStoredHeadBars, kBars}) {
    SCOPED_TRACE(bars);
    auto head = (*store)->LoadRunHead(*id, bars);
    ASSERT_TRUE(head.ok()) << head.error().ToString();
    EXPECT_EQ(head->total_bars, kBars);
    ExpectSeries(want, head->result, bars);
  }
  auto both = (*store)->GetRunAndHead(*id, kStoredHeadBars);
  ASSERT_TRUE(both.ok() && both->head);
  ExpectSeries(want, both->head->result, kStoredHeadBars);
}

TEST(DerivedPlotPacking, ADerivedSeriesCostsItsHeaderNameAndDerivation) {
  const engine::RunResult r = Mixed(100);
  const std::vector<std::byte> blob = PackPlots(std::span(r.plots).first(1));
  EXPECT_EQ(blob.size(), kPlotHeaderBytes + 4 + 6);
  EXPECT_EQ(blob[5], std::byte{6});  // the derivation's length
  auto back = UnpackPlots(blob, 1, 100);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ((*back)[0].derivation, "sma:10");
  EXPECT_TRUE((*back)[0].values.empty());
  // A derived series with values, or a derivation past the blob, is damage.
  std::vector<std::byte> counted = blob;
  counted[16] = std::byte{1};
  EXPECT_FALSE(UnpackPlots(counted, 1, 100).ok());
  EXPECT_FALSE(UnpackPlots(std::span(blob).first(blob.size() - 1), 1, 100).ok());
  std::vector<std::byte> longer = blob;
  longer[5] = std::byte{7};
  EXPECT_FALSE(UnpackPlots(longer, 1, 100).ok());
}

// A store written at version 7 (series with their values, as every run before v8) opens at v8 and
// reads them as they were.
TEST(SqliteDerivedPlots, RunsStoredAtVersion7ReadTheirValues) {
  TempDir dir;
  const std::string path = dir.File("v7.db");
  engine::RunResult old = MakeResult(200, 5);
  old.plots = {engine::PlotSeries{"fast", engine::PlotPane::kPrice, std::vector<double>(200, NAN)}};
  for (size_t i = 9; i < 200; ++i) old.plots[0].values[i] = 100 + static_cast<double>(i) / 7;
  std::string id;
  {
    auto store = OpenSqliteStore(path);
    ASSERT_TRUE(store.ok());
    RunSpec spec;
    spec.dataset = "ds";
    spec.symbols = old.symbols;
    spec.strategy = "sma_cross";
    auto created = (*store)->CreateRun(spec);
    ASSERT_TRUE(created.ok());
    id = *created;
    ASSERT_TRUE((*store)->CompleteRun(id, old).ok());
  }
  {
    // Turn the store back into v7's layout: no codec column, times and equity as raw arrays
    // (v7 knew neither packed series nor derivations).
    auto db = Db::Open(path, /*create=*/false, /*durable=*/false);
    ASSERT_TRUE(db.ok());
    auto raw = (*db)->Prepare("UPDATE run_equity SET times = ?1, equity = ?2");
    ASSERT_TRUE(raw.ok()) << raw.error().ToString();
    ASSERT_TRUE(raw->BindBlob(1, std::as_bytes(std::span(old.times)))
                    .BindBlob(2, std::as_bytes(std::span(old.equity)))
                    .Run()
                    .ok());
    ASSERT_TRUE((*db)->Exec("ALTER TABLE run_equity DROP COLUMN codec; PRAGMA user_version=7").ok());
  }
  auto store = OpenSqliteStore(path);
  ASSERT_TRUE(store.ok()) << store.error().ToString();
  auto got = (*store)->LoadRunResult(id);
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  ExpectSeries(old, *got, 200);
  auto db = Db::Open(path, /*create=*/false, /*durable=*/false);
  ASSERT_TRUE(db.ok());
  auto v = (*db)->Prepare("PRAGMA user_version");
  ASSERT_TRUE(v.ok() && v->Step().ok());
  EXPECT_EQ(v->Int(0), kSchemaVersion);
}

}  // namespace
}  // namespace tapedeck::store::internal
