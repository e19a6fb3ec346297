// A one-symbol run's tape from the store is lean (playback::TapeLean): it reads its times from the
// dataset's mapping and computes its built-in's plots per window from checkpoints, holding neither.
// Every frame it sends is the same bytes as a tape of the same run that holds its times and every
// plotted value (engine::Run recording them the old way, the bars owned): every built-in, a whole
// dataset and a period of it, two speeds, a tape whose head comes first, and with its mapping's
// pages released as it plays.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "../playback/fake_clock.h"
#include "api/json.h"
#include "api/runner.h"
#include "api/store_run_source.h"
#include "wait_finished.h"
#include "market/market.h"
#include "playback/playback.h"
#include "store/store.h"
#include "strategies/strategies.h"

namespace tapedeck::api {
namespace {

using namespace std::chrono_literals;

// Every frame a session at `speed` sends from the first window to the last.
std::vector<std::string> PlayAll(std::shared_ptr<const playback::Tape> tape, double speed) {
  playback::FakeClock clock;
  playback::SessionOptions options;
  options.speed = *playback::Speed::FromDouble(speed);
  playback::Session session = *playback::Session::Create(std::move(tape), options, clock);
  std::vector<std::string> frames;
  while (frames.size() < 10'000) {
    if (auto m = session.Poll()) {
      frames.push_back(m->Text());
      session.OnWriteDone();
      continue;
    }
    if (session.state() == playback::Session::State::kEnded) break;
    clock.Set(session.NextDeadline());
  }
  return frames;
}

class LeanTapeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tapedeck-lean-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto opened = store::OpenSqliteStore(dir_ + "/t.db");
    ASSERT_TRUE(opened.ok()) << opened.error().ToString();
    store_ = std::move(*opened);
    market::GenOptions gen;
    gen.bars = 30'000;
    gen.seed = 21;
    a_ = market::Generate(gen);
    ASSERT_TRUE(store_->PutDataset("a", a_).ok());
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string Done(const store::RunSpec& spec) { return RunDone(*store_, spec); }

