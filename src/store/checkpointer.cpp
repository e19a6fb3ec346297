#include "store/checkpointer.h"

#include <algorithm>

namespace tapedeck::store::internal {

Result<std::unique_ptr<Checkpointer>> Checkpointer::Start(const std::string& path, Db& writer,
                                                          int64_t threshold_bytes) {
  TD_ASSIGN_OR_RETURN(std::unique_ptr<Db> & db, Db::Open(path, /*create=*/false,
                                                         /*durable=*/false));
  int64_t page_size = 4096;
  {
    TD_ASSIGN_OR_RETURN(Stmt & s, db->Prepare("PRAGMA page_size"));
    TD_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (row) page_size = s.Int(0);
  }
  std::unique_ptr<Checkpointer> c(
      new Checkpointer(std::move(db), std::max<int64_t>(1, threshold_bytes / page_size)));
  // Replaces the writer's automatic checkpoint (which is itself a WAL hook).
  sqlite3_wal_hook(writer.raw(), &Checkpointer::OnCommit, c.get());
  return c;
}

Checkpointer::Checkpointer(std::unique_ptr<Db> db, int64_t threshold_pages)
    : db_(std::move(db)), threshold_pages_(threshold_pages), thread_([this] { Loop(); }) {}

Checkpointer::~Checkpointer() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void Checkpointer::Detach(Db& writer) { sqlite3_wal_hook(writer.raw(), nullptr, nullptr); }

int64_t Checkpointer::passes() const {
  std::lock_guard lock(mu_);
  return passes_;
}

int Checkpointer::OnCommit(void* self, sqlite3* /*db*/, const char* /*schema*/, int wal_pages) {
  auto* c = static_cast<Checkpointer*>(self);
  if (wal_pages >= c->threshold_pages_) {
    {
      std::lock_guard lock(c->mu_);
      c->pending_ = true;
    }
    c->cv_.notify_one();
  }
  return SQLITE_OK;  // a hook's error would be reported as the commit's
}

void Checkpointer::Loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return pending_ || stop_; });
    if (stop_) return;
    pending_ = false;
    lock.unlock();
    // Failures (SQLITE_BUSY while another checkpoint runs, a full disk) leave the WAL longer;
    // the next commit past the threshold asks again, and closing the last connection checkpoints.
    int wal_pages = 0, copied = 0;
    (void)sqlite3_wal_checkpoint_v2(db_->raw(), "main", SQLITE_CHECKPOINT_PASSIVE, &wal_pages,
                                    &copied);
    lock.lock();
    ++passes_;
  }
}

}  // namespace tapedeck::store::internal
