// A whole sweep in this process on its own threads: what `tapedeck sweep` runs. (The server runs
// the same trials on its worker pool, in batches, keeping them in the store.)
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <span>
#include <vector>

#include "common/error.h"
#include "market/market.h"
#include "sweep/summary.h"

namespace tapedeck::sweep {

struct LocalOptions {
  size_t threads = 1;
  // Called from any of the threads, serialised, after each trial run: (runs done, runs in all).
  std::function<void(size_t done, size_t total)> progress;
  const std::atomic<bool>* cancel = nullptr;
};

struct LocalResult {
  std::vector<std::vector<TrialResult>> phases;  // as Summarize takes them
  Summary summary;
};

// Runs every phase of `plan` for `trials` over `inputs` and summarises. Errors: UNAVAILABLE
// "cancelled"; a trial's own failure is not one (it is recorded in its TrialResult).
Result<LocalResult> RunLocally(const PlanSpec& plan, const std::vector<strategies::Params>& trials,
                               std::span<const market::Series> inputs,
                               const std::optional<Timestamp>& from,
                               const std::optional<Timestamp>& to, const StrategyFactory& factory,
                               const engine::RunConfig& config, const LocalOptions& options);

}  // namespace tapedeck::sweep
