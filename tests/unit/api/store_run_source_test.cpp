// StoreRunSource's pending runs: answered from memory until the Runner says the run ended (or a
// recheck is due), so that streams waiting for a run do not ask the store every 100 ms.
#include "api/store_run_source.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "../playback/fake_clock.h"
#include "api/runner.h"
#include "market/market.h"
#include "store/store.h"

namespace tapedeck::api {
namespace {

using namespace std::chrono_literals;

store::RunError Boom() {
  store::RunError e;
  e.msg = "boom";
  return e;
}

class StoreRunSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "tapedeck-run-source-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto opened = store::OpenSqliteStore(dir_ + "/t.db");
    ASSERT_TRUE(opened.ok()) << opened.error().ToString();
    store_ = std::move(*opened);
    market::GenOptions gen;
    gen.bars = 2000;
    ASSERT_TRUE(store_->PutDataset("syn", market::Generate(gen)).ok());
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A run created in the store, queued, and not handed to any runner.
  std::string Create() {
    store::RunSpec spec;
    spec.dataset = "syn";
    spec.symbols = {"SYN"};
    spec.strategy = "sma_cross";
    auto id = store_->CreateRun(spec);
    EXPECT_TRUE(id.ok());
    return id.ok() ? *id : std::string();
  }

  static bool Pending(StoreRunSource& source, const std::string& id) {
    auto tape = source.Open(id);
    EXPECT_TRUE(tape.ok()) << tape.error().ToString();
    return tape.ok() && *tape == nullptr;
  }

