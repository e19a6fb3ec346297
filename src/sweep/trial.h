// One trial of a sweep: a strategy run with one set of parameters over one span, keeping only its
// statistics and daily returns (never its tape).
//
// Thread-safety: RunTrial touches nothing shared but `factory` (called once per trial, so it must
// be safe to call from the threads that run trials) and `cancel`.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "common/error.h"
#include "engine/engine.h"
#include "market/market.h"
#include "strategies/strategies.h"
#include "sweep/plan.h"
#include "sweep/robustness.h"

namespace tapedeck::sweep {

// Builds the sweep's strategy with one trial's parameters (a built-in's strategies::Make, or a
// script's MakeScriptStrategy with its budgets). Its error fails that trial only.
using StrategyFactory =
    std::function<Result<std::unique_ptr<engine::Strategy>>(const strategies::Params&)>;

struct TrialOutcome {
  std::optional<engine::Stats> stats;  // nullopt: failed, and `error` says why
  std::optional<Error> error;
  std::vector<DailyReturn> returns;  // when asked for
};

// Runs the strategy with `params` over `inputs` cut to `span` (each series to [from, to)), exactly
// as POST /backtests with that from/to would (same statistics, to the bit), but with plots and
// logs not recorded. Failures, in `error`: the factory's (the strategy refuses the parameters),
// RANGE "no bars in the requested period" (naming the dataset when there are several), the run's
// own (a script's error), UNAVAILABLE "cancelled" when `cancel` became true.
TrialOutcome RunTrial(std::span<const market::Series> inputs, Span span,
                      const StrategyFactory& factory, const strategies::Params& params,
                      const engine::RunConfig& config, bool with_returns,
                      const std::atomic<bool>* cancel = nullptr);

}  // namespace tapedeck::sweep
