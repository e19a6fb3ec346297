#include "sweep/trial.h"

#include <exception>
#include <string>
#include <utility>

namespace tapedeck::sweep {
namespace {

TrialOutcome Failed(Error error) {
  TrialOutcome out;
  out.error = std::move(error);
  return out;
}

bool Cancelled(const std::atomic<bool>* cancel) {
  return cancel != nullptr && cancel->load(std::memory_order_relaxed);
}

}  // namespace

TrialOutcome RunTrial(std::span<const market::Series> inputs, Span span,
                      const StrategyFactory& factory, const strategies::Params& params,
                      const engine::RunConfig& config, bool with_returns,
                      const std::atomic<bool>* cancel) {
  if (Cancelled(cancel)) return Failed(MakeError(ErrorCode::kUnavailable, "cancelled"));

  // As api::Runner::Execute does for a run with from/to: each series cut to the span, a series
  // left empty is RANGE, then the strategy is built. The Runner names the dataset; a trial sees
  // only the series, whose symbol stands for it.
  std::vector<market::Series> data;
  data.reserve(inputs.size());
  for (const market::Series& series : inputs) {
    market::Series cut = series.Slice(span.from, span.to);
    if (cut.empty()) {
      std::string msg = "no bars in the requested period";
      if (inputs.size() > 1) msg += " in dataset '" + series.symbol() + "'";
      return Failed(MakeError(ErrorCode::kRange, msg, {{"dataset", series.symbol()}}));
    }
    data.push_back(std::move(cut));
  }

  try {
    auto strategy = factory(params);
    if (!strategy.ok()) return Failed(strategy.take_error());

    // Plots and logs feed no statistic (engine/run.cpp only drops them): the stats are the
    // Runner's to the bit, without the memory.
    engine::RunConfig run_config = config;
    run_config.record_plots = false;
    // Nor the curve and the events, unless the daily returns are read from the curve: the
    // statistics are the same bit for bit without them.
    run_config.record_history = with_returns;
    engine::RunHooks hooks;
    hooks.cancel = cancel;
    auto result = engine::Run(data, **strategy, run_config, hooks);
    if (!result.ok()) return Failed(result.take_error());

    TrialOutcome out;
    out.stats = result->stats;
    if (with_returns) out.returns = DailyReturns(result->times, result->equity, config.cash);
    return out;
  } catch (const std::exception& e) {
    // A strategy must not throw; if one does, only its trial fails.
    return Failed(MakeError(ErrorCode::kInternal, std::string("trial failed: ") + e.what()));
  }
}

}  // namespace tapedeck::sweep
