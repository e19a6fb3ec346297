// Datasets in the store, on both backends; what is SQLite's own (its data directory, its lock
// file) and PostgreSQL's own (bars kept in the database, read afresh when changed elsewhere);
// and OpenStore, which picks the backend a --store value names.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "market/market.h"
#include "store/store.h"
#include "store_test_util.h"

namespace tapedeck::store {
namespace {

namespace fs = std::filesystem;
using testing::Backend;
using testing::BackendStore;
using testing::TempDir;

market::Series SmallSeries(size_t n, std::string symbol = "SYN", uint64_t seed = 7) {
  market::GenOptions g;
  g.bars = n;
  g.seed = seed;
  g.symbol = std::move(symbol);
  return market::Generate(g);
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

// A store of the backend under test (DatasetTest: both; SqliteDatasetTest: SQLite's own
// behaviours).
class DatasetFixture : public ::testing::Test {
 protected:
  explicit DatasetFixture(Backend backend) : db_(backend) {}
  void SetUp() override { store_ = Open(); }

  std::unique_ptr<Store> Open(StoreOptions options = {}) {
    Result<std::unique_ptr<Store>> store = db_.Open(std::move(options));
    EXPECT_TRUE(store.ok()) << store.error().ToString();
    return store.ok() ? std::move(*store) : nullptr;
  }
  void Reopen() {
    store_.reset();
    store_ = Open();
  }
  bool postgres() const { return db_.postgres(); }
  // The data directory's files (SQLite's; PostgreSQL keeps no files: always empty).
  std::set<std::string> Files() const {
    return postgres() ? std::set<std::string>{} : DataFiles(db_.dir());
  }

  BackendStore db_;
  std::unique_ptr<Store> store_;
};

class DatasetTest : public DatasetFixture, public ::testing::WithParamInterface<Backend> {
 protected:
  DatasetTest() : DatasetFixture(GetParam()) {}
};
TD_STORE_BACKENDS(DatasetTest);

class SqliteDatasetTest : public DatasetFixture {
 protected:
  SqliteDatasetTest() : DatasetFixture(Backend::kSqlite) {}
};

class PgDatasetTest : public DatasetFixture {
 protected:
  PgDatasetTest() : DatasetFixture(Backend::kPostgres) {}
};

TEST_P(DatasetTest, PutGetListLoadRoundTrip) {
  const market::Series bars = SmallSeries(1000, "BTCUSDT");
  Result<DatasetInfo> put = store_->PutDataset("btc-2023", bars);
  ASSERT_TRUE(put.ok()) << put.error().ToString();
  EXPECT_EQ(put->name, "btc-2023");
  EXPECT_EQ(put->symbol, "BTCUSDT");
  EXPECT_EQ(put->bars, 1000u);
  EXPECT_EQ(put->from, bars.times().front());
  EXPECT_EQ(put->to, bars.times().back());

  Result<DatasetInfo> got = store_->GetDataset("btc-2023");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->symbol, "BTCUSDT");
  EXPECT_EQ(got->bars, 1000u);
  EXPECT_EQ(got->from, put->from);
  EXPECT_EQ(got->to, put->to);
  EXPECT_EQ(got->created, put->created);

  ASSERT_TRUE(store_->PutDataset("alpha", SmallSeries(3, "A")).ok());
  ASSERT_TRUE(store_->PutDataset("Zeta", SmallSeries(3, "Z")).ok());
  Result<std::vector<DatasetInfo>> list = store_->ListDatasets();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].name, "Zeta");  // by name, byte by byte
  EXPECT_EQ((*list)[1].name, "alpha");
  EXPECT_EQ((*list)[2].name, "btc-2023");

