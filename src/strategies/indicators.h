// Incremental indicators a strategy holds as members and feeds one value per bar.
//
// Every indicator does O(1) work per Update (amortised for the rolling max/min) and never
// allocates after construction: ring buffers are sized once, from the period. They run inside the
// engine's bar loop, so they are header-only to let the compiler inline them there (but for
// SmaFill's bulk division, in indicators.cpp).
//
// Common shape: `Update(x)` feeds the next value, `ready()` says whether enough values have been
// seen for `value()` to mean what it says, and `value()` is NaN until then. Each class documents
// its warm-up: the number of updates after which ready() becomes true.
//
// Comparisons: strategies compare indicator values with Above/Below, never with bare `>`. Means
// that are equal on paper (common with prices on a tick grid) come out of floating point a few
// ulps apart depending on how the sums were taken; the tolerance makes them a tie everywhere
// (docs/strategies.md, "Pinned").
//
// Thread-safety: an indicator is a plain value; distinct objects may be used on distinct threads.
#pragma once

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace tapedeck::strategies {

inline constexpr double kTieTolerance = 1e-10;

// "a above b": a - b > 1e-10 * |b|.
inline bool Above(double a, double b) { return a - b > kTieTolerance * std::abs(b); }
// "a below b", the mirror image with b as the reference: b - a > 1e-10 * |b|.
inline bool Below(double a, double b) { return b - a > kTieTolerance * std::abs(b); }

// Simple moving average of the last n values.
// Warm-up: ready() after n updates.
class Sma {
 public:
  // REQUIRES: n >= 1.
  explicit Sma(size_t n) : n_(n), buf_(n) { assert(n >= 1); }

  void Update(double x) {
    if (count_ >= n_) sum_ -= buf_[head_];
    buf_[head_] = x;
    sum_ += x;
    if (count_ < n_) ++count_;
    if (++head_ == n_) {
      head_ = 0;
      // A rolling sum drifts: each add and subtract rounds, and after millions of bars (or after
      // prices fall from 1e5 to 1) the error would dwarf the tie tolerance. Re-summing the buffer
      // once per n updates bounds the error to that of ~3n operations at amortised cost 1 add.
      sum_ = 0;
      for (double v : buf_) sum_ += v;
    }
  }

  bool ready() const { return count_ >= n_; }
  double value() const {
    return ready() ? sum_ / static_cast<double>(n_) : std::numeric_limits<double>::quiet_NaN();
  }
  size_t period() const { return n_; }

 private:
  size_t n_;
  size_t head_ = 0;   // where the next value goes; the oldest value once full
  size_t count_ = 0;  // saturates at n_
  double sum_ = 0;
  std::vector<double> buf_;
};

namespace detail {
// values[k] = values[k] / divisor for k < count, as many per instruction as the CPU can
// (indicators.cpp); each the correctly rounded quotient, as the scalar division gives.
void DivideInPlace(double* values, size_t count, double divisor);
}  // namespace detail

// Sma's values over a stored series, a chunk of bars at a time: Fill writes, for each i of a
// range, exactly (bit for bit) what Sma(n).value() returns after Update(x[0]), ..., Update(x[i]).
// The same operations in the same order, so the same roundings: a sum of the last n values is
// re-added from zero (left to right, oldest first) whenever the count of updates is a multiple of
// n, and in between it is rolled as (sum - oldest) + newest. Since each re-added sum starts a
// fresh chain, the windows between them are independent: Fill computes four at a time, so their
// additions overlap instead of waiting on one another, and divides several values per instruction.
// For a strategy over a stored series, whose next closes are already in memory; a value for bar
// i depends on x[0..i] only. Sma itself stays the form for values that arrive one at a time.
class SmaFill {
 public:
  // REQUIRES: n >= 1.
  explicit SmaFill(size_t n) : n_(n), nd_(static_cast<double>(n)) { assert(n >= 1); }

  // Writes out[k] = the value after updates with x[0..from + k], for k in [0, count). NaN where
  // fewer than n values were fed. REQUIRES: from is 0 or where the previous call ended (the
  // state carried between calls is that of Sma after `from` updates); x holds from + count values.
  void Fill(const double* x, size_t from, size_t count, double* out) {
    const size_t warm = FillSums(x, from, count, out);
    detail::DivideInPlace(out + warm, count - warm, nd_);
  }

  // As Fill, but leaves the sums undivided: out[k] is the sum Sma holds after updates with
  // x[0..from + k] (its value is out[k] / n, the one division Fill adds), NaN where fewer than n
  // values were fed; those NaN come first, and their count is returned. For a caller that needs
  // only what the means decide and can often decide it without dividing (sma_cross with derived
  // plots). REQUIRES: as Fill; Fill and FillSums may alternate.
  size_t FillSums(const double* x, size_t from, size_t count, double* out) {
    assert(from == c_);
    const size_t n = n_;
    const size_t end = from + count;
    size_t c = c_;
    double s = s_;
    // One update, as Sma::Update does it, storing the raw sum at out[c - 1 - from].
    auto step = [&] {
      ++c;
      if (c % n == 0) {
        s = Fresh(x + (c - n));
      } else if (c > n) {
        s = (s - x[c - 1 - n]) + x[c - 1];
      } else {
        s += x[c - 1];
      }
      out[c - 1 - from] = s;
    };
    // One at a time up to the first update that lands on a multiple of n (>= n).
    while (c < end && ((c + 1) % n != 0 || c + 1 < n)) step();
    // Four windows at a time: window l covers the updates b + l*n .. b + l*n + n - 1 (b, the next
    // update, is a multiple of n), from its re-added sum.
    if (c < end) {
      while (c + 4 * n <= end) {
        const size_t b = c + 1;  // a multiple of n, >= n
        const double* w = x + (b - n);
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (size_t k = 0; k < n; ++k) {
          s0 += w[k];
          s1 += w[n + k];
          s2 += w[2 * n + k];
          s3 += w[3 * n + k];
        }
        double* o = out + (b - 1 - from);
        o[0] = s0;
        o[n] = s1;
        o[2 * n] = s2;
        o[3 * n] = s3;
        for (size_t j = 1; j < n; ++j) {
          // Update b + l*n + j drops x[b + l*n + j - 1 - n] and adds x[b + l*n + j - 1].
          const double* old = w + (j - 1);
          const double* add = old + n;
          s0 = (s0 - old[0]) + add[0];
          s1 = (s1 - old[n]) + add[n];
          s2 = (s2 - old[2 * n]) + add[2 * n];
          s3 = (s3 - old[3 * n]) + add[3 * n];
          o[j] = s0;
          o[n + j] = s1;
          o[2 * n + j] = s2;
          o[3 * n + j] = s3;
        }
        c += 4 * n;
        s = s3;
      }
      while (c < end) step();
    }
    c_ = c;
    s_ = s;
    // NaN before the n-th update.
    const size_t warm = from + 1 < n ? std::min(count, n - 1 - from) : 0;
    for (size_t k = 0; k < warm; ++k) out[k] = std::numeric_limits<double>::quiet_NaN();
    return warm;
  }

  size_t period() const { return n_; }

 private:
  // x[0] + ... + x[n - 1] from zero, left to right: Sma's re-summed buffer.
  double Fresh(const double* w) const {
    double sum = 0;
    for (size_t k = 0; k < n_; ++k) sum += w[k];
    return sum;
  }

  size_t n_;
  double nd_;
  size_t c_ = 0;  // updates so far
  double s_ = 0;  // the sum Sma holds after c_ updates
};

// Exponential moving average, alpha = 2 / (n + 1), seeded with the simple mean of the first n
// values (the usual convention, so that the first value does not dominate for ~n bars).
// Warm-up: ready() after n updates; value() is then the seed, and from there
// ema += alpha * (x - ema).
class Ema {
 public:
  // REQUIRES: n >= 1.
  explicit Ema(size_t n) : n_(n), alpha_(2.0 / (static_cast<double>(n) + 1.0)) { assert(n >= 1); }

  void Update(double x) {
    if (count_ < n_) {
      sum_ += x;
      if (++count_ == n_) value_ = sum_ / static_cast<double>(n_);
      return;
    }
    value_ += alpha_ * (x - value_);
  }

  bool ready() const { return count_ >= n_; }
  double value() const { return value_; }
  size_t period() const { return n_; }
  double alpha() const { return alpha_; }

 private:
  size_t n_;
  double alpha_;
  size_t count_ = 0;  // saturates at n_
  double sum_ = 0;    // of the first n values, for the seed
  double value_ = std::numeric_limits<double>::quiet_NaN();
};

// Relative strength index with Wilder's smoothing over n changes.
// The first average gain / loss is the simple mean of the first n changes; after that
// avg = (avg * (n - 1) + current) / n. RSI = 100 - 100 / (1 + avg_gain / avg_loss); 100 when
// there were no losses, 50 when there was no change at all.
// Warm-up: n changes need n + 1 values, so ready() after n + 1 updates.
class Rsi {
 public:
  // REQUIRES: n >= 1.
  explicit Rsi(size_t n) : n_(n), nd_(static_cast<double>(n)) { assert(n >= 1); }

  void Update(double x) {
    if (!has_prev_) {
      prev_ = x;
      has_prev_ = true;
      return;
    }
    const double d = x - prev_;
    prev_ = x;
    const double gain = d > 0 ? d : 0;
    const double loss = d < 0 ? -d : 0;
    if (changes_ < n_) {
      avg_gain_ += gain;
      avg_loss_ += loss;
      if (++changes_ == n_) {
        avg_gain_ /= nd_;
        avg_loss_ /= nd_;
      }
      return;
    }
    avg_gain_ = (avg_gain_ * (nd_ - 1) + gain) / nd_;
    avg_loss_ = (avg_loss_ * (nd_ - 1) + loss) / nd_;
  }

  bool ready() const { return changes_ >= n_; }
  double value() const {
    if (!ready()) return std::numeric_limits<double>::quiet_NaN();
    if (avg_loss_ == 0) return avg_gain_ == 0 ? 50.0 : 100.0;
    return 100.0 - 100.0 / (1.0 + avg_gain_ / avg_loss_);
  }
  size_t period() const { return n_; }

 private:
  size_t n_;
  double nd_;
  bool has_prev_ = false;
  double prev_ = 0;
  size_t changes_ = 0;  // saturates at n_
  double avg_gain_ = 0, avg_loss_ = 0;
};

// Mean and population standard deviation (divide by n) of the last n values.
// Warm-up: ready() after n updates.
class RollingStdDev {
 public:
  // REQUIRES: n >= 1.
  explicit RollingStdDev(size_t n) : n_(n), nd_(static_cast<double>(n)), buf_(n) { assert(n >= 1); }

  void Update(double x) {
    if (count_ < n_) {
      // Welford's update while the window fills.
      ++count_;
      const double delta = x - mean_;
      mean_ += delta / static_cast<double>(count_);
      m2_ += delta * (x - mean_);
    } else {
      // Replace the oldest value: the sliding form of Welford's update, which avoids the
      // cancellation of sum-of-squares minus square-of-sum.
      const double old = buf_[head_];
      const double new_mean = mean_ + (x - old) / nd_;
      m2_ += (x - old) * (x - new_mean + old - mean_);
      mean_ = new_mean;
    }
    buf_[head_] = x;
    if (++head_ == n_) {
      head_ = 0;
      Recompute();  // bounds drift, as in Sma; amortised O(1)
    }
  }

  bool ready() const { return count_ >= n_; }
  double mean() const { return ready() ? mean_ : std::numeric_limits<double>::quiet_NaN(); }
  double value() const {
    return ready() ? std::sqrt(std::max(m2_, 0.0) / nd_) : std::numeric_limits<double>::quiet_NaN();
  }
  size_t period() const { return n_; }

 private:
  // Two-pass mean and sum of squared deviations over the full buffer.
  void Recompute() {
    double sum = 0;
    for (double v : buf_) sum += v;
    mean_ = sum / nd_;
    double m2 = 0;
    for (double v : buf_) m2 += (v - mean_) * (v - mean_);
    m2_ = m2;
  }

  size_t n_;
  double nd_;
  size_t head_ = 0;
  size_t count_ = 0;  // saturates at n_
  double mean_ = 0, m2_ = 0;
  std::vector<double> buf_;
};

// Bollinger bands over n values: middle = mean, upper / lower = mean ± k * σ (population σ).
// Warm-up: ready() after n updates. value() is the middle band.
class Bollinger {
 public:
  // REQUIRES: n >= 1, k >= 0.
  Bollinger(size_t n, double k) : sd_(n), k_(k) {}

  void Update(double x) { sd_.Update(x); }
  bool ready() const { return sd_.ready(); }
  double value() const { return middle(); }
  double middle() const { return sd_.mean(); }
  double upper() const { return sd_.mean() + k_ * sd_.value(); }
  double lower() const { return sd_.mean() - k_ * sd_.value(); }
  double stddev() const { return sd_.value(); }
  size_t period() const { return sd_.period(); }

 private:
  RollingStdDev sd_;
  double k_;
};

namespace detail {

// The extreme of the last n values by a monotonic deque kept in a fixed ring of n slots: each
// value is pushed once and popped at most once, so an update is amortised O(1) and never
// allocates. `Keep(a, b)` says whether an older a can still be the extreme once b has arrived
// (for a maximum: a > b); older values that cannot are dropped from the back.
template <typename Keep>
class RollingExtreme {
 public:
  // REQUIRES: n >= 1.
  explicit RollingExtreme(size_t n) : n_(n), slots_(n) { assert(n >= 1); }

  void Update(double x) {
    // Expire first: the deque then holds at most n - 1 values, so the push below always fits.
    if (size_ > 0 && slots_[front_].seq + n_ <= seq_) {
      if (++front_ == n_) front_ = 0;
      --size_;
    }
    while (size_ > 0 && !Keep{}(slots_[Back()].value, x)) --size_;
    ++size_;
    slots_[Back()] = {seq_, x};
    ++seq_;
  }

  bool ready() const { return seq_ >= n_; }
  double value() const {
    return ready() ? slots_[front_].value : std::numeric_limits<double>::quiet_NaN();
  }
  size_t period() const { return n_; }

 private:
  struct Slot {
    uint64_t seq;
    double value;
  };
  size_t Back() const {
    const size_t b = front_ + size_ - 1;
    return b >= n_ ? b - n_ : b;
  }

  size_t n_;
  std::vector<Slot> slots_;
  size_t front_ = 0, size_ = 0;
  uint64_t seq_ = 0;  // number of updates so far
};

struct KeepGreater {
  bool operator()(double older, double newer) const { return older > newer; }
};
struct KeepLess {
  bool operator()(double older, double newer) const { return older < newer; }
};

}  // namespace detail

// The maximum / minimum of the last n values. Warm-up: ready() after n updates.
using RollingMax = detail::RollingExtreme<detail::KeepGreater>;
using RollingMin = detail::RollingExtreme<detail::KeepLess>;

// Donchian channel over n bars: upper = highest high, lower = lowest low, middle their mean.
// Warm-up: ready() after n updates. value() is the middle.
// To compare a bar with the channel of the bars *before* it, read the channel before feeding it.
class Donchian {
 public:
  // REQUIRES: n >= 1.
  explicit Donchian(size_t n) : high_(n), low_(n) {}

  void Update(double high, double low) {
    high_.Update(high);
    low_.Update(low);
  }
  void Update(double x) { Update(x, x); }

  bool ready() const { return high_.ready(); }
  double upper() const { return high_.value(); }
  double lower() const { return low_.value(); }
  double middle() const { return (upper() + lower()) / 2; }
  double value() const { return middle(); }
  size_t period() const { return high_.period(); }

 private:
  RollingMax high_;
  RollingMin low_;
};

// Average true range with Wilder's smoothing over n bars. A bar's true range is
// max(high - low, |high - previous close|, |low - previous close|); the first bar's is
// high - low. The first value is the simple mean of the first n true ranges; after that
// atr = (atr * (n - 1) + tr) / n.
// Warm-up: ready() after n updates; value() is NaN until then.
class Atr {
 public:
  // REQUIRES: n >= 1.
  explicit Atr(size_t n) : n_(n), nd_(static_cast<double>(n)) { assert(n >= 1); }

  void Update(double high, double low, double close) {
    double tr = high - low;
    if (has_prev_) {
      tr = std::max({tr, std::abs(high - prev_close_), std::abs(low - prev_close_)});
    }
    prev_close_ = close;
    has_prev_ = true;
    if (count_ < n_) {
      sum_ += tr;
      if (++count_ == n_) value_ = sum_ / nd_;
      return;
    }
    value_ = (value_ * (nd_ - 1) + tr) / nd_;
  }

  bool ready() const { return count_ >= n_; }
  double value() const { return value_; }
  size_t period() const { return n_; }

 private:
  size_t n_;
  double nd_;
  bool has_prev_ = false;
  double prev_close_ = 0;
  size_t count_ = 0;  // saturates at n_
  double sum_ = 0;    // of the first n true ranges
  double value_ = std::numeric_limits<double>::quiet_NaN();
};

// MACD: line = EMA(fast) - EMA(slow); signal = EMA(signal) of the line; histogram = line - signal.
// The line exists from max(fast, slow) updates on (value() is NaN before); the signal EMA is fed
// the line from then, so ready() (line and signal both valid) after max(fast, slow) + signal - 1
// updates.
class Macd {
 public:
  // REQUIRES: 1 <= fast, 1 <= slow, 1 <= signal. (fast < slow is the usual choice.)
  Macd(size_t fast, size_t slow, size_t signal) : fast_(fast), slow_(slow), signal_(signal) {}

  void Update(double x) {
    fast_.Update(x);
    slow_.Update(x);
    if (fast_.ready() && slow_.ready()) {
      line_ = fast_.value() - slow_.value();
      signal_.Update(line_);
    }
  }

  bool ready() const { return signal_.ready(); }
  double value() const { return line_; }
  double signal() const { return signal_.value(); }
  double histogram() const { return line_ - signal_.value(); }

 private:
  Ema fast_, slow_, signal_;
  double line_ = std::numeric_limits<double>::quiet_NaN();
};

}  // namespace tapedeck::strategies
