// The Runner in queue mode against a real PostgreSQL cluster: a serve node (no workers) queueing,
// worker Runners (each with a store and a queue of its own, as separate processes would have)
// executing; results compared with the same work done by a local Runner on SQLite.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "../store/pg_test_db.h"
#include "api/api.h"
#include "api/resources.h"
#include "api/sweep_json.h"
#include "market/market.h"
#include "store/job_queue.h"
#include "store/store.h"

namespace tapedeck::api {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A process of the deployment: its own store and queue on the shared database.
struct Node {
  std::unique_ptr<store::Store> store;
  std::unique_ptr<store::JobQueue> queue;
};

class RunnerQueueTest : public ::testing::Test {
 protected:
  // The cluster this test's database goes on: the run's shared one, unless the test stops it.
  virtual std::string ClusterUrl() { return store::testing::SharedPgUrl(); }

  void SetUp() override {
    url_ = store::testing::FreshPgDatabase(ClusterUrl());
    ASSERT_FALSE(url_.empty());
    std::string tmpl = (std::filesystem::temp_directory_path() / "tapedeck-rq-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto local = store::OpenSqliteStore(dir_ + "/t.db");
    ASSERT_TRUE(local.ok()) << local.error().ToString();
    local_ = std::move(*local);
    pg_ = MakeNode();
    ASSERT_TRUE(pg_.store && pg_.queue);
    market::GenOptions gen;
    gen.bars = 20'000;
    gen.symbol = "SYN";
    const market::Series bars = market::Generate(gen);
    ASSERT_TRUE(local_->PutDataset("syn", bars).ok());
    auto put = pg_.store->PutDataset("syn", bars);
    ASSERT_TRUE(put.ok()) << put.error().ToString();
  }
  void TearDown() override {
    local_.reset();
    std::filesystem::remove_all(dir_);
  }

  Node MakeNode() {
    Node node;
    auto s = store::OpenPostgresStore(url_);
    EXPECT_TRUE(s.ok()) << s.error().ToString();
    auto q = store::OpenPostgresJobQueue(url_);
    EXPECT_TRUE(q.ok()) << q.error().ToString();
    if (s.ok()) node.store = std::move(*s);
    if (q.ok()) node.queue = std::move(*q);
    return node;
  }

  static store::RunSpec Spec(int fast) {
    store::RunSpec spec;
    spec.dataset = "syn";
    spec.datasets = {"syn"};
    spec.symbols = {"SYN"};
    spec.strategy = "sma_cross";
    spec.params_json = "{\"fast\":" + std::to_string(fast) + ",\"slow\":40}";
    return spec;
  }

  std::string CreateSweep(store::Store& store, const std::string& body) {
    auto request = ParseSweepRequest(body, {}, 100'000);
    EXPECT_TRUE(request.ok()) << request.error().ToString();
    if (!request.ok()) return "";
    EXPECT_TRUE(ResolveSymbols(store, request->spec.base, "dataset").ok());
    auto id = store.CreateSweep(request->spec);
    EXPECT_TRUE(id.ok()) << id.error().ToString();
    return id.ok() ? *id : "";
  }

  static store::RunInfo WaitRun(store::Store& store, const std::string& id) {
    const auto deadline = Clock::now() + 60s;
    for (;;) {
      auto run = store.GetRun(id);
      EXPECT_TRUE(run.ok());
      if (!run.ok() || run->status == store::RunStatus::kDone ||
          run->status == store::RunStatus::kFailed || Clock::now() > deadline) {
        return run.ok() ? *run : store::RunInfo{};
      }
      std::this_thread::sleep_for(5ms);
    }
  }
  static store::SweepInfo WaitSweep(store::Store& store, const std::string& id) {
    const auto deadline = Clock::now() + 120s;
    for (;;) {
      auto sweep = store.GetSweep(id);
      EXPECT_TRUE(sweep.ok());
      if (!sweep.ok() || sweep->status == store::SweepStatus::kDone ||
          sweep->status == store::SweepStatus::kFailed || Clock::now() > deadline) {
        return sweep.ok() ? *sweep : store::SweepInfo{};
      }
      std::this_thread::sleep_for(10ms);
    }
  }
  int64_t Jobs() { return store::testing::PgScalar(url_, "SELECT count(*) FROM jobs"); }
  // Jobs(), once the jobs have had up to 5 s to go: a worker deletes its job (Finish) after it
  // has stored what the job did, so the last one may trail the run's or sweep's end a moment.
  int64_t JobsLeft() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (Jobs() != 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return Jobs();
  }

  std::string url_, dir_;
  std::unique_ptr<store::Store> local_;
  Node pg_;  // the serve node's
};

constexpr const char* kSweep =
    R"({"dataset":"syn","strategy":"sma_cross","params":{"fast":{"from":5,"to":25,"step":5},)"
    R"("slow":[10,30,60]},"walk_forward":{"folds":2},"pbo_blocks":4})";

TEST_F(RunnerQueueTest, RunsQueuedByAServeNodeAreDoneByAWorkerWithTheSameResults) {
  std::mutex mu;
  std::condition_variable cv;
  std::set<std::string> finished;
  Runner serve(*pg_.store, *pg_.queue, 0);
  serve.OnFinished([&](const std::string& id) {
    std::lock_guard lock(mu);
    finished.insert(id);
    cv.notify_all();
  });
  std::vector<std::string> ids;
  for (int fast = 5; fast < 35; fast += 5) {
    auto id = pg_.store->CreateRun(Spec(fast));
    ASSERT_TRUE(id.ok()) << id.error().ToString();
    ASSERT_TRUE(serve.Enqueue(*id, "me", 16, 256).ok());
    ids.push_back(*id);
  }
  EXPECT_EQ(serve.running(), 0u);
  Node worker_node = MakeNode();
  Runner worker(*worker_node.store, *worker_node.queue, 2, {}, {.lease = 3000ms, .name = "w"});
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 60s, [&] { return finished.size() >= ids.size(); }))
        << finished.size();
  }
  Runner local(*local_, 1);
  for (size_t i = 0; i < ids.size(); ++i) {
    const store::RunInfo run = WaitRun(*pg_.store, ids[i]);
    ASSERT_EQ(run.status, store::RunStatus::kDone) << run.error.msg;
    auto local_id = local_->CreateRun(Spec(5 + 5 * static_cast<int>(i)));
    ASSERT_TRUE(local.Enqueue(*local_id, "me", 16, 256).ok());
    const store::RunInfo expected = WaitRun(*local_, *local_id);
    ASSERT_TRUE(run.stats && expected.stats);
    EXPECT_EQ(run.stats->final_equity, expected.stats->final_equity);
    EXPECT_EQ(run.stats->trades, expected.stats->trades);
    auto trades = pg_.store->LoadTrades(ids[i]);
    auto expected_trades = local_->LoadTrades(*local_id);
    ASSERT_TRUE(trades.ok() && expected_trades.ok());
    EXPECT_EQ(trades->size(), expected_trades->size());
  }
  EXPECT_GE(worker.jobs_done(), ids.size());
  EXPECT_EQ(worker.leases_held(), 0u);
  const Runner::JobLatency latency = worker.job_latency();
  uint64_t counted = 0;
  for (uint64_t c : latency.counts) counted += c;
  EXPECT_EQ(counted, worker.jobs_done());
  EXPECT_EQ(JobsLeft(), 0);  // jobs are deleted once finished
}

