// Playback's view of the store.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/error.h"
#include "playback/playback.h"
#include "server/run_source.h"
#include "store/store.h"

namespace tapedeck::api {

// A done run's Tape (its result and the bars of its dataset over the run's period), loaded once
// and kept for the next viewers (the least recently used of more than `capacity` runs are let go;
// sessions still playing one keep it alive).
//
// A run found queued or running is remembered as pending, and answered nullptr from memory until
// Finished(id) says it ended (the Runner's OnFinished: local workers with SQLite, LISTEN/NOTIFY
// with PostgreSQL) or `recheck` has passed since the store was last asked (a safety net for a
// notification that never came). A stream waiting for a run asks every 100 ms
// (server::kPendingPollInterval): without this, on a shared database, that would be a query per
// waiting stream per 100 ms on every node. Likewise a run being read from the store by one
// connection is not read again by the others meanwhile: they wait for its tape (or its answer),
// so that viewers arriving together load it once.
//
// Thread-safety: as server::RunSource requires, any thread.
class StoreRunSource final : public server::RunSource {
 public:
  // How long a pending run is answered from memory before the store is asked again.
  static constexpr std::chrono::milliseconds kPendingRecheck{3000};

  StoreRunSource(store::Store& store, size_t capacity = 8,
                 std::chrono::milliseconds recheck = kPendingRecheck);

  // nullptr while queued or running; RUN_NOT_FOUND; RUN_FAILED (details: error).
  Result<std::shared_ptr<const playback::Tape>> Open(std::string_view id) override;
  // Drops a cached tape (the run was deleted).
  void Forget(std::string_view id);

  // Run `id` reached done or failed: the next Open asks the store. An empty id means that
  // notifications may have been missed (the listener reconnected): every pending run is asked
  // about again.
  void Finished(std::string_view id);

  // Store reads Open made for runs it then found still queued or running (tests, and the
  // metrics' view of how much waiting streams cost).
  uint64_t pending_reads() const { return pending_reads_.load(std::memory_order_relaxed); }

 private:
  using SteadyClock = std::chrono::steady_clock;
  // Pending runs remembered; beyond, those due for a recheck are forgotten (whoever waits for
  // them asks the store again, as after a recheck).
  static constexpr size_t kMaxPending = 100'000;

  store::Store& store_;
  size_t capacity_;
  std::chrono::milliseconds recheck_;
  std::mutex mu_;
  std::vector<std::pair<std::string, std::shared_ptr<const playback::Tape>>> cache_;  // MRU first
  // Pending run id -> when to ask the store again. GUARDED_BY(mu_)
  std::unordered_map<std::string, SteadyClock::time_point> pending_;
  // Runs being read from the store by one Open; other Opens of them wait for `loaded_`.
  std::unordered_set<std::string> loading_;  // GUARDED_BY(mu_)
  std::condition_variable loaded_;
  // Bumped by every Finished: an Open whose store read raced a notification does not remember
  // the run as pending on the strength of that (possibly stale) read. GUARDED_BY(mu_)
  uint64_t finished_epoch_ = 0;
  std::atomic<uint64_t> pending_reads_{0};
};

}  // namespace tapedeck::api
