// Statistics of a finished run: returns, risk, drawdown, trades, exposure.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "engine/curve_scan.h"
#include "engine/engine.h"
#include "engine/run_state.h"

namespace tapedeck::engine {
namespace {

// A calendar year, as used to annualise: the mean Gregorian year is 365.2425 days, but 365.25
// is what most tools use, and matching them matters more than the last 0.002%.
constexpr double kMicrosPerYear = 365.25 * 86400.0 * 1e6;

// Fraction of bars at whose close some symbol held a position. A position is nonzero exactly
// while a trade is open: from its entry bar up to (not including) its exit bar, whose fill
// flattened it before the close; an open trade holds to the end (TradeSums::spans). Sorts `spans`.
double Exposure(std::vector<std::pair<size_t, size_t>>& spans, size_t trades, size_t n) {
  if (n == 0 || trades == 0) return 0;
  // One symbol's trades come in order, each after the one before: sorted already.
  if (!std::is_sorted(spans.begin(), spans.end())) std::sort(spans.begin(), spans.end());
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

}  // namespace

Stats ComputeStats(const RunResult& r, std::span<const market::Series> data, double start_equity) {
  size_t fills = 0;
  for (const OrderEvent& e : r.events) fills += e.status == OrderStatus::kFilled;
  detail::CurveScan scan;
  scan.Finish(r.equity.data(), r.times.data(), r.equity.size());
  detail::CurveEnds ends;
  ends.bars = r.equity.size();
  if (!r.equity.empty()) ends.final_equity = r.equity.back();
  if (r.times.size() >= 2) {
    ends.spanned = true;
    ends.first = r.times.front();
    ends.last = r.times.back();
  }
  detail::TradeSums trades;
  for (const Trade& t : r.trades) trades.Add(t, ends.bars);
  return detail::ComputeStats(data, start_equity, fills, scan, ends, trades);
}

namespace detail {

Stats ComputeStats(std::span<const market::Series> data, double start_equity, size_t fills,
                   const CurveScan& scan, const CurveEnds& ends, TradeSums& trades) {
  Stats s;
  s.fills = fills;
  const size_t n = ends.bars;
  s.bars = n;
  s.start_equity = start_equity;
  s.final_equity = n > 0 ? ends.final_equity : start_equity;
  s.total_return = s.final_equity / start_equity - 1;

  double years = 0;
  if (ends.spanned) {
    years = static_cast<double>((ends.last - ends.first).count()) / kMicrosPerYear;
  }
  if (years > 0) {
    s.periods_per_year = static_cast<double>(n - 1) / years;
    s.cagr = s.final_equity > 0 ? std::pow(s.final_equity / start_equity, 1 / years) - 1 : -1;
  }

  const CurveScan::Moments& mo = scan.moments();
  s.max_drawdown = scan.max_drawdown();
  s.max_drawdown_duration = scan.longest_drawdown();

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

  s.trades = trades.trades;
  if (s.trades > 0) {
    const double count = static_cast<double>(s.trades);
    s.win_rate = static_cast<double>(trades.wins) / count;
    s.expectancy = trades.total_pnl / count;
    if (trades.gross_loss > 0) {
      s.profit_factor = trades.gross_profit / trades.gross_loss;
    } else if (trades.gross_profit > 0) {
      s.profit_factor = std::numeric_limits<double>::infinity();
    }
  }
  s.exposure = Exposure(trades.spans, trades.trades, n);

  if (!data.empty() && !data[0].empty()) {
    const auto close = data[0].close();
    s.buy_and_hold_return = close.back() / close.front() - 1;
  }
  return s;
}

}  // namespace detail
}  // namespace tapedeck::engine