TEST_F(RunnerQueueTest, ASweepSplitOverTwoWorkersIsSummarisedAsLocally) {
  Runner serve(*pg_.store, *pg_.queue, 0);
  const std::string id = CreateSweep(*pg_.store, kSweep);
  ASSERT_TRUE(serve.EnqueueSweep(id, "me", 16, 256).ok());
  Node a = MakeNode(), b = MakeNode();
  Runner worker_a(*a.store, *a.queue, 1, {}, {.lease = 3000ms, .name = "a"});
  Runner worker_b(*b.store, *b.queue, 1, {}, {.lease = 3000ms, .name = "b"});
  const store::SweepInfo sweep = WaitSweep(*pg_.store, id);
  ASSERT_EQ(sweep.status, store::SweepStatus::kDone) << sweep.error.msg;
  EXPECT_EQ(sweep.done, sweep.spec.tasks);
  EXPECT_EQ(store::testing::PgScalar(url_, "SELECT count(*) FROM sweep_trials"),
            static_cast<int64_t>(sweep.spec.tasks));
  EXPECT_EQ(worker_a.trial_runs_done() + worker_b.trial_runs_done(), sweep.spec.tasks);

  Runner local(*local_, 2);
  const std::string local_id = CreateSweep(*local_, kSweep);
  ASSERT_TRUE(local.EnqueueSweep(local_id, "me", 16, 256).ok());
  const store::SweepInfo expected = WaitSweep(*local_, local_id);
  ASSERT_EQ(expected.status, store::SweepStatus::kDone);
  EXPECT_EQ(sweep.summary_json, expected.summary_json);
}

