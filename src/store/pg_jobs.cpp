// The job queue over PostgreSQL (job_queue.h): table `jobs` (pg_schema.cpp), a small pool of
// connections of its own, and one more connection that LISTENs on a thread of its own.
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "store/job_queue.h"
#include "store/pg_common.h"
#include "store/pg_db.h"
#include "store/pg_store.h"

namespace tapedeck::store {

std::string_view ToString(JobKind kind) {
  switch (kind) {
    case JobKind::kRun:
      return "run";
    case JobKind::kSweep:
      return "sweep";
    case JobKind::kBatch:
      return "batch";
    case JobKind::kSummary:
      return "summary";
  }
  return "run";
}

Result<std::string> JobQueue::CreateAndEnqueueRun(Store& store, const RunSpec& spec,
                                                  std::string_view client, size_t max_per_client,
                                                  size_t max_total) {
  TD_ASSIGN_OR_RETURN(std::string id, store.CreateRun(spec));
  if (Status queued = EnqueueRun(id, client, max_per_client, max_total); !queued.ok()) {
    (void)store.DeleteRun(id);
    return queued.take_error();
  }
  return id;
}

namespace internal {
namespace {

// What a client refused by the limits is told to wait, in seconds: api::kQueueRetryAfterSeconds
// (the store cannot name the api's constant), about a short backtest's time.
constexpr int kRetryAfterSeconds = 5;

// pg_advisory_xact_lock's key for enqueueing, "td-jobs" in ASCII: the limits are checked and the
// job inserted under it, so that two nodes admitting at once cannot both take the last place.
constexpr int64_t kEnqueueLock = 0x74642d6a6f6273;

// Connections the queue opens at most for its calls (the worker's threads, its lease renewal and
// reaping); more callers wait for one to come back.
constexpr size_t kPoolSize = 16;

constexpr const char* kChannels[] = {"tapedeck_job", "tapedeck_run", "tapedeck_sweep"};

std::optional<JobKind> ParseKind(std::string_view s) {
  if (s == "run") return JobKind::kRun;
  if (s == "sweep") return JobKind::kSweep;
  if (s == "batch") return JobKind::kBatch;
  if (s == "summary") return JobKind::kSummary;
  return std::nullopt;
}

// A bigint[] literal ("{1,2,3}"), sent as text and cast by the statement: pg_db has no arrays.
template <typename T>
std::string ArrayLiteral(std::span<const T> values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(values[i]);
  }
  return out + "}";
}

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The claim, as job_queue.h describes it: the first waiting job in (priority, id) order, locked
// without waiting for rows other claimers hold, and taken in the same statement; the run's or
// sweep's id comes along (the table keys them by seq).
//
// Each priority (0: runs and sweeps to start; 1: batches and summaries) is looked up apart, a job
// whose lease expired before a queued one (it was claimed first), each by an index: COALESCE
// evaluates the next subquery only when the one before found nothing. The plain form, `WHERE
// state = 'queued' OR (state = 'running' AND lease_until < now()) ORDER BY priority, id`, matches
// neither partial index: PostgreSQL reads and sorts every row of the table each time (13 ms with
// 10,000 queued on a loaded 2-core machine, p99 18 ms under 4 claimers; this form p99 in
// docs/perf.md).
//
// The claim commits without waiting for the disk (TD_PG_COMMIT_WITHOUT_FLUSH): it tells no one
// anything, and lost in a crash of the database the job is queued again (or its earlier lease
// stands) and claimed again; the worker that held it finds at its next renewal that it lost it
// and stops (job_queue.h: a job may run twice, its result is written once). What the worker
// commits durably after it (a run's end) makes the claim durable too.
constexpr const char* kClaimSql = R"sql(
UPDATE jobs SET state = 'running', worker = $1,
       lease_until = now() + $2::float8 * interval '1 millisecond',
       attempts = attempts + 1, claimed_at = clock_timestamp()
 WHERE id = COALESCE(
   (SELECT id FROM jobs WHERE state = 'running' AND lease_until < now() AND priority = 0
     ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1),
   (SELECT id FROM jobs WHERE state = 'queued' AND priority = 0
     ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1),
   (SELECT id FROM jobs WHERE state = 'running' AND lease_until < now() AND priority = 1
     ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1),
   (SELECT id FROM jobs WHERE state = 'queued' AND priority = 1
     ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1))
RETURNING id, kind, first, last, attempts,
          (extract(epoch FROM claimed_at - queued_at) * 1000000)::bigint,
          (SELECT r.id FROM runs r WHERE r.seq = jobs.run),
          (SELECT s.id FROM sweeps s WHERE s.seq = jobs.sweep),
          )sql" TD_PG_COMMIT_WITHOUT_FLUSH;

class PgJobQueue final : public JobQueue {
 public:
  PgJobQueue(std::string url, pg::Options options) : url_(std::move(url)), options_(options) {}
  ~PgJobQueue() override {
    stop_ = true;
    if (wake_fd_ >= 0) {
      const uint64_t one = 1;
      (void)!::write(wake_fd_, &one, sizeof one);
    }
    if (listener_.joinable()) listener_.join();
    if (wake_fd_ >= 0) ::close(wake_fd_);
  }

