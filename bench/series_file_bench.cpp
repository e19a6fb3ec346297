// Loading a one-year one-minute series (525,600 bars) from the binary columnar file: the mmap
// alone, the mmap plus one pass over all six columns, the checksum verification, and a write.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "market/market.h"

namespace tapedeck::market {
namespace {

constexpr size_t kBars = 525'600;

const std::string& SeriesPath() {
  static const std::string path = [] {
    const std::string p =
        (std::filesystem::temp_directory_path() / "tapedeck_series_file_bench.tds").string();
    Status s = WriteSeriesFile(Generate({.bars = kBars, .seed = 1}), p);
    if (!s.ok()) std::fprintf(stderr, "%s\n", s.error().ToString().c_str());
    return p;
  }();
  return path;
}

void BM_ReadSeriesFile(benchmark::State& state) {
  const std::string& path = SeriesPath();
  for (auto _ : state) {
    Result<Series> r = ReadSeriesFile(path);
    if (!r.ok()) {
      state.SkipWithError(r.error().msg.c_str());
      break;
    }
    benchmark::DoNotOptimize(r->close().data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBars));
}

// What a backtest pays before its first bar: map, then fault in and read every column once.
void BM_ReadSeriesFileTouchAll(benchmark::State& state) {
  const std::string& path = SeriesPath();
  for (auto _ : state) {
    Result<Series> r = ReadSeriesFile(path);
    if (!r.ok()) {
      state.SkipWithError(r.error().msg.c_str());
      break;
    }
    int64_t t = 0;
    double sum = 0;
    for (size_t i = 0; i < r->size(); ++i) {
      t += ToMicros(r->times()[i]);
      sum += r->open()[i] + r->high()[i] + r->low()[i] + r->close()[i] + r->volume()[i];
    }
    benchmark::DoNotOptimize(t);
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBars));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBars * 48));
}

void BM_VerifySeriesFile(benchmark::State& state) {
  const std::string& path = SeriesPath();
  for (auto _ : state) {
    Status s = VerifySeriesFile(path);
    if (!s.ok()) {
      state.SkipWithError(s.error().msg.c_str());
      break;
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBars * 48));
}

// Includes two fsyncs, so it measures the disk as much as the code.
void BM_WriteSeriesFile(benchmark::State& state) {
  const Series s = Generate({.bars = kBars, .seed = 1});
  const std::string path =
      (std::filesystem::temp_directory_path() / "tapedeck_series_file_bench_w.tds").string();
  for (auto _ : state) {
    Status st = WriteSeriesFile(s, path);
    if (!st.ok()) {
      state.SkipWithError(st.error().msg.c_str());
      break;
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBars * 48));
  std::remove(path.c_str());
}

BENCHMARK(BM_ReadSeriesFile)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ReadSeriesFileTouchAll)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_VerifySeriesFile)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_WriteSeriesFile)->Unit(benchmark::kMillisecond)->Iterations(5);

}  // namespace
}  // namespace tapedeck::market

BENCHMARK_MAIN();
