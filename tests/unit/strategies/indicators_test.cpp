// Each indicator against a straightforward recomputation over the whole history at every step.
#include "strategies/indicators.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace tapedeck::strategies {
namespace {

// A random walk on a 0.01 grid (so equal values and ties are common), plus a few flat runs.
std::vector<double> Walk(size_t n, uint64_t seed, double start = 100.0) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> step(-30, 30);
  std::uniform_int_distribution<int> flat(0, 9);
  std::vector<double> xs;
  xs.reserve(n);
  long cents = static_cast<long>(start * 100);
  for (size_t i = 0; i < n; ++i) {
    if (flat(rng) != 0) cents = std::max(1L, cents + step(rng));
    xs.push_back(static_cast<double>(cents) / 100.0);
  }
  return xs;
}

double NaiveMean(const std::vector<double>& xs, size_t end, size_t n) {
  double s = 0;
  for (size_t i = end - n; i < end; ++i) s += xs[i];
  return s / static_cast<double>(n);
}

double NaiveStdDev(const std::vector<double>& xs, size_t end, size_t n) {
  const double m = NaiveMean(xs, end, n);
  double s = 0;
  for (size_t i = end - n; i < end; ++i) s += (xs[i] - m) * (xs[i] - m);
  return std::sqrt(s / static_cast<double>(n));
}

// EMA of xs[0, end) by the definition: seed with the mean of the first n, then iterate.
double NaiveEma(const std::vector<double>& xs, size_t end, size_t n) {
  if (end < n) return NAN;
  double e = NaiveMean(xs, n, n);
  const double a = 2.0 / (static_cast<double>(n) + 1.0);
  for (size_t i = n; i < end; ++i) e = a * xs[i] + (1 - a) * e;
  return e;
}

double NaiveRsi(const std::vector<double>& xs, size_t end, size_t n) {
  if (end < n + 1) return NAN;
  double g = 0, l = 0;
  for (size_t i = 1; i <= n; ++i) {
    const double d = xs[i] - xs[i - 1];
    g += std::max(d, 0.0);
    l += std::max(-d, 0.0);
  }
  g /= static_cast<double>(n);
  l /= static_cast<double>(n);
  for (size_t i = n + 1; i < end; ++i) {
    const double d = xs[i] - xs[i - 1];
    g = (g * static_cast<double>(n - 1) + std::max(d, 0.0)) / static_cast<double>(n);
    l = (l * static_cast<double>(n - 1) + std::max(-d, 0.0)) / static_cast<double>(n);
  }
  if (l == 0) return g == 0 ? 50.0 : 100.0;
  return 100.0 - 100.0 / (1.0 + g / l);
}

void ExpectClose(double got, double want, double rel, const char* what, size_t n, size_t t) {
  EXPECT_NEAR(got, want, rel * std::max(1.0, std::abs(want))) << what << " n=" << n << " t=" << t;
}

TEST(AboveBelowTest, ToleranceMakesNearEqualATie) {
  EXPECT_TRUE(Above(100.01, 100.0));
  EXPECT_FALSE(Above(100.0, 100.0));
  EXPECT_FALSE(Above(100.0 + 1e-12, 100.0));  // a few ulps of summation noise
  EXPECT_FALSE(Above(99.0, 100.0));
  EXPECT_TRUE(Below(99.99, 100.0));
  EXPECT_FALSE(Below(100.0 - 1e-12, 100.0));
  EXPECT_FALSE(Below(100.0, 100.0));
  // (0.1 + 0.2) / 3 and 0.3 / 3 differ in the last bit; equal on paper, so neither is above.
  EXPECT_NE((0.1 + 0.2) / 3, 0.3 / 3);
  EXPECT_FALSE(Above((0.1 + 0.2) / 3, 0.3 / 3));
  EXPECT_FALSE(Above(0.3 / 3, (0.1 + 0.2) / 3));
  // Around zero the tolerance shrinks to nothing: any positive difference is above 0.
  EXPECT_TRUE(Above(1e-300, 0.0));
}

