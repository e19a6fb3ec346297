// Synthetic runs: generated bars traded by sma_cross, held in memory and played like stored runs.
// For tests and demos that need runs without a store (`tapedeck serve --synthetic-run ...`).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "playback/playback.h"
#include "server/run_source.h"

namespace tapedeck::api {

// `--synthetic-run ID:BARS[:SEED[:INTERVAL[:READY_AFTER]]]`.
struct SyntheticRun {
  std::string id;
  size_t bars = 0;
  uint64_t seed = 1;
  std::string interval = "1m";
  // The run counts as still running until this long after it was first asked for.
  std::chrono::milliseconds ready_after{0};
};

// A synthetic run: `bars` generated bars (market::Generate with `seed` and `interval`) traded by
// sma_cross (fast 10, slow 30) from 100,000 cash, indexed as a Tape.
// Errors: VALIDATION naming `interval` for a bad interval; whatever the engine reports.
Result<std::shared_ptr<const playback::Tape>> MakeSyntheticTape(const SyntheticRun& spec);

// A RunSource holding `runs` (built by MakeSyntheticTape, each still running for its ready_after)
// that asks `fallback` for every other id (nullptr: none, RUN_NOT_FOUND).
// Errors: the first run that cannot be built, its id in details["id"].
Result<std::shared_ptr<server::RunSource>> MakeSyntheticRunSource(
    const std::vector<SyntheticRun>& runs, std::shared_ptr<server::RunSource> fallback);

}  // namespace tapedeck::api