  Status Init() {
    auto conn = pg::Conn::Open(url_, options_);
    if (!conn.ok()) return conn.take_error();
    TD_TRY(MigratePg(**conn));
    std::lock_guard lock(pool_mu_);
    idle_.push_back(std::move(*conn));
    open_ = 1;
    return Ok();
  }

  Status EnqueueRun(std::string_view id, std::string_view client, size_t max_per_client,
                    size_t max_total) override {
    return Enqueue(JobKind::kRun, id, client, max_per_client, max_total);
  }
  Status EnqueueSweep(std::string_view id, std::string_view client, size_t max_per_client,
                      size_t max_total) override {
    return Enqueue(JobKind::kSweep, id, client, max_per_client, max_total);
  }

  // One transaction on this queue's connection when `store` is the PgStore of this database:
  // the limits under the enqueue lock, then the run's row and its job in one statement, one
  // durable commit (the 202's guarantee: both are there). Otherwise the default's two calls.
  Result<std::string> CreateAndEnqueueRun(Store& store, const RunSpec& spec,
                                          std::string_view client, size_t max_per_client,
                                          size_t max_total) override {
    auto* pg_store = dynamic_cast<PgStore*>(&store);
    if (pg_store == nullptr || pg_store->url() != url_) {
      return JobQueue::CreateAndEnqueueRun(store, spec, client, max_per_client, max_total);
    }
    const std::string who(client);
    TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
    TD_ASSIGN_OR_RETURN(pg::Txn & txn, pg::Txn::Begin(*conn));
    TD_TRY(LockEnqueue(*conn));
    TD_TRY(CheckLimits(*conn, client, max_per_client, max_total));
    TD_ASSIGN_OR_RETURN(std::string id, InsertRun(*conn, spec, pg_store->Now(), &who));
    TD_TRY(txn.Commit());
    return id;
  }

  Result<std::optional<Job>> Claim(std::string_view worker,
                                   std::chrono::milliseconds lease) override {
    TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
    TD_ASSIGN_OR_RETURN(
        pg::Rows & rows,
        conn->Query(kClaimSql, pg::Params().Add(worker).Add(static_cast<int64_t>(lease.count()))));
    if (rows.size() == 0) return std::optional<Job>();
    Job job;
    job.id = rows.Int(0, 0);
    job.kind = ParseKind(rows.Text(0, 1)).value_or(JobKind::kRun);
    job.first = static_cast<size_t>(rows.Int(0, 2));
    job.last = static_cast<size_t>(rows.Int(0, 3));
    job.attempts = static_cast<int>(rows.Int(0, 4));
    job.waited = std::chrono::microseconds(std::max<int64_t>(0, rows.Int(0, 5)));
    job.target = rows.Text(0, job.kind == JobKind::kRun ? 6 : 7);
    // Release gives an attempt back, so a second attempt means a lease ran out.
    if (job.attempts >= 2) expiries_.fetch_add(1, std::memory_order_relaxed);
    return std::optional<Job>(std::move(job));
  }

