#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "market/market.h"
#include "store/store.h"
#include "store_test_util.h"

namespace tapedeck::store {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

market::Series SmallSeries(size_t n, std::string symbol = "SYN", uint64_t seed = 7) {
  market::GenOptions g;
  g.bars = n;
  g.seed = seed;
  g.symbol = std::move(symbol);
  return market::Generate(g);
}

std::unique_ptr<Store> MustOpen(const TempDir& dir) {
  Result<std::unique_ptr<Store>> store = OpenSqliteStore(dir.File("t.db"));
  EXPECT_TRUE(store.ok()) << store.error().ToString();
  return std::move(*store);
}

std::set<std::string> DataFiles(const TempDir& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir.File("t.db.data"))) {
    out.insert(e.path().filename().string());
  }
  return out;
}

void ExpectSameBars(const market::Series& a, const market::Series& b) {
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(a.symbol(), b.symbol());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a.times()[i], b.times()[i]) << i;
    ASSERT_EQ(a.open()[i], b.open()[i]) << i;
    ASSERT_EQ(a.high()[i], b.high()[i]) << i;
    ASSERT_EQ(a.low()[i], b.low()[i]) << i;
    ASSERT_EQ(a.close()[i], b.close()[i]) << i;
    ASSERT_EQ(a.volume()[i], b.volume()[i]) << i;
  }
}

TEST(DatasetTest, PutGetListLoadRoundTrip) {
  TempDir dir;
  auto store = MustOpen(dir);
  const market::Series bars = SmallSeries(1000, "BTCUSDT");
  Result<DatasetInfo> put = store->PutDataset("btc-2023", bars);
  ASSERT_TRUE(put.ok()) << put.error().ToString();
  EXPECT_EQ(put->name, "btc-2023");
  EXPECT_EQ(put->symbol, "BTCUSDT");
  EXPECT_EQ(put->bars, 1000u);
  EXPECT_EQ(put->from, bars.times().front());
  EXPECT_EQ(put->to, bars.times().back());

  Result<DatasetInfo> got = store->GetDataset("btc-2023");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->symbol, "BTCUSDT");
  EXPECT_EQ(got->bars, 1000u);
  EXPECT_EQ(got->from, put->from);
  EXPECT_EQ(got->to, put->to);
  EXPECT_EQ(got->created, put->created);

  ASSERT_TRUE(store->PutDataset("alpha", SmallSeries(3, "A")).ok());
  Result<std::vector<DatasetInfo>> list = store->ListDatasets();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "alpha");  // by name
  EXPECT_EQ((*list)[1].name, "btc-2023");

  Result<market::Series> loaded = store->LoadBars("btc-2023");
  ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  ExpectSameBars(bars, *loaded);
  // The second load skips the checksum pass and must give the same bars.
  Result<market::Series> again = store->LoadBars("btc-2023");
  ASSERT_TRUE(again.ok());
  ExpectSameBars(bars, *again);
}

