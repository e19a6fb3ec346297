// A built-in's run made by the Runner stores its plotted series as derivations, and the tape
// StoreRunSource plays (its first bars, then the whole run) holds exactly the values the run would
// have plotted: every built-in, one symbol and two, a whole dataset and a period of it. The values
// are compared bit for bit with engine::Run recording them the old way over the same bars.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "api/json.h"
#include "api/runner.h"
#include "api/store_run_source.h"
#include "wait_finished.h"
#include "market/market.h"
#include "store/store.h"
#include "strategies/strategies.h"

namespace tapedeck::api {
namespace {

using namespace std::chrono_literals;

class DerivedPlotsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "tapedeck-derived-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto opened = store::OpenSqliteStore(dir_ + "/t.db");
    ASSERT_TRUE(opened.ok()) << opened.error().ToString();
    store_ = std::move(*opened);
    market::GenOptions gen;
    gen.bars = 6'000;
    gen.seed = 11;
    a_ = market::Generate(gen);
    gen.seed = 12;
    gen.symbol = "OTHER";
    gen.start = a_.times().front() + 30s;
    b_ = market::Generate(gen);
    ASSERT_TRUE(store_->PutDataset("a", a_).ok());
    ASSERT_TRUE(store_->PutDataset("b", b_).ok());
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A done run of `strategy` made by a Runner, as POST /backtests makes it.
  std::string Done(const store::RunSpec& spec) { return RunDone(*store_, spec); }

  std::string dir_;
  std::unique_ptr<store::Store> store_;
  market::Series a_, b_;
};

// `got` holds the first got.times.size() bars of `want`'s series, bit for bit.
void ExpectPlotsBegin(const engine::RunResult& got, const engine::RunResult& want) {
  ASSERT_EQ(got.plots.size(), want.plots.size());
  const size_t bars = got.times.size();
  for (size_t p = 0; p < want.plots.size(); ++p) {
    SCOPED_TRACE(want.plots[p].name);
    EXPECT_EQ(got.plots[p].name, want.plots[p].name);
    EXPECT_EQ(got.plots[p].pane, want.plots[p].pane);
    EXPECT_TRUE(got.plots[p].derivation.empty());
    ASSERT_EQ(got.plots[p].values.size(), bars);
    ASSERT_LE(bars, want.plots[p].values.size());
    EXPECT_EQ(
        std::memcmp(got.plots[p].values.data(), want.plots[p].values.data(), bars * sizeof(double)),
        0);
  }
}

TEST_F(DerivedPlotsTest, TheTapeOfAStoredBuiltinRunHoldsTheValuesItWouldHavePlotted) {
  const std::pair<const char*, const char*> cases[] = {
      {"sma_cross", R"({"fast":7,"slow":211})"},
      {"ema_cross", "{}"},
      {"rsi_reversion", R"({"period":5})"},
      {"bollinger_breakout", R"({"period":30,"k":0.3})"},
      {"donchian_breakout", "{}"},
      {"macd", "{}"},
      {"buy_and_hold", "{}"},
  };
  const Timestamp from = a_.times()[777], to = a_.times()[5'432];
  for (const auto& [strategy, params] : cases) {
    for (int shape = 0; shape < 3; ++shape) {
      SCOPED_TRACE(std::string(strategy) + " " + params + " shape " + std::to_string(shape));
      store::RunSpec spec;
      spec.dataset = "a";
      spec.datasets = {"a"};
      spec.symbols = {"SYN"};
      std::vector<market::Series> inputs = {a_};
      if (shape == 1) {  // two symbols whose bars interleave
        spec.datasets = {"a", "b"};
        spec.symbols = {"SYN", "OTHER"};
        inputs = {a_, b_};
      } else if (shape == 2) {  // a period of the dataset
        spec.from = from;
        spec.to = to;
        inputs = {a_.Slice(from, to)};
      }
      spec.strategy = strategy;
      spec.params_json = params;
      const std::string id = Done(spec);
      ASSERT_FALSE(id.empty());

      // What the run plots, recorded the old way over the same bars.
      auto parsed = ParseParams(params);
      ASSERT_TRUE(parsed.ok());
      auto s = strategies::Make(strategy, *parsed);
      ASSERT_TRUE(s.ok());
      auto want = engine::Run(inputs, **s, spec.config);
      ASSERT_TRUE(want.ok());

      // Stored as derivations, without values.
      auto stored = store_->LoadRunResult(id);
      ASSERT_TRUE(stored.ok());
      ASSERT_EQ(stored->plots.size(), want->plots.size());
      for (const auto& p : stored->plots) {
        EXPECT_FALSE(p.derivation.empty()) << p.name;
        EXPECT_TRUE(p.values.empty()) << p.name;
      }

      StoreRunSource source(*store_, 8, StoreRunSource::kPendingRecheck, /*head_bars=*/700);
      auto tape = source.Open(id);
      ASSERT_TRUE(tape.ok()) << tape.error().ToString();
      ExpectPlotsBegin((*tape)->run(), *want);  // the head, or the whole run if it came already
      ASSERT_TRUE((*tape)->WaitComplete().ok());
      ASSERT_EQ((*tape)->run().times.size(), want->times.size());
      ExpectPlotsBegin((*tape)->run(), *want);
    }
  }
}

}  // namespace
}  // namespace tapedeck::api
