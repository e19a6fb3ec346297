// Store::CreateRunAdmitted: SqliteStore calls admit inside the run's transaction, before its
// commit (a reader does not see the run yet; a refusal rolls it back); the default (any other
// store) calls it after CreateRun and deletes the run again on a refusal.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "forwarding_store.h"
#include "store/store.h"

namespace tapedeck::store {
namespace {

// Every call forwarded but CreateRunAdmitted: the Store default's.
class DefaultAdmitStore final : public testing::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
};

class CreateAdmittedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tapedeck-admit-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto store = OpenSqliteStore(dir_ + "/t.db");
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    store_ = std::move(*store);
  }
  void TearDown() override {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  static RunSpec Spec() {
    RunSpec spec;
    spec.dataset = "d";
    spec.symbols = {"S"};
    spec.strategy = "sma_cross";
    return spec;
  }
  size_t Runs(Store& store) {
    auto runs = store.ListRuns(0, 0);
    EXPECT_TRUE(runs.ok());
    return runs.ok() ? runs->size() : 0;
  }

  std::string dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(CreateAdmittedTest, SqliteAdmitsBeforeTheCommitAndRollsBackARefusal) {
  std::string admitted;
  bool seen_before_commit = true;
  auto id = store_->CreateRunAdmitted(Spec(), [&](const std::string& created) {
    admitted = created;
    seen_before_commit = store_->GetRun(created).ok();  // a reader: the committed state only
    return Ok();
  });
  ASSERT_TRUE(id.ok()) << id.error().ToString();
  EXPECT_EQ(admitted, *id);
  EXPECT_FALSE(seen_before_commit);
  auto run = store_->GetRun(*id);
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  EXPECT_EQ(run->status, RunStatus::kQueued);
  // The run's own writes wait for the commit and then work as on any run.
  EXPECT_TRUE(store_->MarkRunning(*id).ok());

  auto refused = store_->CreateRunAdmitted(Spec(), [](const std::string&) {
    return MakeError(ErrorCode::kRateLimited, "no");
  });
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kRateLimited);
  EXPECT_EQ(Runs(*store_), 1u);
}

TEST_F(CreateAdmittedTest, TheDefaultAdmitsAfterTheCommitAndDeletesARefusal) {
  Store* real = store_.get();
  DefaultAdmitStore store(std::move(store_));
  bool seen_at_admission = false;
  auto id = store.CreateRunAdmitted(Spec(), [&](const std::string& created) {
    seen_at_admission = real->GetRun(created).ok();
    return Ok();
  });
  ASSERT_TRUE(id.ok()) << id.error().ToString();
  EXPECT_TRUE(seen_at_admission);
  auto refused = store.CreateRunAdmitted(Spec(), [](const std::string&) {
    return MakeError(ErrorCode::kUnavailable, "stopping");
  });
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(Runs(store), 1u);
}

}  // namespace
}  // namespace tapedeck::store
