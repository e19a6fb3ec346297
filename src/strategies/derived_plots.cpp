// The built-ins' plotted series from the bars: what each derivation means, computed with the
// indicators the strategies themselves feed (strategies/indicators.h), in the same order, so every
// value is the one the run would have plotted, bit for bit (derived_plots_test holds them to it).
#include "strategies/derived_plots.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

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

// The series' value at each of the first `count` bars of `bars` (symbol 0's), as the strategy
// plots it at that bar: NaN where it plots nothing.
Result<std::vector<double>> AtBars(std::string_view text, const market::Series& bars,
                                   size_t count) {
  TD_ASSIGN_OR_RETURN(const Parsed& p, Parse(text));
  const auto close = bars.close().first(count);
  std::vector<double> out(count, kNaN);
  size_t n = 0, m = 0, g = 0;
  const auto bad = [&] { return Unknown(text, "unknown kind or wrong arguments"); };
  if (p.kind == "sma") {
    // sma_cross fills its means with SmaFill, MovingAverageCross<Sma> with Sma: the same bits.
    if (p.args.size() != 1 || !Period(p, 0, &n)) return bad();
    if (count > 0) SmaFill(n).Fill(close.data(), 0, count, out.data());
  } else if (p.kind == "ema") {
    if (p.args.size() != 1 || !Period(p, 0, &n)) return bad();
    Ema ema(n);
    for (size_t i = 0; i < count; ++i) {
      ema.Update(close[i]);
      out[i] = ema.value();  // NaN while it warms up, as MovingAverageCross plots it
    }
  } else if (p.kind == "rsi") {
    if (p.args.size() != 1 || !Period(p, 0, &n)) return bad();
    Rsi rsi(n);
    for (size_t i = 0; i < count; ++i) {
      rsi.Update(close[i]);
      if (rsi.ready()) out[i] = rsi.value();
    }
  } else if (p.kind == "bollinger.middle" || p.kind == "bollinger.upper" ||
             p.kind == "bollinger.lower") {
    if (p.args.size() != 2 || !Period(p, 0, &n) || !(p.args[1] >= 0)) return bad();
    Bollinger bands(n, p.args[1]);
    const char which = p.kind[10];  // 'm', 'u' or 'l'
    for (size_t i = 0; i < count; ++i) {
      bands.Update(close[i]);
      if (!bands.ready()) continue;
      out[i] = which == 'm' ? bands.middle() : which == 'u' ? bands.upper() : bands.lower();
    }
  } else if (p.kind == "macd.line" || p.kind == "macd.signal" || p.kind == "macd.histogram") {
    if (p.args.size() != 3 || !Period(p, 0, &n) || !Period(p, 1, &m) || !Period(p, 2, &g) ||
        n >= m) {
      return bad();
    }
    Macd macd(n, m, g);
    const char which = p.kind[5];  // 'l', 's' or 'h'
    for (size_t i = 0; i < count; ++i) {
      macd.Update(close[i]);
      if (!macd.ready()) continue;
      out[i] = which == 'l' ? macd.value() : which == 's' ? macd.signal() : macd.histogram();
    }
  } else if (p.kind == "donchian.upper") {
    // The channel of the bars before: read before the bar's own high goes in.
    if (p.args.size() != 1 || !Period(p, 0, &n)) return bad();
    const auto high = bars.high().first(count);
    RollingMax highest(n);
    for (size_t i = 0; i < count; ++i) {
      out[i] = highest.value();
      highest.Update(high[i]);
    }
  } else if (p.kind == "donchian.lower") {
    if (p.args.size() != 1 || !Period(p, 0, &n)) return bad();
    const auto low = bars.low().first(count);
    RollingMin lowest(n);
    for (size_t i = 0; i < count; ++i) {
      out[i] = lowest.value();
      lowest.Update(low[i]);
    }
  } else {
    return bad();
  }
  return out;
}

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
