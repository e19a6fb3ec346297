// Hand-built runs for the playback tests: minute bars with predictable prices.
#pragma once

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "playback/playback.h"

namespace tapedeck::playback::testing {

inline const Timestamp kT0 = FromMicros(1'672'531'200'000'000);  // 2023-01-01T00:00:00Z
inline constexpr int64_t kMinuteUs = 60'000'000;

// A speed whose window is exactly `bars_per_window` minutes: D = S * 292 s.
inline double SpeedForMinutes(double minutes) { return minutes * 60.0 / 292.0; }

// A Speed the test knows to be valid (aborts otherwise).
inline Speed SpeedOf(double value) {
  Result<Speed> speed = Speed::FromDouble(value);
  if (!speed.ok()) std::abort();
  return *speed;
}

inline Timestamp Minute(int64_t m) { return kT0 + Micros{m * kMinuteUs}; }

// Bar prices derived from the minute, distinct per symbol; all exact in binary, so expected
// JSON text can be written by hand.
inline market::Bar BarAt(int64_t m, int sym = 0) {
  const double open = 100 + 0.25 * static_cast<double>(m % 97) + 50 * sym;
  return {Minute(m),
          open,
          open + 1 + 0.25 * static_cast<double>(m % 7),
          open - 0.5 - 0.125 * static_cast<double>(m % 5),
          open + 0.125,
          1 + static_cast<double>(m % 11)};
}

struct TapeSpec {
  TapeSpec(std::vector<std::vector<int64_t>> m, std::vector<std::string> s = {"BTCUSDT"})
      : minutes(std::move(m)), symbols(std::move(s)) {}
  // Per symbol, the minutes at which it has a bar (strictly increasing).
  std::vector<std::vector<int64_t>> minutes;
  std::vector<std::string> symbols;
  std::vector<engine::OrderEvent> events;  // `bar` must be set; ts is filled in
};

inline std::vector<int64_t> Range(int64_t n, int64_t from = 0) {
  std::vector<int64_t> out;
  for (int64_t m = from; m < from + n; ++m) out.push_back(m);
  return out;
}

inline std::shared_ptr<engine::RunResult> MakeRun(const TapeSpec& spec,
                                                  std::vector<market::Series>* series) {
  auto run = std::make_shared<engine::RunResult>();
  run->symbols = spec.symbols;
  std::vector<int64_t> all;
  for (size_t s = 0; s < spec.minutes.size(); ++s) {
    std::vector<market::Bar> bars;
    for (int64_t m : spec.minutes[s]) {
      bars.push_back(BarAt(m, static_cast<int>(s)));
      all.push_back(m);
    }
    series->push_back(market::Series::FromBars(spec.symbols[s], bars));
  }
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  for (size_t i = 0; i < all.size(); ++i) {
    run->times.push_back(Minute(all[i]));
    run->equity.push_back(10'000 + static_cast<double>(i) * 1.5);
  }
  run->events = spec.events;
  for (auto& ev : run->events) ev.ts = run->times[ev.bar];
  return run;
}

inline std::shared_ptr<const Tape> MakeTape(const TapeSpec& spec) {
  std::vector<market::Series> series;
  auto run = MakeRun(spec, &series);
  auto tape = Tape::Create(run, std::move(series));
  if (!tape.ok()) std::abort();
  return *tape;
}

inline std::shared_ptr<const Tape> MinuteTape(int64_t bars) {
  return MakeTape(TapeSpec{{Range(bars)}});
}

inline engine::OrderEvent Event(engine::OrderId id, size_t bar,
                                engine::OrderStatus status = engine::OrderStatus::kFilled) {
  engine::OrderEvent ev;
  ev.id = id;
  ev.bar = bar;
  ev.status = status;
  ev.qty = 1.5;
  if (status == engine::OrderStatus::kFilled) ev.px = 101.25;
  return ev;
}

}  // namespace tapedeck::playback::testing
