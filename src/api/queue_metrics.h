// /metrics of a process on a PostgreSQL store — a `tapedeck serve` node or a `tapedeck worker` —
// and the job queue wrapper that times what this process claims:
//
//   tapedeck_db_round_trip_seconds      histogram  statements' round trips to the database
//   tapedeck_db_reconnects_total        counter    connections re-established after a loss
//   tapedeck_jobs{state}                gauge      the deployment's queue: queued, running, expired
//   tapedeck_job_leases_held            gauge      jobs this process's workers hold a lease on
//   tapedeck_job_lease_expiries_total   counter    jobs this process claimed after another's
//                                                  lease had expired (a worker died or stalled)
//   tapedeck_job_wait_seconds           histogram  queued -> claimed, of the jobs this process
//                                                  claimed
//   tapedeck_job_latency_seconds        histogram  queued -> finished, of the jobs this
//                                                  process's workers finished
//
// (docs/deploy.md lists them with the other metrics.) A serve node with no workers holds no lease
// and claims nothing: its leases, expiries, waits and latencies stay 0; the queue's depth is the
// deployment's, the same on every process.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <memory>

#include "api/runner.h"
#include "server/metrics.h"
#include "store/job_queue.h"

namespace tapedeck::api {

// A JobQueue that forwards every call to `queue` and records how long each job this process
// claimed had waited (Job::waited), for tapedeck_job_wait_seconds. Give the Runner this one.
//
// Thread-safety: as JobQueue, every method from any thread.
class MeteredJobQueue final : public store::JobQueue {
 public:
  // Upper bounds, in seconds, of the job wait histogram's buckets (+Inf is implied).
  static constexpr std::array<double, 12> kWaitBuckets = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5,
                                                          1,     5,     10,   30,   60,  300};

  explicit MeteredJobQueue(std::unique_ptr<store::JobQueue> queue);

  Status EnqueueRun(std::string_view id, std::string_view client, size_t max_per_client,
                    size_t max_total) override;
  Result<std::string> CreateAndEnqueueRun(store::Store& store, const store::RunSpec& spec,
                                          std::string_view client, size_t max_per_client,
                                          size_t max_total) override;
  Status EnqueueSweep(std::string_view id, std::string_view client, size_t max_per_client,
                      size_t max_total) override;
  Result<std::optional<store::Job>> Claim(std::string_view worker,
                                          std::chrono::milliseconds lease) override;
  Result<std::vector<int64_t>> Renew(std::string_view worker, std::span<const int64_t> jobs,
                                     std::chrono::milliseconds lease) override;
  Status Finish(int64_t job, std::string_view worker) override;
  Status Release(int64_t job, std::string_view worker) override;
  Status QueueBatches(int64_t job, std::string_view worker, std::string_view sweep,
                      std::span<const std::pair<size_t, size_t>> batches) override;
  Status QueueSummary(std::string_view sweep) override;
  Result<size_t> Reap(std::chrono::milliseconds grace) override;
  Result<store::QueueStats> Stats() override;
  uint64_t lease_expiries() const override;
  void Listen(
      std::function<void(std::string_view channel, std::string_view payload)> callback) override;

  // The job wait histogram: counts per bucket (not cumulative, +Inf last) and their sum.
  struct Waits {
    std::array<uint64_t, kWaitBuckets.size() + 1> counts{};
    double seconds = 0;
  };
  Waits waits() const;

 private:
  std::unique_ptr<store::JobQueue> queue_;
  std::array<std::atomic<uint64_t>, kWaitBuckets.size() + 1> wait_counts_{};
  std::atomic<uint64_t> wait_us_{0};
};

// The families above, for server::Metrics::AddCollector (serve, and `tapedeck worker`'s
// --metrics-listen): `runner` is the queue-mode Runner built over `queue`. Both must outlive the
// collector. The queue's depth is read with JobQueue::Stats at most once a second (a scrape in
// between repeats the last reading); when the database cannot answer, tapedeck_jobs is left out of
// that scrape.
server::Metrics::Collector QueueMetricsCollector(MeteredJobQueue& queue, const Runner& runner);

}  // namespace tapedeck::api
