// The PostgreSQL job queue (store/job_queue.h) against a real cluster: the test binary's shared
// cluster, a fresh database per test (pg_test_db.h). Runs and sweeps are inserted by hand (the
// queue needs only their rows).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "pg_test_db.h"
#include "store/job_queue.h"
#include "store/pg_db.h"

namespace tapedeck::store {
namespace {

using namespace std::chrono_literals;
using internal::pg::Conn;
using internal::pg::Params;

class PgJobsTest : public ::testing::Test {
 protected:
  // The cluster this test's database goes on: the run's shared one, unless the test restarts it.
  virtual std::string ClusterUrl() { return testing::SharedPgUrl(); }

  void SetUp() override {
    url_ = testing::FreshPgDatabase(ClusterUrl());
    ASSERT_FALSE(url_.empty());
    auto queue = OpenPostgresJobQueue(url_);
    ASSERT_TRUE(queue.ok()) << queue.error().ToString();
    queue_ = std::move(*queue);
    auto conn = Conn::Open(url_);
    ASSERT_TRUE(conn.ok()) << conn.error().ToString();
    db_ = std::move(*conn);
  }

  // A queued run (or sweep) created `age` ago.
  std::string AddRun(const std::string& id, std::chrono::seconds age = 0s) {
    auto r = db_->Run(
        "INSERT INTO runs(id, dataset, symbols, strategy, params, cash, commission, fixed_fee, "
        "slippage, allow_short, request, status, created_us) VALUES ($1, 'd', '[]', 'sma_cross', "
        "'{}', 100000, 0, 0, 0, 1, '{}', 'queued', $2)",
        Params().Add(id).Add(NowUs() - age.count() * 1000000));
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return id;
  }
  std::string AddSweep(const std::string& id, std::chrono::seconds age = 0s,
                       const char* status = "queued") {
    auto r = db_->Run(
        "INSERT INTO sweeps(id, dataset, datasets, symbols, strategy, cash, commission, "
        "fixed_fee, slippage, allow_short, plan, request, trials, tasks, status, created_us) "
        "VALUES ($1, 'd', '[\"d\"]', '[]', 'sma_cross', 100000, 0, 0, 0, 1, '{}', '{}', 16, 16, "
        "$2, $3)",
        Params().Add(id).Add(status).Add(NowUs() - age.count() * 1000000));
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return id;
  }
  std::string Status(const char* table, const std::string& id) {
    auto rows = db_->Query(
        std::string("SELECT status, error, error_cause FROM ") + table + " WHERE id = $1",
        Params().Add(id));
    EXPECT_TRUE(rows.ok());
    if (!rows.ok() || rows->size() == 0) return "absent";
    return rows->Text(0, 0) + "/" + rows->Text(0, 1) + "/" + rows->Text(0, 2);
  }
  int64_t Count(const std::string& where) {
    auto rows = db_->Query("SELECT count(*) FROM jobs WHERE " + where);
    EXPECT_TRUE(rows.ok()) << rows.error().ToString();
    return rows.ok() ? rows->Int(0, 0) : -1;
  }
  static int64_t NowUs() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  Job MustClaim(const char* worker, std::chrono::milliseconds lease = 10s) {
    auto job = queue_->Claim(worker, lease);
    EXPECT_TRUE(job.ok()) << job.error().ToString();
    EXPECT_TRUE(job.ok() && job->has_value());
    return job.ok() && job->has_value() ? **job : Job{};
  }
  bool NothingToClaim(const char* worker) {
    auto job = queue_->Claim(worker, 10s);
    EXPECT_TRUE(job.ok()) << job.error().ToString();
    return job.ok() && !job->has_value();
  }

