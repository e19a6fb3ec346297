// The built-ins' plotted series from the bars: what each derivation means, computed with the
// indicators the strategies themselves feed (strategies/indicators.h), in the same order, so every
// value is the one the run would have plotted, bit for bit (derived_plots_test holds them to it).
#include "strategies/derived_plots.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <initializer_list>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "engine/plot_values.h"
#include "strategies/indicators.h"
#include "strategies/strategies.h"

namespace tapedeck::strategies {
namespace internal {

std::string Derivation(std::string_view kind, std::initializer_list<double> args) {
  std::string out(kind);
  char sep = ':';
  for (double a : args) {
    char buf[32];
    // Shortest round trip: parsing the text gives back the same double.
    const auto res = std::to_chars(buf, buf + sizeof buf, a);
    out += sep;
    out.append(buf, res.ptr);
    sep = ',';
  }
  return out;
}

}  // namespace internal

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Periods past this are not a built-in's (registry.cpp's kMaxPeriod is 1,000,000): a damaged
// derivation, refused before it sizes a buffer.
constexpr double kMaxDerivedPeriod = 1e7;
// DerivePlotValues: past this many bars between two copies of a series' state (a ring buffer of
// ~128 K values or more), its values are held rather than computed.
constexpr size_t kMaxCheckpointEvery = size_t{1} << 16;

Error Unknown(std::string_view derivation, std::string_view why) {
  return MakeError(
      ErrorCode::kIo,
      "cannot derive plotted series '" + std::string(derivation) + "': " + std::string(why),
      {{"field", "plots"}, {"derivation", std::string(derivation)}});
}

struct Parsed {
  std::string_view kind;
  std::vector<double> args;
};

Result<Parsed> Parse(std::string_view text) {
  Parsed p;
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) return Unknown(text, "no arguments");
  p.kind = text.substr(0, colon);
  std::string_view rest = text.substr(colon + 1);
  for (;;) {
    double v = 0;
    const auto res = std::from_chars(rest.data(), rest.data() + rest.size(), v);
    if (res.ec != std::errc() || !std::isfinite(v)) return Unknown(text, "a bad argument");
    p.args.push_back(v);
    rest.remove_prefix(static_cast<size_t>(res.ptr - rest.data()));
    if (rest.empty()) break;
    if (rest.front() != ',') return Unknown(text, "a bad argument");
    rest.remove_prefix(1);
  }
  return p;
}

// args[i] as a period: a whole number in [1, kMaxDerivedPeriod].
bool Period(const Parsed& p, size_t i, size_t* out) {
  if (i >= p.args.size()) return false;
  const double v = p.args[i];
  if (v < 1 || v > kMaxDerivedPeriod || v != std::floor(v)) return false;
  *out = static_cast<size_t>(v);
  return true;
}

// The loop a derivation's values come from, as a copyable state: Run(bars, from, to, out) writes
// out[i - from], for i in [from, to), the series' value at bar i of `bars` (symbol 0's), as the
// strategy plots it there (NaN where it plots nothing), and carries its state on to bar `to`.
// REQUIRES: `from` is 0 for a fresh state, else where the previous Run ended. A copy taken between
// two Runs resumes from there: the same operations in the same order, so the same bits.
struct SmaState {
  // sma_cross fills its means with SmaFill, MovingAverageCross<Sma> with Sma: the same bits.
  SmaFill fill;
  void Run(const market::Series& bars, size_t from, size_t to, double* out) {
    fill.Fill(bars.close().data(), from, to - from, out);
  }
};
struct EmaState {
  Ema ema;
  void Run(const market::Series& bars, size_t from, size_t to, double* out) {
    const auto close = bars.close();
    for (size_t i = from; i < to; ++i) {
      ema.Update(close[i]);
      out[i - from] = ema.value();  // NaN while it warms up, as MovingAverageCross plots it
    }
  }
};
struct RsiState {
  Rsi rsi;
  void Run(const market::Series& bars, size_t from, size_t to, double* out) {
    const auto close = bars.close();
    for (size_t i = from; i < to; ++i) {
      rsi.Update(close[i]);
      out[i - from] = rsi.ready() ? rsi.value() : kNaN;
    }
  }
};
struct BollingerState {
  Bollinger bands;
  char which;  // 'm', 'u' or 'l'
  void Run(const market::Series& bars, size_t from, size_t to, double* out) {
    const auto close = bars.close();
    for (size_t i = from; i < to; ++i) {
      bands.Update(close[i]);
      out[i - from] = !bands.ready() ? kNaN
                      : which == 'm' ? bands.middle()
                      : which == 'u' ? bands.upper()
                                     : bands.lower();
    }
  }
};
struct MacdState {
  Macd macd;
  char which;  // 'l', 's' or 'h'
  void Run(const market::Series& bars, size_t from, size_t to, double* out) {
    const auto close = bars.close();
    for (size_t i = from; i < to; ++i) {
      macd.Update(close[i]);
      out[i - from] = !macd.ready()  ? kNaN
                      : which == 'l' ? macd.value()
                      : which == 's' ? macd.signal()
                                     : macd.histogram();
    }
  }
};
template <typename Extreme, bool kHigh>
struct ChannelState {
  // The channel of the bars before: read before the bar's own high (low) goes in.
  Extreme extreme;
  void Run(const market::Series& bars, size_t from, size_t to, double* out) {
    const auto col = kHigh ? bars.high() : bars.low();
    for (size_t i = from; i < to; ++i) {
      out[i - from] = extreme.value();
      extreme.Update(col[i]);
    }
  }
};
using DonchianUpperState = ChannelState<RollingMax, true>;
using DonchianLowerState = ChannelState<RollingMin, false>;

