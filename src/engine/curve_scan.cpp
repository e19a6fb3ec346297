// CurveScan: the return sums and the drawdown of an equity curve, a stretch of bars at a time.
#include "engine/curve_scan.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace tapedeck::engine::detail {
namespace {

double SimpleReturn(double prev, double cur) { return prev != 0 ? cur / prev - 1 : 0; }

}  // namespace

void CurveScan::Advance(const double* e, size_t origin, const Timestamp* times, size_t to) {
  Scan(e, origin, times, to, false);
}

void CurveScan::Finish(const double* e, size_t origin, const Timestamp* times, size_t n) {
  Scan(e, origin, times, n, true);
  m_.sum = sum_[0] + sum_[1];
  m_.sum_sq = sum_sq_[0] + sum_sq_[1];
  m_.down_sq = down_sq_[0] + down_sq_[1];
  if (under_) longest_ = std::max(longest_, times[n - 1] - peak_time_);
}

void CurveScan::Scan(const double* e, size_t origin, const Timestamp* times, size_t to,
                     bool last) {
  if (next_ >= to) return;
  // Bar i's equity. With origin 0 (a whole curve) this is e[i].
  const auto at = [e, origin](size_t i) { return e + (i - origin); };
  // The drawdown at one bar: divided out only when it is a new maximum, so most bars cost a
  // compare or two; the time is read only at a new peak.
  double peak = peak_, floor = floor_, max_dd = max_dd_;
  bool under = under_;
  auto drawdown = [&](double cur, size_t i) {
    if (cur >= peak) {
      if (under) longest_ = std::max(longest_, times[i] - peak_time_);
      under = false;
      peak = cur;
      peak_time_ = times[i];
      floor = peak * (1 - max_dd);
    } else {
      under = true;
      if (cur < floor && peak > 0) {
        max_dd = std::max(max_dd, 1 - cur / peak);
        floor = cur;
      }
    }
  };
  size_t i = next_;
  if (i == 0) {
    peak = floor = *at(0);
    peak_time_ = times[0];
    i = 1;
  }
  // No return is summed before bar 2 is read, so the shift can be taken (again) until then.
  if (i == 1 && to >= 2) m_.shift = SimpleReturn(*at(0), *at(1));
  // The two lanes as the two halves of one SSE2 vector, each with exactly the scalar operations
  // of the tail below (an element-wise vector operation rounds as its scalar form), but one
  // division serves two bars.
  using V2 = double __attribute__((vector_size(16)));
  using M2 = int64_t __attribute__((vector_size(16)));
  const V2 zero = {0, 0}, one = {1, 1}, half = {0.5, 0.5}, shift = {m_.shift, m_.shift};
  V2 sum = {sum_[0], sum_[1]}, sum_sq = {sum_sq_[0], sum_sq_[1]};
  V2 down_sq = {down_sq_[0], down_sq_[1]};
  for (; i + 1 < to; i += 2) {
    V2 prev, cur;
    __builtin_memcpy(&prev, at(i - 1), sizeof prev);
    __builtin_memcpy(&cur, at(i), sizeof cur);
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
    drawdown(cur[0], i);
    drawdown(cur[1], i + 1);
  }
  sum_[0] = sum[0];
  sum_[1] = sum[1];
  sum_sq_[0] = sum_sq[0];
  sum_sq_[1] = sum_sq[1];
  down_sq_[0] = down_sq[0];
  down_sq_[1] = down_sq[1];
  if (last && i < to) {
    // A last bar without a pair: lane 0's.
    const double ret = SimpleReturn(*at(i - 1), *at(i));
    const double d = ret - m_.shift;
    sum_[0] += d;
    sum_sq_[0] += d * d;
    const double loss = (ret - std::abs(ret)) * 0.5;
    down_sq_[0] += loss * loss;
    drawdown(*at(i), i);
    ++i;
  }
  next_ = i;
  peak_ = peak;
  floor_ = floor;
  max_dd_ = max_dd;
  under_ = under;
}

}  // namespace tapedeck::engine::detail
