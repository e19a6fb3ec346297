// The engine's run loop over one year of one-minute bars held in memory (525,600 bars).
//
// Issue 2's target: sma_cross at >= 50 million bars/s on one core. Each case times a whole
// engine::Run (timeline, loop, order events, trades, statistics), not the loop alone; the
// no-op case is the floor the loop itself costs.
//
//   cmake --build build-engine -j2 --target engine_bench && ./build-engine/bench/engine_bench
//
// Each iteration's RunResult is fresh memory (times and equity alone are 8.4 MB), so by default a
// figure includes the page faults of touching it, which glibc returns to the kernel after every
// iteration. To see the steady state of a long-lived process that keeps its heap, run with
//   GLIBC_TUNABLES=glibc.malloc.mmap_threshold=268435456:glibc.malloc.trim_threshold=1073741824
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "engine/context.h"
#include "market/market.h"
#include "strategies/indicators.h"
#include "strategies/moving_average_cross.h"
#include "strategies/strategies.h"

namespace tapedeck {
namespace {

constexpr size_t kBars = 525'600;

// A deterministic random walk on a 0.01 tick grid (so equal means, a real grid's ties, occur).
// Local rather than market::Generate so that this benchmark measures the engine on the same
// bars whatever the generator becomes.
market::Series Walk(size_t n, uint64_t seed, const char* symbol, int64_t step_minutes = 1) {
  uint64_t x = seed;
  auto next = [&x] {  // splitmix64
    uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  auto tick = [](double p) { return std::round(p * 100) / 100; };
  std::vector<Timestamp> t(n);
  std::vector<double> o(n), h(n), l(n), c(n), v(n);
  double price = 100;
  const Timestamp t0 = FromMicros(1'672'531'200'000'000);  // 2023-01-01T00:00:00Z
  for (size_t i = 0; i < n; ++i) {
    const double u = static_cast<double>(next() >> 11) / 9007199254740992.0;  // [0, 1)
    const double open = tick(price);
    const double close = tick(price * (1 + (u - 0.5) * 0.004));
    const double wick = static_cast<double>(next() % 20) / 100;
    t[i] = t0 + std::chrono::minutes(static_cast<int64_t>(i) * step_minutes);
    o[i] = open;
    c[i] = std::max(close, 0.01);
    h[i] = std::max(o[i], c[i]) + wick;
    l[i] = std::max(std::min(o[i], c[i]) - wick, 0.01);
    v[i] = 1000;
    price = c[i];
  }
  return market::Series::FromColumns(symbol, std::move(t), std::move(o), std::move(h), std::move(l),
                                     std::move(c), std::move(v));
}

const market::Series& Year() {
  static const market::Series series = Walk(kBars, 42, "SYN");
  return series;
}

class Noop final : public engine::Strategy {
 public:
  void OnBar(engine::Context&) override {}
};

// sma_cross by issue 2's rules, with rolling sums: long while mean(10) is above mean(30)
// ("a above b": a - b > 1e-10 * |b|), all cash in, whole position out, no order on the last bar.
class RollingSmaCross final : public engine::Strategy {
 public:
  void OnStart(engine::Context& ctx) override { closes_ = ctx.series().close().data(); }
  void OnBar(engine::Context& ctx) override {
    const size_t t = ctx.index();
    const double c = closes_[t];
    fast_ += c;
    slow_ += c;
    if (t >= kFast) fast_ -= closes_[t - kFast];
    if (t >= kSlow) slow_ -= closes_[t - kSlow];
    if (t + 1 < kSlow || ctx.is_last_bar()) return;
    const double a = fast_ / kFast, b = slow_ / kSlow;
    const bool want = a - b > 1e-10 * std::abs(b);
    if (want == (ctx.position() > 0)) return;
    if (want) {
      ctx.Buy();
    } else {
      ctx.Sell();
    }
  }

 private:
  static constexpr size_t kFast = 10, kSlow = 30;
  const double* closes_ = nullptr;
  double fast_ = 0, slow_ = 0;
};

void Report(benchmark::State& state, const engine::RunResult& r, size_t bars) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * bars));
  state.counters["fills"] = static_cast<double>(r.stats.fills);
  state.counters["ns/bar"] = benchmark::Counter(
      static_cast<double>(state.iterations() * bars),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert, benchmark::Counter::kIs1000);
}

template <typename MakeStrategy>
void RunCase(benchmark::State& state, std::span<const market::Series> data, MakeStrategy make,
             const engine::RunConfig& config = {}) {
  engine::RunResult last;
  for (auto _ : state) {
    auto strategy = make();
    auto r = engine::Run(data, *strategy, config);
    if (!r.ok()) {
      state.SkipWithError(r.error().ToString().c_str());
      return;
    }
    last = std::move(r).value();
    benchmark::DoNotOptimize(last.equity.data());
  }
  Report(state, last, last.times.size());
}

void BM_RunNoop(benchmark::State& state) {
  RunCase(state, std::span(&Year(), 1), [] { return std::make_unique<Noop>(); });
}
BENCHMARK(BM_RunNoop)->Unit(benchmark::kMillisecond);

void BM_RunRollingSmaCross(benchmark::State& state) {
  RunCase(state, std::span(&Year(), 1), [] { return std::make_unique<RollingSmaCross>(); });
}
BENCHMARK(BM_RunRollingSmaCross)->Unit(benchmark::kMillisecond);

// The built-in sma_cross with `config`.
void RunBuiltinSmaCross(benchmark::State& state, const engine::RunConfig& config) {
  RunCase(
      state, std::span(&Year(), 1),
      [] {
        auto s = strategies::Make("sma_cross", {});
        if (!s.ok()) std::abort();
        return std::move(s).value();
      },
      config);
}

void BM_RunBuiltinSmaCross(benchmark::State& state) { RunBuiltinSmaCross(state, {}); }
BENCHMARK(BM_RunBuiltinSmaCross)->Unit(benchmark::kMillisecond);

// What the built-in was before it computed its means ahead: MovingAverageCross<Sma>, fed one bar
// at a time (the same runs bit for bit; strategies' sma_cross_test holds them to that).
void BM_RunSmaCrossOneBarAtATime(benchmark::State& state) {
  RunCase(state, std::span(&Year(), 1), [] {
    return std::make_unique<strategies::internal::MovingAverageCross<strategies::Sma>>(10, 30);
  });
}
BENCHMARK(BM_RunSmaCrossOneBarAtATime)->Unit(benchmark::kMillisecond);

// The same with RunConfig::record_plots off (what a sweep's trials run with): no fast/slow series.
void BM_RunBuiltinSmaCrossNoPlots(benchmark::State& state) {
  engine::RunConfig config;
  config.record_plots = false;
  RunBuiltinSmaCross(state, config);
}
BENCHMARK(BM_RunBuiltinSmaCrossNoPlots)->Unit(benchmark::kMillisecond);

// The same with RunConfig::derive_plots on (what the server's runs, which the store keeps, run
// with): fast/slow are recorded as their derivations ("sma:10", "sma:30"), not a value per bar.
void BM_RunBuiltinSmaCrossDerivedPlots(benchmark::State& state) {
  engine::RunConfig config;
  config.derive_plots = true;
  RunBuiltinSmaCross(state, config);
}
BENCHMARK(BM_RunBuiltinSmaCrossDerivedPlots)->Unit(benchmark::kMillisecond);

// What playback pays for that: MaterialisePlots of the two means over the year's bars (each run's
// tape does it once, on the thread that loads the tape's rest).
void BM_MaterialiseSmaCrossPlots(benchmark::State& state) {
  engine::RunConfig config;
  config.derive_plots = true;
  auto s = strategies::Make("sma_cross", {});
  if (!s.ok()) std::abort();
  auto derived = engine::Run(std::span(&Year(), 1), **s, config);
  if (!derived.ok()) std::abort();
  for (auto _ : state) {
    engine::RunResult r;
    r.times = derived->times;
    r.plots = derived->plots;
    if (!strategies::MaterialisePlots(r, Year()).ok()) std::abort();
    benchmark::DoNotOptimize(r.plots[0].values.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * derived->times.size()));
}
BENCHMARK(BM_MaterialiseSmaCrossPlots)->Unit(benchmark::kMillisecond);

// The in-process floor of issue 11's sweep (bench/sweep_bench.py's default grid: sma_cross, fast
// 5..50 step 5 x slow 60..258 step 2, 1,000 trials) on one thread: every 25th trial of the grid
// (40 trials, each a whole engine::Run with record_plots off, as a sweep's trials run) over the
// bars `tapedeck gen --bars 525600 --seed 42` writes. Items are bars; x 1,000 / 40 for the grid.
const market::Series& Gen42() {
  static const market::Series s = [] {
    market::GenOptions o;
    o.seed = 42;
    return market::Generate(o);
  }();
  return s;
}

void BM_SweepGridSample(benchmark::State& state) {
  std::vector<strategies::Params> grid;
  for (int fast = 5; fast <= 50; fast += 5) {
    for (int slow = 60; slow <= 258; slow += 2) grid.push_back({{"fast", fast}, {"slow", slow}});
  }
  engine::RunConfig config;
  config.record_plots = false;
  const auto data = std::span(&Gen42(), 1);
  double fills = 0;
  size_t trials = 0;
  for (auto _ : state) {
    for (size_t k = 0; k < grid.size(); k += 25) {
      auto s = strategies::Make("sma_cross", grid[k]);
      if (!s.ok()) std::abort();
      auto r = engine::Run(data, **s, config);
      if (!r.ok()) {
        state.SkipWithError(r.error().ToString().c_str());
        return;
      }
      fills += static_cast<double>(r->stats.fills);
      benchmark::DoNotOptimize(r->equity.data());
      ++trials;
    }
  }
  const double bars = static_cast<double>(trials) * static_cast<double>(Gen42().size());
  state.SetItemsProcessed(static_cast<int64_t>(bars));
  state.counters["fills/trial"] = fills / static_cast<double>(trials);
  state.counters["trials/s"] = benchmark::Counter(static_cast<double>(trials),
                                                  benchmark::Counter::kIsRate);
  state.counters["ns/bar"] = benchmark::Counter(
      bars, benchmark::Counter::kIsRate | benchmark::Counter::kInvert, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_SweepGridSample)->Unit(benchmark::kMillisecond);

// Two symbols whose times interleave (every minute and every other minute): the general path.
void BM_RunNoopTwoSymbols(benchmark::State& state) {
  static const std::vector<market::Series> data = {Walk(kBars, 42, "A"),
                                                   Walk(kBars / 2, 7, "B", 2)};
  RunCase(state, data, [] { return std::make_unique<Noop>(); });
}
BENCHMARK(BM_RunNoopTwoSymbols)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tapedeck

BENCHMARK_MAIN();