using State = std::variant<SmaState, EmaState, RsiState, BollingerState, MacdState,
                           DonchianUpperState, DonchianLowerState>;

// A derivation's state before its first bar, and the bytes a copy of it holds (its ring buffers).
struct Start {
  State state;
  size_t bytes = 0;
};

Result<Start> MakeState(std::string_view text) {
  TD_ASSIGN_OR_RETURN(const Parsed& p, Parse(text));
  size_t n = 0, m = 0, g = 0;
  const auto bad = [&] { return Unknown(text, "unknown kind or wrong arguments"); };
  if (p.kind == "sma") {
    if (p.args.size() != 1 || !Period(p, 0, &n)) return bad();
    return Start{SmaState{SmaFill(n)}, sizeof(SmaFill)};
  }
  if (p.kind == "ema") {
    if (p.args.size() != 1 || !Period(p, 0, &n)) return bad();
    return Start{EmaState{Ema(n)}, sizeof(Ema)};
  }
  if (p.kind == "rsi") {
    if (p.args.size() != 1 || !Period(p, 0, &n)) return bad();
    return Start{RsiState{Rsi(n)}, sizeof(Rsi)};
  }
  if (p.kind == "bollinger.middle" || p.kind == "bollinger.upper" || p.kind == "bollinger.lower") {
    if (p.args.size() != 2 || !Period(p, 0, &n) || !(p.args[1] >= 0)) return bad();
    return Start{BollingerState{Bollinger(n, p.args[1]), p.kind[10]},
                 sizeof(Bollinger) + n * sizeof(double)};
  }
  if (p.kind == "macd.line" || p.kind == "macd.signal" || p.kind == "macd.histogram") {
    if (p.args.size() != 3 || !Period(p, 0, &n) || !Period(p, 1, &m) || !Period(p, 2, &g) ||
        n >= m) {
      return bad();
    }
    return Start{MacdState{Macd(n, m, g), p.kind[5]}, sizeof(Macd)};
  }
  if (p.kind == "donchian.upper") {
    if (p.args.size() != 1 || !Period(p, 0, &n)) return bad();
    return Start{DonchianUpperState{RollingMax(n)}, sizeof(RollingMax) + n * 2 * sizeof(double)};
  }
  if (p.kind == "donchian.lower") {
    if (p.args.size() != 1 || !Period(p, 0, &n)) return bad();
    return Start{DonchianLowerState{RollingMin(n)}, sizeof(RollingMin) + n * 2 * sizeof(double)};
  }
  return bad();
}

void RunState(State& state, const market::Series& bars, size_t from, size_t to, double* out) {
  if (from < to) std::visit([&](auto& s) { s.Run(bars, from, to, out); }, state);
}

// The series' value at each of the first `count` bars of `bars` (symbol 0's), as the strategy
// plots it at that bar: NaN where it plots nothing.
Result<std::vector<double>> AtBars(std::string_view text, const market::Series& bars,
                                   size_t count) {
  TD_ASSIGN_OR_RETURN(Start start, MakeState(text));
  std::vector<double> out(count, kNaN);
  RunState(start.state, bars, 0, count, out.data());
  return out;
}

