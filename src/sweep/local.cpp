#include "sweep/local.h"

#include <algorithm>
#include <mutex>
#include <thread>
#include <utility>

namespace tapedeck::sweep {
namespace {

bool Cancelled(const std::atomic<bool>* cancel) {
  return cancel != nullptr && cancel->load(std::memory_order_relaxed);
}

Error CancelledError() { return MakeError(ErrorCode::kUnavailable, "cancelled"); }

}  // namespace

Result<LocalResult> RunLocally(const PlanSpec& plan, const std::vector<strategies::Params>& trials,
                               std::span<const market::Series> inputs,
                               const std::optional<Timestamp>& from,
                               const std::optional<Timestamp>& to, const StrategyFactory& factory,
                               const engine::RunConfig& config, const LocalOptions& options) {
  const Span period = Period(inputs, from, to);
  const size_t phases = PhaseCount(plan);
  const size_t n = trials.size();
  const size_t total = phases * n;

  LocalResult out;
  out.phases.assign(phases, std::vector<TrialResult>(n));
  std::vector<Span> spans;
  for (size_t p = 0; p < phases; ++p) {
    spans.push_back(PhaseSpan(plan, period, p));
    for (size_t i = 0; i < n; ++i) {
      out.phases[p][i].index = i;
      out.phases[p][i].params = trials[i];
    }
  }

  // Tasks are (phase, trial) in that order, taken by whichever thread is free; each result goes to
  // its own slot, so the outcome does not depend on the thread count or the interleaving.
  std::atomic<size_t> next{0};
  std::mutex progress_mu;
  size_t done = 0;
  auto work = [&] {
    for (;;) {
      if (Cancelled(options.cancel)) return;
      const size_t task = next.fetch_add(1);
      if (task >= total) return;
      const size_t phase = task / n, i = task % n;
      TrialOutcome outcome =
          RunTrial(inputs, spans[phase], factory, trials[i], config, phase == 0, options.cancel);
      TrialResult& r = out.phases[phase][i];
      r.stats = std::move(outcome.stats);
      if (!r.stats) r.error = outcome.error ? outcome.error->msg : "failed";
      r.returns = std::move(outcome.returns);
      std::lock_guard lock(progress_mu);
      ++done;
      if (options.progress) options.progress(done, total);
    }
  };
  const size_t threads = std::clamp<size_t>(options.threads, 1, std::max<size_t>(total, 1));
  if (threads == 1) {
    work();
  } else {
    std::vector<std::thread> pool;
    pool.reserve(threads);
    for (size_t t = 0; t < threads; ++t) pool.emplace_back(work);
    for (std::thread& t : pool) t.join();
  }
  if (Cancelled(options.cancel)) return CancelledError();

  const FoldRunner run_fold = [&](const strategies::Params& params, Span span) {
    return RunTrial(inputs, span, factory, params, config, true, options.cancel);
  };
  out.summary = Summarize(plan, period, out.phases, config.cash, run_fold, options.cancel);
  if (Cancelled(options.cancel)) return CancelledError();
  return out;
}

}  // namespace tapedeck::sweep
