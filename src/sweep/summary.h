// What a finished sweep says: its best trial, how much of that is luck (DSR, PBO), and the
// walk-forward folds with their stitched out-of-sample result. The same JSON in the REST API
// (GET /sweeps/{id}) and `tapedeck sweep --json`.
//
// Thread-safety: plain values and pure functions (but for the callback Summarize is given).
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/json_writer.h"
#include "strategies/strategies.h"
#include "sweep/plan.h"
#include "sweep/robustness.h"
#include "sweep/trial.h"

namespace tapedeck::sweep {

// A trial's result in one phase (plan.h): phase 0 keeps its daily returns, the others only
// their statistics.
struct TrialResult {
  size_t index = 0;
  strategies::Params params;
  std::optional<engine::Stats> stats;  // nullopt: failed
  std::string error;                   // the failure's message
  std::vector<DailyReturn> returns;    // phase 0
};

struct Fold {
  size_t fold = 0;  // 1..K
  Span in_sample, out_of_sample;
  std::optional<size_t> trial;  // the in-sample best (nullopt: no trial succeeded in sample)
  strategies::Params params;
  double in_sample_objective = 0;
  std::optional<engine::Stats> stats;  // out of sample; nullopt: failed (`error`)
  std::string error;
  std::vector<DailyReturn> returns;  // out of sample
};

// The folds' out-of-sample daily returns in order, as one curve compounded from the starting cash.
struct Stitched {
  std::vector<DailyReturn> returns;
  std::vector<double> equity;  // per returns[i]: cash · Π(1 + r) up to i
  double total_return = 0;
  double sharpe = 0;  // daily, as robustness.h
  double max_drawdown = 0;  // largest 1 − equity / running peak; the peak starts at the cash
};

struct Summary {
  size_t trials = 0, valid = 0, failed = 0;
  std::optional<size_t> best;  // by the objective over phase 0; ties: the lowest index
  Dsr dsr;                     // over the valid phase-0 trials
  Pbo pbo;                     // idem
  std::vector<Fold> folds;     // empty without walk-forward
  std::optional<Stitched> stitched;
};

// Runs one out-of-sample fold: RunTrial with returns over `span`.
using FoldRunner = std::function<TrialOutcome(const strategies::Params& params, Span span)>;

// Computes the summary. `phases[0]` holds every trial's phase-0 result (by index), `phases[k]`
// fold k's in-sample results; `run_fold` runs each fold's chosen trial out of sample. `cancel`
// (may be null) stops the PBO's choices early (its reason is then "cancelled"); the caller,
// whose flag it is, drops such a summary.
Summary Summarize(const PlanSpec& plan, Span period,
                  const std::vector<std::vector<TrialResult>>& phases, double start_cash,
                  const FoldRunner& run_fold, const std::atomic<bool>* cancel = nullptr);

// The summary's keys, inside an object being written: "valid_trials", "failed_trials", "best"
// ({"index", "params", "objective", "stats"} or null), "dsr", "pbo", and with walk-forward
// "folds" and "stitched" (docs/api/openapi.yaml has their shapes).
void WriteSummaryFields(JsonWriter& w, const PlanSpec& plan, const Summary& summary,
                        const std::vector<TrialResult>& phase0);

// A trial's parameters as JSON ({"fast":10,"slow":30}).
void WriteParams(JsonWriter& w, const strategies::Params& params);

}  // namespace tapedeck::sweep
