// kill -9 at random moments while a child process imports datasets and completes runs; after
// each kill the store must open, and every dataset be wholly there or absent, every run done with
// its whole result or (after RecoverOnStart) failed as interrupted.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "market/market.h"
#include "store/store.h"
#include "store_test_util.h"

namespace tapedeck::store {
namespace {

using testing::MakeResult;
using testing::TempDir;

// The child: writes forever until killed, writing a byte to `progress_fd` after each completed run.
// Never returns.
[[noreturn]] void Writer(const std::string& db, uint64_t seed, int progress_fd) {
  Result<std::unique_ptr<Store>> opened = OpenSqliteStore(db);
  if (!opened.ok()) _exit(2);
  Store& store = **opened;
  std::mt19937_64 rng(seed);
  for (int i = 0;; ++i) {
    // A run is open across the dataset import (its file's fsync is the slow part), so kills
    // land both amid runs and amid imports.
    Result<std::string> id = store.CreateRun(RunSpec{});
    if (!id.ok()) continue;
    (void)store.MarkRunning(*id);
    market::GenOptions g;
    g.bars = 20'000 + rng() % 20'000;
    g.seed = rng();
    (void)store.PutDataset("d" + std::to_string(seed) + "-" + std::to_string(i),
                           market::Generate(g));
    (void)store.UpdateProgress(*id, 0.5);
    if (store.CompleteRun(*id, MakeResult(30'000 + rng() % 30'000, 200)).ok()) {
      (void)!::write(progress_fd, "x", 1);
    }
    if (i % 3 == 2) {
      Result<std::vector<DatasetInfo>> all = store.ListDatasets();
      if (all.ok() && !all->empty()) (void)store.DeleteDataset(all->front().name);
    }
  }
}

TEST(CrashTest, KillNineLeavesNothingHalfWritten) {
  TempDir dir;
  const std::string db = dir.File("t.db");
  std::mt19937 rng(12345);
  constexpr int kKills = 12;
  size_t done = 0, interrupted = 0, datasets_seen = 0;
  for (int k = 0; k < kKills; ++k) {
    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(pipe_fds[0]);
      Writer(db, static_cast<uint64_t>(k) + 1, pipe_fds[1]);
    }
    ::close(pipe_fds[1]);
    // Kill at a random moment after the first completed run (so the test holds on slow builds
    // too, sanitizers included), mid-way through whatever comes next.
    pollfd p{pipe_fds[0], POLLIN, 0};
    EXPECT_EQ(::poll(&p, 1, 120'000), 1) << "the writer made no progress";
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 300));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    ::close(pipe_fds[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the writer exited by itself: " << status;

    SCOPED_TRACE("after kill " + std::to_string(k));
    Result<std::unique_ptr<Store>> opened = OpenSqliteStore(db);
    ASSERT_TRUE(opened.ok()) << opened.error().ToString();
    Store& store = **opened;
    ASSERT_TRUE(store.RecoverOnStart().ok());

    Result<std::vector<DatasetInfo>> datasets = store.ListDatasets();
    ASSERT_TRUE(datasets.ok());
    for (const DatasetInfo& d : *datasets) {
      Result<market::Series> bars = store.LoadBars(d.name);
      ASSERT_TRUE(bars.ok()) << bars.error().ToString();
      EXPECT_EQ(bars->size(), d.bars);
      EXPECT_EQ(bars->times().back(), d.to);
    }
    // Every series file is named by a row: no orphans survive the open.
    size_t files = 0;
    for (const auto& e : std::filesystem::directory_iterator(db + ".data")) {
      EXPECT_TRUE(e.path().filename().string().starts_with("ds-")) << e.path();
      ++files;
    }
    EXPECT_EQ(files, datasets->size());
    datasets_seen = datasets->size();

    Result<std::vector<RunInfo>> runs = store.ListRuns();
    ASSERT_TRUE(runs.ok());
    for (const RunInfo& r : *runs) {
      if (r.status == RunStatus::kDone) {
        Result<engine::RunResult> result = store.LoadRunResult(r.id);
        ASSERT_TRUE(result.ok()) << result.error().ToString();
        ASSERT_TRUE(r.stats);
        EXPECT_EQ(result->times.size(), r.stats->bars);
        EXPECT_EQ(result->equity.size(), r.stats->bars);
        EXPECT_EQ(result->events.size(), 400u);
        ++done;
      } else {
        ++interrupted;
        EXPECT_EQ(r.status, RunStatus::kFailed);
        EXPECT_EQ(r.error.msg, "interrupted");
        EXPECT_EQ(r.error.cause, "interrupted");
      }
    }
  }
  // The kills must have landed amid real work for the checks above to mean anything.
  EXPECT_GT(done, 0u);
  EXPECT_GT(interrupted, 0u);
  EXPECT_GT(datasets_seen, 0u);
  std::printf("done %zu, interrupted %zu (summed over reopens), datasets at the end %zu\n", done,
              interrupted, datasets_seen);
}

}  // namespace
}  // namespace tapedeck::store
