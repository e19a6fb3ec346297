// Strategy scripts in the store (on both backends): immutable versions, content-addressed
// sources, the script fields of a run and the parts of a failed run's error, across reopening;
// and SQLite's migration from v3.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "store/schema.h"
#include "store/sqlite_db.h"
#include "store/store.h"
#include "store_test_util.h"

namespace tapedeck::store {
namespace {

using testing::Backend;
using testing::BackendStore;
using testing::TempDir;

constexpr const char* kParams = R"([{"name":"fast","type":"int","default":10}])";

class ScriptStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  ScriptStoreTest() : db_(GetParam()) {}
  void SetUp() override { Open(); }
  void Open() {
    Result<std::unique_ptr<Store>> store = db_.Open();
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    store_ = std::move(*store);
  }
  void Reopen() {
    store_.reset();
    Open();
  }

  BackendStore db_;
  std::unique_ptr<Store> store_;
};
TD_STORE_BACKENDS(ScriptStoreTest);

TEST(Sha256Test, KnownDigests) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_P(ScriptStoreTest, EachChangedSourceIsANewVersionAndAnIdenticalOneIsNot) {
  Result<SavedScript> v1 = store_->SaveScript("mine", "a = 1", kParams);
  ASSERT_TRUE(v1.ok()) << v1.error().ToString();
  EXPECT_TRUE(v1->created);
  EXPECT_EQ(v1->script.version, 1);
  EXPECT_EQ(v1->script.sha256, Sha256Hex("a = 1"));
  Result<SavedScript> same = store_->SaveScript("mine", "a = 1", "[]");
  ASSERT_TRUE(same.ok());
  EXPECT_FALSE(same->created);
  EXPECT_EQ(same->script.version, 1);
  EXPECT_EQ(same->script.params_json, kParams);  // the stored version, not the new params
  Result<SavedScript> v2 = store_->SaveScript("mine", "a = 2", "[]");
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->script.version, 2);
  Result<SavedScript> v3 = store_->SaveScript("mine", "a = 1", kParams);
  EXPECT_EQ(v3->script.version, 3);  // only the latest is compared
  // Another name has its own versions; the same source is stored once.
  EXPECT_EQ(store_->SaveScript("other", "a = 1", kParams)->script.version, 1);

  Reopen();
  Result<ScriptVersion> latest = store_->GetScript("mine");
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->version, 3);
  EXPECT_EQ(latest->source, "a = 1");
  Result<ScriptVersion> second = store_->GetScript("mine", 2);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->source, "a = 2");
  EXPECT_EQ(second->params_json, "[]");
  Result<std::vector<ScriptVersion>> versions = store_->ListScriptVersions("mine");
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 3u);
  EXPECT_EQ((*versions)[1].sha256, Sha256Hex("a = 2"));
  EXPECT_TRUE((*versions)[1].source.empty());
  Result<std::vector<ScriptVersion>> all = store_->ListScripts();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "mine");
  EXPECT_EQ((*all)[0].version, 3);
  EXPECT_EQ((*all)[1].name, "other");
  EXPECT_EQ(*store_->GetScriptSource(Sha256Hex("a = 2")), "a = 2");
}

TEST_P(ScriptStoreTest, UnknownNamesVersionsAndSourcesAreNotFound) {
  ASSERT_TRUE(store_->SaveScript("mine", "a = 1", "[]").ok());
  Result<ScriptVersion> none = store_->GetScript("nope");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(none.error().details.at("strategy"), "nope");
  Result<ScriptVersion> v9 = store_->GetScript("mine", 9);
  ASSERT_FALSE(v9.ok());
  EXPECT_EQ(v9.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(v9.error().details.at("version"), "9");
  EXPECT_EQ(store_->ListScriptVersions("nope").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store_->GetScriptSource(std::string(64, '0')).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store_->SaveScript("", "x", "[]").error().code, ErrorCode::kValidation);
  EXPECT_EQ(store_->SaveScript(std::string(65, 'a'), "x", "[]").error().code,
            ErrorCode::kValidation);
  EXPECT_EQ(store_->ListScripts()->size(), 1u);
}

TEST_P(ScriptStoreTest, ConcurrentSavesGetDistinctVersions) {
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([this, i] {
      EXPECT_TRUE(store_->SaveScript("race", "v = " + std::to_string(i), "[]").ok());
    });
  }
  for (auto& t : threads) t.join();
  Result<std::vector<ScriptVersion>> versions = store_->ListScriptVersions("race");
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 8u);
  for (size_t i = 0; i < versions->size(); ++i) EXPECT_EQ((*versions)[i].version, int64_t(i + 1));
}

