// How much of a sweep's best result is luck: daily returns, their Sharpe ratio, the deflated Sharpe
// ratio (DSR) of the best trial and the probability of backtest overfitting (PBO, by CSCV), exactly
// as pinned in docs/sweeps.md (so other tools reproduce our numbers from the daily returns we
// publish).
//
// Thread-safety: pure functions.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/time.h"

namespace tapedeck::sweep {

// One UTC calendar day's return. `day`: days since 1970-01-01 (UTC).
struct DailyReturn {
  int64_t day = 0;
  double ret = 0;
};

// The daily returns of an equity curve: one per UTC calendar day that holds bars, in order;
// r_d = E_d / E_{d-1} - 1, with E_d the equity at the last bar of day d and E_{-1} `start_cash`.
// REQUIRES: times.size() == equity.size(), times ascending, start_cash > 0.
std::vector<DailyReturn> DailyReturns(std::span<const Timestamp> times,
                                      std::span<const double> equity, double start_cash);

// "2024-01-31" for a `day` of DailyReturn.
std::string FormatDay(int64_t day);

// mean / standard deviation (ddof = 1), per period, not annualised. 0 with fewer than two returns
// or a zero deviation (all returns equal, compared exactly rather than through a rounded mean).
double Sharpe(std::span<const double> returns);

// Population skewness (γ3 = m3 / m2^1.5) and kurtosis (γ4 = m4 / m2², not excess) of a series, with
// m_k its k-th central moment (divided by n); the normal's 0 and 3 when it has fewer than two
// values or all its values are equal.
struct Moments {
  double skewness = 0;
  double kurtosis = 3;
};
Moments PopulationMoments(std::span<const double> values);

// The standard normal distribution: Φ and Φ⁻¹ (p in (0, 1); 0 and 1 give -inf and +inf).
double NormalCdf(double x);
double NormalQuantile(double p);

// The deflated Sharpe ratio of the best of N trials (Bailey & López de Prado, 2014):
//   SR0 = √V · ((1−γ)·Φ⁻¹(1 − 1/N) + γ·Φ⁻¹(1 − 1/(N·e))),
//   DSR = Φ((SR − SR0)·√(T−1) / √(1 − γ3·SR + (γ4−1)/4 · SR²)),
// with V the variance (ddof = 1) of the N trials' Sharpe ratios, SR, γ3, γ4 the best trial's daily
// Sharpe, skewness and kurtosis over its T daily returns, γ the Euler–Mascheroni constant.
// Undefined (value nullopt; the other fields filled as far as they are defined), with `reason`:
//   "needs at least 2 trials"          N < 2 (no variance; Φ⁻¹(1 − 1/N) is −inf at N = 1);
//   "needs at least 2 daily returns"   T < 2;
//   "the best trial's returns give a non-positive 1 - skewness*SR + (kurtosis-1)/4*SR^2"
//                                      the square root's argument ≤ 0 (≥ 0 in exact arithmetic;
//                                      0 only for a two-valued series at SR = 2/γ3).
// V = 0 (all trials' Sharpe equal) is defined: SR0 = 0.
struct Dsr {
  std::optional<double> value;  // nullopt when undefined; `reason` says why
  std::string reason;           // e.g. "needs at least 2 trials", "needs at least 2 daily returns"
  double sr = 0, sr0 = 0, variance = 0;  // of the inputs above
  double skewness = 0, kurtosis = 3;
  size_t trials = 0, days = 0;
};
// `sharpes`: every trial's daily Sharpe (N = sharpes.size()); `best_returns`: the best trial's
// daily returns (its Sharpe is Sharpe(best_returns)).
Dsr DeflatedSharpe(std::span<const double> sharpes, std::span<const double> best_returns);

// The probability of backtest overfitting by combinatorially symmetric cross-validation (Bailey,
// Borwein, López de Prado & Zhu): the T × N matrix of daily returns (returns[n] is trial n's
// series; all of length T), its earliest T mod S rows dropped, cut into S contiguous equal blocks.
// For every choice of S/2 blocks as in-sample (the rest out-of-sample, both in time order): n* =
// the trial with the highest in-sample Sharpe (ties: lowest index); its out-of-sample rank r among
// the N trials by Sharpe, ascending, ties given the average rank; ω = r/(N+1); λ = ln(ω/(1−ω)).
// PBO = the share of choices with λ ≤ 0 (decided on r exactly: 2r ≤ N+1). A half's Sharpe is
// Sharpe() of its rows (computed from per-block sums, so equal to it up to rounding; exactly 0 for
// a half whose rows are all equal). Choices are enumerated in lexicographic order of their sorted
// in-sample block sets ({0..S/2−1} first), blocks numbered from the earliest.
// Undefined (value nullopt; the sizes filled as far as known), with `reason`:
//   "blocks must be even, from 2 to 32"          (C(32,16) is already 6·10⁸ choices);
//   "needs at least 2 trials";
//   "trials' daily returns differ in length";
//   "needs at least S daily returns" (S the number), T < S.
// Cost: O(N·T) once, then O(N) per choice: N = 1000, T = 365, S = 16 takes about 0.15 s of CPU.
struct Pbo {
  std::optional<double> value;  // nullopt when undefined; `reason` says why
  std::string reason;           // e.g. "needs at least 2 trials", "needs at least 16 daily returns"
  size_t blocks = 0;            // S
  size_t combinations = 0;      // C(S, S/2)
  size_t rows_dropped = 0;      // T mod S
  size_t trials = 0, days = 0;  // N, T
  // λ of each choice, in the order the choices are enumerated (lexicographic over in-sample block
  // sets), for a histogram.
  std::vector<double> logits;
};
// `returns[n]`: trial n's daily returns, all of one length (else a `reason`).
// `cancel` (may be null), checked before each choice: once true, the value is nullopt with
// reason "cancelled" (a sweep being deleted does not wait for its summary).
Pbo ProbabilityOfOverfitting(const std::vector<std::vector<double>>& returns, size_t blocks,
                             const std::atomic<bool>* cancel = nullptr);

}  // namespace tapedeck::sweep