TEST_F(RunnerQueueTest, ARunWhoseWorkerDiedIsTakenOverOnceItsLeaseRunsOut) {
  auto id = pg_.store->CreateRun(Spec(10));
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(pg_.queue->EnqueueRun(*id, "me", 16, 256).ok());
  // A worker claims it, marks it running, and dies.
  auto claimed = pg_.queue->Claim("dead/0", 500ms);
  ASSERT_TRUE(claimed.ok() && claimed->has_value());
  ASSERT_TRUE(pg_.store->MarkRunning(*id).ok());
  Node node = MakeNode();
  Runner worker(*node.store, *node.queue, 1, {}, {.lease = 3000ms, .name = "alive"});
  const store::RunInfo run = WaitRun(*pg_.store, *id);
  ASSERT_EQ(run.status, store::RunStatus::kDone) << run.error.msg;
  EXPECT_EQ(node.queue->lease_expiries(), 1u);
  // The dead worker's leftovers are refused.
  auto finish = pg_.queue->Finish((*claimed)->id, "dead/0");
  ASSERT_FALSE(finish.ok());
  EXPECT_EQ(finish.error().code, ErrorCode::kConflict);
}

TEST_F(RunnerQueueTest, AStoppedWorkerGivesItsJobsBackAndAnotherEndsTheSweepOnce) {
  constexpr const char* kBig =
      R"({"dataset":"syn","strategy":"sma_cross","params":{"fast":{"from":2,"to":41,"step":1},)"
      R"("slow":{"from":50,"to":100,"step":10}}})";
  const std::string id = CreateSweep(*pg_.store, kBig);
  ASSERT_TRUE(pg_.queue->EnqueueSweep(id, "me", 16, 256).ok());
  {
    Node a = MakeNode();
    Runner worker_a(*a.store, *a.queue, 2, {}, {.lease = 60000ms, .name = "a"});
    const auto deadline = Clock::now() + 60s;
    while (worker_a.trial_runs_done() < 24 && Clock::now() < deadline) {
      std::this_thread::sleep_for(2ms);
    }
    ASSERT_GE(worker_a.trial_runs_done(), 24u);
    worker_a.Stop();
    // Released (queued again at once) rather than left to a 60 s lease.
    auto stats = pg_.queue->Stats();
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->running, 0u);
  }
  auto midway = pg_.store->GetSweep(id);
  ASSERT_TRUE(midway.ok());
  ASSERT_EQ(midway->status, store::SweepStatus::kRunning);
  ASSERT_LT(midway->done, midway->spec.tasks);
  Node b = MakeNode();
  Runner worker_b(*b.store, *b.queue, 2, {}, {.lease = 3000ms, .name = "b"});
  const store::SweepInfo sweep = WaitSweep(*pg_.store, id);
  ASSERT_EQ(sweep.status, store::SweepStatus::kDone) << sweep.error.msg;
  EXPECT_EQ(sweep.done, sweep.spec.tasks);
  EXPECT_EQ(store::testing::PgScalar(url_, "SELECT count(*) FROM sweep_trials"),
            static_cast<int64_t>(sweep.spec.tasks));
  EXPECT_EQ(b.queue->lease_expiries(), 0u);
}

