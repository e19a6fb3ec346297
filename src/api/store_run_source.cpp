#include "api/store_run_source.h"

#include <algorithm>

namespace tapedeck::api {

StoreRunSource::StoreRunSource(store::Store& store, size_t capacity,
                               std::chrono::milliseconds recheck)
    : store_(store), capacity_(std::max<size_t>(capacity, 1)), recheck_(recheck) {}

Result<std::shared_ptr<const playback::Tape>> StoreRunSource::Open(std::string_view id) {
  uint64_t epoch = 0;
  {
    std::unique_lock lock(mu_);
    for (;;) {
      auto it = std::find_if(cache_.begin(), cache_.end(),
                             [&](const auto& entry) { return entry.first == id; });
      if (it != cache_.end()) {
        std::rotate(cache_.begin(), it, it + 1);
        return cache_.front().second;
      }
      if (const auto pending = pending_.find(std::string(id));
          pending != pending_.end() && SteadyClock::now() < pending->second) {
        return std::shared_ptr<const playback::Tape>();
      }
      // Another connection is reading this run from the store: wait for its answer rather than
      // read the same tape again (the viewers of a run that just ended all ask at once). Should
      // it fail, each waiter asks the store itself and gets the error first-hand.
      if (!loading_.contains(std::string(id))) break;
      loaded_.wait(lock);
    }
    loading_.insert(std::string(id));
    epoch = finished_epoch_;
  }
  struct Loading {
    StoreRunSource* source;
    std::string_view id;
    ~Loading() {
      {
        std::lock_guard lock(source->mu_);
        source->loading_.erase(std::string(id));
      }
      source->loaded_.notify_all();
    }
  } loading{this, id};
  auto run = store_.GetRun(id);
  if (!run.ok()) return run.take_error();
  switch (run->status) {
    case store::RunStatus::kQueued:
    case store::RunStatus::kRunning: {
      pending_reads_.fetch_add(1, std::memory_order_relaxed);
      std::lock_guard lock(mu_);
      const auto now = SteadyClock::now();
      if (pending_.size() >= kMaxPending) {
        std::erase_if(pending_, [&](const auto& entry) { return entry.second <= now; });
      }
      // A run that ended while the store was being read may have been read as running: then
      // the next Open asks again rather than waiting out a recheck for a notification that has
      // already come and gone.
      if (finished_epoch_ == epoch && pending_.size() < kMaxPending) {
        pending_[std::string(id)] = now + recheck_;
      } else {
        pending_.erase(std::string(id));
      }
      return std::shared_ptr<const playback::Tape>();
    }
    case store::RunStatus::kFailed:
      Forget(id);
      return MakeError(ErrorCode::kRunFailed, "run " + run->id + " failed: " + run->error.msg,
                       {{"id", run->id}, {"error", run->error.msg}});
    case store::RunStatus::kDone:
      break;
  }
  {
    std::lock_guard lock(mu_);
    pending_.erase(std::string(id));
  }
  auto result = store_.LoadRunResult(id);
  if (!result.ok()) return result.take_error();
  std::vector<market::Series> series;
  for (const std::string& dataset : run->spec.datasets) {
    auto bars = store_.LoadBars(dataset);
    if (!bars.ok() && bars.error().code != ErrorCode::kNotFound) {
      // Unreadable or corrupt (the checksum): say so, with the file, rather than "deleted".
      Error e = bars.take_error();
      e.msg = "the bars of run " + run->id + " cannot be read: " + e.msg;
      e.details["id"] = run->id;
      return e;
    }
    if (!bars.ok()) {
      return MakeError(
          ErrorCode::kRunFailed,
          "the bars of run " + run->id + " are gone (dataset '" + dataset + "' was deleted)",
          {{"id", run->id}, {"dataset", dataset}});
    }
    market::Series one = *bars;
    if (run->spec.from || run->spec.to) {
      one = one.Slice(run->spec.from.value_or(FromMicros(INT64_MIN)),
                      run->spec.to.value_or(FromMicros(INT64_MAX)));
    }
    series.push_back(std::move(one));
  }
  auto shared = std::make_shared<const engine::RunResult>(std::move(result).value());
  auto tape = playback::Tape::Create(shared, std::move(series));
  if (!tape.ok()) return tape.take_error();
  std::lock_guard lock(mu_);
  cache_.insert(cache_.begin(), {std::string(id), *tape});
  if (cache_.size() > capacity_) cache_.pop_back();
  return *tape;
}

void StoreRunSource::Forget(std::string_view id) {
  std::lock_guard lock(mu_);
  std::erase_if(cache_, [&](const auto& entry) { return entry.first == id; });
  pending_.erase(std::string(id));
}

void StoreRunSource::Finished(std::string_view id) {
  std::lock_guard lock(mu_);
  ++finished_epoch_;
  if (id.empty()) {
    pending_.clear();
  } else {
    pending_.erase(std::string(id));
  }
}

}  // namespace tapedeck::api
