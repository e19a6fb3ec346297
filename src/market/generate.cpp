// Synthetic bars: a driftless geometric random walk sampled once per bar. Prices are whole ticks
// (integers) until the end, so the OHLC invariants are exact integer comparisons and equal
// prices, as on a real tick grid, are common.
#include <algorithm>
#include <cmath>
#include <memory>
#include <numbers>

#include "market/column_buffer.h"
#include "market/market.h"

namespace tapedeck::market {
namespace {

constexpr double kTicksPerUnit = 100;  // a 0.01 tick
constexpr double kAnnualVolatility = 0.6;
constexpr double kMicrosPerYear = 365.25 * 86'400e6;
// The walk is reflected off these (in ticks) so that a very long series stays on a useful grid
// rather than decaying to one tick or overflowing.
constexpr double kMinTicks = 100;
constexpr double kMaxTicks = 1e12;
constexpr double kBaseVolume = 1000;

// xoshiro256** seeded by splitmix64 (Blackman & Vigna): small, fast, and defined bit for bit, so
// a seed means the same bars everywhere, unlike std::normal_distribution.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (uint64_t& s : s_) s = SplitMix(seed);
  }
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  // In (0, 1]: never 0, so its log is finite.
  double Uniform() { return static_cast<double>((Next() >> 11) + 1) * 0x1.0p-53; }
  // Standard normal by Box-Muller, the second value of each pair kept for the next call.
  double Normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double r = std::sqrt(-2 * std::log(Uniform()));
    const double theta = 2 * std::numbers::pi * Uniform();
    spare_ = r * std::sin(theta);
    has_spare_ = true;
    return r * std::cos(theta);
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static uint64_t SplitMix(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t s_[4];
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace

Series Generate(const GenOptions& options) {
  const size_t n = options.bars;
  // Column buffers rather than vectors: a year of minutes is 25 MB of fresh memory (see
  // column_buffer.h for why that matters).
  struct Columns {
    ColumnBuffer<Timestamp> times;
    ColumnBuffer<double> open, high, low, close, volume;
  };
  auto cols = std::make_shared<Columns>();
  cols->times.Reserve(n);
  for (auto* col : {&cols->open, &cols->high, &cols->low, &cols->close, &cols->volume}) {
    col->Reserve(n);
  }
  Rng rng(options.seed);
  const double bar_sigma =
      kAnnualVolatility * std::sqrt(static_cast<double>(options.interval.count()) / kMicrosPerYear);
  const double log_min = std::log(kMinTicks), log_max = std::log(kMaxTicks);
  double log_ticks = std::log(std::max(options.start_price * kTicksPerUnit, kMinTicks));
  double prev_close = std::round(std::exp(log_ticks));
  for (size_t i = 0; i < n; ++i) {
    const double z = rng.Normal();
    log_ticks += bar_sigma * z;
    if (log_ticks < log_min) log_ticks = 2 * log_min - log_ticks;
    if (log_ticks > log_max) log_ticks = 2 * log_max - log_ticks;
    const double o = prev_close;
    const double c = std::round(std::exp(log_ticks));
    // Wicks: how far the price strayed beyond open and close within the bar.
    const double up = std::abs(rng.Normal()) * bar_sigma * 0.5;
    const double down = std::abs(rng.Normal()) * bar_sigma * 0.5;
    const double h = std::ceil(std::max(o, c) * std::exp(up));
    const double l = std::max(1.0, std::floor(std::min(o, c) * std::exp(-down)));
    // Busier bars move more: volume grows with the size of the move.
    const double v =
        std::max(1.0, std::round(kBaseVolume * std::exp(0.5 * rng.Normal()) * (1 + std::abs(z))));
    cols->times.PushBack(options.start + options.interval * static_cast<int64_t>(i));
    cols->open.PushBack(o / kTicksPerUnit);
    cols->high.PushBack(h / kTicksPerUnit);
    cols->low.PushBack(l / kTicksPerUnit);
    cols->close.PushBack(c / kTicksPerUnit);
    cols->volume.PushBack(v);
    prev_close = c;
  }
  const Columns& c = *cols;
  return Series::FromSpans(options.symbol, cols, c.times.span(), c.open.span(), c.high.span(),
                           c.low.span(), c.close.span(), c.volume.span());
}

}  // namespace tapedeck::market
