#include "api/sweep_job.h"

#include <malloc.h>

#include "common/json_writer.h"
#include "server/heap_trimmer.h"
#include "sweep/summary.h"

namespace tapedeck::api {

// A script may have filled up to its memory budget (64 MiB by default) with small blocks, now free
// in this worker's malloc arena, which glibc keeps. The server's HeapTrimmer looks every 10 s and
// only at heap freed beyond what it gave back last time, which pages a later script reuses; so
// a script run gives the free pages back itself once they are worth it. The cost is a walk of the
// free blocks: microseconds when few are free; with 48 MiB of 40-byte blocks free, mallinfo2
// 2.5 ms and malloc_trim 6.4 ms (2-core AMD EPYC), once, after a run that filled its budget.
void GiveBackScriptHeap() {
  constexpr size_t kWorthIt = size_t{8} << 20;
  if (server::FreeHeapBytes() > kWorthIt) malloc_trim(0);
}

Result<std::shared_ptr<SweepJob>> SweepJob::Make(store::Store& store, const store::SweepInfo& sweep,
                                                 const strategies::ScriptBudgets& budgets) {
  std::shared_ptr<SweepJob> job(new SweepJob());
  job->id_ = sweep.id;
  const store::RunSpec& base = sweep.spec.base;
  auto plan = sweep::ParsePlanJson(sweep.spec.plan_json);
  if (!plan.ok()) return plan.take_error();
  job->plan_ = std::move(*plan);

  std::vector<strategies::ParamSpec> schema;
  if (!base.strategy_sha256.empty()) {
    auto source = store.GetScriptSource(base.strategy_sha256);
    if (!source.ok()) return source.take_error();
    const std::string chunk = base.strategy == store::kInlineStrategy ? "script" : base.strategy;
    auto info = strategies::CompileScript(*source, chunk, budgets);
    if (!info.ok()) return info.take_error();
    schema = info->params;
    job->is_script_ = true;
    // A heavy bar stops within a thousand instructions of a cancel, not at its end.
    strategies::ScriptBudgets trial_budgets = budgets;
    trial_budgets.cancel = &job->cancel_;
    job->factory_ = [source = std::move(*source), chunk, budgets = trial_budgets](
                        const strategies::Params& p) -> Result<std::unique_ptr<engine::Strategy>> {
      auto made = strategies::MakeScriptStrategy(source, chunk, p, budgets);
      if (!made.ok()) return made.take_error();
      return std::unique_ptr<engine::Strategy>(std::move(*made));
    };
  } else {
    auto info = strategies::Find(base.strategy);
    if (!info.ok()) return info.take_error();
    schema = (*info)->params;
    job->factory_ = [name = base.strategy](const strategies::Params& p) {
      return strategies::Make(name, p);
    };
  }
  // The same plan makes the same trials: the limit was checked when the sweep was posted.
  auto trials = sweep::MakeTrials(job->plan_, schema, UINT64_MAX);
  if (!trials.ok()) return trials.take_error();
  job->trials_ = std::move(*trials);
  job->trial_params_json_.reserve(job->trials_.size());
  for (const strategies::Params& p : job->trials_) {
    JsonWriter w;
    sweep::WriteParams(w, p);
    job->trial_params_json_.push_back(w.Take());
  }

  for (const std::string& dataset : base.datasets) {
    auto bars = store.LoadBars(dataset);
    if (!bars.ok()) return bars.take_error();
    job->inputs_.push_back(std::move(*bars));
  }
  job->period_ = sweep::Period(job->inputs_, base.from, base.to);
  job->config_ = base.config;
  job->tasks_ = job->trials_.size() * sweep::PhaseCount(job->plan_);
  return job;
}

std::optional<std::vector<store::TrialRecord>> SweepJob::RunBatch(
    size_t begin, size_t end, const std::atomic<bool>* also_cancel) const {
  std::vector<store::TrialRecord> records;
  records.reserve(end - begin);
  const size_t n = trials_.size();
  // A batch's own flag stops its trial in progress; the Runner raises it when the sweep stops.
  const std::atomic<bool>* cancel = also_cancel != nullptr ? also_cancel : &cancel_;
  for (size_t t = begin; t < end; ++t) {
    if (cancel_ || *cancel) return std::nullopt;
    store::TrialRecord record;
    record.phase = t / n;
    record.index = t % n;
    record.params_json = trial_params_json_[record.index];
    const sweep::Span span = sweep::PhaseSpan(plan_, period_, record.phase);
    sweep::TrialOutcome outcome = sweep::RunTrial(inputs_, span, factory_, trials_[record.index],
                                                  config_, record.phase == 0, cancel);
    if (cancel_ || *cancel) return std::nullopt;
    record.stats = outcome.stats;
    if (outcome.error) record.error = outcome.error->msg;
    if (!record.stats && record.error.empty()) record.error = "the trial failed";
    record.returns = std::move(outcome.returns);
    records.push_back(std::move(record));
  }
  // Per batch rather than per trial: the free blocks' walk is then paid once for eight sandboxes.
  if (is_script_) GiveBackScriptHeap();
  return records;
}

Result<std::string> SweepJob::Summarize(store::Store& store) const {
  const size_t phases = sweep::PhaseCount(plan_);
  std::vector<std::vector<sweep::TrialResult>> results(phases);
  for (size_t phase = 0; phase < phases; ++phase) {
    auto records = store.LoadTrials(id_, phase, phase == 0);
    if (!records.ok()) return records.take_error();
    results[phase].reserve(records->size());
    for (store::TrialRecord& r : *records) {
      sweep::TrialResult result;
      result.index = r.index;
      if (r.index < trials_.size()) result.params = trials_[r.index];
      result.stats = r.stats;
      result.error = std::move(r.error);
      result.returns = std::move(r.returns);
      results[phase].push_back(std::move(result));
    }
  }
  if (cancel_) return MakeError(ErrorCode::kUnavailable, "cancelled");
  const sweep::FoldRunner run_fold = [this](const strategies::Params& params, sweep::Span span) {
    return sweep::RunTrial(inputs_, span, factory_, params, config_, true, &cancel_);
  };
  const sweep::Summary summary =
      sweep::Summarize(plan_, period_, results, config_.cash, run_fold, &cancel_);
  if (cancel_) return MakeError(ErrorCode::kUnavailable, "cancelled");
  JsonWriter w;
  w.BeginObject();
  sweep::WriteSummaryFields(w, plan_, summary, results[0]);
  w.EndObject();
  return w.Take();
}

}  // namespace tapedeck::api