  std::string dir_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(StoreRunSourceTest, APendingRunIsAnsweredFromMemoryUntilTheRunnerSaysItEnded) {
  StoreRunSource source(*store_, 8, /*recheck=*/60s);
  const std::string id = Create();
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(Pending(source, id));
  EXPECT_EQ(source.pending_reads(), 1u);  // the first Open only

  Runner runner(*store_, 1);
  runner.OnFinished([&source](const std::string& done) { source.Finished(done); });
  ASSERT_TRUE(runner.Enqueue(id, "client", 16, 256).ok());
  std::shared_ptr<const playback::Tape> tape;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (tape == nullptr && std::chrono::steady_clock::now() < deadline) {
    auto opened = source.Open(id);
    ASSERT_TRUE(opened.ok()) << opened.error().ToString();
    tape = *opened;
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_NE(tape, nullptr) << "the run never became playable";
  // However often streams asked while it ran, the store was asked about it once while pending.
  EXPECT_EQ(source.pending_reads(), 1u);
}

TEST_F(StoreRunSourceTest, APendingRunIsAskedAboutAgainOnceTheRecheckIsDue) {
  StoreRunSource source(*store_, 8, /*recheck=*/50ms);
  const std::string id = Create();
  ASSERT_TRUE(Pending(source, id));
  ASSERT_TRUE(Pending(source, id));
  EXPECT_EQ(source.pending_reads(), 1u);
  std::this_thread::sleep_for(80ms);
  ASSERT_TRUE(Pending(source, id));
  EXPECT_EQ(source.pending_reads(), 2u);
}

TEST_F(StoreRunSourceTest, AMissedNotificationIsCaughtByTheRecheck) {
  // The run fails with no Finished call (a notification lost with a connection).
  StoreRunSource source(*store_, 8, /*recheck=*/50ms);
  const std::string id = Create();
  ASSERT_TRUE(Pending(source, id));
  ASSERT_TRUE(store_->FailRun(id, Boom()).ok());
  ASSERT_TRUE(Pending(source, id));  // still from memory
  std::this_thread::sleep_for(80ms);
  auto tape = source.Open(id);
  ASSERT_FALSE(tape.ok());
  EXPECT_EQ(tape.error().code, ErrorCode::kRunFailed);
}

TEST_F(StoreRunSourceTest, FinishedOfOneRunAsksAboutThatRunAgain) {
  StoreRunSource source(*store_, 8, /*recheck=*/60s);
  const std::string failed = Create();
  const std::string other = Create();
  ASSERT_TRUE(Pending(source, failed));
  ASSERT_TRUE(Pending(source, other));
  ASSERT_TRUE(store_->FailRun(failed, Boom()).ok());
  ASSERT_TRUE(Pending(source, failed));
  source.Finished(failed);
  auto tape = source.Open(failed);
  ASSERT_FALSE(tape.ok());
  EXPECT_EQ(tape.error().code, ErrorCode::kRunFailed);
  EXPECT_EQ(tape.error().details.at("error"), "boom");
  ASSERT_TRUE(Pending(source, other));
  EXPECT_EQ(source.pending_reads(), 2u);  // `other` still from memory
}

TEST_F(StoreRunSourceTest, AnEmptyFinishedAsksAboutEveryPendingRunAgain) {
  // What the Runner passes on when its listener reconnected: anything may have been missed.
  StoreRunSource source(*store_, 8, /*recheck=*/60s);
  const std::string a = Create();
  const std::string b = Create();
  ASSERT_TRUE(Pending(source, a));
  ASSERT_TRUE(Pending(source, b));
  ASSERT_TRUE(Pending(source, a));
  EXPECT_EQ(source.pending_reads(), 2u);
  source.Finished("");
  ASSERT_TRUE(Pending(source, a));
  ASSERT_TRUE(Pending(source, b));
  EXPECT_EQ(source.pending_reads(), 4u);
}

TEST_F(StoreRunSourceTest, ViewersArrivingTogetherShareOneLoadOfTheTape) {
  const std::string id = Create();
  {
    Runner runner(*store_, 1);
    ASSERT_TRUE(runner.Enqueue(id, "client", 16, 256).ok());
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (store_->GetRun(id)->status != store::RunStatus::kDone &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
    }
  }
  StoreRunSource source(*store_);
  constexpr int kViewers = 8;
  std::vector<std::shared_ptr<const playback::Tape>> tapes(kViewers);
  std::vector<std::thread> viewers;
  for (int i = 0; i < kViewers; ++i) {
    viewers.emplace_back([&, i] {
      auto tape = source.Open(id);
      if (tape.ok()) tapes[i] = *tape;
    });
  }
  for (auto& t : viewers) t.join();
  ASSERT_NE(tapes[0], nullptr);
  // Had each loaded its own, they would hold different tapes of the same run.
  for (const auto& tape : tapes) EXPECT_EQ(tape, tapes[0]);
}

TEST_F(StoreRunSourceTest, AForgottenPendingRunIsLookedUpAgain) {
  StoreRunSource source(*store_, 8, /*recheck=*/60s);
  const std::string id = Create();
  ASSERT_TRUE(Pending(source, id));
  ASSERT_TRUE(store_->DeleteRun(id).ok());
  source.Forget(id);  // as DELETE /backtests/{id} does
  auto tape = source.Open(id);
  ASSERT_FALSE(tape.ok());
  EXPECT_EQ(tape.error().code, ErrorCode::kRunNotFound);
}

// A done run of sma_cross over the 2,000 bars of "syn".
std::string DoneRun(store::Store& store, const std::string& id) {
  Runner runner(store, 1);
  EXPECT_TRUE(runner.Enqueue(id, "client", 16, 256).ok());
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (store.GetRun(id)->status != store::RunStatus::kDone &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  return id;
}

TEST_F(StoreRunSourceTest, ALongRunOpensOnItsFirstBarsAndTheRestFollows) {
  const std::string id = DoneRun(*store_, Create());
  StoreRunSource source(*store_, 8, StoreRunSource::kPendingRecheck, /*head_bars=*/300);
  auto opened = source.Open(id);
  ASSERT_TRUE(opened.ok()) << opened.error().ToString();
  std::shared_ptr<const playback::Tape> tape = *opened;
  EXPECT_EQ(tape->total_bars(), 2000u);
  EXPECT_GE(tape->bar_count(), 300u);  // 300, or all of them if the rest came already
  // Its first frame, at once, whatever the rest is doing.
  playback::SessionOptions options;
  auto session = playback::Session::Create(tape, options, playback::SteadyClock::Instance());
  ASSERT_TRUE(session.ok());
  auto first = session->Poll();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->kind, playback::Outgoing::Kind::kFrame);
  ASSERT_TRUE(tape->WaitComplete().ok());
  EXPECT_TRUE(tape->complete());
  // The same run as a whole read gives, and kept for the next viewer.
  auto whole = store_->LoadRunResult(id);
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(tape->run().times, whole->times);
  EXPECT_EQ(tape->run().events.size(), whole->events.size());
  EXPECT_EQ(tape->series()[0].size(), 2000u);
  auto again = source.Open(id);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, tape);
}

TEST_F(StoreRunSourceTest, AStoreErrorWhileTheRestLoadsFailsTheTapeAndIsNotKept) {
  const std::string id = DoneRun(*store_, Create());
  // Damage the dataset's file past the first bars (its last volume): the head reads fine, the
  // whole read checks the checksum. Reopened, so the store has not checked the file yet.
  store_.reset();
  std::string file;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_)) {
    if (entry.is_regular_file() && entry.path().string().ends_with(".bars")) {
      file = entry.path().string();
    }
  }
  ASSERT_FALSE(file.empty());
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(-8, std::ios::end);
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x5a);
    f.seekp(-8, std::ios::end);
    f.write(&c, 1);
  }
  auto reopened = store::OpenSqliteStore(dir_ + "/t.db");
  ASSERT_TRUE(reopened.ok()) << reopened.error().ToString();
  store_ = std::move(*reopened);
  StoreRunSource source(*store_, 8, StoreRunSource::kPendingRecheck, /*head_bars=*/300);
  auto opened = source.Open(id);
  ASSERT_TRUE(opened.ok()) << opened.error().ToString();
  std::shared_ptr<const playback::Tape> tape = *opened;
  const Status rest = tape->WaitComplete();
  ASSERT_FALSE(rest.ok());
  EXPECT_EQ(rest.error().code, ErrorCode::kIo);
  EXPECT_NE(rest.error().msg.find("cannot be read"), std::string::npos) << rest.error().msg;
  // A session on it sends the error and closes, rather than waiting for ever.
  playback::FakeClock clock;
  auto session = playback::Session::Create(tape, {}, clock);
  ASSERT_TRUE(session.ok());
  bool closed = false;
  for (int i = 0; i < 100 && !closed; ++i) {
    if (auto m = session->Poll()) {
      session->OnWriteDone();
      if (m->kind == playback::Outgoing::Kind::kError) closed = m->close_after;
      continue;
    }
    clock.Set(session->NextDeadline());
  }
  EXPECT_TRUE(closed);
  // Not kept: the next Open reads the run again.
  auto next = source.Open(id);
  ASSERT_TRUE(next.ok());
  EXPECT_NE(*next, tape);
  EXPECT_FALSE((*next)->WaitComplete().ok());
}

}  // namespace
}  // namespace tapedeck::api