TEST(SmaTest, MatchesNaiveMeanAndWarmsUpAfterN) {
  const auto xs = Walk(3000, 1);
  for (size_t n : {1, 2, 3, 7, 30, 200}) {
    Sma sma(n);
    for (size_t t = 0; t < xs.size(); ++t) {
      sma.Update(xs[t]);
      ASSERT_EQ(sma.ready(), t + 1 >= n) << "n=" << n << " t=" << t;
      if (!sma.ready()) {
        EXPECT_TRUE(std::isnan(sma.value()));
        continue;
      }
      ExpectClose(sma.value(), NaiveMean(xs, t + 1, n), 1e-12, "sma", n, t);
    }
  }
}

TEST(SmaTest, DoesNotDriftOverMillionsOfUpdatesAcrossMagnitudes) {
  // Large values first, then small ones: a plain rolling sum keeps the absolute error it picked
  // up at 1e6 while the mean falls to ~1, which would break the 1e-10 tie tolerance.
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0.5, 1.5);
  Sma sma(30);
  std::vector<double> last;
  for (size_t i = 0; i < 2'000'000; ++i) {
    const double x = (i < 1'000'000 ? 1e6 : 1.0) * u(rng);
    sma.Update(x);
    last.push_back(x);
  }
  const double want = NaiveMean(last, last.size(), 30);
  EXPECT_NEAR(sma.value(), want, 1e-13 * want);
}

// SmaFill's values, filled `chunk` at a time, against Sma fed one value at a time: equal bit for
// bit (the same roundings, so the same ties), NaN in the same places.
void ExpectSmaFillMatchesSma(const std::vector<double>& xs, size_t n, size_t chunk) {
  Sma sma(n);
  SmaFill fill(n);
  std::vector<double> out(chunk);
  for (size_t from = 0; from < xs.size(); from += chunk) {
    const size_t count = std::min(chunk, xs.size() - from);
    fill.Fill(xs.data(), from, count, out.data());
    for (size_t k = 0; k < count; ++k) {
      sma.Update(xs[from + k]);
      const double want = sma.value();
      if (std::isnan(want)) {
        ASSERT_TRUE(std::isnan(out[k])) << "n=" << n << " chunk=" << chunk << " i=" << from + k;
        continue;
      }
      // Bitwise: EXPECT_EQ on doubles is exact.
      ASSERT_EQ(out[k], want) << "n=" << n << " chunk=" << chunk << " i=" << from + k;
    }
  }
}

TEST(SmaFillTest, BitForBitTheValuesOfSma) {
  // A tick-grid walk with flat stretches (equal means on paper), long enough for many re-summed
  // windows of every period.
  const auto xs = Walk(60'000, 11);
  for (size_t n : {1, 2, 3, 4, 5, 7, 10, 30, 31, 64, 200, 1'000, 4'097, 20'000, 70'000}) {
    for (size_t chunk : {1, 3, 29, 4'096, 60'000}) ExpectSmaFillMatchesSma(xs, n, chunk);
  }
}

TEST(SmaFillTest, BitForBitAcrossMagnitudesAndOffGrid) {
  // Values off any grid, falling from ~1e6 to ~1 halfway: where a rolling sum's rounding is
  // largest relative to the mean, the two must still round alike.
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(0.5, 1.5);
  std::vector<double> xs;
  for (size_t i = 0; i < 200'000; ++i) xs.push_back((i < 100'000 ? 1e6 : 1.0) * u(rng));
  for (size_t n : {10, 30, 97}) {
    for (size_t chunk : {4'096, 200'000}) ExpectSmaFillMatchesSma(xs, n, chunk);
  }
}

