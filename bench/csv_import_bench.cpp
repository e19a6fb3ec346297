// CSV import throughput (MB/s of text) for each supported shape, on 525,600 generated one-minute
// bars (one year) held in memory, plus the same generic text read from a file via mmap. ParseCsv
// scans a large text on two threads when a core is idle at that moment (market/csv_parse.h), so
// those cases mix both ways; the Split/OneThread cases force one way. With two threads the CPU
// column is the benchmark thread's alone: compare wall times.
#include <benchmark/benchmark.h>

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include "market/csv_parse.h"
#include "market/market.h"

namespace tapedeck::market {
namespace {

constexpr size_t kBars = 525'600;

const Series& Bars() {
  static const Series s = Generate({.bars = kBars, .seed = 1});
  return s;
}

void AppendNumber(std::string& out, double v) {
  char buf[32];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

void AppendInt(std::string& out, int64_t v) {
  char buf[24];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

// "2023-01-01T00:00:00Z,100,100.05,99.96,100.01,1234" per row.
const std::string& GenericIsoText() {
  static const std::string text = ToGenericCsv(Bars());
  return text;
}

// "1672531200,100,100.05,99.96,100.01,1234" per row, no header.
const std::string& GenericUnixText() {
  static const std::string text = [] {
    const Series& s = Bars();
    std::string out;
    out.reserve(s.size() * 48);
    for (size_t i = 0; i < s.size(); ++i) {
      AppendInt(out, ToMicros(s.times()[i]) / 1'000'000);
      for (double v : {s.open()[i], s.high()[i], s.low()[i], s.close()[i], s.volume()[i]}) {
        out.push_back(',');
        AppendNumber(out, v);
      }
      out.push_back('\n');
    }
    return out;
  }();
  return text;
}

// Yahoo daily shape: "2023-01-01,100,100.05,99.96,100.01,100.01,1234" (dates run for 1440 years).
const std::string& YahooText() {
  static const std::string text = [] {
    const Series s = Generate(
        {.bars = kBars, .seed = 1, .interval = std::chrono::hours(24), .start = FromMicros(0)});
    std::string out = "Date,Open,High,Low,Close,Adj Close,Volume\n";
    out.reserve(s.size() * 56);
    for (size_t i = 0; i < s.size(); ++i) {
      out += FormatIso(s.times()[i]).substr(0, 10);
      for (double v :
           {s.open()[i], s.high()[i], s.low()[i], s.close()[i], s.close()[i], s.volume()[i]}) {
        out.push_back(',');
        AppendNumber(out, v);
      }
      out.push_back('\n');
    }
    return out;
  }();
  return text;
}

// Binance kline shape: 12 columns, open time in ms, CRLF-free, no header.
const std::string& BinanceText() {
  static const std::string text = [] {
    const Series& s = Bars();
    std::string out;
    out.reserve(s.size() * 120);
    for (size_t i = 0; i < s.size(); ++i) {
      const int64_t ms = ToMicros(s.times()[i]) / 1000;
      AppendInt(out, ms);
      for (double v : {s.open()[i], s.high()[i], s.low()[i], s.close()[i], s.volume()[i]}) {
        out.push_back(',');
        AppendNumber(out, v);
      }
      out.push_back(',');
      AppendInt(out, ms + 59'999);
      out.push_back(',');
      AppendNumber(out, s.volume()[i] * s.close()[i]);  // quote volume
      out.push_back(',');
      AppendInt(out, static_cast<int64_t>(s.volume()[i]) / 7 + 1);  // trades
      out.push_back(',');
      AppendNumber(out, s.volume()[i] / 2);
      out.push_back(',');
      AppendNumber(out, s.volume()[i] / 2 * s.close()[i]);
      out += ",0\n";
    }
    return out;
  }();
  return text;
}

// MT5 shape: tab-separated, dotted dates, separate time of day, CRLF.
const std::string& Mt5Text() {
  static const std::string text = [] {
    const Series& s = Bars();
    std::string out =
        "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\r\n";
    out.reserve(s.size() * 64);
    for (size_t i = 0; i < s.size(); ++i) {
      std::string iso = FormatIso(s.times()[i]);  // 2023-01-01T00:00:00Z
      iso[4] = iso[7] = '.';
      out.append(iso, 0, 10);
      out.push_back('\t');
      out.append(iso, 11, 8);
      for (double v : {s.open()[i], s.high()[i], s.low()[i], s.close()[i], s.volume()[i]}) {
        out.push_back('\t');
        AppendNumber(out, v);
      }
      out += "\t0\t2\r\n";
    }
    return out;
  }();
  return text;
}

void RunImport(benchmark::State& state, const std::string& text, CsvFormat format) {
  CsvOptions options;
  options.format = format;
  options.source_name = "bench.csv";
  size_t bars = 0;
  for (auto _ : state) {
    Result<Series> r = ParseCsv(text, options);
    if (!r.ok()) {
      state.SkipWithError(r.error().msg.c_str());
      return;
    }
    bars = r->size();
    benchmark::DoNotOptimize(r->close().data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * bars));
  state.counters["bars"] = static_cast<double>(bars);
  state.counters["MB"] = static_cast<double>(text.size()) / 1e6;
}

void BM_CsvImport_GenericIso(benchmark::State& state) {
  RunImport(state, GenericIsoText(), CsvFormat::kAuto);
}
void BM_CsvImport_GenericUnixSeconds(benchmark::State& state) {
  RunImport(state, GenericUnixText(), CsvFormat::kAuto);
}
void BM_CsvImport_Yahoo(benchmark::State& state) {
  RunImport(state, YahooText(), CsvFormat::kAuto);
}
void BM_CsvImport_Binance(benchmark::State& state) {
  RunImport(state, BinanceText(), CsvFormat::kAuto);
}
void BM_CsvImport_Mt5(benchmark::State& state) { RunImport(state, Mt5Text(), CsvFormat::kAuto); }

// The whole file path: open, mmap, parse (file in the page cache, as after a first read).
void BM_CsvImportFile_GenericIso(benchmark::State& state) {
  const std::string path =
      (std::filesystem::temp_directory_path() / "tapedeck_csv_import_bench.csv").string();
  std::ofstream(path, std::ios::binary | std::ios::trunc) << GenericIsoText();
  for (auto _ : state) {
    Result<Series> r = ImportCsvFile(path, CsvOptions{});
    if (!r.ok()) {
      state.SkipWithError(r.error().msg.c_str());
      break;
    }
    benchmark::DoNotOptimize(r->close().data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * GenericIsoText().size()));
  std::remove(path.c_str());
}

// The generic text forced through one thread, and through the two-thread split.
void RunSplit(benchmark::State& state, const CsvSplit& split) {
  const std::string& text = GenericIsoText();
  CsvOptions options;
  options.source_name = "bench.csv";
  for (auto _ : state) {
    Result<Series> r = ParseCsvSplit(text, options, split);
    if (!r.ok()) {
      state.SkipWithError(r.error().msg.c_str());
      return;
    }
    benchmark::DoNotOptimize(r->close().data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
void BM_CsvImport_GenericIso_OneThread(benchmark::State& state) {
  RunSplit(state, CsvSplit{std::numeric_limits<size_t>::max(), 0.5, 2});
}
void BM_CsvImport_GenericIso_Split(benchmark::State& state) { RunSplit(state, CsvSplit{}); }

BENCHMARK(BM_CsvImport_GenericIso)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CsvImport_GenericIso_OneThread)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_CsvImport_GenericIso_Split)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_CsvImport_GenericUnixSeconds)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CsvImport_Yahoo)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CsvImport_Binance)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CsvImport_Mt5)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CsvImportFile_GenericIso)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tapedeck::market

BENCHMARK_MAIN();
