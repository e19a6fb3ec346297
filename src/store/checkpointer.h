// Internal to src/store: checkpoints the WAL on a thread of its own.
//
// SQLite's automatic checkpoint runs inside the commit that crosses the threshold, so one commit in
// a few would pay for copying megabytes into the database file and two fsyncs (with
// synchronous=NORMAL, checkpoints are where the syncing happens). Registering a WAL hook on the
// writer turns that off; the hook only wakes this thread, which checkpoints PASSIVE-ly on its own
// connection: it never blocks the writer or readers, and whatever it cannot copy yet (pages a
// reader still needs) is copied on a later pass.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/error.h"
#include "store/sqlite_db.h"

namespace tapedeck::store::internal {

class Checkpointer {
 public:
  // Opens its connection to `path` and starts the thread. `writer` gets the WAL hook; call
  // Detach(writer) before the writer is closed.
  static Result<std::unique_ptr<Checkpointer>> Start(const std::string& path, Db& writer,
                                                     int64_t threshold_bytes);
  // Stops and joins the thread (a pass under way completes first).
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  void Detach(Db& writer);

  // Passes completed so far (for tests).
  int64_t passes() const;

 private:
  Checkpointer(std::unique_ptr<Db> db, int64_t threshold_pages);
  static int OnCommit(void* self, sqlite3* db, const char* schema, int wal_pages);
  void Loop();

  std::unique_ptr<Db> db_;  // used by the thread only
  const int64_t threshold_pages_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ = false;  // GUARDED_BY(mu_)
  bool stop_ = false;     // GUARDED_BY(mu_)
  int64_t passes_ = 0;    // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace tapedeck::store::internal
