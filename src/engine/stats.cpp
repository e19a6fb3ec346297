// Statistics of a finished run: returns, risk, drawdown, trades, exposure.
#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "engine/engine.h"

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
// leaving a cancellation residue. Two lanes (even and odd bars) let the additions of one overlap
// the other's: on a 500k-bar curve this loop is a visible part of a run.
struct Moments {
  double shift = 0, sum = 0, sum_sq = 0, down_sq = 0;
};
Moments ReturnMoments(const double* e, size_t n) {
  Moments m;
  if (n < 2) return m;
  m.shift = SimpleReturn(e[0], e[1]);
  double sum[2] = {0, 0}, sum_sq[2] = {0, 0}, down_sq[2] = {0, 0};
  auto add = [&](int lane, size_t i) {
    const double ret = SimpleReturn(e[i - 1], e[i]);
    const double d = ret - m.shift;
    sum[lane] += d;
    sum_sq[lane] += d * d;
    // min(ret, 0) without a branch (GCC makes std::min one here, and the sign of a return is a
    // coin toss): for ret < 0, (ret - |ret|) / 2 = ret exactly; for ret >= 0 it is 0.
    const double loss = (ret - std::abs(ret)) * 0.5;
    down_sq[lane] += loss * loss;
  };
  size_t i = 1;
  for (; i + 1 < n; i += 2) {
    add(0, i);
    add(1, i + 1);
  }
  if (i < n) add(0, i);
  m.sum = sum[0] + sum[1];
  m.sum_sq = sum_sq[0] + sum_sq[1];
  m.down_sq = down_sq[0] + down_sq[1];
  return m;
}

}  // namespace

Stats ComputeStats(const RunResult& r, std::span<const market::Series> data, double start_equity) {
  Stats s;
  const size_t n = r.equity.size();
  s.bars = n;
  s.start_equity = start_equity;
  s.final_equity = n > 0 ? r.equity.back() : start_equity;
  s.total_return = s.final_equity / start_equity - 1;
  for (const OrderEvent& e : r.events) s.fills += e.status == OrderStatus::kFilled;

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

}  // namespace tapedeck::engine
