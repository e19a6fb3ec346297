// How the server finds the run a playback connection asks for. The server knows nothing of the
// store: the REST side implements RunSource over it (api::StoreRunSource, caching each run's Tape
// in memory, shared by every viewer); tests and the synthetic runs (api/synthetic_runs.h) use
// MemoryRunSource.
//
// Thread-safety: implementations must be safe to call from any I/O thread, and quick (they run on
// an I/O thread: load and index a run once, then serve it from memory).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "playback/playback.h"

namespace tapedeck::server {

class RunSource {
 public:
  virtual ~RunSource() = default;

  // The tape of run `id`: the finished run indexed for playback, or nullptr while the run is
  // queued or running (the connection then gets heartbeats and asks again every
  // kPendingPollInterval until it is done).
  // Errors: RUN_NOT_FOUND (details: id); RUN_FAILED for a failed run (details: error); IO or
  // UNAVAILABLE when the store cannot answer. Fatal on a stream: err then close.
  virtual Result<std::shared_ptr<const playback::Tape>> Open(std::string_view id) = 0;
};

// How often a connection to a run that is not done yet asks its RunSource again.
inline constexpr std::chrono::milliseconds kPendingPollInterval{100};

// Runs held in memory, for tests and demos. A run may be registered as still running until
// `ready_after` has passed since it was first asked for (to test connecting before a run is done,
// whenever the test gets to it).
class MemoryRunSource final : public RunSource {
 public:
  void Add(std::string id, std::shared_ptr<const playback::Tape> tape,
           std::chrono::milliseconds ready_after = {});
  void AddFailed(std::string id, std::string error);

  Result<std::shared_ptr<const playback::Tape>> Open(std::string_view id) override;

 private:
  struct Entry {
    std::shared_ptr<const playback::Tape> tape;
    std::chrono::milliseconds ready_after{0};
    std::optional<std::chrono::steady_clock::time_point> ready_at;  // set by the first Open
    std::string error;  // non-empty: failed
  };
  std::mutex mu_;
  std::map<std::string, Entry, std::less<>> runs_;  // GUARDED_BY(mu_)
};

}  // namespace tapedeck::server
