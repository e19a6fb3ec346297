// JobQueue::CreateAndEnqueueRun (a POST /backtests in a PostgreSQL deployment): the run and its job
// written in one transaction by the PostgreSQL queue given the store of its database; the
// default's two calls for any other store. Against the test binary's shared cluster, a fresh
// database per test (pg_test_db.h).
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "pg_test_db.h"
#include "store/job_queue.h"
#include "store/pg_db.h"
#include "store/store.h"
#include "store_test_util.h"

namespace tapedeck::store {
namespace {

using namespace std::chrono_literals;

class PgCreateEnqueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = testing::FreshPgDatabase();
    ASSERT_FALSE(url_.empty());
    auto store = OpenPostgresStore(url_);
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    store_ = std::move(*store);
    auto queue = OpenPostgresJobQueue(url_);
    ASSERT_TRUE(queue.ok()) << queue.error().ToString();
    queue_ = std::move(*queue);
  }

  static RunSpec Spec() {
    RunSpec spec;
    spec.dataset = "ds";
    spec.datasets = {"ds"};
    spec.symbols = {"SYM"};
    spec.strategy = "sma_cross";
    spec.params_json = R"({"fast":5})";
    spec.request_json = R"({"dataset":"ds"})";
    spec.config.cash = 12'345;
    return spec;
  }

  int64_t Scalar(const std::string& sql) { return testing::PgScalar(url_, sql); }

  std::string url_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<JobQueue> queue_;
};

TEST_F(PgCreateEnqueueTest, TheRunAndItsJobAreWrittenTogetherAndTheWorkersHearOfIt) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> jobs_heard;
  queue_->Listen([&](std::string_view channel, std::string_view payload) {
    std::lock_guard lock(mu);
    if (channel == "tapedeck_job") jobs_heard.emplace_back(payload);
    cv.notify_all();
  });

  auto id = queue_->CreateAndEnqueueRun(*store_, Spec(), "alice", 10, 10);
  ASSERT_TRUE(id.ok()) << id.error().ToString();
  auto run = store_->GetRun(*id);
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  EXPECT_EQ(run->status, RunStatus::kQueued);
  EXPECT_EQ(run->spec.strategy, "sma_cross");
  EXPECT_EQ(run->spec.params_json, R"({"fast":5})");
  EXPECT_EQ(run->spec.request_json, R"({"dataset":"ds"})");
  EXPECT_EQ(run->spec.symbols, std::vector<std::string>{"SYM"});
  EXPECT_EQ(run->spec.config.cash, 12'345);
  EXPECT_EQ(Scalar("SELECT count(*) FROM jobs j JOIN runs r ON r.seq = j.run WHERE r.id = '" + *id +
                   "' AND j.kind = 'run' AND j.client = 'alice' AND j.state = 'queued'"),
            1);
  // One transaction: the run's row and its job's were written by the same one.
  EXPECT_EQ(Scalar("SELECT count(*) FROM jobs j JOIN runs r ON r.seq = j.run "
                   "WHERE r.xmin = j.xmin"),
            1);

  auto job = queue_->Claim("w", 10s);
  ASSERT_TRUE(job.ok()) << job.error().ToString();
  ASSERT_TRUE(job->has_value());
  EXPECT_EQ((*job)->kind, JobKind::kRun);
  EXPECT_EQ((*job)->target, *id);
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 5s, [&] {
    return !jobs_heard.empty() && jobs_heard.front() == std::to_string((*job)->id);
  }));
}

TEST_F(PgCreateEnqueueTest, ARefusedRunIsNeverWritten) {
  ASSERT_TRUE(queue_->CreateAndEnqueueRun(*store_, Spec(), "alice", 1, 2).ok());
  auto mine = queue_->CreateAndEnqueueRun(*store_, Spec(), "alice", 1, 2);
  ASSERT_FALSE(mine.ok());
  EXPECT_EQ(mine.error().code, ErrorCode::kRateLimited);
  EXPECT_EQ(mine.error().details.at("limit"), "1");
  EXPECT_EQ(mine.error().details.at("retry_after"), "5");
  ASSERT_TRUE(queue_->CreateAndEnqueueRun(*store_, Spec(), "bob", 1, 2).ok());
  auto full = queue_->CreateAndEnqueueRun(*store_, Spec(), "carol", 1, 2);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(full.error().details.at("queued"), "2");
  EXPECT_EQ(Scalar("SELECT count(*) FROM runs"), 2);
  EXPECT_EQ(Scalar("SELECT count(*) FROM jobs"), 2);
  // Nothing was written and rolled back either: no sequence number was taken by a refused run.
  EXPECT_EQ(Scalar("SELECT max(seq) - min(seq) FROM runs"), 1);
}

TEST_F(PgCreateEnqueueTest, AnInlineScriptsSourceIsKept) {
  RunSpec spec = Spec();
  spec.strategy = std::string(kInlineStrategy);
  spec.script_source = "function on_bar() end -- queued";
  auto id = queue_->CreateAndEnqueueRun(*store_, spec, "alice", 10, 10);
  ASSERT_TRUE(id.ok()) << id.error().ToString();
  auto run = store_->GetRun(*id);
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  EXPECT_EQ(run->spec.strategy_sha256, Sha256Hex(spec.script_source));
  auto source = store_->GetScriptSource(run->spec.strategy_sha256);
  ASSERT_TRUE(source.ok()) << source.error().ToString();
  EXPECT_EQ(*source, spec.script_source);
}

TEST_F(PgCreateEnqueueTest, AnotherStoreGetsTheTwoCallsAndARefusedRunIsDeletedAgain) {
  // A SQLite store is not the queue's database: CreateRun there, then EnqueueRun here, which
  // does not find the run; the run is deleted again.
  testing::TempDir dir;
  auto sqlite = OpenSqliteStore(dir.File("t.db"));
  ASSERT_TRUE(sqlite.ok()) << sqlite.error().ToString();
  auto id = queue_->CreateAndEnqueueRun(**sqlite, Spec(), "alice", 10, 10);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.error().code, ErrorCode::kRunNotFound);
  auto runs = (*sqlite)->ListRuns(0, 0);
  ASSERT_TRUE(runs.ok()) << runs.error().ToString();
  EXPECT_TRUE(runs->empty());
  EXPECT_EQ(Scalar("SELECT count(*) FROM jobs"), 0);

  // Another PostgreSQL database likewise.
  const std::string other_url = testing::FreshPgDatabase();
  auto other = OpenPostgresStore(other_url);
  ASSERT_TRUE(other.ok()) << other.error().ToString();
  auto elsewhere = queue_->CreateAndEnqueueRun(**other, Spec(), "alice", 10, 10);
  ASSERT_FALSE(elsewhere.ok());
  EXPECT_EQ(elsewhere.error().code, ErrorCode::kRunNotFound);
  EXPECT_EQ(testing::PgScalar(other_url, "SELECT count(*) FROM runs"), 0);
}

}  // namespace
}  // namespace tapedeck::store
