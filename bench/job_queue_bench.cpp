// The PostgreSQL job queue under claimers (store/job_queue.h): 10,000 queued run jobs claimed and
// finished by 4 threads, each with a connection of its own. Checks that no job is claimed twice
// and none is left, and prints the claim latency (p50, p99, max) and the throughput.
//
//   build/bench/job_queue_bench [postgresql://...]
//
// Without a URL it starts a throwaway cluster of its own (tests/integration/pgcluster.py, as the
// store's tests do). With one, it creates and drops a database `job_queue_bench` there. Exit
// status 1 when a job was claimed twice or lost.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/job_queue.h"
#include "store/pg_db.h"
#include "unit/store/pg_cluster.h"

namespace {

using namespace tapedeck;
using store::internal::pg::Conn;
using Clock = std::chrono::steady_clock;

constexpr int kJobs = 10000;
constexpr int kClaimers = 4;

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t at = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[at];
}

int Bench(const std::string& server_url) {
  const std::string base = server_url.substr(0, server_url.rfind('/') + 1);
  const std::string url = base + "job_queue_bench";
  {
    auto admin = Conn::Open(server_url);
    if (!admin.ok()) {
      std::fprintf(stderr, "job_queue_bench: %s\n", admin.error().ToString().c_str());
      return 1;
    }
    (void)(*admin)->Exec("DROP DATABASE IF EXISTS job_queue_bench");
    if (auto made = (*admin)->Exec("CREATE DATABASE job_queue_bench"); !made.ok()) {
      std::fprintf(stderr, "job_queue_bench: %s\n", made.error().ToString().c_str());
      return 1;
    }
  }
  auto schema = store::OpenPostgresJobQueue(url);  // creates the schema
  if (!schema.ok()) {
    std::fprintf(stderr, "job_queue_bench: %s\n", schema.error().ToString().c_str());
    return 1;
  }
  {
    auto db = Conn::Open(url);
    if (!db.ok()) return 1;
    const std::string fill =
        "INSERT INTO runs(id, dataset, symbols, strategy, params, cash, commission, fixed_fee, "
        "slippage, allow_short, request, status, created_us) SELECT 'r' || g, 'd', '[]', "
        "'sma_cross', '{}', 100000, 0, 0, 0, 1, '{}', 'queued', 0 "
        "FROM generate_series(1, " +
        std::to_string(kJobs) +
        ") g; INSERT INTO jobs(kind, run, client, priority) SELECT 'run', seq, 'bench', 0 "
        "FROM runs ORDER BY seq; ANALYZE jobs; ANALYZE runs";
    if (auto filled = (*db)->Exec(fill); !filled.ok()) {
      std::fprintf(stderr, "job_queue_bench: %s\n", filled.error().ToString().c_str());
      return 1;
    }
  }

  std::mutex mu;
  std::vector<int64_t> claimed;
  std::vector<double> latencies_ms;
  std::atomic<int> errors{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kClaimers; ++t) {
    threads.emplace_back([&, t] {
      auto queue = store::OpenPostgresJobQueue(url);  // a connection of its own
      if (!queue.ok()) return (void)++errors;
      const std::string me = "bench/" + std::to_string(t);
      std::vector<int64_t> mine;
      std::vector<double> lat;
      while (!go) std::this_thread::yield();
      for (;;) {
        const auto t0 = Clock::now();
        auto job = (*queue)->Claim(me, std::chrono::seconds(30));
        const auto t1 = Clock::now();
        if (!job.ok()) {
          std::fprintf(stderr, "claim: %s\n", job.error().ToString().c_str());
          ++errors;
          break;
        }
        if (!job->has_value()) break;
        lat.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        mine.push_back((*job)->id);
        if (auto done = (*queue)->Finish((*job)->id, me); !done.ok()) ++errors;
      }
      std::lock_guard lock(mu);
      claimed.insert(claimed.end(), mine.begin(), mine.end());
      latencies_ms.insert(latencies_ms.end(), lat.begin(), lat.end());
    });
  }
  const auto start = Clock::now();
  go = true;
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  const size_t distinct = std::set<int64_t>(claimed.begin(), claimed.end()).size();
  auto stats = (*schema)->Stats();
  const size_t left = stats.ok() ? stats->queued + stats->running + stats->expired : SIZE_MAX;
  std::printf(
      "job_queue_bench: %d jobs, %d claimers: claimed %zu (distinct %zu), left %zu, "
      "errors %d\n",
      kJobs, kClaimers, claimed.size(), distinct, left, errors.load());
  std::printf("claim latency ms: p50 %.3f  p99 %.3f  max %.3f   (claim+finish: %.0f jobs/s)\n",
              Percentile(latencies_ms, 0.50), Percentile(latencies_ms, 0.99),
              Percentile(latencies_ms, 1.0), static_cast<double>(claimed.size()) / seconds);
  schema->reset();
  if (auto admin = Conn::Open(server_url); admin.ok()) {
    (void)(*admin)->Exec("DROP DATABASE IF EXISTS job_queue_bench");
  }
  const bool ok = errors == 0 && distinct == claimed.size() &&
                  claimed.size() == static_cast<size_t>(kJobs) && left == 0;
  if (!ok) std::printf("job_queue_bench: FAILED (a job claimed twice, lost or left)\n");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) return Bench(argv[1]);
  store::testing::PgCluster cluster;
  if (!cluster.ok()) {
    std::fprintf(stderr, "job_queue_bench: %s\n", cluster.error().c_str());
    return 1;
  }
  return Bench(cluster.url());
}