TEST_F(RunnerQueueTest, ASweepDeletedElsewhereStopsItsTrialsHere) {
  market::GenOptions gen;
  gen.bars = 200'000;
  gen.symbol = "BIG";
  ASSERT_TRUE(pg_.store->PutDataset("big", market::Generate(gen)).ok());
  constexpr const char* kLong =
      R"({"dataset":"big","strategy":"sma_cross","params":{"fast":{"from":2,"to":101,"step":1},)"
      R"("slow":{"from":110,"to":200,"step":10}}})";
  const std::string id = CreateSweep(*pg_.store, kLong);
  Runner serve(*pg_.store, *pg_.queue, 0);
  ASSERT_TRUE(serve.EnqueueSweep(id, "me", 16, 256).ok());
  Node node = MakeNode();
  Runner worker(*node.store, *node.queue, 2, {}, {.lease = 30000ms, .name = "w"});
  auto deadline = Clock::now() + 60s;
  while (worker.trial_runs_done() == 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(2ms);
  }
  ASSERT_GT(worker.trial_runs_done(), 0u);
  // Another node deletes it (its jobs go with it): the trials being run here stop, well before
  // a lease renewal (10 s) would have told.
  ASSERT_TRUE(pg_.store->DeleteSweep(id).ok());
  serve.CancelSweep(id);
  const auto deleted = Clock::now();
  deadline = deleted + 20s;
  while (worker.leases_held() > 0 && Clock::now() < deadline) std::this_thread::sleep_for(2ms);
  EXPECT_EQ(worker.leases_held(), 0u);
  EXPECT_LT(Clock::now() - deleted, 5s);
  EXPECT_LT(worker.trial_runs_done(), 1000u / 2);
  EXPECT_EQ(JobsLeft(), 0);
}

// A test that stops its database's cluster has one of its own.
class RunnerQueueOwnClusterTest : public RunnerQueueTest {
 protected:
  std::string ClusterUrl() override {
    store::testing::PgCluster& own = store::testing::OwnPgCluster();
    EXPECT_TRUE(own.ok()) << own.error();
    return own.ok() ? own.url() : "";
  }
};

TEST_F(RunnerQueueOwnClusterTest, ASweepOutlivesADatabaseRestartWithEveryTrialStoredOnce) {
  market::GenOptions gen;
  gen.bars = 100'000;
  gen.symbol = "BIG";
  ASSERT_TRUE(pg_.store->PutDataset("big", market::Generate(gen)).ok());
  constexpr const char* kLong =
      R"({"dataset":"big","strategy":"sma_cross","params":{"fast":{"from":2,"to":51,"step":1},)"
      R"("slow":{"from":110,"to":200,"step":10}}})";  // 500 trial runs: seconds of work
  const std::string id = CreateSweep(*pg_.store, kLong);
  ASSERT_TRUE(pg_.queue->EnqueueSweep(id, "me", 16, 256).ok());
  Node node = MakeNode();
  Runner worker(*node.store, *node.queue, 2, {}, {.lease = 2000ms, .name = "w"});
  const auto deadline = Clock::now() + 60s;
  while (worker.trial_runs_done() < 16 && Clock::now() < deadline) {
    std::this_thread::sleep_for(2ms);
  }
  ASSERT_GE(worker.trial_runs_done(), 16u);
  // Down for longer than a lease: jobs in flight are claimed again by the other thread, their
  // records refused as stored already.
  ASSERT_TRUE(store::testing::OwnPgCluster().Stop());
  const uint64_t before_restart = worker.trial_runs_done();
  std::this_thread::sleep_for(3s);
  ASSERT_TRUE(store::testing::OwnPgCluster().Start());
  const store::SweepInfo sweep = WaitSweep(*pg_.store, id);
  ASSERT_EQ(sweep.status, store::SweepStatus::kDone) << sweep.error.msg;
  EXPECT_EQ(sweep.done, sweep.spec.tasks);
  EXPECT_EQ(store::testing::PgScalar(url_, "SELECT count(*) FROM sweep_trials"),
            static_cast<int64_t>(sweep.spec.tasks));
  EXPECT_EQ(JobsLeft(), 0);
  EXPECT_LT(before_restart, sweep.spec.tasks);  // the restart came mid-sweep
}