  Result<std::vector<int64_t>> Renew(std::string_view worker, std::span<const int64_t> jobs,
                                     std::chrono::milliseconds lease) override {
    if (jobs.empty()) return std::vector<int64_t>();
    TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
    TD_ASSIGN_OR_RETURN(
        pg::Rows & rows,
        conn->Query("UPDATE jobs SET lease_until = now() + $3::float8 * interval '1 millisecond' "
                    "WHERE worker = $1 AND state = 'running' AND id = ANY($2::text::bigint[]) "
                    "RETURNING id",
                    pg::Params()
                        .Add(worker)
                        .Add(std::string_view(ArrayLiteral(jobs)))
                        .Add(static_cast<int64_t>(lease.count()))));
    std::unordered_set<int64_t> held;
    for (int r = 0; r < rows.size(); ++r) held.insert(rows.Int(r, 0));
    std::vector<int64_t> lost;
    for (int64_t id : jobs) {
      if (!held.contains(id)) lost.push_back(id);
    }
    return lost;
  }

  Status Finish(int64_t job, std::string_view worker) override {
    TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
    // Without waiting for the disk (TD_PG_COMMIT_WITHOUT_FLUSH): the work the job did is durable
    // already; lost in a crash, the job comes back when its lease runs out and its next worker
    // finds its run or batch done (a run's status, a batch's trials stored) and finishes it.
    TD_ASSIGN_OR_RETURN(
        pg::Rows & deleted,
        conn->Query("DELETE FROM jobs WHERE id = $1 AND worker = $2 AND state = 'running' "
                    "RETURNING " TD_PG_COMMIT_WITHOUT_FLUSH,
                    pg::Params().Add(job).Add(worker)));
    if (deleted.size() == 0) return NotHeld(job);
    return Ok();
  }

  Status Release(int64_t job, std::string_view worker) override {
    TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
    // The attempt is given back: the job did not fail, its worker stopped.
    TD_ASSIGN_OR_RETURN(
        pg::Rows & rows,
        conn->Query("WITH r AS (UPDATE jobs SET state = 'queued', worker = NULL, "
                    "lease_until = NULL, claimed_at = NULL, attempts = GREATEST(attempts - 1, 0) "
                    "WHERE id = $1 AND worker = $2 AND state = 'running' RETURNING id) "
                    "SELECT pg_notify('tapedeck_job', id::text) FROM r",
                    pg::Params().Add(job).Add(worker)));
    if (rows.size() == 0) return NotHeld(job);
    return Ok();
  }

  Status QueueBatches(int64_t job, std::string_view worker, std::string_view sweep,
                      std::span<const std::pair<size_t, size_t>> batches) override {
    std::vector<int64_t> firsts, lasts;
    firsts.reserve(batches.size());
    lasts.reserve(batches.size());
    for (const auto& [first, last] : batches) {
      firsts.push_back(static_cast<int64_t>(first));
      lasts.push_back(static_cast<int64_t>(last));
    }
    TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
    TD_ASSIGN_OR_RETURN(pg::Txn & txn, pg::Txn::Begin(*conn));
    TD_ASSIGN_OR_RETURN(
        pg::Rows & started,
        conn->Query("DELETE FROM jobs j USING sweeps s WHERE j.id = $1 AND j.worker = $2 "
                    "AND j.state = 'running' AND j.kind = 'sweep' AND s.seq = j.sweep "
                    "AND s.id = $3 RETURNING j.sweep, j.client",
                    pg::Params().Add(job).Add(worker).Add(sweep)));
    if (started.size() == 0) return NotHeld(job);
    if (!batches.empty()) {
      TD_TRY(conn->Query(
          "WITH b AS (INSERT INTO jobs(kind, sweep, first, last, client, priority) "
          "SELECT 'batch', $1, f, l, $2, 1 "
          "FROM unnest($3::text::bigint[], $4::text::bigint[]) WITH ORDINALITY AS u(f, l, n) "
          "ORDER BY n RETURNING id) "
          "SELECT pg_notify('tapedeck_job', min(id)::text) FROM b",
          pg::Params()
              .Add(started.Int(0, 0))
              .Add(std::string_view(started.Text(0, 1)))
              .Add(std::string_view(ArrayLiteral(std::span<const int64_t>(firsts))))
              .Add(std::string_view(ArrayLiteral(std::span<const int64_t>(lasts))))));
    }
    return txn.Commit();
  }

