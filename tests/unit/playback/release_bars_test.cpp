// A tape releases its series' file-mapped pages every TapeOptions::release_bars_every bars read to
// build frames: the bars of windows already played leave the resident set, and every frame is the
// same bytes as a tape that keeps them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "../market/resident_kb.h"
#include "fake_clock.h"
#include "playback/playback.h"
#include "tape_fixture.h"

namespace tapedeck::playback {
namespace {

using namespace testing;  // NOLINT

// Every frame a session at the default speed sends from the first window to the last.
std::vector<std::string> PlayAll(std::shared_ptr<const Tape> tape) {
  FakeClock clock;
  Session session = *Session::Create(std::move(tape), SessionOptions{}, clock);
  std::vector<std::string> frames;
  while (frames.size() < 10'000) {
    if (auto m = session.Poll()) {
      frames.push_back(m->Text());
      session.OnWriteDone();
      continue;
    }
    if (session.state() == Session::State::kEnded) break;
    clock.Set(session.NextDeadline());
  }
  return frames;
}

using testing_util::ResidentKb;

class ReleaseBarsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (std::filesystem::path(::testing::TempDir()) /
             ("release_bars_test_" + std::to_string(::getpid()) + ".tds"))
                .string();
  }
  void TearDown() override { std::filesystem::remove(path_); }
  std::string path_;
};

TEST_F(ReleaseBarsTest, PlayedBarsLeaveTheResidentSetAndFramesStayTheSame) {
  constexpr int64_t kBars = 60'000;  // 206 windows of 292 bars; 2.9 MB of columns
  std::vector<market::Series> owned;
  auto run = MakeRun(TapeSpec{{Range(kBars)}}, &owned);
  ASSERT_TRUE(market::WriteSeriesFile(owned[0], path_).ok());
  Result<market::Series> mapped = market::ReadSeriesFile(path_);
  ASSERT_TRUE(mapped.ok());

  auto kept = Tape::Create(run, owned, TapeOptions{.release_bars_every = 0});
  ASSERT_TRUE(kept.ok());
  auto released = Tape::Create(run, {*mapped}, TapeOptions{.release_bars_every = 4'096});
  ASSERT_TRUE(released.ok());
  auto mapped_kept = Tape::Create(run, {*mapped}, TapeOptions{.release_bars_every = 0});
  ASSERT_TRUE(mapped_kept.ok());

  const std::vector<std::string> expected = PlayAll(*kept);
  ASSERT_GT(expected.size(), 200u);
  EXPECT_EQ(PlayAll(*released), expected);
  EXPECT_EQ((*kept)->cache_stats().releases, 0u);
  // 60,000 bars read once, in windows of 292: one release per 4,096 to 4,096 + 291 bars.
  EXPECT_GE((*released)->cache_stats().releases, static_cast<size_t>(kBars / (4'096 + 292)));
  EXPECT_LE((*released)->cache_stats().releases, static_cast<size_t>(kBars / 4'096));
  // Left: at most the bars since the last release (4,096 × 40 bytes of OHLCV) and the kernel's
  // fault-around, far below the 2.3 MB of OHLCV played.
  const long after_release = ResidentKb(mapped->close().data());
  ASSERT_GE(after_release, 0);
  EXPECT_LT(after_release, 1'200);

  // Every frame again, from the cache and from the same mapping read back; then a tape that
  // keeps its pages, on the same mapping, holds every bar it played.
  EXPECT_EQ(PlayAll(*released), expected);
  EXPECT_EQ(PlayAll(*mapped_kept), expected);
  EXPECT_EQ((*mapped_kept)->cache_stats().releases, 0u);
  EXPECT_GT(ResidentKb(mapped->close().data()), 2'000);
  for (size_t i = 0; i < owned[0].size(); i += 997) {
    EXPECT_EQ(mapped->close()[i], owned[0].close()[i]);
    EXPECT_EQ(mapped->volume()[i], owned[0].volume()[i]);
  }
}

}  // namespace
}  // namespace tapedeck::playback