TEST(SmaFillTest, MatchesNaiveMean) {
  const auto xs = Walk(20'000, 12);
  for (size_t n : {1, 10, 30, 200}) {
    SmaFill fill(n);
    std::vector<double> out(xs.size());
    fill.Fill(xs.data(), 0, xs.size(), out.data());
    for (size_t t = n - 1; t < xs.size(); ++t) {
      ExpectClose(out[t], NaiveMean(xs, t + 1, n), 1e-12, "sma fill", n, t);
    }
  }
}

TEST(EmaTest, MatchesDefinitionSeededWithSma) {
  const auto xs = Walk(1500, 2);
  for (size_t n : {1, 2, 5, 12, 26, 100}) {
    Ema ema(n);
    EXPECT_DOUBLE_EQ(ema.alpha(), 2.0 / (static_cast<double>(n) + 1));
    for (size_t t = 0; t < xs.size(); ++t) {
      ema.Update(xs[t]);
      ASSERT_EQ(ema.ready(), t + 1 >= n);
      if (!ema.ready()) {
        EXPECT_TRUE(std::isnan(ema.value()));
        continue;
      }
      ExpectClose(ema.value(), NaiveEma(xs, t + 1, n), 1e-11, "ema", n, t);
    }
  }
}

TEST(RsiTest, MatchesWilderDefinition) {
  const auto xs = Walk(1500, 3);
  for (size_t n : {1, 2, 5, 14, 50}) {
    Rsi rsi(n);
    for (size_t t = 0; t < xs.size(); ++t) {
      rsi.Update(xs[t]);
      ASSERT_EQ(rsi.ready(), t + 1 >= n + 1) << "n=" << n << " t=" << t;
      if (!rsi.ready()) {
        EXPECT_TRUE(std::isnan(rsi.value()));
        continue;
      }
      const double got = rsi.value();
      EXPECT_GE(got, 0.0);
      EXPECT_LE(got, 100.0);
      ExpectClose(got, NaiveRsi(xs, t + 1, n), 1e-9, "rsi", n, t);
    }
  }
}

TEST(RsiTest, EdgeCases) {
  Rsi up(3);
  for (double x : {1.0, 2.0, 3.0, 4.0}) up.Update(x);
  EXPECT_EQ(up.value(), 100.0);  // no losses
  Rsi flat(3);
  for (int i = 0; i < 4; ++i) flat.Update(5.0);
  EXPECT_EQ(flat.value(), 50.0);  // no change at all
  Rsi down(3);
  for (double x : {4.0, 3.0, 2.0, 1.0}) down.Update(x);
  EXPECT_EQ(down.value(), 0.0);
  // Hand-computed: changes +2, -1, +1 -> avg gain 1, avg loss 1/3 -> RS 3 -> RSI 75.
  Rsi hand(3);
  for (double x : {10.0, 12.0, 11.0, 12.0}) hand.Update(x);
  EXPECT_NEAR(hand.value(), 75.0, 1e-12);
  // Next change -2: gain (1*2 + 0)/3 = 2/3, loss (1/3*2 + 2)/3 = 8/9 -> RS 0.75 -> 300/7.
  hand.Update(10.0);
  EXPECT_NEAR(hand.value(), 100.0 - 100.0 / 1.75, 1e-12);
}

TEST(RollingStdDevTest, MatchesTwoPassPopulationStdDev) {
  const auto xs = Walk(3000, 4, 5000.0);
  for (size_t n : {1, 2, 3, 20, 64}) {
    RollingStdDev sd(n);
    for (size_t t = 0; t < xs.size(); ++t) {
      sd.Update(xs[t]);
      ASSERT_EQ(sd.ready(), t + 1 >= n);
      if (!sd.ready()) continue;
      ExpectClose(sd.mean(), NaiveMean(xs, t + 1, n), 1e-12, "mean", n, t);
      // σ is a difference of nearby numbers; compare against the price scale, not σ itself.
      EXPECT_NEAR(sd.value(), NaiveStdDev(xs, t + 1, n), 1e-9 * xs[t]) << "n=" << n << " t=" << t;
    }
  }
}

TEST(BollingerTest, BandsAreMeanPlusMinusKSigma) {
  const auto xs = Walk(1000, 5);
  const size_t n = 20;
  const double k = 2.5;
  Bollinger bb(n, k);
  for (size_t t = 0; t < xs.size(); ++t) {
    bb.Update(xs[t]);
    ASSERT_EQ(bb.ready(), t + 1 >= n);
    if (!bb.ready()) continue;
    const double m = NaiveMean(xs, t + 1, n), s = NaiveStdDev(xs, t + 1, n);
    EXPECT_NEAR(bb.middle(), m, 1e-10);
    EXPECT_NEAR(bb.value(), m, 1e-10);
    EXPECT_NEAR(bb.upper(), m + k * s, 1e-8);
    EXPECT_NEAR(bb.lower(), m - k * s, 1e-8);
  }
  // Constant input: σ is exactly 0 and the bands collapse onto the mean.
  Bollinger flat(4, 2);
  for (int i = 0; i < 10; ++i) flat.Update(7.25);
  EXPECT_EQ(flat.stddev(), 0.0);
  EXPECT_EQ(flat.upper(), 7.25);
}

void CheckRollingExtremes(const std::vector<double>& xs, size_t n) {
  RollingMax mx(n);
  RollingMin mn(n);
  for (size_t t = 0; t < xs.size(); ++t) {
    mx.Update(xs[t]);
    mn.Update(xs[t]);
    ASSERT_EQ(mx.ready(), t + 1 >= n);
    ASSERT_EQ(mn.ready(), t + 1 >= n);
    if (!mx.ready()) continue;
    const auto first = xs.begin() + static_cast<long>(t + 1 - n);
    const auto last = xs.begin() + static_cast<long>(t + 1);
    ASSERT_EQ(mx.value(), *std::max_element(first, last)) << "n=" << n << " t=" << t;
    ASSERT_EQ(mn.value(), *std::min_element(first, last)) << "n=" << n << " t=" << t;
  }
}

TEST(RollingExtremeTest, MonotonicDequeMatchesNaiveMaxMin) {
  // Random walks with many ties, strictly increasing and decreasing runs (the deque's two
  // extremes: one element, or full to capacity), constant runs, and a saw-tooth.
  std::vector<std::vector<double>> cases = {Walk(4000, 6), Walk(4000, 8, 1.0)};
  std::vector<double> up, down, flat, saw;
  for (int i = 0; i < 500; ++i) {
    up.push_back(i);
    down.push_back(-i);
    flat.push_back(3.0);
    saw.push_back(i % 7);
  }
  cases.push_back(up);
  cases.push_back(down);
  cases.push_back(flat);
  cases.push_back(saw);
  std::mt19937_64 rng(9);
  std::uniform_int_distribution<int> small(0, 3);  // heavy ties
  std::vector<double> ties;
  for (int i = 0; i < 3000; ++i) ties.push_back(small(rng));
  cases.push_back(ties);
  for (const auto& xs : cases) {
    for (size_t n : {1, 2, 3, 5, 10, 20, 55, 499, 500}) CheckRollingExtremes(xs, n);
  }
}

TEST(DonchianTest, HighestHighAndLowestLowOverN) {
  const auto closes = Walk(2000, 10);
  std::vector<double> highs, lows;
  std::mt19937_64 rng(11);
  std::uniform_int_distribution<int> wick(0, 40);
  for (double c : closes) {
    highs.push_back(c + wick(rng) / 100.0);
    lows.push_back(c - wick(rng) / 100.0);
  }
  for (size_t n : {1, 10, 20}) {
    Donchian dc(n);
    for (size_t t = 0; t < closes.size(); ++t) {
      dc.Update(highs[t], lows[t]);
      ASSERT_EQ(dc.ready(), t + 1 >= n);
      if (!dc.ready()) {
        EXPECT_TRUE(std::isnan(dc.upper()));
        continue;
      }
      double hh = -INFINITY, ll = INFINITY;
      for (size_t i = t + 1 - n; i <= t; ++i) {
        hh = std::max(hh, highs[i]);
        ll = std::min(ll, lows[i]);
      }
      ASSERT_EQ(dc.upper(), hh);
      ASSERT_EQ(dc.lower(), ll);
      ASSERT_EQ(dc.middle(), (hh + ll) / 2);
    }
  }
}

TEST(MacdTest, LineSignalAndHistogramMatchEmas) {
  const auto xs = Walk(1500, 12);
  const size_t f = 12, s = 26, g = 9;
  Macd macd(f, s, g);
  std::vector<double> line;
  for (size_t t = 0; t < xs.size(); ++t) {
    macd.Update(xs[t]);
    if (t + 1 < s) {
      EXPECT_TRUE(std::isnan(macd.value()));
      EXPECT_FALSE(macd.ready());
      continue;
    }
    line.push_back(NaiveEma(xs, t + 1, f) - NaiveEma(xs, t + 1, s));
    ExpectClose(macd.value(), line.back(), 1e-9, "macd", s, t);
    ASSERT_EQ(macd.ready(), t + 1 >= s + g - 1) << t;
    if (!macd.ready()) continue;
    const double sig = NaiveEma(line, line.size(), g);
    EXPECT_NEAR(macd.signal(), sig, 1e-9) << t;
    EXPECT_NEAR(macd.histogram(), line.back() - sig, 1e-9) << t;
  }
}

}  // namespace
}  // namespace tapedeck::strategies
