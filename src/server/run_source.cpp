#include "server/run_source.h"

namespace tapedeck::server {

void MemoryRunSource::Add(std::string id, std::shared_ptr<const playback::Tape> tape,
                          std::chrono::milliseconds ready_after) {
  std::lock_guard lock(mu_);
  runs_[std::move(id)] = Entry{std::move(tape), ready_after, std::nullopt, {}};
}

void MemoryRunSource::AddFailed(std::string id, std::string error) {
  std::lock_guard lock(mu_);
  runs_[std::move(id)] = Entry{nullptr, {}, std::nullopt, std::move(error)};
}

Result<std::shared_ptr<const playback::Tape>> MemoryRunSource::Open(std::string_view id) {
  std::lock_guard lock(mu_);
  const auto it = runs_.find(id);
  if (it == runs_.end()) {
    return MakeError(ErrorCode::kRunNotFound, "no run has this id", {{"id", std::string(id)}});
  }
  Entry& entry = it->second;
  if (!entry.error.empty()) {
    return MakeError(ErrorCode::kRunFailed, "the run failed",
                     {{"id", std::string(id)}, {"error", entry.error}});
  }
  const auto now = std::chrono::steady_clock::now();
  if (!entry.ready_at) entry.ready_at = now + entry.ready_after;
  if (now < *entry.ready_at) {
    return std::shared_ptr<const playback::Tape>();
  }
  return entry.tape;
}

}  // namespace tapedeck::server