TEST_F(RunnerQueueTest, AJobWhoseLeaseIsLostIsCancelledHere) {
  market::GenOptions gen;
  gen.bars = 1'000'000;  // a batch of 8 trial runs takes a few hundred ms
  gen.symbol = "BIG";
  ASSERT_TRUE(pg_.store->PutDataset("big", market::Generate(gen)).ok());
  constexpr const char* kLong =
      R"({"dataset":"big","strategy":"sma_cross","params":{"fast":{"from":2,"to":21,"step":1},)"
      R"("slow":{"from":110,"to":200,"step":10}}})";
  const std::string id = CreateSweep(*pg_.store, kLong);
  ASSERT_TRUE(pg_.queue->EnqueueSweep(id, "me", 16, 256).ok());
  Node node = MakeNode();
  // Renewed every 30 ms: well within a batch.
  Runner worker(*node.store, *node.queue, 1, {}, {.lease = 90ms, .name = "w"});
  const auto running_batch = [&] {
    return store::testing::PgScalar(
        url_, "SELECT count(*) FROM jobs WHERE kind = 'batch' AND state = 'running'");
  };
  auto deadline = Clock::now() + 60s;
  while (running_batch() != 1 && Clock::now() < deadline) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(running_batch(), 1);
  // Another worker takes it over (as after an expiry this worker did not notice): the next
  // renewal tells this one, which stops the batch instead of storing it.
  const int64_t first = store::testing::PgScalar(
      url_,
      "UPDATE jobs SET worker = 'thief', lease_until = now() + interval '1 hour' "
      "WHERE kind = 'batch' AND state = 'running' RETURNING first");
  ASSERT_GE(first, 0);
  const int64_t stored_at_theft =
      store::testing::PgScalar(url_, "SELECT count(*) FROM sweep_trials");
  // It goes on with the next batches. With one thread, a trial stored after the theft means it
  // is done with the stolen batch (a batch under a sanitizer can take seconds, so wait for it).
  const auto stored = [&] {
    return store::testing::PgScalar(url_, "SELECT count(*) FROM sweep_trials");
  };
  deadline = Clock::now() + 60s;
  while (stored() <= stored_at_theft && Clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_GT(stored(), stored_at_theft);
  EXPECT_EQ(store::testing::PgScalar(url_,
                                     "SELECT count(*) FROM sweep_trials WHERE phase = 0 "
                                     "AND idx >= " +
                                         std::to_string(first) + " AND idx < " +
                                         std::to_string(first + 8)),
            0);
  EXPECT_EQ(store::testing::PgScalar(url_, "SELECT count(*) FROM jobs WHERE worker = 'thief'"), 1);
}

TEST_F(RunnerQueueTest, ServeNodeLimitsAreTheQueuesAndAStoppingNodeRefuses) {
  Runner serve(*pg_.store, *pg_.queue, 0);
  auto a = pg_.store->CreateRun(Spec(5));
  auto b = pg_.store->CreateRun(Spec(10));
  ASSERT_TRUE(serve.Enqueue(*a, "me", 1, 256).ok());
  auto refused = serve.Enqueue(*b, "me", 1, 256);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kRateLimited);
  EXPECT_EQ(refused.error().details.at("retry_after"), std::to_string(kQueueRetryAfterSeconds));
  EXPECT_EQ(serve.queued(), 1u);
  serve.Stop();
  auto stopping = serve.Enqueue(*b, "other", 16, 256);
  ASSERT_FALSE(stopping.ok());
  EXPECT_EQ(stopping.error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace tapedeck::api
