// JSON of the sweep resources: POST /sweeps' body, and the sweep and trial objects GET shows.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/json.h"
#include "common/error.h"
#include "common/json_writer.h"
#include "store/store.h"
#include "strategies/strategies.h"
#include "sweep/plan.h"

namespace tapedeck::api {

// Folds of a walk-forward, and PBO blocks S, a request may ask for.
inline constexpr size_t kMaxFolds = 20;
inline constexpr size_t kMaxPboBlocks = 20;
// The PBO's work, C(S, S/2) choices × N trials, a sweep may ask for: about 20 s of one core (a
// DELETE stops it between two choices). S = 16 (12,870 choices) allows 155,000 trials; S = 20
// (184,756 choices) 10,800.
inline constexpr uint64_t kMaxPboWork = 2'000'000'000;

struct SweepRequest {
  store::SweepSpec spec;  // base (datasets not yet checked: the caller's), plan_json, trials, tasks
  sweep::PlanSpec plan;
};

// POST /sweeps body -> a validated sweep. The run fields as ParseBacktestRequest (a script goes to
// `check_script`, which also gives its parameter schema), then the plan: `params` (an object:
// each value a range {"from","to","step"}, an array of values, or a number), `method`, `trials`
// and `seed` (random), `objective`, `walk_forward` ({"folds" 1..kMaxFolds, "anchored"} or null),
// `pbo_blocks` (even, 2..kMaxPboBlocks). Errors: VALIDATION with details `field` naming the
// first bad one ("params.fast", "objective", "walk_forward.folds", ...); more than `max_trials`
// trials: field `params` with details `trials` and `limit`, found before any trial is built; a
// PBO over kMaxPboWork: field `pbo_blocks` with details `combinations`, `trials` and `limit`.
Result<SweepRequest> ParseSweepRequest(std::string_view body, const ScriptCheck& check_script,
                                       uint64_t max_trials);

// Whether sweep::MakeTrials accepts the plan, with its errors. A grid is checked axis by axis, so
// a grid of 100,000 trials costs its axes' values, not 100,000 parameter sets (POST /sweeps runs
// on an I/O thread).
Status CheckTrials(const sweep::PlanSpec& plan, const std::vector<strategies::ParamSpec>& schema,
                   uint64_t max_trials);

// Trial k's parameters, as sweep::MakeTrials makes them: for a grid from its axes' values alone,
// for a random sweep by making them all. NOT_FOUND when k is not below the trial count.
Result<strategies::Params> TrialParams(const sweep::PlanSpec& plan,
                                       const std::vector<strategies::ParamSpec>& schema, size_t k);

// The sweep object of GET /sweeps/{id}: its request (WriteSpecFields), plan (the stored
// plan_json's fields), progress {done, total}, error when failed, and when done the summary's
// fields (summary_json's).
std::string SweepJson(const store::SweepInfo& sweep);

// The sweep's objective, from its stored plan (sharpe when unreadable).
sweep::Objective SweepObjective(const store::SweepInfo& sweep);

// A trial object: {"index", "params", "objective" (null when failed or NaN), "stats" (null when
// failed), "error"?}.
void WriteTrial(JsonWriter& w, const store::TrialRecord& trial, sweep::Objective objective);

}  // namespace tapedeck::api
