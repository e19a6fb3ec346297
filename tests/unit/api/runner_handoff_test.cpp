// Runner::CreateAndEnqueue in local (SQLite) mode for a built-in: the run is queued from inside its
// creating transaction (Store::CreateRunAdmitted) and its worker loads the bars and runs the engine
// while that transaction's commit is still to come; it is marked running once the commit returns,
// and its result is written after it. A commit that fails after the admission leaves nothing, and
// the worker goes on to the next run.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "../store/forwarding_store.h"
#include "api/api.h"
#include "market/market.h"
#include "store/store.h"
#include "wait_finished.h"

namespace tapedeck::api {
namespace {

// Holds the creating transaction open after the admission until the worker has loaded the bars
// (or a second has passed), so that what the worker does before the commit can be seen; can fail
// that transaction after admitting it.
class HoldingStore final : public store::testing::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;

  std::atomic<bool> fail_after_admit{false};
  std::atomic<bool> loaded_before_commit{false};
  std::atomic<bool> marked_before_commit{false};

  Result<std::string> CreateRunAdmitted(
      const store::RunSpec& spec,
      const std::function<Status(const std::string& id)>& admit) override {
    committing_ = false;
    auto id = real().CreateRunAdmitted(spec, [&](const std::string& created) -> Status {
      TD_TRY(admit(created));
      {
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, std::chrono::seconds(1), [&] { return loaded_; });
        loaded_before_commit = loaded_;
        loaded_ = false;
      }
      // A reader cannot see the run yet: it is not committed.
      auto seen = real().GetRun(created);
      EXPECT_FALSE(seen.ok());
      if (!seen.ok()) {
        EXPECT_EQ(seen.error().code, ErrorCode::kRunNotFound);
      }
      committing_ = true;
      if (fail_after_admit) return MakeError(ErrorCode::kIo, "the commit failed");
      return Ok();
    });
    return id;
  }
  Result<market::Series> LoadBars(std::string_view name) override {
    {
      std::lock_guard lock(mu_);
      loaded_ = true;
    }
    cv_.notify_all();
    return real().LoadBars(name);
  }
  Status MarkRunning(std::string_view id) override {
    Status s = real().MarkRunning(id);  // waits for the creating commit (the write lock)
    if (!committing_) marked_before_commit = true;
    return s;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool loaded_ = false;
  std::atomic<bool> committing_{false};
};

class RunnerHandoffTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tapedeck-runner-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto real = store::OpenSqliteStore(dir_ + "/t.db");
    ASSERT_TRUE(real.ok()) << real.error().ToString();
    store_ = std::make_unique<HoldingStore>(std::move(*real));
    market::GenOptions gen;
    gen.bars = 20'000;
    ASSERT_TRUE(store_->PutDataset("syn", market::Generate(gen)).ok());
  }
  void TearDown() override {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  static store::RunSpec Spec() {
    store::RunSpec spec;
    spec.dataset = "syn";
    spec.symbols = {"SYN"};
    spec.strategy = "sma_cross";
    spec.params_json = R"({"fast":5,"slow":40})";
    spec.config.cash = 50'000;
    spec.config.costs.commission = 0.001;
    spec.config.allow_short = false;
    return spec;
  }

  store::RunInfo WaitFinished(const std::string& id) { return api::WaitFinished(*store_, id); }

  std::string dir_;
  std::unique_ptr<HoldingStore> store_;
};

TEST_F(RunnerHandoffTest, TheWorkerLoadsBeforeTheCommitAndMarksAndStoresAfterIt) {
  Runner runner(*store_, 1);
  auto id = runner.CreateAndEnqueue(Spec(), "alice", 10, 10);
  ASSERT_TRUE(id.ok()) << id.error().ToString();
  EXPECT_TRUE(store_->loaded_before_commit);
  EXPECT_FALSE(store_->marked_before_commit);
  const store::RunInfo run = WaitFinished(*id);
  ASSERT_EQ(run.status, store::RunStatus::kDone) << run.error.msg;
  ASSERT_TRUE(run.started);

  // The same run as one read back from the store (the path a script's run takes).
  auto again = store_->CreateRun(Spec());
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(runner.Enqueue(*again, "alice", 10, 10).ok());
  const store::RunInfo read = WaitFinished(*again);
  ASSERT_EQ(read.status, store::RunStatus::kDone) << read.error.msg;
  auto handed = store_->LoadRunResult(*id);
  auto stored = store_->LoadRunResult(*again);
  ASSERT_TRUE(handed.ok() && stored.ok());
  EXPECT_GT(handed->events.size(), 0u);
  EXPECT_EQ(handed->events.size(), stored->events.size());
  EXPECT_EQ(handed->equity, stored->equity);
  EXPECT_EQ(handed->stats.final_equity, stored->stats.final_equity);
  EXPECT_EQ(handed->stats.fills, stored->stats.fills);
}