  Result<market::Series> loaded = store_->LoadBars("btc-2023");
  ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  ExpectSameBars(bars, *loaded);
  // The second load skips the checksum pass and must give the same bars.
  Result<market::Series> again = store_->LoadBars("btc-2023");
  ASSERT_TRUE(again.ok());
  ExpectSameBars(bars, *again);
  // And so does a store that did not put them (another process), which reads and checks them.
  Reopen();
  Result<market::Series> fresh = store_->LoadBars("btc-2023");
  ASSERT_TRUE(fresh.ok()) << fresh.error().ToString();
  ExpectSameBars(bars, *fresh);
}

TEST_P(DatasetTest, HandMadeBarsRoundTripExactly) {
  const std::vector<market::Bar> raw = {
      {FromMicros(1'700'000'000'000'001), 0.1, 0.30000000000000004, 0.1, 0.2, 0},
      {FromMicros(1'700'000'060'000'000), 1e-300, 1e300, 1e-300, 5e-324, 1.7976931348623157e308},
  };
  const market::Series bars = market::Series::FromBars("X \"quoted\" é", raw);
  ASSERT_TRUE(store_->PutDataset("x", bars).ok());
  Reopen();  // read back from the store, not from what the put kept
  Result<market::Series> loaded = store_->LoadBars("x");
  ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  ExpectSameBars(bars, *loaded);
}

TEST_P(DatasetTest, PutExistingNameIsConflictAndWritesNothing) {
  ASSERT_TRUE(store_->PutDataset("d", SmallSeries(10, "A", 1)).ok());
  const auto files_before = Files();
  Result<DatasetInfo> again = store_->PutDataset("d", SmallSeries(20, "B", 2));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  EXPECT_EQ(again.error().details.at("dataset"), "d");
  EXPECT_EQ(Files(), files_before);
  EXPECT_EQ(store_->GetDataset("d")->symbol, "A");
  EXPECT_EQ(store_->LoadBars("d")->size(), 10u);
}

TEST_P(DatasetTest, UnknownNameIsNotFound) {
  EXPECT_EQ(store_->GetDataset("nope").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store_->GetDataset("nope").error().details.at("dataset"), "nope");
  EXPECT_EQ(store_->LoadBars("nope").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store_->DeleteDataset("nope").error().code, ErrorCode::kNotFound);
  // SQL in a name is just an unknown name.
  EXPECT_EQ(store_->GetDataset("' OR 1=1 --").error().code, ErrorCode::kNotFound);
}

TEST_P(DatasetTest, BadNameOrNoBarsIsValidation) {
  EXPECT_EQ(store_->PutDataset("", SmallSeries(3)).error().code, ErrorCode::kValidation);
  EXPECT_EQ(store_->PutDataset(std::string(201, 'a'), SmallSeries(3)).error().code,
            ErrorCode::kValidation);
  EXPECT_EQ(store_->PutDataset("empty", market::Series{}).error().code, ErrorCode::kValidation);
  Result<DatasetInfo> long_symbol = store_->PutDataset("s", SmallSeries(3, std::string(2000, 's')));
  ASSERT_FALSE(long_symbol.ok());
  EXPECT_EQ(long_symbol.error().code, ErrorCode::kValidation);
  EXPECT_TRUE(Files().empty());
  EXPECT_TRUE(store_->ListDatasets()->empty());
}

TEST_P(DatasetTest, DeleteRemovesTheDatasetAndFreesTheName) {
  ASSERT_TRUE(store_->PutDataset("d", SmallSeries(10)).ok());
  Result<market::Series> held = store_->LoadBars("d");
  ASSERT_TRUE(held.ok());
  ASSERT_TRUE(store_->DeleteDataset("d").ok());
  EXPECT_EQ(store_->GetDataset("d").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store_->LoadBars("d").error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(Files().empty());
  // A Series loaded before the delete keeps its bars.
  EXPECT_EQ(held->size(), 10u);
  EXPECT_EQ(held->close()[9], SmallSeries(10).close()[9]);
  ASSERT_TRUE(store_->PutDataset("d", SmallSeries(5)).ok());
  EXPECT_EQ(store_->LoadBars("d")->size(), 5u);
}

TEST_P(DatasetTest, DatasetsSurviveReopen) {
  const market::Series bars = SmallSeries(500);
  ASSERT_TRUE(store_->PutDataset("keep", bars).ok());
  Reopen();
  Result<market::Series> loaded = store_->LoadBars("keep");
  ASSERT_TRUE(loaded.ok());
  ExpectSameBars(bars, *loaded);
  EXPECT_EQ(store_->ListDatasets()->size(), 1u);
}

// A crash between writing the file and inserting its row leaves a file no row names (and perhaps
// the writer's temporary); a file lost under a row leaves a row with no file. Opening cleans both.
TEST_F(SqliteDatasetTest, OpenCleansOrphanFilesAndRowsWithoutFile) {
  const TempDir& dir = db_.dir();
  std::string lost_file;
  {
    ASSERT_TRUE(store_->PutDataset("kept", SmallSeries(10)).ok());
    ASSERT_TRUE(store_->PutDataset("lost", SmallSeries(10, "L")).ok());
    const auto files = DataFiles(dir);
    ASSERT_EQ(files.size(), 2u);
    // Find the file of "lost": the one whose series has symbol L.
    for (const std::string& f : files) {
      if (market::ReadSeriesFile(dir.File("t.db.data/" + f))->symbol() == "L") lost_file = f;
    }
    ASSERT_FALSE(lost_file.empty());
    store_.reset();
  }
  fs::remove(dir.File("t.db.data/" + lost_file));
  ASSERT_TRUE(
      market::WriteSeriesFile(SmallSeries(10), dir.File("t.db.data/ds-00000000deadbeef.bars"))
          .ok());
  std::ofstream(dir.File("t.db.data/ds-0000000000000001.bars.tmp")) << "half";
  std::ofstream(dir.File("t.db.data/README")) << "not ours";

  store_ = Open();
  EXPECT_EQ(DataFiles(dir).size(), 2u);  // kept's file and README
  EXPECT_TRUE(DataFiles(dir).contains("README"));
  EXPECT_TRUE(store_->LoadBars("kept").ok());
  EXPECT_EQ(store_->GetDataset("lost").error().code, ErrorCode::kNotFound);
  ASSERT_EQ(store_->ListDatasets()->size(), 1u);
}

TEST_F(SqliteDatasetTest, CorruptFileIsReportedNotReadAsGarbage) {
  ASSERT_TRUE(store_->PutDataset("d", SmallSeries(1000)).ok());
  store_.reset();
  const std::string file = db_.dir().File("t.db.data/" + *DataFiles(db_.dir()).begin());
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(file) - 100));
    f.put('\x5a');
  }
  store_ = Open();
  Result<market::Series> loaded = store_->LoadBars("d");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, ErrorCode::kIo);
  EXPECT_EQ(loaded.error().details.at("path"), file);
}

TEST_F(SqliteDatasetTest, SecondOpenOfTheSameStoreIsUnavailable) {
  Result<std::unique_ptr<Store>> second = OpenSqliteStore(db_.dir().File("t.db"));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kUnavailable);
}