TEST(DatasetTest, HandMadeBarsRoundTripExactly) {
  TempDir dir;
  auto store = MustOpen(dir);
  const std::vector<market::Bar> raw = {
      {FromMicros(1'700'000'000'000'001), 0.1, 0.30000000000000004, 0.1, 0.2, 0},
      {FromMicros(1'700'000'060'000'000), 1e-300, 1e300, 1e-300, 5e-324, 1.7976931348623157e308},
  };
  const market::Series bars = market::Series::FromBars("X", raw);
  ASSERT_TRUE(store->PutDataset("x", bars).ok());
  Result<market::Series> loaded = store->LoadBars("x");
  ASSERT_TRUE(loaded.ok());
  ExpectSameBars(bars, *loaded);
}

TEST(DatasetTest, PutExistingNameIsConflictAndWritesNothing) {
  TempDir dir;
  auto store = MustOpen(dir);
  ASSERT_TRUE(store->PutDataset("d", SmallSeries(10, "A", 1)).ok());
  const auto files_before = DataFiles(dir);
  Result<DatasetInfo> again = store->PutDataset("d", SmallSeries(20, "B", 2));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  EXPECT_EQ(again.error().details.at("dataset"), "d");
  EXPECT_EQ(DataFiles(dir), files_before);
  EXPECT_EQ(store->GetDataset("d")->symbol, "A");
}

TEST(DatasetTest, UnknownNameIsNotFound) {
  TempDir dir;
  auto store = MustOpen(dir);
  EXPECT_EQ(store->GetDataset("nope").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store->GetDataset("nope").error().details.at("dataset"), "nope");
  EXPECT_EQ(store->LoadBars("nope").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store->DeleteDataset("nope").error().code, ErrorCode::kNotFound);
}

TEST(DatasetTest, BadNameOrNoBarsIsValidation) {
  TempDir dir;
  auto store = MustOpen(dir);
  EXPECT_EQ(store->PutDataset("", SmallSeries(3)).error().code, ErrorCode::kValidation);
  EXPECT_EQ(store->PutDataset(std::string(201, 'a'), SmallSeries(3)).error().code,
            ErrorCode::kValidation);
  EXPECT_EQ(store->PutDataset("empty", market::Series{}).error().code, ErrorCode::kValidation);
  EXPECT_TRUE(DataFiles(dir).empty());
}

TEST(DatasetTest, DeleteRemovesRowAndFileAndFreesTheName) {
  TempDir dir;
  auto store = MustOpen(dir);
  ASSERT_TRUE(store->PutDataset("d", SmallSeries(10)).ok());
  Result<market::Series> held = store->LoadBars("d");
  ASSERT_TRUE(held.ok());
  ASSERT_TRUE(store->DeleteDataset("d").ok());
  EXPECT_EQ(store->GetDataset("d").error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(DataFiles(dir).empty());
  // A Series loaded before the delete keeps its mapping.
  EXPECT_EQ(held->size(), 10u);
  EXPECT_EQ(held->close()[9], SmallSeries(10).close()[9]);
  ASSERT_TRUE(store->PutDataset("d", SmallSeries(5)).ok());
  EXPECT_EQ(store->LoadBars("d")->size(), 5u);
}

TEST(DatasetTest, DatasetsSurviveReopen) {
  TempDir dir;
  const market::Series bars = SmallSeries(500);
  {
    auto store = MustOpen(dir);
    ASSERT_TRUE(store->PutDataset("keep", bars).ok());
  }
  auto store = MustOpen(dir);
  Result<market::Series> loaded = store->LoadBars("keep");
  ASSERT_TRUE(loaded.ok());
  ExpectSameBars(bars, *loaded);
}

// A crash between writing the file and inserting its row leaves a file no row names (and perhaps
// the writer's temporary); a file lost under a row leaves a row with no file. Opening cleans both.
TEST(DatasetTest, OpenCleansOrphanFilesAndRowsWithoutFile) {
  TempDir dir;
  std::string lost_file;
  {
    auto store = MustOpen(dir);
    ASSERT_TRUE(store->PutDataset("kept", SmallSeries(10)).ok());
    ASSERT_TRUE(store->PutDataset("lost", SmallSeries(10, "L")).ok());
    const auto files = DataFiles(dir);
    ASSERT_EQ(files.size(), 2u);
    // Find the file of "lost": the one whose series has symbol L.
    for (const std::string& f : files) {
      if (market::ReadSeriesFile(dir.File("t.db.data/" + f))->symbol() == "L") lost_file = f;
    }
    ASSERT_FALSE(lost_file.empty());
  }
  fs::remove(dir.File("t.db.data/" + lost_file));
  ASSERT_TRUE(
      market::WriteSeriesFile(SmallSeries(10), dir.File("t.db.data/ds-00000000deadbeef.bars"))
          .ok());
  std::ofstream(dir.File("t.db.data/ds-0000000000000001.bars.tmp")) << "half";
  std::ofstream(dir.File("t.db.data/README")) << "not ours";

  auto store = MustOpen(dir);
  EXPECT_EQ(DataFiles(dir).size(), 2u);  // kept's file and README
  EXPECT_TRUE(DataFiles(dir).contains("README"));
  EXPECT_TRUE(store->LoadBars("kept").ok());
  EXPECT_EQ(store->GetDataset("lost").error().code, ErrorCode::kNotFound);
  ASSERT_EQ(store->ListDatasets()->size(), 1u);
}

TEST(DatasetTest, CorruptFileIsReportedNotReadAsGarbage) {
  TempDir dir;
  {
    auto store = MustOpen(dir);
    ASSERT_TRUE(store->PutDataset("d", SmallSeries(1000)).ok());
  }
  const std::string file = dir.File("t.db.data/" + *DataFiles(dir).begin());
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(file) - 100));
    f.put('\x5a');
  }
  auto store = MustOpen(dir);
  Result<market::Series> loaded = store->LoadBars("d");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, ErrorCode::kIo);
  EXPECT_EQ(loaded.error().details.at("path"), file);
}

TEST(DatasetTest, SecondOpenOfTheSameStoreIsUnavailable) {
  TempDir dir;
  auto store = MustOpen(dir);
  Result<std::unique_ptr<Store>> second = OpenSqliteStore(dir.File("t.db"));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kUnavailable);
}

TEST(DatasetTest, UnwritableLocationIsIo) {
  Result<std::unique_ptr<Store>> store = OpenSqliteStore("/proc/no/such/dir/t.db");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kIo);
  EXPECT_FALSE(store.error().details.at("path").empty());
}

}  // namespace
}  // namespace tapedeck::store