  std::string url_;
  std::unique_ptr<JobQueue> queue_;
  std::unique_ptr<Conn> db_;
};

TEST_F(PgJobsTest, RunsAndSweepsComeBeforeBatchesOldestFirst) {
  ASSERT_TRUE(queue_->EnqueueSweep(AddSweep("s1"), "c", 10, 10).ok());
  ASSERT_TRUE(queue_->EnqueueRun(AddRun("r1"), "c", 10, 10).ok());
  const Job sweep = MustClaim("w");
  EXPECT_EQ(sweep.kind, JobKind::kSweep);
  EXPECT_EQ(sweep.target, "s1");
  EXPECT_EQ(sweep.attempts, 1);
  const std::pair<size_t, size_t> batches[] = {{0, 8}, {8, 16}};
  ASSERT_TRUE(queue_->QueueBatches(sweep.id, "w", "s1", batches).ok());
  EXPECT_EQ(Count("kind = 'sweep'"), 0);  // finished with the batches' insertion
  ASSERT_TRUE(queue_->EnqueueRun(AddRun("r2"), "c", 10, 10).ok());

  const Job r1 = MustClaim("w");
  EXPECT_EQ(r1.kind, JobKind::kRun);
  EXPECT_EQ(r1.target, "r1");
  const Job r2 = MustClaim("w");  // queued after the batches, claimed before them
  EXPECT_EQ(r2.target, "r2");
  const Job b0 = MustClaim("w");
  EXPECT_EQ(b0.kind, JobKind::kBatch);
  EXPECT_EQ(b0.target, "s1");
  EXPECT_EQ(b0.first, 0u);
  EXPECT_EQ(b0.last, 8u);
  const Job b1 = MustClaim("w");
  EXPECT_EQ(b1.first, 8u);
  EXPECT_EQ(b1.last, 16u);
  EXPECT_TRUE(NothingToClaim("w"));

  auto stats = queue_->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->queued, 0u);
  EXPECT_EQ(stats->running, 4u);
  for (const Job& j : {r1, r2, b0, b1}) EXPECT_TRUE(queue_->Finish(j.id, "w").ok());
  EXPECT_EQ(Count("true"), 0);
}

TEST_F(PgJobsTest, ConcurrentClaimersNeverShareAJob) {
  constexpr int kJobs = 400;
  ASSERT_TRUE(db_->Exec("INSERT INTO runs(id, dataset, symbols, strategy, params, cash, "
                        "commission, fixed_fee, slippage, allow_short, request, status, "
                        "created_us) SELECT 'r' || g, 'd', '[]', 'x', '{}', 1, 0, 0, 0, 1, '{}', "
                        "'queued', 0 FROM generate_series(1, 400) g; "
                        "INSERT INTO jobs(kind, run, priority) SELECT 'run', seq, 0 FROM runs")
                  .ok());
  std::mutex mu;
  std::vector<int64_t> claimed;
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto q = OpenPostgresJobQueue(url_);  // a connection of its own
      if (!q.ok()) return (void)++errors;
      const std::string me = "w" + std::to_string(t);
      for (;;) {
        auto job = (*q)->Claim(me, 10s);
        if (!job.ok()) return (void)++errors;
        if (!job->has_value()) return;
        if (!(*q)->Finish((*job)->id, me).ok()) ++errors;
        std::lock_guard lock(mu);
        claimed.push_back((*job)->id);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(claimed.size(), static_cast<size_t>(kJobs));
  EXPECT_EQ(std::set<int64_t>(claimed.begin(), claimed.end()).size(), claimed.size());
  EXPECT_EQ(Count("true"), 0);
}

TEST_F(PgJobsTest, AnExpiredLeaseMakesTheJobClaimableAgain) {
  ASSERT_TRUE(queue_->EnqueueRun(AddRun("r1"), "c", 10, 10).ok());
  const Job first = MustClaim("dies", 300ms);
  EXPECT_TRUE(NothingToClaim("other"));  // held
  std::this_thread::sleep_for(500ms);
  auto stats = queue_->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->expired, 1u);
  const Job again = MustClaim("other");
  EXPECT_EQ(again.id, first.id);
  EXPECT_EQ(again.attempts, 2);
  EXPECT_EQ(queue_->lease_expiries(), 1u);

  // The first holder learns it lost the job, and cannot finish it.
  const int64_t ids[] = {first.id};
  auto lost = queue_->Renew("dies", ids, 10s);
  ASSERT_TRUE(lost.ok()) << lost.error().ToString();
  EXPECT_EQ(*lost, std::vector<int64_t>{first.id});
  auto finish = queue_->Finish(first.id, "dies");
  ASSERT_FALSE(finish.ok());
  EXPECT_EQ(finish.error().code, ErrorCode::kConflict);
  EXPECT_TRUE(queue_->Finish(again.id, "other").ok());
  EXPECT_FALSE(queue_->Finish(again.id, "other").ok());  // gone
}

TEST_F(PgJobsTest, RenewKeepsTheLeaseAndReportsOnlyLostJobs) {
  ASSERT_TRUE(queue_->EnqueueRun(AddRun("r1"), "c", 10, 10).ok());
  ASSERT_TRUE(queue_->EnqueueRun(AddRun("r2"), "c", 10, 10).ok());
  const Job a = MustClaim("w", 300ms);
  const Job b = MustClaim("w", 300ms);
  for (int i = 0; i < 6; ++i) {
    std::this_thread::sleep_for(100ms);
    const int64_t ids[] = {a.id, b.id};
    auto lost = queue_->Renew("w", ids, 300ms);
    ASSERT_TRUE(lost.ok()) << lost.error().ToString();
    EXPECT_TRUE(lost->empty());
    EXPECT_TRUE(NothingToClaim("other"));
  }
  // Finished (or deleted with its run): reported lost.
  ASSERT_TRUE(queue_->Finish(a.id, "w").ok());
  const int64_t ids[] = {a.id, b.id};
  auto lost = queue_->Renew("w", ids, 10s);
  ASSERT_TRUE(lost.ok());
  EXPECT_EQ(*lost, std::vector<int64_t>{a.id});
  // Another worker's renewal does not keep it.
  auto foreign = queue_->Renew("intruder", std::span<const int64_t>(&b.id, 1), 10s);
  ASSERT_TRUE(foreign.ok());
  EXPECT_EQ(*foreign, std::vector<int64_t>{b.id});
  EXPECT_EQ(queue_->lease_expiries(), 0u);
}

TEST_F(PgJobsTest, FinishOrReleaseByANonHolderIsConflict) {
  ASSERT_TRUE(queue_->EnqueueRun(AddRun("r1"), "c", 10, 10).ok());
  const Job job = MustClaim("w");
  auto finish = queue_->Finish(job.id, "someone else");
  ASSERT_FALSE(finish.ok());
  EXPECT_EQ(finish.error().code, ErrorCode::kConflict);
  auto release = queue_->Release(job.id, "someone else");
  ASSERT_FALSE(release.ok());
  EXPECT_EQ(release.error().code, ErrorCode::kConflict);
  // A release queues it again at once, and the attempt does not count.
  ASSERT_TRUE(queue_->Release(job.id, "w").ok());
  const Job again = MustClaim("other");
  EXPECT_EQ(again.id, job.id);
  EXPECT_EQ(again.attempts, 1);
  EXPECT_EQ(queue_->lease_expiries(), 0u);
  // QueueBatches of a job one does not hold writes nothing.
  ASSERT_TRUE(queue_->EnqueueSweep(AddSweep("s1"), "c", 10, 10).ok());
  const Job sweep = MustClaim("w");
  const std::pair<size_t, size_t> batches[] = {{0, 16}};
  auto queued = queue_->QueueBatches(sweep.id, "intruder", "s1", batches);
  ASSERT_FALSE(queued.ok());
  EXPECT_EQ(queued.error().code, ErrorCode::kConflict);
  EXPECT_EQ(Count("kind = 'batch'"), 0);
  EXPECT_EQ(Count("kind = 'sweep'"), 1);
}

TEST_F(PgJobsTest, QueueSummaryIsIdempotent) {
  AddSweep("s1", 0s, "running");
  ASSERT_TRUE(queue_->QueueSummary("s1").ok());
  ASSERT_TRUE(queue_->QueueSummary("s1").ok());
  EXPECT_EQ(Count("kind = 'summary'"), 1);
  const Job job = MustClaim("w");
  EXPECT_EQ(job.kind, JobKind::kSummary);
  EXPECT_EQ(job.target, "s1");
  // A sweep that is done already gets none.
  AddSweep("s2", 0s, "done");
  ASSERT_TRUE(queue_->QueueSummary("s2").ok());
  EXPECT_EQ(Count("kind = 'summary'"), 1);
  auto missing = queue_->QueueSummary("nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST_F(PgJobsTest, LimitsPerClientAndInAll) {
  ASSERT_TRUE(queue_->EnqueueRun(AddRun("a1"), "alice", 2, 3).ok());
  ASSERT_TRUE(queue_->EnqueueRun(AddRun("a2"), "alice", 2, 3).ok());
  auto third = queue_->EnqueueRun(AddRun("a3"), "alice", 2, 3);
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().code, ErrorCode::kRateLimited);
  EXPECT_EQ(third.error().details.at("retry_after"), "5");
  EXPECT_EQ(third.error().details.at("limit"), "2");
  ASSERT_TRUE(queue_->EnqueueRun(AddRun("b1"), "bob", 2, 3).ok());
  auto full = queue_->EnqueueRun(AddRun("c1"), "carol", 2, 3);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(full.error().details.at("retry_after"), "5");
  EXPECT_EQ(full.error().details.at("queued"), "3");
  EXPECT_EQ(Count("true"), 3);

  // A run being executed no longer counts; a sweep counts for its client until its jobs end.
  MustClaim("w");  // a1
  ASSERT_TRUE(queue_->EnqueueRun("a3", "alice", 2, 3).ok());
  ASSERT_TRUE(queue_->EnqueueSweep(AddSweep("s1"), "dave", 1, 10).ok());
  MustClaim("w");  // a2
  MustClaim("w");  // b1
  MustClaim("w");  // a3
  const Job sweep = MustClaim("w");
  ASSERT_EQ(sweep.kind, JobKind::kSweep);
  auto second = queue_->EnqueueSweep(AddSweep("s2"), "dave", 1, 10);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kRateLimited);
  const std::pair<size_t, size_t> batches[] = {{0, 8}, {8, 16}};
  ASSERT_TRUE(queue_->QueueBatches(sweep.id, "w", "s1", batches).ok());
  EXPECT_FALSE(queue_->EnqueueSweep("s2", "dave", 1, 10).ok());  // its batches hold the place
  ASSERT_TRUE(db_->Run("DELETE FROM jobs WHERE kind = 'batch'").ok());
  EXPECT_TRUE(queue_->EnqueueSweep("s2", "dave", 1, 10).ok());

