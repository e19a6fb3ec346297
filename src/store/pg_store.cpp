// PgStore: opening, the connection pool, and OpenPostgresStore.
#include "store/pg_store.h"

#include <utility>

#include "store/rows_common.h"

namespace tapedeck::store {
namespace internal {

namespace {

// Connections per store. Each statement holds one only for its own round trips, so a handful
// serves many request threads; PostgreSQL's default max_connections (100) leaves room for a
// dozen processes at this size.
constexpr size_t kPoolSize = 8;

}  // namespace

PgStore::PgStore(std::string url, StoreOptions options, pg::Options pg_options)
    : url_(std::move(url)), options_(std::move(options)), pg_options_(pg_options) {}

PgStore::~PgStore() {
  // REQUIRES (of the caller): no lease outlives the store.
  std::lock_guard lock(pool_mu_);
  idle_.clear();
}

Status PgStore::Init() {
  TD_ASSIGN_OR_RETURN(std::unique_ptr<pg::Conn> & conn, pg::Conn::Open(url_, pg_options_));
  TD_TRY(MigratePg(*conn));
  std::lock_guard lock(pool_mu_);
  idle_.push_back(std::move(conn));
  open_ = 1;
  return Ok();
}

Result<PgStore::Lease> PgStore::Borrow() {
  {
    std::unique_lock lock(pool_mu_);
    pool_cv_.wait(lock, [this] { return !idle_.empty() || open_ < kPoolSize; });
    if (!idle_.empty()) {
      std::unique_ptr<pg::Conn> conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(conn));
    }
    ++open_;  // a slot, taken before connecting (outside the lock) so the pool never overfills
  }
  Result<std::unique_ptr<pg::Conn>> conn = pg::Conn::Open(url_, pg_options_);
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

Result<StatusCounts> PgStore::CountByStatus(const char* sql) {
  TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
  TD_ASSIGN_OR_RETURN(pg::Rows & rows, conn->Query(sql));
  StatusCounts counts;
  for (int i = 0; i < rows.size(); ++i) TD_TRY(AddToCounts(counts, rows.Text(i, 0), rows.Int(i, 1)));
  return counts;
}

Result<StatusCounts> PgStore::CountRuns() {
  return CountByStatus("SELECT status, count(*) FROM runs GROUP BY status");
}

Result<StatusCounts> PgStore::CountSweeps() {
  return CountByStatus("SELECT status, count(*) FROM sweeps GROUP BY status");
}

void PgStore::Return(std::unique_ptr<pg::Conn> conn) {
  {
    std::lock_guard lock(pool_mu_);
    idle_.push_back(std::move(conn));
  }
  pool_cv_.notify_one();
}

}  // namespace internal

Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url, StoreOptions options) {
  auto store =
      std::make_unique<internal::PgStore>(url, std::move(options), internal::pg::Options{});
  TD_TRY(store->Init());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace tapedeck::store
