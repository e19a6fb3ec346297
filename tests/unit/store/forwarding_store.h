// A store::Store that forwards every call to a real store it owns: the base of test decorators
// that change a few calls (fail them, hold them, count them) and leave the rest as they are.
// Thread-safe as far as the real store is.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace tapedeck::store::testing {

class ForwardingStore : public Store {
 public:
  explicit ForwardingStore(std::unique_ptr<Store> real) : real_(std::move(real)) {}

  Result<DatasetInfo> PutDataset(std::string_view n, const market::Series& b) override {
    return real_->PutDataset(n, b);
  }
  Result<DatasetInfo> GetDataset(std::string_view n) override { return real_->GetDataset(n); }
  Result<std::vector<DatasetInfo>> ListDatasets() override { return real_->ListDatasets(); }
  Result<market::Series> LoadBars(std::string_view n) override { return real_->LoadBars(n); }
  Result<market::Series> LoadBarsBetween(std::string_view n, Timestamp f, Timestamp t) override {
    return real_->LoadBarsBetween(n, f, t);
  }
  Status DeleteDataset(std::string_view n) override { return real_->DeleteDataset(n); }

  Result<std::string> CreateRun(const RunSpec& s) override { return real_->CreateRun(s); }
  Status MarkRunning(std::string_view id) override { return real_->MarkRunning(id); }
  Status UpdateProgress(std::string_view id, double p) override {
    return real_->UpdateProgress(id, p);
  }
  Status CompleteRun(std::string_view id, const engine::RunResult& r) override {
    return real_->CompleteRun(id, r);
  }
  Status FailRun(std::string_view id, const RunError& e) override {
    return real_->FailRun(id, e);
  }
  Result<RunInfo> GetRun(std::string_view id) override { return real_->GetRun(id); }
  Result<std::vector<RunInfo>> ListRuns(size_t l, size_t o) override {
    return real_->ListRuns(l, o);
  }
  Result<StatusCounts> CountRuns() override { return real_->CountRuns(); }
  Result<engine::RunResult> LoadRunResult(std::string_view id) override {
    return real_->LoadRunResult(id);
  }
  Result<engine::RunResult> LoadRunResultInPieces(
      std::string_view id, const std::function<void()>& between) override {
    return real_->LoadRunResultInPieces(id, between);
  }
  Result<RunHead> LoadRunHead(std::string_view id, size_t bars) override {
    return real_->LoadRunHead(id, bars);
  }
  Result<RunAndHead> GetRunAndHead(std::string_view id, size_t bars) override {
    return real_->GetRunAndHead(id, bars);
  }
  Result<std::vector<engine::Trade>> LoadTrades(std::string_view id) override {
    return real_->LoadTrades(id);
  }
  Status DeleteRun(std::string_view id) override { return real_->DeleteRun(id); }
  Result<size_t> RecoverOnStart() override { return real_->RecoverOnStart(); }

  Result<std::string> CreateSweep(const SweepSpec& s) override { return real_->CreateSweep(s); }
  Status MarkSweepRunning(std::string_view id) override { return real_->MarkSweepRunning(id); }
  Status PutTrials(std::string_view id, std::span<const TrialRecord> t) override {
    return real_->PutTrials(id, t);
  }
  Status CompleteSweep(std::string_view id, std::string_view s) override {
    return real_->CompleteSweep(id, s);
  }
  Status FailSweep(std::string_view id, const RunError& e) override {
    return real_->FailSweep(id, e);
  }
  Result<SweepInfo> GetSweep(std::string_view id) override { return real_->GetSweep(id); }
  Result<std::vector<SweepInfo>> ListSweeps(size_t l, size_t o) override {
    return real_->ListSweeps(l, o);
  }
  Result<StatusCounts> CountSweeps() override { return real_->CountSweeps(); }
  Result<TrialPage> ListTrials(std::string_view id, const TrialQuery& q) override {
    return real_->ListTrials(id, q);
  }
  Result<std::vector<TrialRecord>> LoadTrials(std::string_view id, size_t phase,
                                              bool r) override {
    return real_->LoadTrials(id, phase, r);
  }
  Result<TrialRecord> GetTrial(std::string_view id, size_t phase, size_t k) override {
    return real_->GetTrial(id, phase, k);
  }
  Status DeleteSweep(std::string_view id) override { return real_->DeleteSweep(id); }

  Result<SavedScript> SaveScript(std::string_view n, std::string_view s,
                                 std::string_view p) override {
    return real_->SaveScript(n, s, p);
  }
  Result<ScriptVersion> GetScript(std::string_view n, std::optional<int64_t> v) override {
    return real_->GetScript(n, v);
  }
  Result<std::vector<ScriptVersion>> ListScriptVersions(std::string_view n) override {
    return real_->ListScriptVersions(n);
  }
  Result<std::vector<ScriptVersion>> ListScripts() override { return real_->ListScripts(); }
  Result<std::string> GetScriptSource(std::string_view sha) override {
    return real_->GetScriptSource(sha);
  }

 protected:
  Store& real() { return *real_; }

 private:
  std::unique_ptr<Store> real_;
};

}  // namespace tapedeck::store::testing