TEST_P(ScriptStoreTest, AnInlineRunKeepsItsSourceAndAFailureKeepsItsParts) {
  RunSpec spec;
  spec.dataset = "ds";
  spec.strategy = std::string(kInlineStrategy);
  spec.script_source = "function on_bar() end";
  Result<std::string> id = store_->CreateRun(spec);
  ASSERT_TRUE(id.ok()) << id.error().ToString();
  RunError error;
  error.msg = "script script:7 at bar 2020-01-02T00:00:00Z: memory budget exceeded";
  error.cause = "memory";
  error.line = 7;
  error.bar_time = FromMicros(1'577'923'200'000'000);
  ASSERT_TRUE(store_->FailRun(*id, error).ok());
  RunError empty;
  EXPECT_EQ(store_->FailRun(*id, empty).error().code, ErrorCode::kValidation);

  Reopen();
  Result<RunInfo> run = store_->GetRun(*id);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->spec.strategy, kInlineStrategy);
  EXPECT_EQ(run->spec.strategy_sha256, Sha256Hex("function on_bar() end"));
  EXPECT_FALSE(run->spec.strategy_version);
  EXPECT_TRUE(run->spec.script_source.empty());
  EXPECT_EQ(*store_->GetScriptSource(run->spec.strategy_sha256), "function on_bar() end");
  EXPECT_EQ(run->error.msg, error.msg);
  EXPECT_EQ(run->error.cause, "memory");
  EXPECT_EQ(run->error.line, 7);
  EXPECT_EQ(run->error.bar_time, error.bar_time);

  // A named version's run records it without a source of its own.
  ASSERT_TRUE(store_->SaveScript("mine", "x = 1", "[]").ok());
  RunSpec named;
  named.dataset = "ds";
  named.strategy = "mine";
  named.strategy_version = 1;
  named.strategy_sha256 = Sha256Hex("x = 1");
  Result<std::string> id2 = store_->CreateRun(named);
  ASSERT_TRUE(id2.ok());
  Result<RunInfo> run2 = store_->GetRun(*id2);
  EXPECT_EQ(run2->spec.strategy_version, 1);
  EXPECT_EQ(run2->spec.strategy_sha256, named.strategy_sha256);
  EXPECT_TRUE(run2->error.msg.empty());
}

// Saves from two stores on one database (two processes) take turns too: no version is given twice.
TEST(PgScriptStoreTest, ConcurrentSavesFromTwoProcessesGetDistinctVersions) {
  BackendStore db(Backend::kPostgres);
  Result<std::unique_ptr<Store>> a = db.Open();
  Result<std::unique_ptr<Store>> b = db.Open();
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    Store* store = (i % 2 ? *a : *b).get();
    threads.emplace_back([store, i] {
      for (int k = 0; k < 5; ++k) {
        Result<SavedScript> saved =
            store->SaveScript("race", "v = " + std::to_string(i * 10 + k), "[]");
        EXPECT_TRUE(saved.ok()) << saved.error().ToString();
      }
    });
  }
  for (auto& t : threads) t.join();
  Result<std::vector<ScriptVersion>> versions = (*a)->ListScriptVersions("race");
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 40u);
  for (size_t i = 0; i < versions->size(); ++i) EXPECT_EQ((*versions)[i].version, int64_t(i + 1));
}

TEST(ScriptMigrationTest, V3RunsGetTheNewColumnsAndFailedOnesACause) {
  TempDir dir;
  const std::string path = dir.File("old.db");
  {
    Result<std::unique_ptr<internal::Db>> db =
        internal::Db::Open(path, /*create=*/true, /*durable=*/false);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(internal::MigrateTo(**db, 3).ok());
    ASSERT_TRUE((*db)
                    ->Exec("INSERT INTO runs(id, dataset, symbols, strategy, params, cash, "
                           "commission, fixed_fee, slippage, allow_short, request, status, "
                           "error, created_us) VALUES "
                           "('00000000000000aa', 'ds', '[]', 'macd', '{}', 1, 0, 0, 0, 0, '{}', "
                           "'failed', 'interrupted', 1), "
                           "('00000000000000bb', 'ds', '[]', 'macd', '{}', 1, 0, 0, 0, 0, '{}', "
                           "'failed', 'RANGE: no bars', 2), "
                           "('00000000000000cc', 'ds', '[]', 'macd', '{}', 1, 0, 0, 0, 0, '{}', "
                           "'queued', '', 3)")
                    .ok());
  }
  Result<std::unique_ptr<Store>> store = OpenSqliteStore(path);
  ASSERT_TRUE(store.ok()) << store.error().ToString();
  EXPECT_EQ((*store)->GetRun("00000000000000aa")->error.cause, "interrupted");
  EXPECT_EQ((*store)->GetRun("00000000000000bb")->error.cause, "error");
  EXPECT_EQ((*store)->GetRun("00000000000000bb")->error.msg, "RANGE: no bars");
  Result<RunInfo> queued = (*store)->GetRun("00000000000000cc");
  EXPECT_EQ(queued->error.cause, "");
  EXPECT_TRUE(queued->spec.strategy_sha256.empty());
  EXPECT_FALSE(queued->spec.strategy_version);
  EXPECT_TRUE((*store)->ListScripts()->empty());
}

}  // namespace
}  // namespace tapedeck::store
