// Sweeps on the Runner and through the REST routes: batches over the pool, a run posted during a
// sweep not waiting for it, cancel, the queue limits, recovery after a stop, and a trial opened as
// a run giving the trial's statistics exactly.
#include <atomic>
#include <algorithm>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <thread>

#include "api/api.h"
#include "api/resources.h"
#include "api/sweep_json.h"
#include "market/market.h"
#include "server/router.h"
#include "store/store.h"

namespace tapedeck::api {
namespace {

namespace json = boost::json;
namespace http = server::http;
using Clock = std::chrono::steady_clock;

class SweepRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tapedeck-sweep-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto opened = store::OpenSqliteStore(dir_ + "/t.db");
    ASSERT_TRUE(opened.ok()) << opened.error().ToString();
    store_ = std::move(*opened);
    market::GenOptions gen;
    gen.bars = 20'000;
    gen.symbol = "SYN";
    ASSERT_TRUE(store_->PutDataset("syn", market::Generate(gen)).ok());
    gen.bars = 200'000;
    gen.symbol = "BIG";
    ASSERT_TRUE(store_->PutDataset("big", market::Generate(gen)).ok());
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A sweep created in the store from a POST /sweeps body (not queued).
  std::string Create(const std::string& body) {
    auto request = ParseSweepRequest(body, {}, 100'000);
    EXPECT_TRUE(request.ok()) << request.error().ToString();
    if (!request.ok()) return "";
    EXPECT_TRUE(ResolveSymbols(*store_, request->spec.base, "dataset").ok());
    auto id = store_->CreateSweep(request->spec);
    EXPECT_TRUE(id.ok()) << id.error().ToString();
    return id.ok() ? *id : "";
  }

  std::string PostRun(Runner& runner, const std::string& dataset) {
    store::RunSpec spec;
    spec.dataset = dataset;
    spec.datasets = {dataset};
    spec.symbols = {dataset == "big" ? "BIG" : "SYN"};
    spec.strategy = "sma_cross";
    auto id = store_->CreateRun(spec);
    EXPECT_TRUE(id.ok());
    EXPECT_TRUE(runner.Enqueue(*id, "other", 16, 256).ok());
    return *id;
  }

  store::SweepInfo WaitSweep(const std::string& id,
                             std::chrono::seconds limit = std::chrono::seconds(60)) {
    const auto deadline = Clock::now() + limit;
    for (;;) {
      auto sweep = store_->GetSweep(id);
      EXPECT_TRUE(sweep.ok());
      if (!sweep.ok() || sweep->status == store::SweepStatus::kDone ||
          sweep->status == store::SweepStatus::kFailed || Clock::now() > deadline) {
        return sweep.ok() ? *sweep : store::SweepInfo{};
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  store::RunInfo WaitRun(const std::string& id) {
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    for (;;) {
      auto run = store_->GetRun(id);
      EXPECT_TRUE(run.ok());
      if (!run.ok() || run->status == store::RunStatus::kDone ||
          run->status == store::RunStatus::kFailed || Clock::now() > deadline) {
        return run.ok() ? *run : store::RunInfo{};
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  std::string dir_;
  std::unique_ptr<store::Store> store_;
};

constexpr const char* kSmall =
    R"({"dataset":"syn","strategy":"sma_cross","params":{"fast":{"from":5,"to":25,"step":5},)"
    R"("slow":[10,30,60]},"walk_forward":{"folds":2},"pbo_blocks":4})";

TEST_F(SweepRunnerTest, EveryPhasesTrialRunsAreStoredInBatchesThenSummarised) {
  Runner runner(*store_, 2);
  const std::string id = Create(kSmall);
  ASSERT_TRUE(runner.EnqueueSweep(id, "me", 16, 256).ok());
  const store::SweepInfo sweep = WaitSweep(id);
  ASSERT_EQ(sweep.status, store::SweepStatus::kDone) << sweep.error.msg;
  EXPECT_EQ(sweep.spec.trials, 15u);
  EXPECT_EQ(sweep.spec.tasks, 45u);  // 15 trials × (1 + 2 folds)
  EXPECT_EQ(sweep.done, 45u);
  EXPECT_EQ(runner.trial_runs_done(), 45u);
  // fast 25 >= slow 10 is refused by sma_cross: a failed trial, not a failed sweep.
  auto failed = store_->GetTrial(id, 0, 12);  // fast 25, slow 10
  ASSERT_TRUE(failed.ok());
  EXPECT_FALSE(failed->stats);
  EXPECT_FALSE(failed->error.empty());
  const json::value summary = json::parse(sweep.summary_json);
  EXPECT_EQ(summary.at("failed_trials").as_int64(), 4);  // fast 10..25 with slow 10
  EXPECT_EQ(summary.at("valid_trials").as_int64(), 11);
  EXPECT_EQ(summary.at("folds").as_array().size(), 2u);
  // GET /sweeps/{id} splices the plan and the summary into one object.
  const json::value got = json::parse(SweepJson(sweep));
  EXPECT_EQ(got.at("status").as_string(), "done");
  EXPECT_EQ(got.at("trials").as_int64(), 15);
  EXPECT_EQ(got.at("progress").at("done").as_int64(), 45);
  EXPECT_TRUE(got.as_object().contains("pbo"));
  EXPECT_TRUE(got.as_object().contains("stitched"));
  // The worker that completed it lets go of its job just after the store says done.
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (runner.running() > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(runner.running(), 0u);
}

TEST_F(SweepRunnerTest, ARunPostedDuringASweepStartsAfterOneBatchNotTheSweep) {
  // One worker: the run can only start between two batches.
  Runner runner(*store_, 1);
  const std::string id = Create(
      R"({"dataset":"big","strategy":"sma_cross","params":{"fast":{"from":2,"to":21,"step":1},)"
      R"("slow":[50,60,70,80]}})");  // 80 trials: 10 batches, 6 more than can go first
  ASSERT_TRUE(runner.EnqueueSweep(id, "me", 16, 256).ok());
  while (store_->GetSweep(id)->done < kSweepBatch) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const std::string run = PostRun(runner, "big");
  EXPECT_EQ(WaitRun(run).status, store::RunStatus::kDone);
  const store::SweepInfo during = *store_->GetSweep(id);
  // At most the batch being run when the run was posted, and the one after it, went first.
  EXPECT_LE(during.done, 4 * kSweepBatch);
  EXPECT_EQ(during.status, store::SweepStatus::kRunning);
  EXPECT_EQ(WaitSweep(id).status, store::SweepStatus::kDone);
}

// The most sweep batches seen running at once while `sweep` runs on `runner` (sampled).
size_t MostBatchesAtOnce(Runner& runner, store::Store& store, const std::string& sweep) {
  size_t most = 0;
  for (;;) {
    most = std::max(most, runner.sweep_batches_running());
    auto info = store.GetSweep(sweep);
    if (!info.ok() || info->status == store::SweepStatus::kDone ||
        info->status == store::SweepStatus::kFailed) {
      return most;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

TEST_F(SweepRunnerTest, WhileStreamsPlayASweepLeavesAWorkerFree) {
  constexpr const char* kGrid =
      R"({"dataset":"big","strategy":"sma_cross","params":{"fast":{"from":2,"to":31,"step":1},)"
      R"("slow":[50,60]}})";  // 60 trials of 200,000 bars: 8 batches
  std::atomic<bool> playing{true};
  Runner runner(*store_, 2);
  runner.SetPlaybackActive([&playing] { return playing.load(); });
  const std::string capped = Create(kGrid);
  ASSERT_TRUE(runner.EnqueueSweep(capped, "me", 16, 256).ok());
  EXPECT_EQ(MostBatchesAtOnce(runner, *store_, capped), 1u);
  EXPECT_EQ(WaitSweep(capped).status, store::SweepStatus::kDone);
  // A run still takes the free worker meanwhile.
  playing = false;
  const std::string free = Create(kGrid);
  ASSERT_TRUE(runner.EnqueueSweep(free, "me", 16, 256).ok());
  EXPECT_EQ(MostBatchesAtOnce(runner, *store_, free), 2u);
}

TEST_F(SweepRunnerTest, WhileStreamsPlayARunStillFindsAFreeWorker) {
  Runner runner(*store_, 2);
  runner.SetPlaybackActive([] { return true; });
  const std::string id = Create(
      R"({"dataset":"big","strategy":"sma_cross","params":{"fast":{"from":2,"to":31,"step":1},)"
      R"("slow":[70,80]}})");  // 60 trials on one worker; the run takes as long as one of them
  ASSERT_TRUE(runner.EnqueueSweep(id, "me", 16, 256).ok());
  while (store_->GetSweep(id)->done < kSweepBatch) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const std::string run = PostRun(runner, "big");
  EXPECT_EQ(WaitRun(run).status, store::RunStatus::kDone);
  // The run went on the worker the sweep left free, not after a batch.
  EXPECT_EQ(store_->GetSweep(id)->status, store::SweepStatus::kRunning);
  EXPECT_EQ(WaitSweep(id).status, store::SweepStatus::kDone);
}

TEST_F(SweepRunnerTest, DeletingARunningSweepStopsItsTrialsWithinASecond) {
  Runner runner(*store_, 2);
  const std::string id = Create(
      R"({"dataset":"big","strategy":"sma_cross","params":{"fast":{"from":2,"to":201,"step":1},)"
      R"("slow":[250,300]}})");  // 400 trials
  ASSERT_TRUE(runner.EnqueueSweep(id, "me", 16, 256).ok());
  while (store_->GetSweep(id)->done < 2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_TRUE(store_->DeleteSweep(id).ok());
  const auto t0 = Clock::now();
  runner.CancelSweep(id);
  while (runner.running() > 0 && Clock::now() - t0 < std::chrono::seconds(5)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(1));
  EXPECT_EQ(runner.running(), 0u);
  EXPECT_EQ(runner.queued(), 0u);
  EXPECT_FALSE(store_->GetSweep(id).ok());
  const uint64_t stored = runner.trial_runs_done();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(runner.trial_runs_done(), stored);  // no batch is left to run
  EXPECT_EQ(WaitRun(PostRun(runner, "syn")).status, store::RunStatus::kDone);
}

TEST_F(SweepRunnerTest, AQueuedSweepCountsAsOneWaitingJobTowardTheLimits) {
  // The one worker is held by a script run that loops until its wall-time budget ends.
  strategies::ScriptBudgets budgets;
  budgets.instructions = UINT64_MAX / 2;
  budgets.wall_seconds = 2;
  Runner runner(*store_, 1, budgets);
  store::RunSpec spec;
  spec.dataset = "syn";
  spec.datasets = {"syn"};
  spec.symbols = {"SYN"};
  spec.strategy = std::string(store::kInlineStrategy);
  spec.script_source = "function on_bar(bar) while true do end end";
  auto busy = store_->CreateRun(spec);
  ASSERT_TRUE(busy.ok());
  ASSERT_TRUE(runner.Enqueue(*busy, "x", 16, 256).ok());
  while (runner.running() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  const std::string a = Create(kSmall), b = Create(kSmall);
  ASSERT_TRUE(runner.EnqueueSweep(a, "me", 1, 2).ok());
  const Status mine = runner.EnqueueSweep(b, "me", 1, 2);
  ASSERT_FALSE(mine.ok());
  EXPECT_EQ(mine.error().code, ErrorCode::kRateLimited);
  store::RunSpec run;
  run.dataset = "syn";
  run.symbols = {"SYN"};
  run.strategy = "sma_cross";
  auto r = store_->CreateRun(run);
  ASSERT_TRUE(r.ok());
  const Status again = runner.Enqueue(*r, "me", 1, 2);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kRateLimited);
  ASSERT_TRUE(runner.Enqueue(*r, "other", 1, 2).ok());
  const Status full = runner.EnqueueSweep(b, "third", 1, 2);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(runner.queued(), 2u);

  // Cancelling a waiting sweep frees its place.
  runner.CancelSweep(a);
  EXPECT_EQ(runner.queued(), 1u);
  ASSERT_TRUE(runner.EnqueueSweep(b, "me", 1, 2).ok());
  EXPECT_EQ(WaitSweep(b).status, store::SweepStatus::kDone);
  EXPECT_EQ(store_->GetSweep(a)->status, store::SweepStatus::kQueued);  // never taken
}

TEST_F(SweepRunnerTest, ARunningSweepKeepsItsClientsPlaceUntilItEnds) {
  Runner runner(*store_, 2);
  const std::string big = Create(
      R"({"dataset":"big","strategy":"sma_cross","params":{"fast":{"from":2,"to":31,"step":1},)"
      R"("slow":[70,80]}})");  // 60 trials: running for a while
  ASSERT_TRUE(runner.EnqueueSweep(big, "me", 1, 256).ok());
  while (store_->GetSweep(big)->status != store::SweepStatus::kRunning) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // Started, it no longer waits, but it still counts: a second sweep of this client is refused.
  const std::string second = Create(kSmall);
  const Status refused = runner.EnqueueSweep(second, "me", 1, 256);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kRateLimited);
  EXPECT_TRUE(runner.EnqueueSweep(Create(kSmall), "other", 1, 256).ok());
  // Once it ends, the place is free again.
  EXPECT_EQ(WaitSweep(big).status, store::SweepStatus::kDone);
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  Status again = runner.EnqueueSweep(second, "me", 1, 256);
  while (!again.ok() && Clock::now() < deadline) {  // the place is given back just after done
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    again = runner.EnqueueSweep(second, "me", 1, 256);
  }
  ASSERT_TRUE(again.ok()) << again.error().ToString();
  EXPECT_EQ(WaitSweep(second).status, store::SweepStatus::kDone);
  // So does a cancel.
  const std::string third = Create(kSmall);
  const std::string running = Create(
      R"({"dataset":"big","strategy":"sma_cross","params":{"fast":{"from":2,"to":61,"step":1},)"
      R"("slow":[70,80]}})");
  ASSERT_TRUE(runner.EnqueueSweep(running, "you", 1, 256).ok());
  while (store_->GetSweep(running)->status != store::SweepStatus::kRunning) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_FALSE(runner.EnqueueSweep(third, "you", 1, 256).ok());
  ASSERT_TRUE(store_->DeleteSweep(running).ok());
  runner.CancelSweep(running);
  EXPECT_TRUE(runner.EnqueueSweep(third, "you", 1, 256).ok());
  EXPECT_EQ(WaitSweep(third).status, store::SweepStatus::kDone);
}

TEST_F(SweepRunnerTest, AStopLeavesARunningSweepForRecoveryToFail) {
  auto runner = std::make_unique<Runner>(*store_, 2);
  const std::string id = Create(
      R"({"dataset":"big","strategy":"sma_cross","params":{"fast":{"from":2,"to":201,"step":1},)"
      R"("slow":[250,300]}})");
  ASSERT_TRUE(runner->EnqueueSweep(id, "me", 16, 256).ok());
  while (store_->GetSweep(id)->done < 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const auto t0 = Clock::now();
  runner.reset();
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(1));
  EXPECT_EQ(store_->GetSweep(id)->status, store::SweepStatus::kRunning);
  ASSERT_EQ(*store_->RecoverOnStart(), 1u);
  const store::SweepInfo sweep = *store_->GetSweep(id);
  EXPECT_EQ(sweep.status, store::SweepStatus::kFailed);
  EXPECT_EQ(sweep.error.msg, "interrupted");
}

TEST_F(SweepRunnerTest, ASweepWhoseDatasetIsGoneFails) {
  Runner runner(*store_, 1);
  const std::string id = Create(kSmall);
  ASSERT_TRUE(store_->DeleteDataset("syn").ok());
  ASSERT_TRUE(runner.EnqueueSweep(id, "me", 16, 256).ok());
  const store::SweepInfo sweep = WaitSweep(id);
  EXPECT_EQ(sweep.status, store::SweepStatus::kFailed);
  EXPECT_EQ(sweep.error.cause, "not_found");
}

// ---- Through the routes ----

class SweepRoutesTest : public SweepRunnerTest {
 protected:
  void SetUp() override {
    SweepRunnerTest::SetUp();
    Options options;
    options.workers = 2;
    options.max_sweep_trials = 1000;
    resources_ = std::make_unique<Resources>(*store_, options);
    resources_->RegisterRoutes(router_);
  }
  void TearDown() override {
    resources_.reset();
    SweepRunnerTest::TearDown();
  }

  server::HttpResponse Call(http::verb method, const std::string& target,
                            const std::string& body = "") {
    server::HttpRequest req{method, target, 11};
    req.body() = body;
    req.prepare_payload();
    return router_.Dispatch(req, "127.0.0.1");
  }

  server::Router router_;
  std::unique_ptr<Resources> resources_;
};

TEST_F(SweepRoutesTest, ATrialOpenedAsARunHasTheTrialsStatisticsExactly) {
  auto posted = Call(http::verb::post, "/sweeps", kSmall);
  ASSERT_EQ(posted.result(), http::status::accepted) << posted.body();
  const std::string id(json::parse(posted.body()).at("id").as_string());
  EXPECT_EQ(posted[http::field::location], "/sweeps/" + id);
  ASSERT_EQ(WaitSweep(id).status, store::SweepStatus::kDone);
  for (size_t k : {size_t{1}, size_t{7}}) {
    auto run = Call(http::verb::post, "/sweeps/" + id + "/trials/" + std::to_string(k) + "/run");
    ASSERT_EQ(run.result(), http::status::accepted) << run.body();
    const std::string run_id(json::parse(run.body()).at("id").as_string());
    const store::RunInfo info = WaitRun(run_id);
    ASSERT_EQ(info.status, store::RunStatus::kDone);
    auto trial = Call(http::verb::get, "/sweeps/" + id + "/trials/" + std::to_string(k));
    ASSERT_EQ(trial.result(), http::status::ok);
    auto got = Call(http::verb::get, "/backtests/" + run_id);
    const json::value t = json::parse(trial.body()), r = json::parse(got.body());
    EXPECT_EQ(t.at("params"), r.at("params"));
    EXPECT_EQ(t.at("stats"), r.at("stats")) << trial.body() << "\n" << got.body();
  }
  EXPECT_EQ(Call(http::verb::post, "/sweeps/" + id + "/trials/15/run").result(),
            http::status::not_found);
  std::string metrics;
  resources_->RenderMetrics(metrics);
  EXPECT_NE(metrics.find("tapedeck_sweeps{status=\"done\"} 1\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("tapedeck_sweep_trial_runs_total 45\n"), std::string::npos) << metrics;
}

TEST_F(SweepRoutesTest, OverTheTrialLimitIsRefusedBeforeAnythingIsStored) {
  auto posted = Call(http::verb::post, "/sweeps",
                     R"({"dataset":"syn","strategy":"sma_cross","params":{"fast":)"
                     R"({"from":1,"to":100,"step":1},"slow":{"from":101,"to":120,"step":1}}})");
  ASSERT_EQ(posted.result(), http::status::bad_request);
  const json::value e = json::parse(posted.body());
  EXPECT_EQ(e.at("details").at("field").as_string(), "params");
  EXPECT_EQ(e.at("details").at("trials").as_string(), "2000");
  EXPECT_EQ(e.at("details").at("limit").as_string(), "1000");
  EXPECT_TRUE(store_->ListSweeps()->empty());
}

TEST_F(SweepRoutesTest, DeleteAnswers204ThenTheSweepIsGone) {
  auto posted = Call(http::verb::post, "/sweeps", kSmall);
  ASSERT_EQ(posted.result(), http::status::accepted);
  const std::string id(json::parse(posted.body()).at("id").as_string());
  EXPECT_EQ(Call(http::verb::delete_, "/sweeps/" + id).result(), http::status::no_content);
  EXPECT_EQ(Call(http::verb::get, "/sweeps/" + id).result(), http::status::not_found);
  EXPECT_EQ(Call(http::verb::delete_, "/sweeps/" + id).result(), http::status::not_found);
}

TEST_F(SweepRoutesTest, DeletingAScriptSweepStopsAHeavyBarWithinASecond) {
  // Each bar spends milliseconds in the script: the engine's check between bars alone would not
  // stop a trial promptly, the script budget's cancel does.
  const std::string body =
      R"({"dataset":"syn","script":"params = {k = {default = 1, min = 1, max = 9, int = true}}\n)"
      R"(local x = 0\nfunction on_bar(bar)\n  for i = 1, 5000000 do x = x + i end\nend",)"
      R"("params":{"k":[1,2,3,4]}})";
  auto posted = Call(http::verb::post, "/sweeps", body);
  ASSERT_EQ(posted.result(), http::status::accepted) << posted.body();
  const std::string id(json::parse(posted.body()).at("id").as_string());
  while (store_->GetSweep(id)->status != store::SweepStatus::kRunning) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_GT(resources_->runner().running(), 0u);
  const auto t0 = Clock::now();
  EXPECT_EQ(Call(http::verb::delete_, "/sweeps/" + id).result(), http::status::no_content);
  while (resources_->runner().running() > 0 && Clock::now() - t0 < std::chrono::seconds(5)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(1));
  EXPECT_EQ(resources_->runner().running(), 0u);
}

TEST_F(SweepRoutesTest, BadPlansNameTheirField) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"dataset":"syn","strategy":"sma_cross","objective":"luck"})", "objective"},
      {R"({"dataset":"syn","strategy":"sma_cross","walk_forward":{"folds":21}})",
       "walk_forward.folds"},
      {R"({"dataset":"syn","strategy":"sma_cross","params":{"fast":"x"}})", "params.fast"},
      {R"({"dataset":"syn","strategy":"sma_cross","pbo_blocks":5})", "pbo_blocks"},
      {R"({"dataset":"syn","strategy":"sma_cross","method":"random"})", "trials"},
      {R"({"dataset":"nope","strategy":"sma_cross"})", "dataset"},
  };
  for (const auto& [body, field] : cases) {
    auto res = Call(http::verb::post, "/sweeps", body);
    ASSERT_EQ(res.result(), http::status::bad_request) << body;
    EXPECT_EQ(json::parse(res.body()).at("details").at("field").as_string(), field) << body;
  }
  EXPECT_TRUE(store_->ListSweeps()->empty());
}

}  // namespace
}  // namespace tapedeck::api