// Every field of a run that CreateRun stores changes nothing between a run handed over and the
// same run read back: a period, every cost, short selling, parameters, cash.
TEST_F(RunnerHandoffTest, AHandedOverRunIsTheStoredRunWithAPeriodAndEveryCost) {
  store::RunSpec spec = Spec();
  const market::GenOptions gen;  // the fixture's dataset starts at gen.start, one bar a minute
  spec.from = gen.start + std::chrono::minutes(1'500);
  spec.to = gen.start + std::chrono::minutes(17'250);
  spec.params_json = R"({"fast":7,"slow":31})";
  spec.config.cash = 75'000;
  spec.config.costs.commission = 0.0005;
  spec.config.costs.fixed_fee = 1.25;
  spec.config.costs.slippage = 0.0002;
  spec.config.allow_short = true;
  Runner runner(*store_, 1);
  auto id = runner.CreateAndEnqueue(spec, "alice", 10, 10);
  ASSERT_TRUE(id.ok()) << id.error().ToString();
  EXPECT_TRUE(store_->loaded_before_commit);  // it was handed over
  ASSERT_EQ(WaitFinished(*id).status, store::RunStatus::kDone);
  auto again = store_->CreateRun(spec);
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(runner.Enqueue(*again, "alice", 10, 10).ok());
  ASSERT_EQ(WaitFinished(*again).status, store::RunStatus::kDone);
  auto handed = store_->LoadRunResult(*id);
  auto stored = store_->LoadRunResult(*again);
  ASSERT_TRUE(handed.ok() && stored.ok());
  ASSERT_FALSE(handed->times.empty());
  EXPECT_EQ(handed->times.front(), *spec.from);  // the period was applied
  EXPECT_LE(handed->times.back(), *spec.to);
  EXPECT_EQ(handed->times, stored->times);
  EXPECT_GT(handed->events.size(), 0u);
  EXPECT_EQ(handed->events.size(), stored->events.size());
  EXPECT_EQ(handed->equity, stored->equity);
  EXPECT_EQ(handed->stats.final_equity, stored->stats.final_equity);
  EXPECT_EQ(handed->stats.fills, stored->stats.fills);
  EXPECT_EQ(handed->stats.trades, stored->stats.trades);
  EXPECT_EQ(handed->stats.start_equity, 75'000);  // the cash
  EXPECT_EQ(handed->stats.start_equity, stored->stats.start_equity);
}

TEST_F(RunnerHandoffTest, ACommitThatFailsAfterTheAdmissionLeavesNoRunAndTheWorkerGoesOn) {
  Runner runner(*store_, 1);
  store_->fail_after_admit = true;
  auto failed = runner.CreateAndEnqueue(Spec(), "alice", 10, 10);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, ErrorCode::kIo);
  store_->fail_after_admit = false;
  auto id = runner.CreateAndEnqueue(Spec(), "alice", 10, 10);
  ASSERT_TRUE(id.ok()) << id.error().ToString();
  EXPECT_EQ(WaitFinished(*id).status, store::RunStatus::kDone);
  auto runs = store_->ListRuns(0, 0);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 1u);  // the first was rolled back, its worker found it gone
  EXPECT_EQ(runs->front().id, *id);
}

TEST_F(RunnerHandoffTest, ARefusedRunIsRolledBackBeforeItsCommit) {
  Runner runner(*store_, 1);
  auto limited = runner.CreateAndEnqueue(Spec(), "alice", 0, 10);
  ASSERT_FALSE(limited.ok());
  EXPECT_EQ(limited.error().code, ErrorCode::kRateLimited);
  auto runs = store_->ListRuns(0, 0);
  ASSERT_TRUE(runs.ok());
  EXPECT_TRUE(runs->empty());
}

}  // namespace
}  // namespace tapedeck::api
