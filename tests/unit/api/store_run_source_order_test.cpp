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

#include "../store/forwarding_store.h"
#include "api/runner.h"
#include "api/store_run_source.h"
#include "market/market.h"
#include "store/store.h"

namespace tapedeck::api {
namespace {

using namespace std::chrono_literals;

// A SQLite store whose GetRunAndHead of one run (`hold`) waits until released, and which counts
// its result reads and their pieces.
class GateStore final : public store::testing::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;

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
    return real().GetRunAndHead(id, max_bars);
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
    auto r = real().LoadRunResult(id);
    --reads_at_once;
    return r;
  }

 private:
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
