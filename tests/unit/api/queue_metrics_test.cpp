// MeteredJobQueue times how long the jobs this process claims had waited, and
// QueueMetricsCollector renders that with the queue's depth, the Runner's leases and latencies and
// the database's counters.
#include "api/queue_metrics.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <deque>
#include <filesystem>
#include <string>

#include "store/store.h"

namespace tapedeck::api {
namespace {

using namespace std::chrono_literals;

// A queue in memory: Claim hands out the jobs given to it, Stats answers what it is told.
class FakeQueue final : public store::JobQueue {
 public:
  std::deque<store::Job> to_claim;
  std::vector<int64_t> lost;  // Renew's answer
  Result<store::QueueStats> stats = store::QueueStats{};
  std::atomic<int> stats_calls{0};
  uint64_t expiries = 0;

  Status EnqueueRun(std::string_view, std::string_view, size_t, size_t) override { return Ok(); }
  Status EnqueueSweep(std::string_view, std::string_view, size_t, size_t) override { return Ok(); }
  Result<std::optional<store::Job>> Claim(std::string_view, std::chrono::milliseconds) override {
    if (to_claim.empty()) return std::optional<store::Job>();
    store::Job job = to_claim.front();
    to_claim.pop_front();
    return std::optional<store::Job>(job);
  }
  Result<std::vector<int64_t>> Renew(std::string_view, std::span<const int64_t>,
                                     std::chrono::milliseconds) override {
    return lost;
  }
  Status Finish(int64_t, std::string_view) override {
    return MakeError(ErrorCode::kConflict, "not held");
  }
  Status Release(int64_t, std::string_view) override { return Ok(); }
  Status QueueBatches(int64_t, std::string_view, std::string_view,
                      std::span<const std::pair<size_t, size_t>>) override {
    return Ok();
  }
  Status QueueSummary(std::string_view) override { return Ok(); }
  Result<size_t> Reap(std::chrono::milliseconds) override { return size_t{0}; }
  Result<store::QueueStats> Stats() override {
    ++stats_calls;
    return stats;
  }
  uint64_t lease_expiries() const override { return expiries; }
  void Listen(std::function<void(std::string_view, std::string_view)>) override {}
};

store::Job JobWaited(int64_t id, std::chrono::microseconds waited) {
  store::Job job;
  job.id = id;
  job.waited = waited;
  return job;
}

// A serve node's Runner (queue mode, no workers) over a FakeQueue, on a SQLite store it does not
// touch.
class QueueMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "tapedeck-queue-metrics-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto opened = store::OpenSqliteStore(dir_ + "/t.db");
    ASSERT_TRUE(opened.ok()) << opened.error().ToString();
    store_ = std::move(*opened);
    auto fake = std::make_unique<FakeQueue>();
    q_ = fake.get();
    queue_ = std::make_unique<MeteredJobQueue>(std::move(fake));
    runner_ = std::make_unique<Runner>(*store_, *queue_, 0);
  }
  void TearDown() override {
    runner_.reset();
    queue_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string dir_;
  std::unique_ptr<store::Store> store_;
  FakeQueue* q_ = nullptr;
  std::unique_ptr<MeteredJobQueue> queue_;
  std::unique_ptr<Runner> runner_;
};

TEST_F(QueueMetricsTest, RendersEveryFamily) {
  FakeQueue& q = *q_;
  MeteredJobQueue& queue = *queue_;
  q.stats = store::QueueStats{.queued = 7, .running = 2, .expired = 1};
  q.expiries = 3;
  q.to_claim = {JobWaited(1, 2ms), JobWaited(2, 2s)};
  ASSERT_TRUE(queue.Claim("w", 10s).ok());
  ASSERT_TRUE(queue.Claim("w", 10s).ok());

  std::string out;
  QueueMetricsCollector(queue, *runner_)(out);
  for (const char* line :
       {"# TYPE tapedeck_db_round_trip_seconds histogram\n",
        "tapedeck_db_round_trip_seconds_bucket{le=\"+Inf\"} ",
        "# TYPE tapedeck_db_reconnects_total counter\n", "tapedeck_jobs{state=\"queued\"} 7\n",
        "tapedeck_jobs{state=\"running\"} 2\n", "tapedeck_jobs{state=\"expired\"} 1\n",
        "tapedeck_job_leases_held 0\n", "tapedeck_job_lease_expiries_total 3\n",
        "# TYPE tapedeck_job_wait_seconds histogram\n",
        "tapedeck_job_wait_seconds_bucket{le=\"0.001\"} 0\n",
        "tapedeck_job_wait_seconds_bucket{le=\"0.005\"} 1\n",
        "tapedeck_job_wait_seconds_bucket{le=\"1\"} 1\n",
        "tapedeck_job_wait_seconds_bucket{le=\"5\"} 2\n",
        "tapedeck_job_wait_seconds_bucket{le=\"+Inf\"} 2\n",
        "tapedeck_job_wait_seconds_sum 2.002\n", "tapedeck_job_wait_seconds_count 2\n",
        "# TYPE tapedeck_job_latency_seconds histogram\n",
        "tapedeck_job_latency_seconds_count 0\n"}) {
    EXPECT_NE(out.find(line), std::string::npos) << line << "\n" << out;
  }
}

TEST_F(QueueMetricsTest, TheQueueIsReadAtMostOnceASecondAndLeftOutWhenItCannotAnswer) {
  FakeQueue& q = *q_;
  q.stats = MakeError(ErrorCode::kUnavailable, "the database is unavailable");
  const int before = q.stats_calls;  // the Runner may read it too
  const server::Metrics::Collector collect = QueueMetricsCollector(*queue_, *runner_);
  std::string out;
  collect(out);
  EXPECT_EQ(out.find("tapedeck_jobs{"), std::string::npos) << out;
  EXPECT_NE(out.find("tapedeck_job_leases_held 0\n"), std::string::npos) << out;
  q.stats = store::QueueStats{.queued = 1, .running = 0, .expired = 0};
  for (int i = 0; i < 5; ++i) {
    out.clear();
    collect(out);
  }
  // The failed reading was not kept: the next scrape asked again, and the ones after it did not.
  EXPECT_EQ(q.stats_calls - before, 2);
  EXPECT_NE(out.find("tapedeck_jobs{state=\"queued\"} 1\n"), std::string::npos) << out;
}

}  // namespace
}  // namespace tapedeck::api