TEST(SqliteStoreOpenTest, UnwritableLocationIsIo) {
  Result<std::unique_ptr<Store>> store = OpenSqliteStore("/proc/no/such/dir/t.db");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kIo);
  EXPECT_FALSE(store.error().details.at("path").empty());
}

// Damaged bytes in the database: an error naming where they came from, never garbage bars.
TEST_F(PgDatasetTest, CorruptBarsAreReportedNotReadAsGarbage) {
  ASSERT_TRUE(store_->PutDataset("d", SmallSeries(1000)).ok());
  store_.reset();  // its cache holds the bars it put
  ASSERT_EQ(db_.Scalar("WITH u AS (UPDATE datasets SET series = overlay(series placing "
                       "'\\x5a'::bytea from length(series) - 99) RETURNING 1) "
                       "SELECT count(*) FROM u"),
            1);
  store_ = Open();
  Result<market::Series> loaded = store_->LoadBars("d");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, ErrorCode::kIo);
  EXPECT_NE(loaded.error().details.at("path").find("/datasets/d"), std::string::npos)
      << loaded.error().ToString();
  EXPECT_NE(loaded.error().msg.find("checksum"), std::string::npos) << loaded.error().msg;
  // A truncated one too.
  ASSERT_EQ(db_.Scalar("WITH u AS (UPDATE datasets SET series = substring(series from 1 for 100) "
                       "RETURNING 1) SELECT count(*) FROM u"),
            1);
  EXPECT_EQ(store_->LoadBars("d").error().code, ErrorCode::kIo);
}

