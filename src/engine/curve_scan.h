// Internal: the statistics of an equity curve that are read bar by bar — the sums of the per-bar
// returns and the drawdown from the running peak — taken a stretch of bars at a time.
//
// The run loop advances a scan every few thousand bars, while the equity it has just written is
// still in the cache: read after the loop, the curve (8 bytes a bar, megabytes a year of minutes)
// comes back from memory and reading it was most of the statistics' cost. Where the stretches
// end changes nothing: each sum sees the same operations in the same order as one pass over the
// whole curve would apply (stats.cpp's ComputeStats relies on it).
#pragma once

#include <cstddef>

#include "common/time.h"

namespace tapedeck::engine::detail {

class CurveScan {
 public:
  // Sums over the per-bar simple returns r, relative to the first return `shift`: of r - shift,
  // of its square, and of min(r, 0)^2.
  struct Moments {
    double shift = 0, sum = 0, sum_sq = 0, down_sq = 0;
  };

  // Reads bars [read(), to) of the curve e (times: the times of its bars), or all but the last of
  // them (bars are read in pairs until the last call). REQUIRES: e and times hold `to` bars, the
  // same values as at earlier calls for the bars those read; to only grows.
  void Advance(const double* e, const Timestamp* times, size_t to) { Advance(e, 0, times, to); }
  // Reads the rest of a curve of n bars and ends the scan. REQUIRES: as Advance.
  void Finish(const double* e, const Timestamp* times, size_t n) { Finish(e, 0, times, n); }
  // The same, from a window of the curve that holds bars origin, origin + 1, ..., `to` - 1 (e[k]
  // is bar origin + k), for a run that does not keep its curve: the window must start at or before
  // bar read() - 1, which is at most two bars before the bars not read yet. Times are the whole
  // timeline's.
  void Advance(const double* e, size_t origin, const Timestamp* times, size_t to);
  void Finish(const double* e, size_t origin, const Timestamp* times, size_t n);
  size_t read() const { return next_; }

  // After Finish: the return sums (all zero for fewer than two bars), the largest drawdown
  // 1 - e / peak, and the longest time below a peak (to the last bar when it never recovered).
  const Moments& moments() const { return m_; }
  double max_drawdown() const { return max_dd_; }
  Micros longest_drawdown() const { return longest_; }

 private:
  void Scan(const double* e, size_t origin, const Timestamp* times, size_t to, bool last);

  size_t next_ = 0;  // the first bar not read yet
  Moments m_;
  // The two lanes of the return sums: lane 0 holds bars 1, 3, 5, ..., lane 1 bars 2, 4, 6, ...
  double sum_[2] = {0, 0}, sum_sq_[2] = {0, 0}, down_sq_[2] = {0, 0};
  // The drawdown: `floor` is the equity below which a drawdown would be a new maximum.
  double peak_ = 0, floor_ = 0, max_dd_ = 0;
  Timestamp peak_time_;
  bool under_ = false;
  Micros longest_{0};
};

}  // namespace tapedeck::engine::detail
