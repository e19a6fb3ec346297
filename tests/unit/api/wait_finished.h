// Internal to the api tests: waiting for a run to end.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

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

}  // namespace tapedeck::api
