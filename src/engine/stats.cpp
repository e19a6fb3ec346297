// Statistics of a finished run: returns, risk, drawdown, trades, exposure.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "engine/engine.h"
#include "engine/run_state.h"

namespace tapedeck::engine {
namespace {

// A calendar year, as used to annualise: the mean Gregorian year is 365.2425 days, but 365.25
// is what most tools use, and matching them matters more than the last 0.002%.
constexpr double kMicrosPerYear = 365.25 * 86400.0 * 1e6;

// Fraction of bars at whose close some symbol held a position. A position is nonzero exactly
// while a trade is open: from its entry bar up to (not including) its exit bar, whose fill
// flattened it before the close; an open trade holds to the end.
double Exposure(const RunResult& r) {
  const size_t n = r.equity.size();
  if (n == 0 || r.trades.empty()) return 0;
  std::vector<std::pair<size_t, size_t>> spans;
  spans.reserve(r.trades.size());
  for (const Trade& t : r.trades) {
    const size_t end = t.open ? n : t.exit_bar;
    if (end > t.entry_bar) spans.emplace_back(t.entry_bar, end);
  }
  std::sort(spans.begin(), spans.end());
  size_t held = 0, covered_to = 0;
  for (const auto& [begin, end] : spans) {
    const size_t from = std::max(begin, covered_to);
    if (end > from) {
      held += end - from;
      covered_to = end;
    }
  }
  return static_cast<double>(held) / static_cast<double>(n);
}

double SimpleReturn(double prev, double cur) { return prev != 0 ? cur / prev - 1 : 0; }

// Sums over the per-bar simple returns r: of r - shift, of its square, and of min(r, 0)^2.
// Summing relative to the first return keeps the variance exact for a constant return instead of
// leaving a cancellation residue. Two lanes (odd and even bars) let the additions of one overlap
// the other's: on a 500k-bar curve this loop is a visible part of a run.
struct Moments {
  double shift = 0, sum = 0, sum_sq = 0, down_sq = 0;
};
Moments ReturnMoments(const double* e, size_t n) {
  Moments m;
  if (n < 2) return m;
  m.shift = SimpleReturn(e[0], e[1]);
  // The two lanes as the two halves of one SSE2 vector: lane 0 takes bars 1, 3, 5, ..., lane 1
  // bars 2, 4, 6, ..., each with exactly the scalar operations below (an element-wise vector
  // operation rounds as its scalar form), but one division serves two bars.
  using V2 = double __attribute__((vector_size(16)));
  using M2 = int64_t __attribute__((vector_size(16)));
  const V2 zero = {0, 0}, one = {1, 1}, half = {0.5, 0.5}, shift = {m.shift, m.shift};
  V2 sum = zero, sum_sq = zero, down_sq = zero;
  size_t i = 1;
  for (; i + 1 < n; i += 2) {
    V2 prev, cur;
    __builtin_memcpy(&prev, e + i - 1, sizeof prev);
    __builtin_memcpy(&cur, e + i, sizeof cur);
    // SimpleReturn: prev != 0 ? cur / prev - 1 : 0. A lane whose prev is 0 divides by 1 instead
    // (no trap, no NaN to mask) and is then replaced by 0.
    const M2 nonzero = prev != zero;
    const V2 q = cur / (nonzero ? prev : one) - one;
    const V2 ret = nonzero ? q : zero;
    const V2 d = ret - shift;
    sum += d;
    sum_sq += d * d;
    // min(ret, 0) without a branch: for ret < 0, (ret - |ret|) / 2 = ret exactly; for ret >= 0
    // it is 0. |ret| by clearing the sign bit.
    V2 abs_ret;
    {
      M2 bits;
      __builtin_memcpy(&bits, &ret, sizeof bits);
      bits &= M2{INT64_MAX, INT64_MAX};
      __builtin_memcpy(&abs_ret, &bits, sizeof abs_ret);
    }
    const V2 loss = (ret - abs_ret) * half;
    down_sq += loss * loss;
  }
  double sum0 = sum[0], sum_sq0 = sum_sq[0], down_sq0 = down_sq[0];
  if (i < n) {
    const double ret = SimpleReturn(e[i - 1], e[i]);
    const double d = ret - m.shift;
    sum0 += d;
    sum_sq0 += d * d;
    const double loss = (ret - std::abs(ret)) * 0.5;
    down_sq0 += loss * loss;
  }
  m.sum = sum0 + sum[1];
  m.sum_sq = sum_sq0 + sum_sq[1];
  m.down_sq = down_sq0 + down_sq[1];
  return m;
}

}  // namespace

Stats ComputeStats(const RunResult& r, std::span<const market::Series> data, double start_equity) {
  size_t fills = 0;
  for (const OrderEvent& e : r.events) fills += e.status == OrderStatus::kFilled;
  return detail::ComputeStats(r, data, start_equity, fills);
}

namespace detail {

Stats ComputeStats(const RunResult& r, std::span<const market::Series> data, double start_equity,
                   size_t fills) {
  Stats s;
  s.fills = fills;
  const size_t n = r.equity.size();
  s.bars = n;
  s.start_equity = start_equity;
  s.final_equity = n > 0 ? r.equity.back() : start_equity;
  s.total_return = s.final_equity / start_equity - 1;

  double years = 0;
  if (r.times.size() >= 2) {
    years = static_cast<double>((r.times.back() - r.times.front()).count()) / kMicrosPerYear;
  }
  if (years > 0) {
    s.periods_per_year = static_cast<double>(n - 1) / years;
    s.cagr = s.final_equity > 0 ? std::pow(s.final_equity / start_equity, 1 / years) - 1 : -1;
  }

  const double* e = r.equity.data();
  const Moments mo = ReturnMoments(e, n);

  // Drawdown from the running peak. A drawdown is divided out only when it is a new maximum
  // (`floor` is the equity below which it would be), so most bars cost a compare or two.
  double peak = n > 0 ? e[0] : 0;
  double floor = peak;
  Timestamp peak_time = n > 0 ? r.times[0] : Timestamp{};
  bool under = false;
  Micros longest{0};
  for (size_t i = 1; i < n; ++i) {
    const double cur = e[i];
    if (cur >= peak) {
      if (under) longest = std::max(longest, r.times[i] - peak_time);
      under = false;
      peak = cur;
      peak_time = r.times[i];
      floor = peak * (1 - s.max_drawdown);
    } else {
      under = true;
      if (cur < floor && peak > 0) {
        s.max_drawdown = std::max(s.max_drawdown, 1 - cur / peak);
        floor = cur;
      }
    }
  }
  if (under) longest = std::max(longest, r.times[n - 1] - peak_time);
  s.max_drawdown_duration = longest;

  if (n >= 2) {
    const double m = static_cast<double>(n - 1);
    const double mean = mo.shift + mo.sum / m;
    const double var = n >= 3 ? std::max(0.0, (mo.sum_sq - mo.sum * mo.sum / m) / (m - 1)) : 0;
    const double sd = std::sqrt(var);
    const double down = std::sqrt(mo.down_sq / m);
    const double scale = std::sqrt(s.periods_per_year);
    s.volatility = sd * scale;
    s.sharpe = sd > 0 ? mean / sd * scale : 0;
    s.sortino = down > 0 ? mean / down * scale : 0;
  }
  s.calmar = s.max_drawdown > 0 ? s.cagr / s.max_drawdown : 0;

  s.trades = r.trades.size();
  double gross_profit = 0, gross_loss = 0, total_pnl = 0;
  size_t wins = 0;
  for (const Trade& t : r.trades) {
    total_pnl += t.pnl;
    if (t.pnl > 0) {
      ++wins;
      gross_profit += t.pnl;
    } else if (t.pnl < 0) {
      gross_loss -= t.pnl;
    }
  }
  if (s.trades > 0) {
    const double count = static_cast<double>(s.trades);
    s.win_rate = static_cast<double>(wins) / count;
    s.expectancy = total_pnl / count;
    if (gross_loss > 0) {
      s.profit_factor = gross_profit / gross_loss;
    } else if (gross_profit > 0) {
      s.profit_factor = std::numeric_limits<double>::infinity();
    }
  }
  s.exposure = Exposure(r);

  if (!data.empty() && !data[0].empty()) {
    const auto close = data[0].close();
    s.buy_and_hold_return = close.back() / close.front() - 1;
  }
  return s;
}

}  // namespace detail
}  // namespace tapedeck::engine
