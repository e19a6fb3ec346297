// Playback's view of the store.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
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
// Thread-safety: as server::RunSource requires, any thread.
class StoreRunSource final : public server::RunSource {
 public:
  StoreRunSource(store::Store& store, size_t capacity = 8);

  // nullptr while queued or running; RUN_NOT_FOUND; RUN_FAILED (details: error).
  Result<std::shared_ptr<const playback::Tape>> Open(std::string_view id) override;
  // Drops a cached tape (the run was deleted).
  void Forget(std::string_view id);

 private:
  store::Store& store_;
  size_t capacity_;
  std::mutex mu_;
  std::vector<std::pair<std::string, std::shared_ptr<const playback::Tape>>> cache_;  // MRU first
};

}  // namespace tapedeck::api