  Status QueueSummary(std::string_view sweep) override {
    TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
    // The sweep's client comes from its other jobs (a batch still holds it when this is called).
    TD_ASSIGN_OR_RETURN(
        pg::Rows & rows,
        conn->Query("WITH s AS (SELECT seq, status FROM sweeps WHERE id = $1), "
                    "ins AS (INSERT INTO jobs(kind, sweep, client, priority) "
                    "SELECT 'summary', s.seq, COALESCE((SELECT j.client FROM jobs j "
                    "WHERE j.sweep = s.seq LIMIT 1), ''), 1 FROM s WHERE s.status = 'running' "
                    "ON CONFLICT DO NOTHING RETURNING id), "
                    "n AS (SELECT pg_notify('tapedeck_job', id::text) FROM ins) "
                    "SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM n)",
                    pg::Params().Add(sweep)));
    if (rows.Int(0, 0) == 0) {
      return MakeError(ErrorCode::kNotFound, "no such sweep", {{"sweep", std::string(sweep)}});
    }
    return Ok();
  }

  Result<size_t> Reap(std::chrono::milliseconds grace) override {
    const int64_t now = NowMicros();
    const int64_t before =
        now - std::chrono::duration_cast<std::chrono::microseconds>(grace).count();
    TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
    size_t reaped = 0;
    for (const auto& [table, key, channel] : {std::tuple{"runs", "run", "tapedeck_run"},
                                              std::tuple{"sweeps", "sweep", "tapedeck_sweep"}}) {
      const std::string sql =
          std::string("WITH f AS (UPDATE ") + table +
          " t SET status = 'failed', error = 'interrupted', error_cause = 'interrupted', "
          "finished_us = $1 WHERE status IN ('queued', 'running') AND created_us < $2 "
          "AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j." +
          key + " = t.seq) RETURNING id) SELECT pg_notify('" + channel + "', id) FROM f";
      TD_ASSIGN_OR_RETURN(pg::Rows & rows, conn->Query(sql, pg::Params().Add(now).Add(before)));
      reaped += static_cast<size_t>(rows.size());
    }
    return reaped;
  }

  Result<QueueStats> Stats() override {
    TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
    TD_ASSIGN_OR_RETURN(
        pg::Rows & rows,
        conn->Query("SELECT count(*) FILTER (WHERE state = 'queued'), "
                    "count(*) FILTER (WHERE state = 'running' AND lease_until >= now()), "
                    "count(*) FILTER (WHERE state = 'running' AND lease_until < now()) FROM jobs"));
    QueueStats stats;
    stats.queued = static_cast<size_t>(rows.Int(0, 0));
    stats.running = static_cast<size_t>(rows.Int(0, 1));
    stats.expired = static_cast<size_t>(rows.Int(0, 2));
    return stats;
  }

  uint64_t lease_expiries() const override { return expiries_.load(std::memory_order_relaxed); }

  void Listen(std::function<void(std::string_view, std::string_view)> callback) override {
    if (listener_.joinable()) return;  // once
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    // LISTEN before returning when the database is there: what is queued after this call is heard.
    std::unique_ptr<pg::Conn> conn;
    if (auto opened = pg::Conn::Open(url_, options_); opened.ok()) {
      conn = std::move(*opened);
      if (!SubscribeAll(*conn).ok()) conn.reset();
    }
    const bool missed = conn == nullptr;
    listener_ = std::thread([this, callback = std::move(callback), conn = std::move(conn),
                             missed]() mutable { ListenLoop(callback, std::move(conn), missed); });
  }

