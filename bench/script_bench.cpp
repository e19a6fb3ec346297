// Strategy scripts: the engine time of examples/strategies/sma_cross.lua against the built-in
// sma_cross over one year of generated one-minute bars (market::Generate, 525,600 bars), in one
// process, plus the floor a script's per-bar call costs (an empty on_bar) and the script's peak
// Lua heap (the smallest memory budget the run completes within).
//
//   scripts/build.sh --target script_bench && build/bench/script_bench
//
// Run from the repository's root (the example is read from examples/strategies/, or from the file
// TAPEDECK_SCRIPT names). Each case times a whole engine::Run (the sandbox's creation and the
// script's compile included, as `tapedeck backtest --script` pays them), not the loop alone.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <span>
#include <sstream>
#include <string>

#include "engine/context.h"
#include "market/market.h"
#include "playback/playback.h"
#include "strategies/script.h"
#include "strategies/strategies.h"

namespace tapedeck {
namespace {

const market::Series& Year() {
  static const market::Series series = market::Generate(market::GenOptions{});
  return series;
}

const std::string& SmaCrossLua() {
  static const std::string source = [] {
    const char* env = std::getenv("TAPEDECK_SCRIPT");
    const char* path = env != nullptr ? env : "examples/strategies/sma_cross.lua";
    std::ifstream in(path);
    if (!in) {
      std::fprintf(stderr, "script_bench: cannot open %s (run from the repository's root)\n", path);
      std::exit(2);
    }
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }();
  return source;
}

template <typename MakeStrategy>
void RunCase(benchmark::State& state, MakeStrategy make) {
  const market::Series& data = Year();
  engine::RunResult last;
  for (auto _ : state) {
    auto strategy = make();
    auto r = engine::Run(std::span(&data, 1), *strategy, {});
    if (!r.ok()) {
      state.SkipWithError(r.error().ToString().c_str());
      return;
    }
    last = std::move(r).value();
    benchmark::DoNotOptimize(last.equity.data());
  }
  const double bars = static_cast<double>(last.times.size());
  state.counters["bars/s"] = benchmark::Counter(static_cast<double>(state.iterations()) * bars,
                                                benchmark::Counter::kIsRate);
  state.counters["ns/bar"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * bars,
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert, benchmark::Counter::kIs1000);
  state.counters["fills"] = static_cast<double>(last.stats.fills);
  state.counters["final_equity"] = last.equity.back();
}

std::unique_ptr<engine::Strategy> Script(const std::string& source,
                                         const strategies::ScriptBudgets& budgets = {}) {
  auto s = strategies::MakeScriptStrategy(source, "bench.lua", {}, budgets);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.error().ToString().c_str());
    std::abort();
  }
  return std::move(s).value();
}

void BM_BuiltinSmaCross(benchmark::State& state) {
  RunCase(state, [] {
    auto s = strategies::Make("sma_cross", {});
    if (!s.ok()) std::abort();
    return std::move(s).value();
  });
}
BENCHMARK(BM_BuiltinSmaCross)->Unit(benchmark::kMillisecond);

void BM_ScriptSmaCross(benchmark::State& state) {
  RunCase(state, [] { return Script(SmaCrossLua()); });
}
BENCHMARK(BM_ScriptSmaCross)->Unit(benchmark::kMillisecond);

// The per-bar floor: the bar table and the call, nothing else.
void BM_ScriptEmptyOnBar(benchmark::State& state) {
  RunCase(state, [] { return Script("function on_bar(bar) end\n"); });
}
BENCHMARK(BM_ScriptEmptyOnBar)->Unit(benchmark::kMillisecond);

// sma_cross.lua's peak Lua heap: the smallest memory budget (to 4 KiB) its year-long run completes
// within, by bisection. The figure is a counter ("peak_heap_KiB"); the time is meaningless.
void BM_ScriptSmaCrossPeakHeap(benchmark::State& state) {
  const market::Series& data = Year();
  size_t lo = 4 << 10, hi = 64u << 20;  // lo fails (too small to open the sandbox), hi passes
  for (auto _ : state) {
    lo = 4 << 10;
    hi = 64u << 20;
    while (hi - lo > (4 << 10)) {
      const size_t mid = lo + (hi - lo) / 2;
      strategies::ScriptBudgets budgets;
      budgets.memory_bytes = mid;
      auto made = strategies::MakeScriptStrategy(SmaCrossLua(), "bench.lua", {}, budgets);
      const bool ok = made.ok() && engine::Run(std::span(&data, 1), **made, {}).ok();
      (ok ? hi : lo) = mid;
    }
  }
  state.counters["peak_heap_KiB"] = static_cast<double>(hi) / 1024.0;
  state.counters["budget_KiB"] =
      static_cast<double>(strategies::ScriptBudgets{}.memory_bytes) / 1024.0;
}
BENCHMARK(BM_ScriptSmaCrossPeakHeap)->Unit(benchmark::kMillisecond)->Iterations(1);

// Playback: every frame of the year at speed 60 (292 bars a frame), encoded from the run of
// the script and from the built-in's. Both runs give the same result, so the tapes are the same
// size and the frames the same bytes; the counters show it.
std::shared_ptr<const engine::RunResult> RunOf(bool script) {
  std::unique_ptr<engine::Strategy> strategy =
      script ? Script(SmaCrossLua()) : std::move(strategies::Make("sma_cross", {})).value();
  auto r = engine::Run(std::span(&Year(), 1), *strategy, {});
  if (!r.ok()) std::abort();
  return std::make_shared<const engine::RunResult>(std::move(r).value());
}

void Playback(benchmark::State& state, bool script) {
  static const std::shared_ptr<const engine::RunResult> runs[2] = {RunOf(false), RunOf(true)};
  const auto& run = runs[script ? 1 : 0];
  size_t bytes = 0, frames = 0;
  uint64_t sum = 0;  // a checksum of the frames' bytes
  for (auto _ : state) {
    auto tape = playback::Tape::Create(run, {Year()});
    if (!tape.ok()) {
      state.SkipWithError(tape.error().ToString().c_str());
      return;
    }
    const auto tl = playback::Timeline::Create(*tape, playback::Speed::Constant(60));
    bytes = frames = 0;
    sum = 0;
    for (size_t k = 0; k < tl.window_count(); ++k) {
      const std::string head = playback::EncodeFrameHead(tl.BuildFrame(k), **tape);
      bytes += head.size();
      for (unsigned char c : head) sum = sum * 131 + c;
      ++frames;
    }
    benchmark::DoNotOptimize(sum);
  }
  state.counters["frames"] = static_cast<double>(frames);
  state.counters["frame_bytes"] = static_cast<double>(bytes);
  state.counters["checksum"] = static_cast<double>(sum % 1'000'000'007);
}
void BM_PlaybackBuiltinRun(benchmark::State& state) { Playback(state, false); }
void BM_PlaybackScriptRun(benchmark::State& state) { Playback(state, true); }
BENCHMARK(BM_PlaybackBuiltinRun)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PlaybackScriptRun)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tapedeck

BENCHMARK_MAIN();