// A derived series over the first `size` bars of `bars`, computed when read: the state of its
// loop (S, one of State's) is kept before every `every`-th bar, and a range is computed by resuming
// the copy of the last one at or before its start (at most every - 1 bars computed and dropped
// before it).
template <typename S>
class Checkpointed final : public engine::PlotValues {
 public:
  Checkpointed(S start, market::Series bars, size_t size, size_t every)
      : bars_(std::move(bars)), size_(size), every_(every) {
    checkpoints_.reserve(size / every + 1);
    std::vector<double> scratch(std::min(size, every));
    S state = std::move(start);
    for (size_t from = 0; from < size; from += every) {
      checkpoints_.push_back(state);
      state.Run(bars_, from, std::min(size, from + every), scratch.data());
    }
  }

  size_t size() const override { return size_; }
  size_t resume_every() const override { return every_; }

  void Fill(size_t begin, size_t end, double* out) const override {
    if (begin >= end) return;
    const size_t j = begin / every_;
    S state = checkpoints_[j];
    const size_t from = j * every_;
    if (from < begin) {
      std::vector<double> skipped(begin - from);
      state.Run(bars_, from, begin, skipped.data());
    }
    state.Run(bars_, begin, end, out);
  }

 private:
  market::Series bars_;
  size_t size_, every_;
  std::vector<S> checkpoints_;  // [j]: the state before bar j * every_
};

}  // namespace

Status MaterialisePlots(engine::RunResult& result, const market::Series& symbol0) {
  bool any = false;
  for (const engine::PlotSeries& p : result.plots) any = any || !p.derivation.empty();
  if (!any) return Ok();
  const auto& times = result.times;
  const auto bar_times = symbol0.times();
  // Symbol 0's bars on the timeline: bar j is at timeline index at[j]. Only the bars up to the
  // timeline's last count (a head's timeline ends before the run's).
  std::vector<size_t> at;
  const bool same =
      bar_times.size() >= times.size() && std::equal(times.begin(), times.end(), bar_times.begin());
  size_t count = same ? times.size() : 0;
  if (!same) {
    at.reserve(bar_times.size());
    size_t t = 0;
    for (size_t j = 0; j < bar_times.size() && !times.empty() && bar_times[j] <= times.back();
         ++j) {
      while (t < times.size() && times[t] < bar_times[j]) ++t;
      if (t == times.size() || times[t] != bar_times[j]) {
        return MakeError(ErrorCode::kValidation, "symbol 0's bars are not on the run's timeline",
                         {{"field", "series"}, {"bar", std::to_string(j)}});
      }
      at.push_back(t);
    }
    count = at.size();
  }
  for (engine::PlotSeries& p : result.plots) {
    if (p.derivation.empty()) continue;
    auto derived = AtBars(p.derivation, symbol0, count);
    if (!derived.ok()) return derived.take_error();
    std::vector<double> values = std::move(derived).value();
    if (same) {
      p.values = std::move(values);
    } else {
      p.values.assign(times.size(), kNaN);
      for (size_t j = 0; j < count; ++j) p.values[at[j]] = values[j];
    }
    p.derivation.clear();
  }
  return Ok();
}

}  // namespace tapedeck::strategies

namespace tapedeck::strategies {

Result<std::vector<std::shared_ptr<const engine::PlotValues>>> DerivePlotValues(
    engine::RunResult& result, size_t bars, const market::Series& symbol0, size_t every) {
  std::vector<std::shared_ptr<const engine::PlotValues>> out(result.plots.size());
  bars = std::min(bars, symbol0.size());
  for (size_t p = 0; p < result.plots.size(); ++p) {
    engine::PlotSeries& plot = result.plots[p];
    if (plot.derivation.empty()) continue;
    auto start = MakeState(plot.derivation);
    if (!start.ok()) return start.take_error();
    // A state of B bytes is kept every max(every, B / 2) bars (a power of two past `every`): its
    // copies hold at most a quarter of the values they stand for. One that would need more than
    // kMaxCheckpointEvery bars between copies, or a run too short for one copy to pay, holds its
    // values, as before.
    const size_t spacing = std::max<size_t>({every, 1, std::bit_ceil(start->bytes / 2)});
    const size_t copies = bars / spacing + 1;
    if (spacing > kMaxCheckpointEvery || copies * start->bytes > bars * 2) {
      auto values = AtBars(plot.derivation, symbol0, bars);
      if (!values.ok()) return values.take_error();
      plot.values = std::move(values).value();
    } else {
      out[p] = std::visit(
          [&](auto& state) -> std::shared_ptr<const engine::PlotValues> {
            using S = std::decay_t<decltype(state)>;
            return std::make_shared<const Checkpointed<S>>(std::move(state), symbol0, bars,
                                                           spacing);
          },
          start->state);
    }
    plot.derivation.clear();
  }
  return out;
}

}  // namespace tapedeck::strategies
