// Store benchmarks: the sizes the server meets — a year of minute bars (525,600) with ~2,000 order
// events per run. The store lives in a fresh directory under $TMPDIR (or /tmp), on real disk:
// fsyncs count.
//
//   ./build/bench/store_bench --benchmark_min_time=0.5
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>

#include "engine/engine.h"
#include "market/market.h"
#include "store/packing.h"
#include "store/store.h"

namespace tapedeck::store {
namespace {

constexpr size_t kBars = 525'600;
constexpr size_t kOrders = 1'000;  // two events each: submitted then filled

class BenchDir {
 public:
  BenchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tapedeck-bench-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~BenchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string db() const { return path_ + "/bench.db"; }

 private:
  std::string path_;
};

std::unique_ptr<Store> MustOpen(const BenchDir& dir) {
  Result<std::unique_ptr<Store>> store = OpenSqliteStore(dir.db());
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.error().ToString().c_str());
    std::abort();
  }
  return std::move(*store);
}

template <typename T>
void Must(const Result<T>& r) {
  if (!r.ok()) {
    std::fprintf(stderr, "%s\n", r.error().ToString().c_str());
    std::abort();
  }
}

engine::RunResult YearOfMinutes() {
  market::GenOptions g;
  g.bars = kBars;
  const market::Series bars = market::Generate(g);
  engine::RunResult r;
  r.symbols = {bars.symbol()};
  r.times.assign(bars.times().begin(), bars.times().end());
  r.equity.reserve(kBars);
  for (size_t i = 0; i < kBars; ++i) r.equity.push_back(1000.0 * bars.close()[i]);
  for (size_t k = 0; k < kOrders; ++k) {
    engine::OrderEvent e;
    e.id = static_cast<engine::OrderId>(k + 1);
    e.bar = k * (kBars / kOrders);
    e.ts = r.times[e.bar];
    e.side = k % 2 ? engine::Side::kSell : engine::Side::kBuy;
    r.events.push_back(e);  // submitted, qty nullopt, px NaN
    e.bar += 1;
    e.ts = r.times[e.bar];
    e.status = engine::OrderStatus::kFilled;
    e.qty = 12.5;
    e.px = bars.open()[e.bar];
    e.commission = 0.1 * e.px;
    r.events.push_back(e);
    if (k % 2) {
      engine::Trade t;
      t.entry_bar = e.bar - kBars / kOrders;
      t.exit_bar = e.bar;
      t.entry_time = r.times[t.entry_bar];
      t.exit_time = r.times[t.exit_bar];
      t.qty = 12.5;
      t.entry_px = bars.open()[t.entry_bar];
      t.exit_px = bars.open()[t.exit_bar];
      t.pnl = (t.exit_px - t.entry_px) * t.qty;
      r.trades.push_back(t);
    }
  }
  r.stats.bars = kBars;
  r.stats.fills = kOrders;
  r.stats.trades = r.trades.size();
  return r;
}

const engine::RunResult& SharedResult() {
  static const engine::RunResult result = YearOfMinutes();
  return result;
}

RunSpec Spec() {
  RunSpec spec;
  spec.dataset = "syn";
  spec.symbols = {"SYN"};
  spec.strategy = "sma_cross";
  spec.params_json = R"({"fast":10,"slow":30})";
  return spec;
}

// One CompleteRun of a year of minutes with 2,000 events: the transaction that ends a backtest.
void BM_CompleteRun(benchmark::State& state) {
  BenchDir dir;
  auto store = MustOpen(dir);
  const engine::RunResult& result = SharedResult();
  for (auto _ : state) {
    state.PauseTiming();
    Result<std::string> id = store->CreateRun(Spec());
    Must(id);
    Must(store->MarkRunning(*id));
    state.ResumeTiming();
    Must(store->CompleteRun(*id, result));
  }
  state.counters["events"] = static_cast<double>(result.events.size());
  state.SetBytesProcessed(state.iterations() * kBars * 16);
}
BENCHMARK(BM_CompleteRun)->Unit(benchmark::kMillisecond)->UseRealTime();

// LoadRunResult of the same: what playback reads when a viewer opens a finished run.
void BM_LoadRunResult(benchmark::State& state) {
  BenchDir dir;
  auto store = MustOpen(dir);
  Result<std::string> id = store->CreateRun(Spec());
  Must(id);
  Must(store->CompleteRun(*id, SharedResult()));
  for (auto _ : state) {
    Result<engine::RunResult> r = store->LoadRunResult(*id);
    Must(r);
    benchmark::DoNotOptimize(r->equity.data());
  }
  state.SetBytesProcessed(state.iterations() * kBars * 16);
}
BENCHMARK(BM_LoadRunResult)->Unit(benchmark::kMillisecond)->UseRealTime();

