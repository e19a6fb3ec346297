#include "api/store_run_source.h"

#include <algorithm>

namespace tapedeck::api {

StoreRunSource::StoreRunSource(store::Store& store, size_t capacity)
    : store_(store), capacity_(std::max<size_t>(capacity, 1)) {}

Result<std::shared_ptr<const playback::Tape>> StoreRunSource::Open(std::string_view id) {
  {
    std::lock_guard lock(mu_);
    auto it = std::find_if(cache_.begin(), cache_.end(),
                           [&](const auto& entry) { return entry.first == id; });
    if (it != cache_.end()) {
      std::rotate(cache_.begin(), it, it + 1);
      return cache_.front().second;
    }
  }
  auto run = store_.GetRun(id);
  if (!run.ok()) return run.take_error();
  switch (run->status) {
    case store::RunStatus::kQueued:
    case store::RunStatus::kRunning:
      return std::shared_ptr<const playback::Tape>();
    case store::RunStatus::kFailed:
      return MakeError(ErrorCode::kRunFailed, "run " + run->id + " failed: " + run->error.msg,
                       {{"id", run->id}, {"error", run->error.msg}});
    case store::RunStatus::kDone:
      break;
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
}

}  // namespace tapedeck::api