 private:
  // A connection on loan from the pool; goes back when destroyed.
  class Lease {
   public:
    Lease(PgJobQueue* queue, std::unique_ptr<pg::Conn> conn)
        : queue_(queue), conn_(std::move(conn)) {}
    Lease(Lease&&) = default;
    ~Lease() {
      if (conn_) queue_->Return(std::move(conn_));
    }
    pg::Conn& operator*() { return *conn_; }
    pg::Conn* operator->() { return conn_.get(); }

   private:
    PgJobQueue* queue_;
    std::unique_ptr<pg::Conn> conn_;
  };

  Result<Lease> Borrow() {
    {
      std::unique_lock lock(pool_mu_);
      pool_cv_.wait(lock, [this] { return !idle_.empty() || open_ < kPoolSize; });
      if (!idle_.empty()) {
        std::unique_ptr<pg::Conn> conn = std::move(idle_.back());
        idle_.pop_back();
        return Lease(this, std::move(conn));
      }
      ++open_;
    }
    auto conn = pg::Conn::Open(url_, options_);
    if (!conn.ok()) {
      {
        std::lock_guard lock(pool_mu_);
        --open_;
      }
      pool_cv_.notify_one();
      return conn.take_error();
    }
    return Lease(this, std::move(*conn));
  }

  void Return(std::unique_ptr<pg::Conn> conn) {
    {
      std::lock_guard lock(pool_mu_);
      idle_.push_back(std::move(conn));
    }
    pool_cv_.notify_one();
  }

  static Error NotHeld(int64_t job) {
    return MakeError(ErrorCode::kConflict, "the job is not held by this worker",
                     {{"job", std::to_string(job)}});
  }

  // Takes the enqueue lock, held until the caller's transaction ends.
  static Status LockEnqueue(pg::Conn& conn) {
    TD_TRY(conn.Query("SELECT pg_advisory_xact_lock($1)", pg::Params().Add(kEnqueueLock)));
    return Ok();
  }

  // Checks the limits, under the enqueue lock: the errors of JobQueue::EnqueueRun.
  static Status CheckLimits(pg::Conn& conn, std::string_view client, size_t max_per_client,
                            size_t max_total) {
    // As the local Runner counts: a client's runs waiting and sweeps not ended (any job of the
    // sweep holds its place); in all, runs and sweeps waiting (batches are not counted).
    TD_ASSIGN_OR_RETURN(
        pg::Rows & counts,
        conn.Query("SELECT count(*) FILTER (WHERE client = $1 AND kind = 'run' "
                   "AND state = 'queued') + count(DISTINCT sweep) FILTER (WHERE client = $1 "
                   "AND kind <> 'run'), "
                   "count(*) FILTER (WHERE priority = 0 AND state = 'queued') FROM jobs",
                   pg::Params().Add(client)));
    const size_t mine = static_cast<size_t>(counts.Int(0, 0));
    const size_t waiting = static_cast<size_t>(counts.Int(0, 1));
    const std::string retry_after = std::to_string(kRetryAfterSeconds);
    if (mine >= max_per_client) {
      return MakeError(ErrorCode::kRateLimited,
                       "you have " + std::to_string(mine) +
                           " backtests waiting or sweeps unfinished already; wait for them",
                       {{"limit", std::to_string(max_per_client)}, {"retry_after", retry_after}});
    }
    if (waiting >= max_total) {
      return MakeError(ErrorCode::kUnavailable,
                       "too many backtests waiting (" + std::to_string(waiting) + ")",
                       {{"queued", std::to_string(waiting)},
                        {"limit", std::to_string(max_total)},
                        {"retry_after", retry_after}});
    }
    return Ok();
  }

