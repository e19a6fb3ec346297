#include "sweep/robustness.h"

#include <atomic>
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <functional>
#include <limits>
#include <numbers>
#include <string>

namespace tapedeck::sweep {
namespace {

constexpr int64_t kMicrosPerDay = 86'400'000'000LL;
constexpr double kInf = std::numeric_limits<double>::infinity();

// Floor, not truncation: a bar before 1970 belongs to the day that starts before it.
int64_t DayOf(Timestamp t) {
  const int64_t us = ToMicros(t);
  return us / kMicrosPerDay - (us % kMicrosPerDay < 0 ? 1 : 0);
}

// Exact equality rather than a zero computed deviation: the mean of equal values can round off
// them (three times 0.1 has mean 0.10000000000000002), which would turn a flat series into a
// Sharpe of 1e16 instead of the pinned 0.
bool AllEqual(std::span<const double> v) {
  return std::adjacent_find(v.begin(), v.end(), std::not_equal_to<>()) == v.end();
}

double Mean(std::span<const double> v) {
  double sum = 0;
  for (double x : v) sum += x;
  return sum / static_cast<double>(v.size());
}

// Two-pass with the correction term of Chan, Golub & LeVeque: Σd² − (Σd)²/n removes most of the
// rounding left in the first pass's mean.
double SampleVariance(std::span<const double> v, double mean) {
  double sum_sq = 0, sum = 0;
  for (double x : v) {
    const double d = x - mean;
    sum += d;
    sum_sq += d * d;
  }
  const double n = static_cast<double>(v.size());
  return std::max(0.0, (sum_sq - sum * sum / n) / (n - 1));
}

// For the variance of the trials' Sharpe ratios (a zero when they are all equal).
double Variance(std::span<const double> v) {
  if (v.size() < 2 || AllEqual(v)) return 0;
  return SampleVariance(v, Mean(v));
}

template <size_t N>
double Polynomial(const std::array<double, N>& c, double x) {
  double y = 0;
  for (size_t i = N; i-- > 0;) y = y * x + c[i];
  return y;
}

// AS241's published coefficients, lowest power first (unformatted: clang-format puts one a line).
// clang-format off
constexpr std::array<double, 8> kAs241A = {
    3.3871328727963666080e0, 1.3314166789178437745e+2, 1.9715909503065514427e+3,
    1.3731693765509461125e+4, 4.5921953931549871457e+4, 6.7265770927008700853e+4,
    3.3430575583588128105e+4, 2.5090809287301226727e+3};
constexpr std::array<double, 8> kAs241B = {
    1.0, 4.2313330701600911252e+1, 6.8718700749205790830e+2,
    5.3941960214247511077e+3, 2.1213794301586595867e+4, 3.9307895800092710610e+4,
    2.8729085735721942674e+4, 5.2264952788528545610e+3};
constexpr std::array<double, 8> kAs241C = {
    1.42343711074968357734e0, 4.63033784615654529590e0, 5.76949722146069140550e0,
    3.64784832476320460504e0, 1.27045825245236838258e0, 2.41780725177450611770e-1,
    2.27238449892691845833e-2, 7.74545014278341407640e-4};
constexpr std::array<double, 8> kAs241D = {
    1.0, 2.05319162663775882187e0, 1.67638483018380384940e0,
    6.89767334985100004550e-1, 1.48103976427480074590e-1, 1.51986665636164571966e-2,
    5.47593808499534494600e-4, 1.05075007164441684324e-9};
constexpr std::array<double, 8> kAs241E = {
    6.65790464350110377720e0, 5.46378491116411436990e0, 1.78482653991729133580e0,
    2.96560571828504891230e-1, 2.65321895265761230930e-2, 1.24266094738807843860e-3,
    2.71155556874348757815e-5, 2.01033439929228813265e-7};
constexpr std::array<double, 8> kAs241F = {
    1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1,
    1.48753612908506148525e-2, 7.86869131145613259100e-4, 1.84631831751005468180e-5,
    1.42151175831644588870e-7, 2.04426310338993978564e-15};
// clang-format on

}  // namespace

std::vector<DailyReturn> DailyReturns(std::span<const Timestamp> times,
                                      std::span<const double> equity, double start_cash) {
  std::vector<DailyReturn> out;
  double previous = start_cash;
  for (size_t i = 0; i < times.size(); ++i) {
    const bool last_of_day = i + 1 == times.size() || DayOf(times[i + 1]) != DayOf(times[i]);
    if (!last_of_day) continue;
    out.push_back({DayOf(times[i]), equity[i] / previous - 1});
    previous = equity[i];
  }
  return out;
}

std::string FormatDay(int64_t day) {
  return FormatIso(FromMicros(day * kMicrosPerDay)).substr(0, 10);
}

double Sharpe(std::span<const double> returns) {
  if (returns.size() < 2 || AllEqual(returns)) return 0;
  const double mean = Mean(returns);
  const double sd = std::sqrt(SampleVariance(returns, mean));
  return sd > 0 ? mean / sd : 0;
}

// Degenerate cases: fewer than two values, or all values equal (no deviation), give the normal
// distribution's 0 and 3, which leave the DSR's denominator at 1 − 0 + (3−1)/4·SR².
Moments PopulationMoments(std::span<const double> values) {
  if (values.size() < 2 || AllEqual(values)) return {};
  const double mean = Mean(values);
  double m2 = 0, m3 = 0, m4 = 0;
  for (double x : values) {
    const double d = x - mean, d2 = d * d;
    m2 += d2;
    m3 += d2 * d;
    m4 += d2 * d2;
  }
  const double n = static_cast<double>(values.size());
  m2 /= n, m3 /= n, m4 /= n;
  if (m2 <= 0) return {};
  return {m3 / (m2 * std::sqrt(m2)), m4 / (m2 * m2)};
}

// erfc keeps full relative accuracy in the lower tail, where 1 − ½·erfc(x/√2) would cancel.
double NormalCdf(double x) { return 0.5 * std::erfc(-x / std::numbers::sqrt2); }

// Wichura's AS241 (PPND16, Applied Statistics 37(3), 1988): about 1e-16 relative over (0, 1).
// Python's statistics.NormalDist.inv_cdf uses the same, so the two agree to an ulp or so.
double NormalQuantile(double p) {
  if (std::isnan(p)) return p;
  if (p <= 0) return -kInf;
  if (p >= 1) return kInf;
  const double q = p - 0.5;
  if (std::fabs(q) <= 0.425) {
    const double r = 0.180625 - q * q;
    return q * Polynomial(kAs241A, r) / Polynomial(kAs241B, r);
  }
  const double r = std::sqrt(-std::log(q < 0 ? p : 1 - p));
  const double x = r <= 5 ? Polynomial(kAs241C, r - 1.6) / Polynomial(kAs241D, r - 1.6)
                          : Polynomial(kAs241E, r - 5) / Polynomial(kAs241F, r - 5);
  return q < 0 ? -x : x;
}

// The degenerate cases are the header's. The square root's argument is
// (1 − γ3·SR/2)² + (γ4 − 1 − γ3²)/4·SR², and γ4 ≥ 1 + γ3² for any series, hence ≥ 0 but for
// rounding; the check is there for a two-valued series at SR = 2/γ3.
Dsr DeflatedSharpe(std::span<const double> sharpes, std::span<const double> best_returns) {
  constexpr double kEulerGamma = std::numbers::egamma;
  Dsr d;
  d.trials = sharpes.size();
  d.days = best_returns.size();
  d.sr = Sharpe(best_returns);
  const Moments m = PopulationMoments(best_returns);
  d.skewness = m.skewness;
  d.kurtosis = m.kurtosis;
  d.variance = Variance(sharpes);
  if (d.trials < 2) {
    d.reason = "needs at least 2 trials";
    return d;
  }
  const double n = static_cast<double>(d.trials);
  d.sr0 = std::sqrt(d.variance) * ((1 - kEulerGamma) * NormalQuantile(1 - 1 / n) +
                                   kEulerGamma * NormalQuantile(1 - 1 / (n * std::numbers::e)));
  if (d.days < 2) {
    d.reason = "needs at least 2 daily returns";
    return d;
  }
  const double under_root = 1 - d.skewness * d.sr + (d.kurtosis - 1) / 4 * d.sr * d.sr;
  if (!(under_root > 0)) {
    d.reason = "the best trial's returns give a non-positive 1 - skewness*SR + (kurtosis-1)/4*SR^2";
    return d;
  }
  d.value = NormalCdf((d.sr - d.sr0) * std::sqrt(static_cast<double>(d.days) - 1) /
                      std::sqrt(under_root));
  return d;
}

namespace {

constexpr size_t kMaxBlocks = 32;  // a block set is a bit mask; C(32, 16) is already 6·10^8 choices

// Per trial and block: Σx and Σx² over the block's rows (block-major, so that adding a block is a
// straight loop over trials), and whether the block holds a single value.
struct BlockStats {
  size_t trials = 0;
  std::vector<double> sum, sum_sq, first;   // [block * trials + trial]; first: the block's 1st row
  std::vector<uint32_t> flat;               // [trial]: bit b set when block b holds one value
  std::vector<double> total_sum, total_sq;  // [trial], over every block
  std::vector<size_t> with_flat_block;      // the trials with a bit in `flat`
};

BlockStats SummariseBlocks(const std::vector<std::vector<double>>& returns, size_t blocks,
                           size_t first_row, size_t block_rows) {
  BlockStats s;
  s.trials = returns.size();
  s.sum.assign(blocks * s.trials, 0), s.sum_sq.assign(blocks * s.trials, 0);
  s.first.assign(blocks * s.trials, 0), s.flat.assign(s.trials, 0);
  s.total_sum.assign(s.trials, 0), s.total_sq.assign(s.trials, 0);
  for (size_t t = 0; t < s.trials; ++t) {
    for (size_t b = 0; b < blocks; ++b) {
      const std::span<const double> rows(&returns[t][first_row + b * block_rows], block_rows);
      const size_t cell = b * s.trials + t;
      for (double x : rows) s.sum[cell] += x, s.sum_sq[cell] += x * x;
      s.first[cell] = rows[0];
      if (AllEqual(rows)) s.flat[t] |= 1u << b;
      s.total_sum[t] += s.sum[cell], s.total_sq[t] += s.sum_sq[cell];
    }
    if (s.flat[t] != 0) s.with_flat_block.push_back(t);
  }
  return s;
}

// Whether trial t holds one value over the blocks in `mask` (then its Sharpe is exactly 0, as
// Sharpe() says, where the sums would leave a rounding residue).
bool Flat(const BlockStats& s, size_t t, uint32_t mask) {
  if ((s.flat[t] & mask) != mask) return false;
  const double value = s.first[static_cast<size_t>(std::countr_zero(mask)) * s.trials + t];
  for (uint32_t m = mask; m != 0; m &= m - 1) {
    if (s.first[static_cast<size_t>(std::countr_zero(m)) * s.trials + t] != value) return false;
  }
  return true;
}

// Sharpe() from sums: one pass is accurate enough here, as a daily |mean| is well below the
// deviation. The flat check runs only over trials with a flat block (often none), so that the main
// loop has no branch.
void SharpesFromSums(const BlockStats& s, uint32_t mask, double rows, std::span<const double> sum,
                     std::span<const double> sum_sq, std::vector<double>& out) {
  out.resize(s.trials);
  if (rows < 2) return std::fill(out.begin(), out.end(), 0.0);
  // Divisions hoisted out: this loop is three quarters of the time.
  const double per_row = 1 / rows, per_dof = 1 / (rows - 1);
  for (size_t t = 0; t < s.trials; ++t) {
    const double mean = sum[t] * per_row;
    const double var = (sum_sq[t] - sum[t] * mean) * per_dof;
    out[t] = var > 0 ? mean / std::sqrt(var) : 0;
  }
  for (size_t t : s.with_flat_block) {
    if (Flat(s, t, mask)) out[t] = 0;
  }
}

// The in-sample sums of the current choice c, kept as prefix sums over c[0..j) for each j: the
// next choice in lexicographic order changes only c's tail, so only the tail's prefixes are
// added again — in the same order, so the sums are those of a fresh loop. Out-of-sample sums are
// the totals minus these.
class InSampleSums {
 public:
  InSampleSums(const BlockStats& s, size_t k)
      : s_(s), sum_(k + 1, std::vector<double>(s.trials)), sq_(sum_) {}

