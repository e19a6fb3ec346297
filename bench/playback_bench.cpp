// Playback costs behind issue 3's targets (1,000 streams at 30 FPS on 2 cores; handshake to
// first frame <= 5 ms for a 1-year 1-minute run): building a tape, encoding a frame, a session's
// tick, opening a session.
//
//   cmake --build build-playback -j2 --target playback_bench &&
//   ./build-playback/bench/playback_bench
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <vector>

#include "playback/playback.h"
#include "strategies/strategies.h"
#include "unit/playback/fake_clock.h"

namespace tapedeck::playback {
namespace {

constexpr size_t kBars = 525'600;

// One year of one-minute bars (a deterministic walk on a 0.01 grid) and an order event pair every
// 1,000 bars, built here so the figures do not move with market::Generate or the engine.
struct Fixture {
  std::shared_ptr<const engine::RunResult> run;
  std::vector<market::Series> series;
};

const Fixture& Year() {
  static const Fixture fixture = [] {
    auto run = std::make_shared<engine::RunResult>();
    run->symbols = {"BTCUSDT"};
    std::vector<Timestamp> times(kBars);
    std::vector<double> open(kBars), high(kBars), low(kBars), close(kBars), volume(kBars);
    uint64_t x = 42;
    double price = 20'000;
    const Timestamp t0 = FromMicros(1'672'531'200'000'000);
    for (size_t i = 0; i < kBars; ++i) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      const double step = static_cast<double>(static_cast<int64_t>(x >> 33) % 2001 - 1000) / 100;
      times[i] = t0 + std::chrono::minutes(static_cast<int64_t>(i));
      open[i] = price;
      close[i] = std::round((price + step) * 100) / 100;
      high[i] = std::max(open[i], close[i]) + 1.25;
      low[i] = std::min(open[i], close[i]) - 0.75;
      volume[i] = static_cast<double>((x >> 20) % 1000) / 10;
      price = close[i];
      run->equity.push_back(100'000 + static_cast<double>(i % 5000));
      if (i % 1000 == 1) {
        engine::OrderEvent ev;
        ev.id = static_cast<engine::OrderId>(i / 1000 + 1);
        ev.ts = times[i];
        ev.bar = i;
        ev.status = engine::OrderStatus::kSubmitted;
        run->events.push_back(ev);
        ev.status = engine::OrderStatus::kFilled;
        ev.qty = 0.5;
        ev.px = open[i];
        run->events.push_back(ev);
      }
    }
    run->times = times;
    Fixture f;
    f.series.push_back(market::Series::FromColumns("BTCUSDT", std::move(times), std::move(open),
                                                   std::move(high), std::move(low),
                                                   std::move(close), std::move(volume)));
    f.run = std::move(run);
    return f;
  }();
  return fixture;
}

std::shared_ptr<const Tape> YearTape() {
  static const auto tape = *Tape::Create(Year().run, Year().series);
  return tape;
}

// Tape::Create (validation pass over 525,600 bars) plus the timeline at speed 60.
void BM_BuildTape(benchmark::State& state) {
  const Fixture& f = Year();
  for (auto _ : state) {
    auto tape = Tape::Create(f.run, f.series);
    auto tl = Timeline::Create(*tape, Speed::Constant(60));
    benchmark::DoNotOptimize(tl.window_count());
  }
}
BENCHMARK(BM_BuildTape)->Unit(benchmark::kMillisecond);

// A timeline at any speed is O(1): S = 0.01 has ~10.8 M windows, none allocated.
void BM_Timeline(benchmark::State& state) {
  auto tape = YearTape();
  const Speed speed = *Speed::FromDouble(static_cast<double>(state.range(0)) / 100);
  for (auto _ : state) {
    auto tl = Timeline::Create(tape, speed);
    benchmark::DoNotOptimize(tl.window_count());
  }
}
BENCHMARK(BM_Timeline)->Arg(1)->Arg(6000);

// Aggregating and encoding one window after another of `tape` at the speed of range(0), uncached.
void EncodeFrames(benchmark::State& state, std::shared_ptr<const Tape> tape) {
  const Timeline tl =
      Timeline::Create(std::move(tape), *Speed::FromDouble(static_cast<double>(state.range(0))));
  size_t k = 0, bytes = 0;
  for (auto _ : state) {
    const std::string head = EncodeFrameHead(tl.BuildFrame(k), tl.tape());
    bytes += head.size();
    k = (k + 1) % tl.window_count();
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}

// One window at speed 60 is 292 bars.
void BM_EncodeFrame(benchmark::State& state) { EncodeFrames(state, YearTape()); }
BENCHMARK(BM_EncodeFrame)->Arg(1)->Arg(60)->Arg(3600);

// The same run with two plotted series (sma_cross's fast and slow: a value at every bar) and a
// log message every 1,000 bars.
std::shared_ptr<const Tape> YearTapeWithPlots() {
  static const auto tape = [] {
    auto run = std::make_shared<engine::RunResult>(*Year().run);
    const auto close = Year().series[0].close();
    for (const char* name : {"fast", "slow"}) {
      engine::PlotSeries p{name, engine::PlotPane::kPrice, {}};
      p.values.assign(close.begin(), close.end());
      run->plots.push_back(std::move(p));
    }
    for (size_t i = 0; i < kBars; i += 1000) {
      run->logs.push_back({run->times[i], i, "bar " + std::to_string(i)});
    }
    return *Tape::Create(run, Year().series);
  }();
  return tape;
}

void BM_EncodeFramePlots(benchmark::State& state) { EncodeFrames(state, YearTapeWithPlots()); }
BENCHMARK(BM_EncodeFramePlots)->Arg(1)->Arg(60)->Arg(3600);

// sma_cross's two means as derivations (sma:10, sma:30), as a run from the store has them: its
// tape holding the times and the plots materialised whole (range(1) == 0: before TapeLean), or
// lean (TapeLean, StoreRunSource's tapes of one-symbol runs): the times read from the series and
// the means computed per window from checkpoints every range(1) bars. range(0): the speed.
std::shared_ptr<const Tape> YearTapeDerived(size_t every) {
  static std::map<size_t, std::shared_ptr<const Tape>> tapes;
  auto& tape = tapes[every];
  if (tape) return tape;
  engine::RunResult run = *Year().run;
  for (const char* d : {"sma:10", "sma:30"}) {
    run.plots.push_back(engine::PlotSeries{d, engine::PlotPane::kPrice, {}, d});
  }
  const market::Series& bars = Year().series[0];
  if (every == 0) {
    if (!strategies::MaterialisePlots(run, bars).ok()) std::abort();
    tape = *Tape::Create(std::make_shared<const engine::RunResult>(std::move(run)), Year().series);
  } else {
    TapeLean lean;
    lean.plots = *strategies::DerivePlotValues(run, run.times.size(), bars, every);
    run.times.clear();
    lean.times_from_series = true;
    tape = *Tape::Create(std::make_shared<const engine::RunResult>(std::move(run)), Year().series,
                         {}, std::move(lean));
  }
  return tape;
}

void BM_EncodeFrameDerived(benchmark::State& state) {
  EncodeFrames(state, YearTapeDerived(static_cast<size_t>(state.range(1))));
}
BENCHMARK(BM_EncodeFrameDerived)->ArgsProduct({{1, 60, 3600}, {0, 256, 1024, 4096}});

// What every further viewer pays for the same frame: a cache hit.
void BM_FrameHeadCached(benchmark::State& state) {
  const Timeline tl = Timeline::Create(YearTape(), Speed::Constant(60));
  for (size_t k = 0; k < tl.window_count(); ++k) tl.FrameHead(k);
  size_t k = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(tl.FrameHead(k));
    k = (k + 1) % tl.window_count();
  }
}
BENCHMARK(BM_FrameHeadCached);

// One frame's worth of session work at speed 60: Poll (frame due), OnWriteDone, Poll (nothing),
// NextDeadline, with frames already cached — what the server does 30 times a second per stream.
void SessionTick(benchmark::State& state, Channel channel) {
  auto tape = YearTape();
  const Timeline tl = Timeline::Create(tape, Speed::Constant(60));
  for (size_t k = 0; k < tl.window_count(); ++k) tl.FrameHead(k);
  FakeClock clock;
  std::optional<Session> session;
  SessionOptions options;
  options.channel = channel;
  auto open = [&] {
    session.emplace(*Session::Create(tape, options, clock));
    if (channel == Channel::kSse) {  // the retry: line goes first
      session->Poll();
      session->OnWriteDone();
    }
  };
  open();
  for (auto _ : state) {
    auto frame = session->Poll();
    if (!frame || frame->kind != Outgoing::Kind::kFrame) {
      state.PauseTiming();
      open();
      state.ResumeTiming();
      continue;
    }
    benchmark::DoNotOptimize(frame->suffix.data());
    session->OnWriteDone();
    benchmark::DoNotOptimize(session->Poll());
    benchmark::DoNotOptimize(session->NextDeadline());
    clock.Advance(kFrameInterval);
  }
}
void BM_SessionTick(benchmark::State& state) { SessionTick(state, Channel::kWebSocket); }
BENCHMARK(BM_SessionTick);
// The same over SSE: each frame also carries its event:, id: and data: framing.
void BM_SessionTickSse(benchmark::State& state) { SessionTick(state, Channel::kSse); }
BENCHMARK(BM_SessionTickSse);

// A session's idle check (nothing due): the cost of a timer firing early or a spurious wake.
void BM_SessionIdlePoll(benchmark::State& state) {
  FakeClock clock;
  Session session = *Session::Create(YearTape(), {}, clock);
  session.Poll();
  session.OnWriteDone();
  for (auto _ : state) {
    benchmark::DoNotOptimize(session.Poll());
    benchmark::DoNotOptimize(session.NextDeadline());
  }
}
BENCHMARK(BM_SessionIdlePoll);

// Handshake to first frame, the playback part: parse ?speed/?from, open a session on a shared
// tape, produce the first frame's bytes (cached after the first viewer; arg 1 = cold cache).
void BM_OpenToFirstFrame(benchmark::State& state) {
  const bool cold = state.range(0) == 1;
  FakeClock clock;
  uint64_t from = 0;
  std::shared_ptr<const Tape> tape = YearTape();
  for (auto _ : state) {
    if (cold) {
      state.PauseTiming();
      tape = *Tape::Create(Year().run, Year().series);
      state.ResumeTiming();
    }
    SessionOptions options;
    options.speed = *Speed::Parse("60");
    options.from = *ParseSeekTarget(std::to_string(from));
    Session session = *Session::Create(tape, options, clock);
    auto frame = session.Poll();
    benchmark::DoNotOptimize(frame->Text());
    from = (from + 97) % 1800;
  }
}
BENCHMARK(BM_OpenToFirstFrame)->Arg(0)->Arg(1);

// Seek by time at S = 0.01 (~10.8 M windows, snapping over a binary search).
void BM_LocateSlow(benchmark::State& state) {
  const Timeline tl = Timeline::Create(YearTape(), Speed::Constant(0.01));
  const Timestamp t0 = YearTape()->first_time();
  int64_t m = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        tl.Locate(SeekTarget{t0 + std::chrono::seconds(m * 7919 % 31'000'000)}));
    ++m;
  }
}
BENCHMARK(BM_LocateSlow);

void BM_ParseControl(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        ParseControl(R"({"t":"ctrl","cmd":"seek","pos":"2023-06-01T12:00:00Z"})"));
  }
}
BENCHMARK(BM_ParseControl);

// The whole history at speed 60 (1,800 frames), as GET /frames returns it.
void BM_History(benchmark::State& state) {
  auto tape = YearTape();
  size_t bytes = 0;
  for (auto _ : state) bytes += EncodeHistory(tape, Speed::Constant(60)).size();
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_History)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tapedeck::playback

BENCHMARK_MAIN();
