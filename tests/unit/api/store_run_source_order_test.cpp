// StoreRunSource's reads of tapes' rest go behind first reads: a loader does not start reading
// (nor read its next piece) while an Open reads the store, so that a first frame does not wait
// behind another run's rest; and they go one at a time.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "api/runner.h"
#include "api/store_run_source.h"
#include "market/market.h"
#include "store/store.h"

namespace tapedeck::api {
namespace {

using namespace std::chrono_literals;

// A SQLite store whose GetRunAndHead of one run (`hold`) waits until released, and which counts
// its result reads and their pieces.
class GateStore final : public store::Store {
 public:
  explicit GateStore(std::unique_ptr<store::Store> real) : real_(std::move(real)) {}

  std::string hold;
  std::atomic<bool> holding{false};
  std::atomic<int> result_reads{0}, reads_at_once{0}, most_at_once{0};

  void Release() {
    {
      std::lock_guard lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
  }

  Result<store::RunAndHead> GetRunAndHead(std::string_view id, size_t max_bars) override {
    if (id == hold) {
      holding = true;
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return released_; });
      holding = false;
    }
    return real_->GetRunAndHead(id, max_bars);
  }
  Result<engine::RunResult> LoadRunResultInPieces(
      std::string_view id, const std::function<void()>& between) override {
    ++result_reads;
    const int now = ++reads_at_once;
    int most = most_at_once;
    while (now > most && !most_at_once.compare_exchange_weak(most, now)) {
    }
    between();
    std::this_thread::sleep_for(20ms);  // a big read
    auto r = real_->LoadRunResult(id);
    --reads_at_once;
    return r;
  }

  Result<store::DatasetInfo> PutDataset(std::string_view n, const market::Series& b) override {
    return real_->PutDataset(n, b);
  }
  Result<store::DatasetInfo> GetDataset(std::string_view n) override {
    return real_->GetDataset(n);
  }
  Result<std::vector<store::DatasetInfo>> ListDatasets() override { return real_->ListDatasets(); }
  Result<market::Series> LoadBars(std::string_view n) override { return real_->LoadBars(n); }
  Result<market::Series> LoadBarsBetween(std::string_view n, Timestamp f, Timestamp t) override {
    return real_->LoadBarsBetween(n, f, t);
  }
  Status DeleteDataset(std::string_view n) override { return real_->DeleteDataset(n); }
  Result<std::string> CreateRun(const store::RunSpec& s) override { return real_->CreateRun(s); }
  Status MarkRunning(std::string_view id) override { return real_->MarkRunning(id); }
  Status UpdateProgress(std::string_view id, double p) override {
    return real_->UpdateProgress(id, p);
  }
  Status CompleteRun(std::string_view id, const engine::RunResult& r) override {
    return real_->CompleteRun(id, r);
  }
  Status FailRun(std::string_view id, const store::RunError& e) override {
    return real_->FailRun(id, e);
  }
  Result<store::RunInfo> GetRun(std::string_view id) override { return real_->GetRun(id); }
  Result<std::vector<store::RunInfo>> ListRuns(size_t l, size_t o) override {
    return real_->ListRuns(l, o);
  }
  Result<store::StatusCounts> CountRuns() override { return real_->CountRuns(); }
  Result<store::StatusCounts> CountSweeps() override { return real_->CountSweeps(); }
  Result<engine::RunResult> LoadRunResult(std::string_view id) override {
    return real_->LoadRunResult(id);
  }
  Result<store::RunHead> LoadRunHead(std::string_view id, size_t bars) override {
    return real_->LoadRunHead(id, bars);
  }
  Result<std::vector<engine::Trade>> LoadTrades(std::string_view id) override {
    return real_->LoadTrades(id);
  }
  Status DeleteRun(std::string_view id) override { return real_->DeleteRun(id); }
  Result<size_t> RecoverOnStart() override { return real_->RecoverOnStart(); }
  Result<std::string> CreateSweep(const store::SweepSpec& s) override {
    return real_->CreateSweep(s);
  }
  Status MarkSweepRunning(std::string_view id) override { return real_->MarkSweepRunning(id); }
  Status PutTrials(std::string_view id, std::span<const store::TrialRecord> t) override {
    return real_->PutTrials(id, t);
  }
  Status CompleteSweep(std::string_view id, std::string_view s) override {
    return real_->CompleteSweep(id, s);
  }
  Status FailSweep(std::string_view id, const store::RunError& e) override {
    return real_->FailSweep(id, e);
  }
  Result<store::SweepInfo> GetSweep(std::string_view id) override { return real_->GetSweep(id); }
  Result<std::vector<store::SweepInfo>> ListSweeps(size_t l, size_t o) override {
    return real_->ListSweeps(l, o);
  }
  Result<store::TrialPage> ListTrials(std::string_view id, const store::TrialQuery& q) override {
    return real_->ListTrials(id, q);
  }
  Result<std::vector<store::TrialRecord>> LoadTrials(std::string_view id, size_t phase,
                                                     bool r) override {
    return real_->LoadTrials(id, phase, r);
  }
  Result<store::TrialRecord> GetTrial(std::string_view id, size_t phase, size_t k) override {
    return real_->GetTrial(id, phase, k);
  }
  Status DeleteSweep(std::string_view id) override { return real_->DeleteSweep(id); }
  Result<store::SavedScript> SaveScript(std::string_view n, std::string_view s,
                                        std::string_view p) override {
    return real_->SaveScript(n, s, p);
  }
  Result<store::ScriptVersion> GetScript(std::string_view n, std::optional<int64_t> v) override {
    return real_->GetScript(n, v);
  }
  Result<std::vector<store::ScriptVersion>> ListScriptVersions(std::string_view n) override {
    return real_->ListScriptVersions(n);
  }
  Result<std::vector<store::ScriptVersion>> ListScripts() override { return real_->ListScripts(); }
  Result<std::string> GetScriptSource(std::string_view sha) override {
    return real_->GetScriptSource(sha);
  }

