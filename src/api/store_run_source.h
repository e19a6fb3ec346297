// Playback's view of the store.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
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
// A done run's tape comes in two steps when it has more than `head_bars` bars: Open reads its first
// `head_bars` bars (Store::GetRunAndHead, LoadBarsBetween: a few hundred kilobytes) and returns a
// tape that plays them at once (playback::Tape::CreatePartial), while a thread of the source's
// reads the whole run (LoadRunResult, LoadBars) and completes that tape; sessions wait for bars
// still loading. Should that read fail, the tape fails (sessions send its error and close) and
// leaves the cache, so that the next Open tries again. Those reads of tapes' rest go one at a
// time, each waiting while an Open reads the store (see FirstRead).
//
// A one-symbol run whose timeline is its series' bars (a dataset or a period of it) gets a lean
// tape (playback::TapeLean): its times are read from the dataset's mapping and its built-in's
// plots computed per window (strategies::DerivePlotValues), rather than held; any other run's
// plots are materialised (strategies::MaterialisePlots). The same frames either way.
//
// Thread-safety: as server::RunSource requires, any thread.
class StoreRunSource final : public server::RunSource {
 public:
  // How long a pending run is answered from memory before the store is asked again.
  static constexpr std::chrono::milliseconds kPendingRecheck{3000};

  // A run's first frames need a few windows: at speed 60 a window is ~300 one-minute bars, and
  // the rest of a year of minutes takes a few hundred milliseconds to come (played meanwhile).
  static constexpr size_t kHeadBars = store::kStoredHeadBars;

  StoreRunSource(store::Store& store, size_t capacity = 8,
                 std::chrono::milliseconds recheck = kPendingRecheck, size_t head_bars = kHeadBars);
  // Waits for the tapes still loading (their reads finish; nothing new starts).
  ~StoreRunSource() override;
  StoreRunSource(const StoreRunSource&) = delete;
  StoreRunSource& operator=(const StoreRunSource&) = delete;

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
  // Tapes whose rest is being read now (tests).
  size_t loading_tapes() const;

 private:
  using SteadyClock = std::chrono::steady_clock;
  // Pending runs remembered; beyond, those due for a recheck are forgotten (whoever waits for
  // them asks the store again, as after a recheck).
  static constexpr size_t kMaxPending = 100'000;

  // The whole of run `run`: its result and the bars of its datasets over its period.
  Result<std::shared_ptr<const playback::Tape>> LoadWhole(const store::RunInfo& run);
  // Its first head_bars_ bars (`head`), completed behind (Complete/FailLoad) by a loader thread.
  Result<std::shared_ptr<const playback::Tape>> LoadProgressively(const store::RunInfo& run,
                                                                  store::RunHead head);
  // The bars of `run`'s datasets from its start to before `to` (all of them when nullopt):
  // LoadBarsBetween when `to` is set, else LoadBars, sliced to the run's period.
  Result<std::vector<market::Series>> LoadSeries(const store::RunInfo& run,
                                                 std::optional<Timestamp> to);
  void LoadRest(const store::RunInfo& run, const std::shared_ptr<playback::Tape>& tape);
  void Cache(const std::string& id, std::shared_ptr<const playback::Tape> tape);

  // Reads of the store for a first frame (Open's) go before the loaders' reads of tapes' rest:
  // a FirstRead is held around each Open's store reads; each of a loader's big reads (the
  // result, then the bars) holds a BackgroundRead, which waits until no other one is held (one
  // big read at a time: two would only share the same CPUs and the database) and no FirstRead is
  // (up to kMaxYield), so that a first frame does not queue behind another tape's rest. The
  // result is read in pieces (Store::LoadRunResultInPieces), and between them Yield waits again
  // while first reads are under way.
  static constexpr std::chrono::milliseconds kMaxYield{1000};
  class FirstRead {
   public:
    explicit FirstRead(StoreRunSource& source);
    ~FirstRead();
    FirstRead(const FirstRead&) = delete;
    FirstRead& operator=(const FirstRead&) = delete;

   private:
    StoreRunSource& source_;
  };
  class BackgroundRead {
   public:
    explicit BackgroundRead(StoreRunSource& source);
    ~BackgroundRead();
    BackgroundRead(const BackgroundRead&) = delete;
    BackgroundRead& operator=(const BackgroundRead&) = delete;
    // Between two pieces of the read: lets first reads under way go first.
    void Yield();

   private:
    void Take(std::unique_lock<std::mutex>& lock);
    StoreRunSource& source_;
  };

  struct Loader {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };

  store::Store& store_;
  size_t capacity_;
  size_t head_bars_;
  std::chrono::milliseconds recheck_;
  mutable std::mutex mu_;
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
  std::mutex reads_mu_;
  std::condition_variable reads_cv_;
  int first_reads_ = 0;            // GUARDED_BY(reads_mu_): FirstReads held
  bool background_busy_ = false;  // GUARDED_BY(reads_mu_): a BackgroundRead is held
  // Threads reading the rest of a tape; finished ones are joined when the next starts.
  std::vector<Loader> loaders_;  // GUARDED_BY(mu_)
};

}  // namespace tapedeck::api