  auto run = queue_->EnqueueRun("nope", "x", 10, 10);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.error().code, ErrorCode::kRunNotFound);
  auto sweep2 = queue_->EnqueueSweep("nope", "x", 10, 10);
  ASSERT_FALSE(sweep2.ok());
  EXPECT_EQ(sweep2.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(sweep2.error().details.at("sweep"), "nope");
}

TEST_F(PgJobsTest, ReapFailsOldWorkWithoutAJob) {
  AddRun("orphan", 120s);  // its node died before queueing it
  AddRun("young", 5s);     // being queued just now
  AddRun("queued", 120s);  // has its job
  AddSweep("orphan_sweep", 120s, "running");
  AddSweep("queued_sweep", 120s);
  ASSERT_TRUE(queue_->EnqueueRun("queued", "c", 10, 10).ok());
  ASSERT_TRUE(queue_->EnqueueSweep("queued_sweep", "c", 10, 10).ok());

  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<std::string, std::string>> heard;
  queue_->Listen([&](std::string_view channel, std::string_view payload) {
    std::lock_guard lock(mu);
    heard.emplace_back(channel, payload);
    cv.notify_all();
  });
  auto reaped = queue_->Reap(60s);
  ASSERT_TRUE(reaped.ok()) << reaped.error().ToString();
  EXPECT_EQ(*reaped, 2u);
  EXPECT_EQ(Status("runs", "orphan"), "failed/interrupted/interrupted");
  EXPECT_EQ(Status("sweeps", "orphan_sweep"), "failed/interrupted/interrupted");
  EXPECT_EQ(Status("runs", "young"), "queued//");
  EXPECT_EQ(Status("runs", "queued"), "queued//");
  EXPECT_EQ(Status("sweeps", "queued_sweep"), "queued//");
  auto again = queue_->Reap(60s);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0u);

  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return heard.size() >= 2; }));
  EXPECT_NE(std::find(heard.begin(), heard.end(),
                      std::pair<std::string, std::string>("tapedeck_run", "orphan")),
            heard.end());
  EXPECT_NE(std::find(heard.begin(), heard.end(),
                      std::pair<std::string, std::string>("tapedeck_sweep", "orphan_sweep")),
            heard.end());
}