 private:
  std::unique_ptr<store::Store> real_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
};

class StoreRunSourceOrderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "tapedeck-run-order-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto opened = store::OpenSqliteStore(dir_ + "/t.db");
    ASSERT_TRUE(opened.ok()) << opened.error().ToString();
    store_ = std::make_unique<GateStore>(std::move(*opened));
    market::GenOptions gen;
    gen.bars = 2000;
    ASSERT_TRUE(store_->PutDataset("syn", market::Generate(gen)).ok());
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A done run of sma_cross over the 2,000 bars of "syn".
  std::string DoneRun() {
    store::RunSpec spec;
    spec.dataset = "syn";
    spec.symbols = {"SYN"};
    spec.strategy = "sma_cross";
    auto id = store_->CreateRun(spec);
    EXPECT_TRUE(id.ok());
    if (!id.ok()) return "";
    Runner runner(*store_, 1);
    EXPECT_TRUE(runner.Enqueue(*id, "client", 16, 256).ok());
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (store_->GetRun(*id)->status != store::RunStatus::kDone &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
    }
    return *id;
  }

  std::string dir_;
  std::unique_ptr<GateStore> store_;
};

TEST_F(StoreRunSourceOrderTest, TheRestOfATapeWaitsWhileAnotherRunsFirstBarsAreRead) {
  const std::string first = DoneRun();
  const std::string second = DoneRun();
  StoreRunSource source(*store_, 8, StoreRunSource::kPendingRecheck, /*head_bars=*/300);
  // An Open of `second` reading the store (held there), then `first` opened.
  store_->hold = second;
  std::thread other([&] { ASSERT_TRUE(source.Open(second).ok()); });
  while (!store_->holding) std::this_thread::sleep_for(1ms);
  auto tape = source.Open(first);
  ASSERT_TRUE(tape.ok()) << tape.error().ToString();
  EXPECT_FALSE((*tape)->complete());
  // Its rest waits for the other Open (up to StoreRunSource's 1 s).
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(store_->result_reads, 0);
  EXPECT_FALSE((*tape)->complete());
  store_->Release();
  other.join();
  ASSERT_TRUE((*tape)->WaitComplete().ok());
  auto second_tape = source.Open(second);
  ASSERT_TRUE(second_tape.ok());
  ASSERT_TRUE((*second_tape)->WaitComplete().ok());
  // Both rests read, one at a time.
  EXPECT_EQ(store_->result_reads, 2);
  EXPECT_EQ(store_->most_at_once, 1);
}

TEST_F(StoreRunSourceOrderTest, TheRestIsReadAllTheSameWhenFirstReadsNeverStop) {
  const std::string first = DoneRun();
  const std::string second = DoneRun();
  StoreRunSource source(*store_, 8, StoreRunSource::kPendingRecheck, /*head_bars=*/300);
  store_->hold = second;
  std::thread other([&] { ASSERT_TRUE(source.Open(second).ok()); });
  while (!store_->holding) std::this_thread::sleep_for(1ms);
  auto tape = source.Open(first);
  ASSERT_TRUE(tape.ok()) << tape.error().ToString();
  // The other Open is held for good: the rest comes once the loader has waited its most.
  const Status rest = (*tape)->WaitComplete();
  EXPECT_TRUE(rest.ok());
  EXPECT_TRUE(store_->holding);
  store_->Release();
  other.join();
}

}  // namespace
}  // namespace tapedeck::api
