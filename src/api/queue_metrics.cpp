#include "api/queue_metrics.h"

#include <optional>

#include "store/db_metrics.h"

namespace tapedeck::api {

MeteredJobQueue::MeteredJobQueue(std::unique_ptr<store::JobQueue> queue)
    : queue_(std::move(queue)) {}

Status MeteredJobQueue::EnqueueRun(std::string_view id, std::string_view client,
                                   size_t max_per_client, size_t max_total) {
  return queue_->EnqueueRun(id, client, max_per_client, max_total);
}

Result<std::string> MeteredJobQueue::CreateAndEnqueueRun(store::Store& store,
                                                         const store::RunSpec& spec,
                                                         std::string_view client,
                                                         size_t max_per_client, size_t max_total) {
  return queue_->CreateAndEnqueueRun(store, spec, client, max_per_client, max_total);
}

Status MeteredJobQueue::EnqueueSweep(std::string_view id, std::string_view client,
                                     size_t max_per_client, size_t max_total) {
  return queue_->EnqueueSweep(id, client, max_per_client, max_total);
}

Result<std::optional<store::Job>> MeteredJobQueue::Claim(std::string_view worker,
                                                         std::chrono::milliseconds lease) {
  auto claimed = queue_->Claim(worker, lease);
  if (claimed.ok() && claimed->has_value()) {
    const std::chrono::microseconds waited = (*claimed)->waited;
    const double seconds = std::chrono::duration<double>(waited).count();
    size_t bucket = 0;
    while (bucket < kWaitBuckets.size() && seconds > kWaitBuckets[bucket]) ++bucket;
    wait_counts_[bucket].fetch_add(1, std::memory_order_relaxed);
    wait_us_.fetch_add(static_cast<uint64_t>(std::max<int64_t>(waited.count(), 0)),
                       std::memory_order_relaxed);
  }
  return claimed;
}

Result<std::vector<int64_t>> MeteredJobQueue::Renew(std::string_view worker,
                                                    std::span<const int64_t> jobs,
                                                    std::chrono::milliseconds lease) {
  return queue_->Renew(worker, jobs, lease);
}

Status MeteredJobQueue::Finish(int64_t job, std::string_view worker) {
  return queue_->Finish(job, worker);
}

Status MeteredJobQueue::Release(int64_t job, std::string_view worker) {
  return queue_->Release(job, worker);
}

Status MeteredJobQueue::QueueBatches(int64_t job, std::string_view worker, std::string_view sweep,
                                     std::span<const std::pair<size_t, size_t>> batches) {
  return queue_->QueueBatches(job, worker, sweep, batches);
}

Status MeteredJobQueue::QueueSummary(std::string_view sweep) { return queue_->QueueSummary(sweep); }

Result<size_t> MeteredJobQueue::Reap(std::chrono::milliseconds grace) {
  return queue_->Reap(grace);
}

Result<store::QueueStats> MeteredJobQueue::Stats() { return queue_->Stats(); }

uint64_t MeteredJobQueue::lease_expiries() const { return queue_->lease_expiries(); }

void MeteredJobQueue::Listen(
    std::function<void(std::string_view channel, std::string_view payload)> callback) {
  queue_->Listen(std::move(callback));
}

MeteredJobQueue::Waits MeteredJobQueue::waits() const {
  Waits w;
  for (size_t i = 0; i < w.counts.size(); ++i) {
    w.counts[i] = wait_counts_[i].load(std::memory_order_relaxed);
  }
  w.seconds = double(wait_us_.load(std::memory_order_relaxed)) / 1e6;
  return w;
}

server::Metrics::Collector QueueMetricsCollector(MeteredJobQueue& queue, const Runner& runner) {
  struct Cache {
    std::mutex mu;
    std::chrono::steady_clock::time_point read_at{};
    std::optional<store::QueueStats> stats;  // GUARDED_BY(mu)
  };
  auto cache = std::make_shared<Cache>();
  return [&queue, &runner, cache](std::string& out) {
    const store::DbMetrics db = store::ReadDbMetrics();
    server::AppendHistogram(out, "tapedeck_db_round_trip_seconds",
                            "Round trips to the database: a statement sent and its result read.",
                            store::DbMetrics::kRoundTripBuckets, db.round_trips,
                            db.round_trip_seconds);
    server::AppendCounter(out, "tapedeck_db_reconnects_total",
                          "Database connections re-established after they were lost.",
                          double(db.reconnects));

    std::optional<store::QueueStats> stats;
    {
      // One reading a second at most, however many scrapers: each is a query on the database.
      std::lock_guard lock(cache->mu);
      const auto now = std::chrono::steady_clock::now();
      if (!cache->stats || now - cache->read_at >= std::chrono::seconds(1)) {
        auto read = queue.Stats();
        cache->stats = read.ok() ? std::optional(*read) : std::nullopt;
        cache->read_at = now;
      }
      stats = cache->stats;
    }
    if (stats) {
      server::AppendFamily(out, "tapedeck_jobs", "gauge",
                           "Jobs in the deployment's queue, by state (expired: a lease ran out "
                           "and no worker has claimed the job again yet).",
                           {{{{"state", "queued"}}, double(stats->queued)},
                            {{{"state", "running"}}, double(stats->running)},
                            {{{"state", "expired"}}, double(stats->expired)}});
    }
    server::AppendGauge(out, "tapedeck_job_leases_held",
                        "Jobs this process's workers hold a lease on.",
                        double(runner.leases_held()));
    server::AppendCounter(out, "tapedeck_job_lease_expiries_total",
                          "Jobs this process claimed after another worker's lease had expired.",
                          double(queue.lease_expiries()));
    const MeteredJobQueue::Waits waits = queue.waits();
    server::AppendHistogram(out, "tapedeck_job_wait_seconds",
                            "Time jobs claimed by this process had waited since queued.",
                            MeteredJobQueue::kWaitBuckets, waits.counts, waits.seconds);
    const Runner::JobLatency latency = runner.job_latency();
    server::AppendHistogram(out, "tapedeck_job_latency_seconds",
                            "Time from queued to finished of the jobs this process's workers "
                            "finished.",
                            kJobLatencyBuckets, latency.counts, latency.sum_seconds);
  };
}

}  // namespace tapedeck::api