  // Recomputes the prefixes after c[changed] (the first position that changed).
  void Update(std::span<const size_t> c, size_t changed) {
    const size_t n = s_.trials;
    for (size_t j = changed; j < c.size(); ++j) {
      const double* block_sum = &s_.sum[c[j] * n];
      const double* block_sq = &s_.sum_sq[c[j] * n];
      const double* prev_sum = sum_[j].data();
      const double* prev_sq = sq_[j].data();
      double* next_sum = sum_[j + 1].data();
      double* next_sq = sq_[j + 1].data();
      for (size_t t = 0; t < n; ++t) {
        next_sum[t] = prev_sum[t] + block_sum[t];
        next_sq[t] = prev_sq[t] + block_sq[t];
      }
    }
  }
  const std::vector<double>& sum() const { return sum_.back(); }
  const std::vector<double>& sum_sq() const { return sq_.back(); }

 private:
  const BlockStats& s_;
  std::vector<std::vector<double>> sum_, sq_;  // [j][trial]: over blocks c[0..j)
};

// The highest value's index; ties go to the lowest index.
size_t ArgMax(std::span<const double> v) {
  size_t best = 0;
  for (size_t i = 1; i < v.size(); ++i) {
    if (v[i] > v[best]) best = i;
  }
  return best;
}

// 1-based ascending rank of v[k] among v; a tie group shares the mean of its ranks.
double AverageRank(std::span<const double> v, size_t k) {
  size_t below = 0, equal = 0;
  for (double x : v) {
    below += x < v[k];
    equal += x == v[k];
  }
  return static_cast<double>(below) + (static_cast<double>(equal) + 1) / 2;
}

// Steps c to the next k-subset of {0..n-1} in lexicographic order and returns the first position
// that changed; returns c.size() after the last subset.
size_t NextCombination(std::vector<size_t>& c, size_t n) {
  const size_t k = c.size();
  size_t i = k;
  while (i > 0 && c[i - 1] == n - k + i - 1) --i;
  if (i == 0) return k;
  ++c[i - 1];
  for (size_t j = i; j < k; ++j) c[j] = c[j - 1] + 1;
  return i - 1;
}

uint32_t Mask(std::span<const size_t> c) {
  uint32_t m = 0;
  for (size_t b : c) m |= 1u << b;
  return m;
}

size_t Binomial(size_t n, size_t k) {
  size_t c = 1;
  for (size_t i = 1; i <= k; ++i) c = c * (n - k + i) / i;  // exact: c·(n−k+i) is C(n−k+i, i)·i
  return c;
}

// Fills `p`'s sizes; returns why PBO is undefined, or "" when it is defined.
std::string CheckPboInputs(const std::vector<std::vector<double>>& returns, size_t blocks, Pbo& p) {
  p.blocks = blocks;
  p.trials = returns.size();
  p.days = returns.empty() ? 0 : returns[0].size();
  if (blocks < 2 || blocks % 2 != 0 || blocks > kMaxBlocks) {
    return "blocks must be even, from 2 to " + std::to_string(kMaxBlocks);
  }
  p.combinations = Binomial(blocks, blocks / 2);
  if (p.trials < 2) return "needs at least 2 trials";
  for (const auto& r : returns) {
    if (r.size() != p.days) return "trials' daily returns differ in length";
  }
  if (p.days < blocks) return "needs at least " + std::to_string(blocks) + " daily returns";
  p.rows_dropped = p.days % blocks;
  return "";
}

}  // namespace

// Cost: N·T once, then per choice about 2N additions for the in-sample sums (see InSampleSums)
// and 2N Sharpe ratios.
Pbo ProbabilityOfOverfitting(const std::vector<std::vector<double>>& returns, size_t blocks,
                              const std::atomic<bool>* cancel) {
  Pbo p;
  p.reason = CheckPboInputs(returns, blocks, p);
  if (!p.reason.empty()) return p;
  const size_t block_rows = p.days / blocks;
  const BlockStats stats = SummariseBlocks(returns, blocks, p.rows_dropped, block_rows);
  const double half_rows = static_cast<double>(block_rows * blocks / 2);
  const double n = static_cast<double>(p.trials);
  const uint32_t all = static_cast<uint32_t>((uint64_t{1} << blocks) - 1);
  std::vector<size_t> in(blocks / 2);
  for (size_t i = 0; i < in.size(); ++i) in[i] = i;
  InSampleSums is(stats, in.size());
  std::vector<double> oos_sum(p.trials), oos_sq(p.trials), is_sharpe, oos_sharpe;
  size_t overfit = 0;
  p.logits.reserve(p.combinations);
  for (size_t changed = 0; changed < in.size(); changed = NextCombination(in, blocks)) {
    if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) {
      p.logits.clear();
      p.reason = "cancelled";
      return p;
    }
    is.Update(in, changed);
    for (size_t t = 0; t < p.trials; ++t) {
      oos_sum[t] = stats.total_sum[t] - is.sum()[t];
      oos_sq[t] = stats.total_sq[t] - is.sum_sq()[t];
    }
    const uint32_t mask = Mask(in);
    SharpesFromSums(stats, mask, half_rows, is.sum(), is.sum_sq(), is_sharpe);
    SharpesFromSums(stats, all & ~mask, half_rows, oos_sum, oos_sq, oos_sharpe);
    const double rank = AverageRank(oos_sharpe, ArgMax(is_sharpe));
    // λ = ln(ω/(1−ω)) with ω = r/(N+1) is ln(r/(N+1−r)); λ ≤ 0 is decided on r exactly (r is a
    // multiple of ½), not on the rounded logarithm.
    p.logits.push_back(std::log(rank / (n + 1 - rank)));
    overfit += 2 * rank <= n + 1;
  }
  p.value = static_cast<double>(overfit) / static_cast<double>(p.logits.size());
  return p;
}

}  // namespace tapedeck::sweep
