// A sweep being executed by the Runner: the context its trials share (the datasets' bars, the
// strategy factory, the plan, every trial's parameters, the period), built once when the sweep
// starts, and the execution of its trial runs in batches and of its summary.
//
// Trial runs are numbered 0..tasks()-1 over all phases: run t is trial t % N of phase t / N
// (sweep/plan.h), so phase 0 (the trials one sees) comes first.
//
// Thread-safety: after Make, RunBatch and Summarize may run on any threads at once (the context is
// read-only; the factory makes a fresh strategy per call); Cancel from any thread. The scheduling
// fields at the bottom belong to the Runner, under its mutex.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "market/market.h"
#include "store/store.h"
#include "strategies/script.h"
#include "sweep/plan.h"
#include "sweep/trial.h"

namespace tapedeck::api {

// Gives the heap a script run freed in this thread's malloc arena back to the system, when it is
// worth it (over 8 MiB free). Call on a worker after a script run or a batch of script trials.
void GiveBackScriptHeap();

class SweepJob {
 public:
  // Builds the context of `sweep` (its plan read back from plan_json, its trials made again from
  // it, its datasets loaded — memory-mapped — from `store`, a script's source fetched). Errors:
  // what fails the sweep: a dataset gone or unreadable, a script source missing, an unreadable
  // plan.
  static Result<std::shared_ptr<SweepJob>> Make(store::Store& store, const store::SweepInfo& sweep,
                                                const strategies::ScriptBudgets& budgets);

  const std::string& id() const { return id_; }
  size_t tasks() const { return tasks_; }
  size_t trials() const { return trials_.size(); }

  // Runs trial runs [begin, end) one after another, each dropped once its statistics (and, in
  // phase 0, daily returns) are taken. A trial's own failure is recorded in its record. nullopt
  // when cancelled before all were done: a running trial stops within 64 bars. With
  // `also_cancel` (this batch's own flag: a lost lease) the running trial watches that flag
  // instead, and Cancel() is seen between trials (a script trial watches Cancel() alone).
  std::optional<std::vector<store::TrialRecord>> RunBatch(
      size_t begin, size_t end, const std::atomic<bool>* also_cancel = nullptr) const;

  // The summary of a sweep whose trial runs are all stored: each phase loaded from `store`,
  // summarised (each walk-forward fold's chosen trial run out of sample), written as the JSON
  // object CompleteSweep keeps. Errors: the store's; UNAVAILABLE "cancelled" when cancelled.
  Result<std::string> Summarize(store::Store& store) const;

  void Cancel() { cancel_ = true; }
  bool cancelled() const { return cancel_.load(); }

  // ---- The Runner's, GUARDED_BY(Runner::mu_) ----
  size_t next = 0;       // the first trial run not handed out yet
  size_t in_flight = 0;  // batches being run
  size_t finished = 0;   // trial runs whose batch has ended (stored, or given up)
  bool failed = false;   // FailSweep was called: nothing more is written

 private:
  SweepJob() = default;

  std::string id_;
  std::vector<market::Series> inputs_;  // whole datasets; each trial cuts them to its span
  sweep::StrategyFactory factory_;
  sweep::PlanSpec plan_;
  std::vector<strategies::Params> trials_;
  std::vector<std::string> trial_params_json_;
  sweep::Span period_;
  engine::RunConfig config_;
  size_t tasks_ = 0;
  bool is_script_ = false;
  mutable std::atomic<bool> cancel_{false};
};

}  // namespace tapedeck::api
