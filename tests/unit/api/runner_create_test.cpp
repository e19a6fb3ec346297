// Runner::CreateAndEnqueue in local (SQLite) mode: CreateRun then the queue's limits, the run
// deleted again when refused (what POST /backtests did before in either mode).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "api/api.h"
#include "store/store.h"

namespace tapedeck::api {
namespace {

class RunnerCreateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tapedeck-runner-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto store = store::OpenSqliteStore(dir_ + "/t.db");
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    store_ = std::move(*store);
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  static store::RunSpec Spec() {
    store::RunSpec spec;
    spec.dataset = "nowhere";  // the run fails when executed: only its admission matters here
    spec.strategy = "sma_cross";
    return spec;
  }

  std::string dir_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(RunnerCreateTest, ARunAdmittedIsCreatedAndARefusedOneLeavesNoTrace) {
  Runner runner(*store_, 1);
  runner.Stop();  // nothing executes: the queue's contents stay as admitted
  auto refused = runner.CreateAndEnqueue(Spec(), "alice", 0, 10);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);  // stopping; the run is deleted again
  auto runs = store_->ListRuns(0, 0);
  ASSERT_TRUE(runs.ok());
  EXPECT_TRUE(runs->empty());

  Runner open(*store_, 1);
  auto limited = open.CreateAndEnqueue(Spec(), "alice", 0, 10);
  ASSERT_FALSE(limited.ok());
  EXPECT_EQ(limited.error().code, ErrorCode::kRateLimited);
  EXPECT_EQ(limited.error().details.at("retry_after"), std::to_string(kQueueRetryAfterSeconds));
  runs = store_->ListRuns(0, 0);
  ASSERT_TRUE(runs.ok());
  EXPECT_TRUE(runs->empty());

  auto id = open.CreateAndEnqueue(Spec(), "alice", 10, 10);
  ASSERT_TRUE(id.ok()) << id.error().ToString();
  auto run = store_->GetRun(*id);
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  EXPECT_EQ(run->spec.strategy, "sma_cross");
}

}  // namespace
}  // namespace tapedeck::api
