// The Runner against a store that fails the way a full disk makes it fail (a decorator over the
// real SQLite store that injects UNAVAILABLE into chosen calls).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "../store/forwarding_store.h"
#include "api/api.h"
#include "market/market.h"
#include "store/store.h"
#include "wait_finished.h"

namespace tapedeck::api {
namespace {

Error DiskFull() { return MakeError(ErrorCode::kUnavailable, "the store's disk is full"); }

class FlakyStore final : public store::testing::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;

  std::atomic<int> fail_mark_running{0}, fail_complete{0}, fail_fail{0};
  std::atomic<int> fail_calls{0};

  Status MarkRunning(std::string_view id) override {
    if (fail_mark_running > 0) {
      --fail_mark_running;
      return DiskFull();
    }
    return real().MarkRunning(id);
  }
  Status CompleteRun(std::string_view id, const engine::RunResult& r) override {
    if (fail_complete > 0) {
      --fail_complete;
      return DiskFull();
    }
    return real().CompleteRun(id, r);
  }
  Status FailRun(std::string_view id, const store::RunError& e) override {
    ++fail_calls;
    if (fail_fail > 0) {
      --fail_fail;
      return DiskFull();
    }
    return real().FailRun(id, e);
  }
};

class RunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tapedeck-runner-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto real = store::OpenSqliteStore(dir_ + "/t.db");
    ASSERT_TRUE(real.ok()) << real.error().ToString();
    store_ = std::make_unique<FlakyStore>(std::move(*real));
    market::GenOptions gen;
    gen.bars = 2000;
    ASSERT_TRUE(store_->PutDataset("syn", market::Generate(gen)).ok());
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string Post(Runner& runner) {
    store::RunSpec spec;
    spec.dataset = "syn";
    spec.symbols = {"SYN"};
    spec.strategy = "sma_cross";
    auto id = store_->CreateRun(spec);
    EXPECT_TRUE(id.ok());
    EXPECT_TRUE(runner.Enqueue(*id, "client", 16, 256).ok());
    return *id;
  }

  store::RunInfo WaitFinished(const std::string& id) { return api::WaitFinished(*store_, id); }

  std::string dir_;
  std::unique_ptr<FlakyStore> store_;
};

TEST_F(RunnerTest, ARunWhoseResultCannotBeWrittenEndsFailedWithTheReason) {
  store_->fail_complete = 1;
  store_->fail_fail = 3;  // the disk is still full for the first tries to record the failure
  Runner runner(*store_, 1);
  const store::RunInfo run = WaitFinished(Post(runner));
  EXPECT_EQ(run.status, store::RunStatus::kFailed);
  EXPECT_NE(run.error.msg.find("disk is full"), std::string::npos) << run.error.msg;
  EXPECT_EQ(store_->fail_calls, 4);
}

TEST_F(RunnerTest, AScriptRunRunsItsStoredSourceWithTheRunnersBudgets) {
  strategies::ScriptBudgets budgets;
  budgets.instructions = 1'000'000;
  Runner runner(*store_, 1, budgets);
  // Cheap per bar: done within the budget. A loop at bar 5: the budget, that line, that bar.
  const std::string ok_source = "function on_bar(bar) end";
  const std::string loop_source =
      "function on_bar(bar)\n  if bar.index == 5 then\n    while true do end\n  end\nend";
  std::string ids[2];
  int i = 0;
  for (const std::string* source : {&ok_source, &loop_source}) {
    store::RunSpec spec;
    spec.dataset = "syn";
    spec.symbols = {"SYN"};
    spec.strategy = std::string(store::kInlineStrategy);
    spec.script_source = *source;
    auto id = store_->CreateRun(spec);
    ASSERT_TRUE(id.ok());
    ASSERT_TRUE(runner.Enqueue(*id, "client", 16, 256).ok());
    ids[i++] = *id;
  }
  EXPECT_EQ(WaitFinished(ids[0]).status, store::RunStatus::kDone);
  const store::RunInfo run = WaitFinished(ids[1]);
  ASSERT_EQ(run.status, store::RunStatus::kFailed);
  EXPECT_EQ(run.error.cause, "instructions");
  EXPECT_EQ(run.error.line, 3);
  ASSERT_TRUE(run.error.bar_time);
  auto bars = store_->LoadBars("syn");
  ASSERT_TRUE(bars.ok());
  EXPECT_EQ(*run.error.bar_time, bars->times()[5]);
  EXPECT_NE(run.error.msg.find("instructions budget exceeded (1000000)"), std::string::npos)
      << run.error.msg;
}

TEST_F(RunnerTest, ARunThatCannotStartEndsFailedNotQueuedForever) {
  store_->fail_mark_running = 1;
  Runner runner(*store_, 1);
  const store::RunInfo run = WaitFinished(Post(runner));
  EXPECT_EQ(run.status, store::RunStatus::kFailed);
  EXPECT_NE(run.error.msg.find("disk is full"), std::string::npos) << run.error.msg;
}

TEST_F(RunnerTest, StoppingEndsTheRetriesAndLeavesTheRunForRecovery) {
  store_->fail_complete = 1;
  store_->fail_fail = 1000;
  auto runner = std::make_unique<Runner>(*store_, 1);
  const std::string id = Post(*runner);
  while (store_->fail_calls < 2) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const auto t0 = std::chrono::steady_clock::now();
  runner.reset();  // Stop() joins the worker
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  EXPECT_EQ(store_->GetRun(id)->status, store::RunStatus::kRunning);
  ASSERT_EQ(*store_->RecoverOnStart(), 1u);
  EXPECT_EQ(store_->GetRun(id)->error.msg, "interrupted");
}

TEST_F(RunnerTest, AHealthyStoreGetsDoneRuns) {
  Runner runner(*store_, 2);
  const std::string a = Post(runner), b = Post(runner);
  EXPECT_EQ(WaitFinished(a).status, store::RunStatus::kDone);
  EXPECT_EQ(WaitFinished(b).status, store::RunStatus::kDone);
  EXPECT_EQ(store_->fail_calls, 0);
}

}  // namespace
}  // namespace tapedeck::api
