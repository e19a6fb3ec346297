// Internal to the api tests: waiting for a run to end, and a run made and run to its end.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "api/runner.h"
#include "store/store.h"

namespace tapedeck::api {

// Polls `store` until run `id` is done or failed, or 30 s have passed; returns what it read last
// (an empty RunInfo, and a test failure, when the run cannot be read).
inline store::RunInfo WaitFinished(store::Store& store, const std::string& id) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    auto run = store.GetRun(id);
    EXPECT_TRUE(run.ok());
    if (!run.ok() || run->status == store::RunStatus::kDone ||
        run->status == store::RunStatus::kFailed || std::chrono::steady_clock::now() > deadline) {
      return run.ok() ? *run : store::RunInfo{};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// Makes a run of `spec` in `store` and runs it with a Runner of one worker, as POST /backtests
// does; waits for it to end, and fails the test unless it is done. Returns its id ("" when it
// cannot be made).
inline std::string RunDone(store::Store& store, const store::RunSpec& spec) {
  auto id = store.CreateRun(spec);
  EXPECT_TRUE(id.ok()) << id.error().ToString();
  if (!id.ok()) return "";
  Runner runner(store, 1);
  EXPECT_TRUE(runner.Enqueue(*id, "client", 16, 256).ok());
  const store::RunInfo run = WaitFinished(store, *id);
  EXPECT_EQ(run.status, store::RunStatus::kDone) << run.error.msg;
  return *id;
}

}  // namespace tapedeck::api