// A year of minutes' times and equity as sma_cross leaves them: a regular grid; equity flat out of
// the market and moving in it, in and out every ~25 bars (~10,000 trades).
struct Series {
  std::vector<Timestamp> times;
  std::vector<double> equity;
};
const Series& SharedSeries() {
  static const Series s = [] {
    const engine::RunResult& r = SharedResult();
    Series out{r.times, {}};
    double cash = 10'000;
    for (size_t i = 0; i < kBars; ++i) {
      const bool in_market = (i * 2654435761u >> 7) % 50 < 25 ? (i / 25) % 2 : (i / 26) % 2;
      if (in_market) cash = r.equity[i] / 100.0;
      out.equity.push_back(cash);
    }
    return out;
  }();
  return s;
}

// PackTimes + PackEquity (store/packing.h), what CompleteRun adds before it writes.
void BM_PackSeries(benchmark::State& state) {
  const Series& s = SharedSeries();
  size_t bytes = 0;
  for (auto _ : state) {
    const std::vector<std::byte> t = store::internal::PackTimes(s.times);
    const std::vector<std::byte> e = store::internal::PackEquity(s.equity);
    bytes = t.size() + e.size();
    benchmark::DoNotOptimize(e.data());
  }
  state.counters["packed_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_PackSeries)->Unit(benchmark::kMillisecond)->UseRealTime();

// UnpackTimes + UnpackEquity of the same.
void BM_UnpackSeries(benchmark::State& state) {
  const Series& s = SharedSeries();
  const std::vector<std::byte> t = store::internal::PackTimes(s.times);
  const std::vector<std::byte> e = store::internal::PackEquity(s.equity);
  for (auto _ : state) {
    auto times = store::internal::UnpackTimes(store::internal::kSeriesRuns, t, kBars);
    auto equity = store::internal::UnpackEquity(store::internal::kSeriesRuns, e, kBars);
    Must(times);
    Must(equity);
    benchmark::DoNotOptimize(equity->data());
  }
}
BENCHMARK(BM_UnpackSeries)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_LoadTrades(benchmark::State& state) {
  BenchDir dir;
  auto store = MustOpen(dir);
  Result<std::string> id = store->CreateRun(Spec());
  Must(id);
  Must(store->CompleteRun(*id, SharedResult()));
  for (auto _ : state) {
    Result<std::vector<engine::Trade>> r = store->LoadTrades(*id);
    Must(r);
    benchmark::DoNotOptimize(r->data());
  }
}
BENCHMARK(BM_LoadTrades)->Unit(benchmark::kMicrosecond)->UseRealTime();

// The commit a worker makes a few times a second.
void BM_UpdateProgress(benchmark::State& state) {
  BenchDir dir;
  auto store = MustOpen(dir);
  Result<std::string> id = store->CreateRun(Spec());
  Must(id);
  Must(store->MarkRunning(*id));
  double p = 0;
  for (auto _ : state) {
    p = p >= 1 ? 0 : p + 0.001;
    Must(store->UpdateProgress(*id, p));
  }
}
BENCHMARK(BM_UpdateProgress)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_GetRun(benchmark::State& state) {
  BenchDir dir;
  auto store = MustOpen(dir);
  Result<std::string> id = store->CreateRun(Spec());
  Must(id);
  for (auto _ : state) {
    Result<RunInfo> r = store->GetRun(*id);
    Must(r);
    benchmark::DoNotOptimize(r->progress);
  }
}
BENCHMARK(BM_GetRun)->Unit(benchmark::kMicrosecond)->UseRealTime();

const market::Series& SharedBars() {
  static const market::Series bars = [] {
    market::GenOptions g;
    g.bars = kBars;
    return market::Generate(g);
  }();
  return bars;
}

// A year of one-minute sma_cross's order events and trades as its run leaves them (20,434 orders,
// each submitted sizing itself at fill then filled the next bar; a trade per reversal, entering
// at the price the one before exited).
struct EventsAndTrades {
  std::vector<engine::OrderEvent> events;
  std::vector<engine::Trade> trades;
};
const EventsAndTrades& SharedEventsAndTrades() {
  static const EventsAndTrades out = [] {
    EventsAndTrades r;
    const market::Series& bars = SharedBars();
    constexpr size_t kFills = 20'434;
    double last_px = 0;
    for (size_t k = 0; k < kFills; ++k) {
      const size_t bar = k * (kBars - 2) / kFills;
      engine::OrderEvent e;
      e.id = static_cast<engine::OrderId>(k + 1);
      e.ts = bars.times()[bar];
      e.bar = bar;
      e.side = k % 2 ? engine::Side::kSell : engine::Side::kBuy;
      r.events.push_back(e);  // submitted: qty nullopt, px NaN, no commission
      e.ts = bars.times()[bar + 1];
      e.bar = bar + 1;
      e.status = engine::OrderStatus::kFilled;
      e.px = bars.open()[bar + 1];
      e.qty = std::floor(10'000 / e.px * 1e6) / 1e6 * (k == 0 ? 1 : 2);
      e.commission = *e.qty * e.px * 0.001;
      r.events.push_back(e);
      if (k > 0) {
        engine::Trade t;
        t.side = k % 2 ? engine::Side::kBuy : engine::Side::kSell;
        const engine::OrderEvent& opened = r.events[r.events.size() - 3];
        t.entry_time = opened.ts;
        t.exit_time = e.ts;
        t.entry_bar = opened.bar;
        t.exit_bar = e.bar;
        t.qty = *e.qty / 2;
        t.entry_px = last_px;
        t.exit_px = e.px;
        t.pnl = (t.exit_px - t.entry_px) * t.qty;
        t.ret = t.pnl / (t.entry_px * t.qty);
        r.trades.push_back(t);
      }
      last_px = e.px;
    }
    return r;
  }();
  return out;
}

// PackEvents + PackTrades (Arg 0: the 64/80-byte records; 1: the compact form, CompleteRun's).
void BM_PackEventsAndTrades(benchmark::State& state) {
  const EventsAndTrades& r = SharedEventsAndTrades();
  const bool compact = state.range(0) == 1;
  size_t bytes = 0;
  for (auto _ : state) {
    const internal::PackedEvents e =
        compact ? internal::PackEventsCompact(r.events) : internal::PackEvents(r.events);
    const std::vector<std::byte> t =
        compact ? internal::PackTradesCompact(r.trades) : internal::PackTrades(r.trades);
    bytes = e.records.size() + t.size();
    benchmark::DoNotOptimize(t.data());
  }
  state.counters["events"] = static_cast<double>(r.events.size());
  state.counters["trades"] = static_cast<double>(r.trades.size());
  state.counters["packed_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_PackEventsAndTrades)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// UnpackEvents + UnpackTrades of the same.
void BM_UnpackEventsAndTrades(benchmark::State& state) {
  const EventsAndTrades& r = SharedEventsAndTrades();
  const bool compact = state.range(0) == 1;
  const internal::PackedEvents e =
      compact ? internal::PackEventsCompact(r.events) : internal::PackEvents(r.events);
  const std::vector<std::byte> t =
      compact ? internal::PackTradesCompact(r.trades) : internal::PackTrades(r.trades);
  for (auto _ : state) {
    auto events = internal::UnpackEvents(e.records, e.reasons, r.events.size());
    auto trades = internal::UnpackTrades(t, r.trades.size());
    Must(events);
    Must(trades);
    benchmark::DoNotOptimize(trades->data());
  }
}
BENCHMARK(BM_UnpackEventsAndTrades)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// PutDataset of a year of minutes: file write + fsync + rename + row.
void BM_PutDataset(benchmark::State& state) {
  BenchDir dir;
  auto store = MustOpen(dir);
  const market::Series& bars = SharedBars();
  for (auto _ : state) {
    Must(store->PutDataset("syn", bars));
    state.PauseTiming();
    Must(store->DeleteDataset("syn"));
    state.ResumeTiming();
  }
  state.SetBytesProcessed(state.iterations() * kBars * 48);
}
BENCHMARK(BM_PutDataset)->Unit(benchmark::kMillisecond)->UseRealTime();

// LoadBars the first time in a process (after a restart): mmap plus the checksum pass over every
// byte. The store is reopened (untimed) before each load.
void BM_LoadBarsFirst(benchmark::State& state) {
  BenchDir dir;
  {
    auto store = MustOpen(dir);
    Must(store->PutDataset("syn", SharedBars()));
  }
  for (auto _ : state) {
    state.PauseTiming();
    std::unique_ptr<Store> store = MustOpen(dir);
    state.ResumeTiming();
    Result<market::Series> s = store->LoadBars("syn");
    Must(s);
    benchmark::DoNotOptimize(s->close().data());
    state.PauseTiming();
    store.reset();
    state.ResumeTiming();
  }
}
BENCHMARK(BM_LoadBarsFirst)->Unit(benchmark::kMillisecond)->UseRealTime();

// LoadBars afterwards: a row lookup and an mmap.
void BM_LoadBars(benchmark::State& state) {
  BenchDir dir;
  auto store = MustOpen(dir);
  Must(store->PutDataset("syn", SharedBars()));
  Must(store->LoadBars("syn"));
  for (auto _ : state) {
    Result<market::Series> s = store->LoadBars("syn");
    Must(s);
    benchmark::DoNotOptimize(s->close().data());
  }
}
BENCHMARK(BM_LoadBars)->Unit(benchmark::kMicrosecond)->UseRealTime();

// LoadBars then a pass over every close: what a backtest pays before its first bar.
void BM_LoadBarsAndTouch(benchmark::State& state) {
  BenchDir dir;
  auto store = MustOpen(dir);
  Must(store->PutDataset("syn", SharedBars()));
  Must(store->LoadBars("syn"));
  for (auto _ : state) {
    Result<market::Series> s = store->LoadBars("syn");
    Must(s);
    double sum = 0;
    for (double c : s->close()) sum += c;
    benchmark::DoNotOptimize(sum);
  }
}
BENCHMARK(BM_LoadBarsAndTouch)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace tapedeck::store

BENCHMARK_MAIN();