  std::string dir_;
  std::unique_ptr<store::Store> store_;
  market::Series a_;
};

const std::pair<const char*, const char*> kCases[] = {
    {"sma_cross", "{}"},
    {"sma_cross", R"({"fast":7,"slow":5000})"},
    {"ema_cross", "{}"},
    {"rsi_reversion", R"({"period":5})"},
    {"bollinger_breakout", R"({"period":30,"k":0.3})"},
    {"donchian_breakout", "{}"},
    {"macd", "{}"},
    {"buy_and_hold", "{}"},
};

TEST_F(LeanTapeTest, EveryFrameIsTheSameBytesAsATapeThatHoldsItsTimesAndPlots) {
  const Timestamp from = a_.times()[777], to = a_.times()[25'432];
  for (const auto& [strategy, params] : kCases) {
    for (int shape = 0; shape < 2; ++shape) {
      SCOPED_TRACE(std::string(strategy) + " " + params + " shape " + std::to_string(shape));
      store::RunSpec spec;
      spec.dataset = "a";
      spec.datasets = {"a"};
      spec.symbols = {"SYN"};
      std::vector<market::Series> inputs = {a_};
      if (shape == 1) {  // a period of the dataset
        spec.from = from;
        spec.to = to;
        inputs = {a_.Slice(from, to)};
      }
      spec.strategy = strategy;
      spec.params_json = params;
      const std::string id = Done(spec);
      ASSERT_FALSE(id.empty());

      // The run recorded the old way: times and every plotted value held.
      auto parsed = ParseParams(params);
      ASSERT_TRUE(parsed.ok());
      auto s = strategies::Make(strategy, *parsed);
      ASSERT_TRUE(s.ok());
      auto want = engine::Run(inputs, **s, spec.config);
      ASSERT_TRUE(want.ok());
      auto held = playback::Tape::Create(std::make_shared<const engine::RunResult>(*want), inputs,
                                         playback::TapeOptions{.release_bars_every = 0});
      ASSERT_TRUE(held.ok()) << held.error().ToString();

      StoreRunSource source(*store_, 8, StoreRunSource::kPendingRecheck, /*head_bars=*/700);
      auto tape = source.Open(id);
      ASSERT_TRUE(tape.ok()) << tape.error().ToString();
      ASSERT_TRUE((*tape)->WaitComplete().ok());
      // Lean: its times are its series' own (the dataset's mapping), not a copy.
      EXPECT_EQ((*tape)->times().data(), (*tape)->series()[0].times().data());
      ASSERT_EQ((*tape)->bar_count(), want->times.size());

      for (double speed : {1.0, 60.0}) {
        SCOPED_TRACE("speed " + std::to_string(speed));
        const std::vector<std::string> expected = PlayAll(*held, speed);
        ASSERT_GT(expected.size(), 1u);
        EXPECT_EQ(PlayAll(*tape, speed), expected);
      }
    }
  }
}

// The same at the Tape's level: a lean head (its first bars, its times from the head's series, its
// plots from checkpoints over them) completed by a lean whole run, its mapping's pages released
// every 4,096 bars read; the frames of the head before Complete and of the whole after are those
// of the tape that holds everything.
TEST_F(LeanTapeTest, ALeanHeadAndItsWholeRunSendTheFramesOfAHeldTape) {
  auto parsed = ParseParams(R"({"fast":7,"slow":211})");
  ASSERT_TRUE(parsed.ok());
  auto plotted = strategies::Make("sma_cross", *parsed);
  ASSERT_TRUE(plotted.ok());
  auto want = engine::Run(std::span(&a_, 1), **plotted, engine::RunConfig{});
  ASSERT_TRUE(want.ok());
  engine::RunConfig derive;
  derive.derive_plots = true;
  auto derived_strategy = strategies::Make("sma_cross", *parsed);
  auto derived = engine::Run(std::span(&a_, 1), **derived_strategy, derive);
  ASSERT_TRUE(derived.ok());
  auto mapped = store_->LoadBars("a");  // the dataset's file mapping
  ASSERT_TRUE(mapped.ok());

  const size_t bars = want->times.size(), head_bars = 5'000;
  auto lean_of = [&](engine::RunResult& r, const market::Series& series) {
    playback::TapeLean lean;
    auto plots = strategies::DerivePlotValues(r, r.equity.size(), series);
    EXPECT_TRUE(plots.ok());
    lean.plots = *plots;
    r.times.clear();
    lean.times_from_series = true;
    return lean;
  };
  engine::RunResult head = *derived;
  head.times.resize(head_bars);
  head.equity.resize(head_bars);
  head.events.clear();
  for (const auto& ev : derived->events) {
    if (ev.bar < head_bars) head.events.push_back(ev);
  }
  const market::Series head_series =
      mapped->Slice(a_.times().front(), a_.times()[head_bars - 1] + std::chrono::microseconds(1));
  const Timestamp last = a_.times()[bars - 1];
  playback::TapeLean head_lean = lean_of(head, head_series);
  auto partial = playback::Tape::CreatePartial(
      std::make_shared<const engine::RunResult>(head), {head_series}, bars, last,
      playback::TapeOptions{.release_bars_every = 4'096}, head_lean);
  ASSERT_TRUE(partial.ok()) << partial.error().ToString();

  engine::RunResult want_head = *want;
  want_head.times.resize(head_bars);
  want_head.equity.resize(head_bars);
  want_head.events = head.events;
  for (auto& p : want_head.plots) p.values.resize(head_bars);
  auto held_partial = playback::Tape::CreatePartial(
      std::make_shared<const engine::RunResult>(want_head),
      {a_.Slice(a_.times().front(), a_.times()[head_bars - 1] + std::chrono::microseconds(1))},
      bars, last, playback::TapeOptions{.release_bars_every = 0});
  ASSERT_TRUE(held_partial.ok());
  // The head's windows, frame by frame (a window whose bars are not all here yet is not built).
  {
    playback::Timeline lean_tl =
        playback::Timeline::Create(*partial, *playback::Speed::FromDouble(1.0));
    playback::Timeline held_tl =
        playback::Timeline::Create(*held_partial, *playback::Speed::FromDouble(1.0));
    size_t built = 0;
    for (size_t k = 0; lean_tl.Known(k); ++k, ++built) {
      EXPECT_EQ(*lean_tl.FrameHead(k), *held_tl.FrameHead(k)) << "window " << k;
    }
    EXPECT_GT(built, 10u);
  }

  engine::RunResult whole = *derived;
  playback::TapeLean whole_lean = lean_of(whole, *mapped);
  ASSERT_TRUE(
      (*partial)
          ->Complete(std::make_shared<const engine::RunResult>(whole), {*mapped}, whole_lean)
          .ok());
  auto held = playback::Tape::Create(std::make_shared<const engine::RunResult>(*want), {a_},
                                     playback::TapeOptions{.release_bars_every = 0});
  ASSERT_TRUE(held.ok());
  for (double speed : {1.0, 7.0}) {
    EXPECT_EQ(PlayAll(*partial, speed), PlayAll(*held, speed));
  }
  EXPECT_GT((*partial)->cache_stats().releases, 0u);
  // run() is the whole run, times and values (made once, on demand).
  EXPECT_EQ((*partial)->run().times, want->times);
  ASSERT_EQ((*partial)->run().plots.size(), want->plots.size());
  for (size_t p = 0; p < want->plots.size(); ++p) {
    EXPECT_EQ(std::memcmp((*partial)->run().plots[p].values.data(), want->plots[p].values.data(),
                          bars * sizeof(double)),
              0);
  }
}

}  // namespace
}  // namespace tapedeck::api