// A test that restarts its database's cluster has one of its own.
class PgJobsOwnClusterTest : public PgJobsTest {
 protected:
  std::string ClusterUrl() override {
    testing::PgCluster& own = testing::OwnPgCluster();
    EXPECT_TRUE(own.ok()) << own.error();
    return own.ok() ? own.url() : "";
  }
};

TEST_F(PgJobsOwnClusterTest, ListenDeliversNotificationsAndSaysWhenItReconnected) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<std::string, std::string>> heard;
  queue_->Listen([&](std::string_view channel, std::string_view payload) {
    std::lock_guard lock(mu);
    heard.emplace_back(channel, payload);
    cv.notify_all();
  });
  const auto has = [&](const std::string& channel, const std::string& payload) {
    return std::find(heard.begin(), heard.end(), std::pair(channel, payload)) != heard.end();
  };
  ASSERT_TRUE(queue_->EnqueueRun(AddRun("r1"), "c", 10, 10).ok());
  auto rows = db_->Query("SELECT id::text FROM jobs");
  ASSERT_TRUE(rows.ok() && rows->size() == 1);
  const std::string job_id = rows->Text(0, 0);
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return has("tapedeck_job", job_id); }));
  }
  ASSERT_TRUE(db_->Exec("NOTIFY tapedeck_run, 'r1'; NOTIFY tapedeck_sweep, 's9'").ok());
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(
        lock, 5s, [&] { return has("tapedeck_run", "r1") && has("tapedeck_sweep", "s9"); }));
    EXPECT_FALSE(has("", ""));  // no reconnect yet
  }

  // The database restarts: the listener reconnects, says it may have missed something, and
  // hears what comes after.
  ASSERT_TRUE(testing::OwnPgCluster().Restart());
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 20s, [&] { return has("", ""); }));
  }
  auto db = Conn::Open(url_);
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)->Exec("NOTIFY tapedeck_run, 'after'").ok());
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return has("tapedeck_run", "after"); }));
}

}  // namespace
}  // namespace tapedeck::store