// Two stores on one database stand for two processes: each sees the other's datasets, and one
// that loaded a dataset (and keeps its bars) reads it afresh once the other deleted it and put
// other bars under its name, even at the same instant by the clock.
TEST_F(PgDatasetTest, ADatasetPutAgainElsewhereIsReadAfresh) {
  StoreOptions frozen;
  frozen.now = [] { return FromMicros(1'700'000'000'000'000); };
  store_ = Open(frozen);
  std::unique_ptr<Store> other = Open(frozen);
  ASSERT_TRUE(other);
  ASSERT_TRUE(store_->PutDataset("d", SmallSeries(10, "A", 1)).ok());
  Result<market::Series> first = other->LoadBars("d");
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  EXPECT_EQ(first->symbol(), "A");

  ASSERT_TRUE(store_->DeleteDataset("d").ok());
  EXPECT_EQ(other->LoadBars("d").error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(store_->PutDataset("d", SmallSeries(10, "B", 2)).ok());
  Result<market::Series> second = other->LoadBars("d");
  ASSERT_TRUE(second.ok());
  ExpectSameBars(SmallSeries(10, "B", 2), *second);
  EXPECT_EQ(first->symbol(), "A");  // what was loaded before stays as it was

  // And the other way round: a name re-put by the other store while this one holds it cached.
  ASSERT_TRUE(store_->LoadBars("d").ok());
  ASSERT_TRUE(other->DeleteDataset("d").ok());
  ASSERT_TRUE(other->PutDataset("d", SmallSeries(7, "C", 3)).ok());
  EXPECT_EQ(store_->LoadBars("d")->symbol(), "C");
  EXPECT_EQ(store_->ListDatasets()->size(), 1u);
}

// Two stores putting one name at once: one wins, the other is CONFLICT, the bars are the
// winner's.
TEST_F(PgDatasetTest, ConcurrentPutsOfOneNameConflict) {
  std::unique_ptr<Store> other = Open();
  ASSERT_TRUE(other);
  Result<DatasetInfo> a = Result<DatasetInfo>(MakeError(ErrorCode::kInternal, "not run"));
  Result<DatasetInfo> b = a;
  std::thread ta([&] { a = store_->PutDataset("race", SmallSeries(2000, "A", 1)); });
  std::thread tb([&] { b = other->PutDataset("race", SmallSeries(2000, "B", 2)); });
  ta.join();
  tb.join();
  ASSERT_NE(a.ok(), b.ok()) << (a.ok() ? "" : a.error().ToString())
                            << (b.ok() ? "" : b.error().ToString());
  const Result<DatasetInfo>& lost = a.ok() ? b : a;
  EXPECT_EQ(lost.error().code, ErrorCode::kConflict);
  const std::string winner = a.ok() ? "A" : "B";
  EXPECT_EQ(store_->LoadBars("race")->symbol(), winner);
  EXPECT_EQ(other->LoadBars("race")->symbol(), winner);
}

TEST(OpenStoreTest, SchemesPickTheBackend) {
  EXPECT_TRUE(IsPostgresUrl("postgresql://u@h/db"));
  EXPECT_TRUE(IsPostgresUrl("postgres://u@h/db"));
  EXPECT_FALSE(IsPostgresUrl("sqlite:/tmp/x.db"));
  EXPECT_FALSE(IsPostgresUrl("/tmp/postgresql://x"));
  EXPECT_FALSE(IsPostgresUrl("mysql://u@h/db"));

  TempDir dir;
  for (const std::string& spec : {"sqlite:" + dir.File("a.db"), dir.File("b.db")}) {
    Result<std::unique_ptr<Store>> store = OpenStore(spec);
    ASSERT_TRUE(store.ok()) << spec << ": " << store.error().ToString();
    ASSERT_TRUE((*store)->PutDataset("d", SmallSeries(3)).ok());
  }
  EXPECT_TRUE(fs::exists(dir.File("a.db")));
  EXPECT_TRUE(fs::exists(dir.File("b.db")));
  for (const std::string& spec :
       {std::string("sqlite:"), std::string(""), std::string("mysql://u@h/db")}) {
    Result<std::unique_ptr<Store>> store = OpenStore(spec);
    ASSERT_FALSE(store.ok()) << spec;
    EXPECT_EQ(store.error().code, ErrorCode::kValidation) << spec;
    EXPECT_EQ(store.error().details.at("field"), "store") << spec;
  }
}

TEST(OpenStoreTest, PostgresUrlsOpenThePostgresStore) {
  BackendStore db(Backend::kPostgres);
  db.Init();
  ASSERT_FALSE(db.url().empty());
  std::string url = db.url();
  for (const std::string& spec : {url, "postgres://" + url.substr(url.find("://") + 3)}) {
    Result<std::unique_ptr<Store>> store = OpenStore(spec);
    ASSERT_TRUE(store.ok()) << spec << ": " << store.error().ToString();
    EXPECT_TRUE((*store)->ListDatasets()->empty());
    EXPECT_EQ((*store)->RecoverOnStart().value(), 0u);
  }
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM datasets"), 0);  // its schema is there
}

// A later load of a dataset is the first load's series again (the same mapping, its pages
// already faulted in), until the dataset is deleted; a new dataset of the same name is read anew.
TEST_F(SqliteDatasetTest, LaterLoadsShareTheFirstOnesMappingUntilDeleted) {
  ASSERT_TRUE(store_->PutDataset("d", SmallSeries(10, "A", 1)).ok());
  Result<market::Series> first = store_->LoadBars("d");
  Result<market::Series> second = store_->LoadBars("d");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->close().data(), second->close().data());
  // Five other datasets push it out of the cache (four entries): it is read again, the same bars.
  for (int i = 0; i < 5; ++i) {
    const std::string name = "other" + std::to_string(i);
    ASSERT_TRUE(store_->PutDataset(name, SmallSeries(3, "O", i)).ok());
    ASSERT_TRUE(store_->LoadBars(name).ok());
  }
  Result<market::Series> third = store_->LoadBars("d");
  ASSERT_TRUE(third.ok());
  EXPECT_NE(third->close().data(), first->close().data());
  ExpectSameBars(*first, *third);
  ASSERT_TRUE(store_->DeleteDataset("d").ok());
  EXPECT_EQ(store_->LoadBars("d").error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(store_->PutDataset("d", SmallSeries(5, "B", 2)).ok());
  Result<market::Series> fresh = store_->LoadBars("d");
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->size(), 5u);
  EXPECT_EQ(fresh->symbol(), "B");
  EXPECT_EQ(first->size(), 10u);  // still readable: a handle keeps its mapping
}

TEST(OpenStoreTest, BadOrUnreachablePostgresIsValidationOrUnavailable) {
  Result<std::unique_ptr<Store>> bad = OpenStore("postgresql://u@h/db?no_such_parameter=1");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kValidation) << bad.error().ToString();
  // Port 1 on loopback: nothing listens, the connection is refused at once.
  Result<std::unique_ptr<Store>> down = OpenStore("postgresql://u@127.0.0.1:1/db");
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().code, ErrorCode::kUnavailable) << down.error().ToString();
}

}  // namespace
}  // namespace tapedeck::store