  Status Enqueue(JobKind kind, std::string_view id, std::string_view client, size_t max_per_client,
                 size_t max_total) {
    const bool run = kind == JobKind::kRun;
    TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
    TD_ASSIGN_OR_RETURN(pg::Txn & txn, pg::Txn::Begin(*conn));
    TD_TRY(LockEnqueue(*conn));
    TD_ASSIGN_OR_RETURN(pg::Rows & target, conn->Query(run ? "SELECT seq FROM runs WHERE id = $1"
                                                           : "SELECT seq FROM sweeps WHERE id = $1",
                                                       pg::Params().Add(id)));
    if (target.size() == 0) {
      if (run) return MakeError(ErrorCode::kRunNotFound, "no such run", {{"id", std::string(id)}});
      return MakeError(ErrorCode::kNotFound, "no such sweep", {{"sweep", std::string(id)}});
    }
    TD_TRY(CheckLimits(*conn, client, max_per_client, max_total));
    TD_TRY(conn->Query(
        run ? "WITH i AS (INSERT INTO jobs(kind, run, client, priority) VALUES ('run', $1, $2, 0) "
              "ON CONFLICT DO NOTHING RETURNING id) "
              "SELECT pg_notify('tapedeck_job', id::text) FROM i"
            : "WITH i AS (INSERT INTO jobs(kind, sweep, client, priority) "
              "VALUES ('sweep', $1, $2, 0) ON CONFLICT DO NOTHING RETURNING id) "
              "SELECT pg_notify('tapedeck_job', id::text) FROM i",
        pg::Params().Add(target.Int(0, 0)).Add(client)));
    return txn.Commit();
  }

  static Status SubscribeAll(pg::Conn& conn) {
    std::string sql;
    for (const char* channel : kChannels) sql += std::string("LISTEN ") + channel + ";";
    return conn.Exec(sql);
  }

  // Waits up to `wait` for the stop signal; true when stopping.
  bool WaitForStop(std::chrono::milliseconds wait) {
    pollfd p{wake_fd_, POLLIN, 0};
    (void)::poll(&p, 1, static_cast<int>(wait.count()));
    return stop_.load();
  }

  void ListenLoop(const std::function<void(std::string_view, std::string_view)>& callback,
                  std::unique_ptr<pg::Conn> conn, bool missed) {
    auto backoff = options_.reconnect_backoff_initial;
    while (!stop_) {
      if (conn == nullptr || !conn->connected()) {
        // Reconnect: a fresh connection (the old one's LISTENs died with it), with backoff.
        if (conn == nullptr) {
          auto opened = pg::Conn::Open(url_, options_);
          if (opened.ok()) conn = std::move(*opened);
        }
        if (conn == nullptr || !SubscribeAll(*conn).ok()) {
          if (WaitForStop(backoff)) return;
          backoff = std::min(backoff * 2, options_.reconnect_backoff_max);
          continue;
        }
        missed = true;
      }
      if (missed) {
        backoff = options_.reconnect_backoff_initial;
        missed = false;
        callback("", "");
      }
      PGconn* raw = conn->native();
      // Drain what libpq has read already, then wait for more (or the stop signal).
      while (PGnotify* n = pg::Pq().PQnotifies(raw)) {
        const std::string channel = n->relname;
        const std::string payload = n->extra != nullptr ? n->extra : "";
        pg::Pq().PQfreemem(n);
        callback(channel, payload);
      }
      pollfd fds[2] = {{pg::Pq().PQsocket(raw), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      const int ready = ::poll(fds, 2, 1000);
      if (stop_) return;
      if (ready > 0 && (fds[0].revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
        if (pg::Pq().PQconsumeInput(raw) == 0 || pg::Pq().PQstatus(raw) != CONNECTION_OK) {
          // Lost: Conn reconnects on its next statement (SubscribeAll above).
          if (WaitForStop(backoff)) return;
        }
      }
    }
  }

  const std::string url_;
  const pg::Options options_;

  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<pg::Conn>> idle_;  // GUARDED_BY(pool_mu_)
  size_t open_ = 0;                              // GUARDED_BY(pool_mu_): idle + on loan

  std::atomic<uint64_t> expiries_{0};

  std::thread listener_;
  int wake_fd_ = -1;
  std::atomic<bool> stop_{false};
};

}  // namespace
}  // namespace internal

Result<std::unique_ptr<JobQueue>> OpenPostgresJobQueue(const std::string& url) {
  auto queue = std::make_unique<internal::PgJobQueue>(url, internal::pg::Options{});
  TD_TRY(queue->Init());
  return std::unique_ptr<JobQueue>(std::move(queue));
}

}  // namespace tapedeck::store
