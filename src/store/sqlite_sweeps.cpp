// Sweeps and their trial records in SQLite (schema v7). Placeholder until implemented: every
// call answers UNAVAILABLE.
#include "store/sqlite_store.h"

namespace tapedeck::store::internal {
namespace {
Error NotYet() { return MakeError(ErrorCode::kUnavailable, "sweeps are not stored yet"); }
}  // namespace

Result<std::string> SqliteStore::CreateSweep(const SweepSpec&) { return NotYet(); }
Status SqliteStore::MarkSweepRunning(std::string_view) { return NotYet(); }
Status SqliteStore::PutTrials(std::string_view, std::span<const TrialRecord>) { return NotYet(); }
Status SqliteStore::CompleteSweep(std::string_view, std::string_view) { return NotYet(); }
Status SqliteStore::FailSweep(std::string_view, const RunError&) { return NotYet(); }
Result<SweepInfo> SqliteStore::GetSweep(std::string_view) { return NotYet(); }
Result<std::vector<SweepInfo>> SqliteStore::ListSweeps(size_t, size_t) { return NotYet(); }
Result<TrialPage> SqliteStore::ListTrials(std::string_view, const TrialQuery&) { return NotYet(); }
Result<std::vector<TrialRecord>> SqliteStore::LoadTrials(std::string_view, size_t, bool) {
  return NotYet();
}
Result<TrialRecord> SqliteStore::GetTrial(std::string_view, size_t, size_t) { return NotYet(); }
Status SqliteStore::DeleteSweep(std::string_view) { return NotYet(); }

}  // namespace tapedeck::store::internal
