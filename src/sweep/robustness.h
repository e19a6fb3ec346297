// How much of a sweep's best result is luck: daily returns, their Sharpe ratio, the deflated Sharpe
// ratio (DSR) of the best trial and the probability of backtest overfitting (PBO, by CSCV), exactly
// as pinned in docs/sweeps.md (so other tools reproduce our numbers from the daily returns we
// publish).
//
// Thread-safety: pure functions.
#pragma once

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
// or a zero deviation.
double Sharpe(std::span<const double> returns);

// Population skewness (γ3) and kurtosis (γ4, not excess) of a series; 0 and 3 when its deviation
// is 0 or it has fewer than two values... see robustness.cpp for the exact degenerate cases.
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
// PBO = the share of choices with λ ≤ 0.
struct Pbo {
  std::optional<double> value;  // nullopt when undefined; `reason` says why
  std::string reason;           // e.g. "needs at least 2 trials", "needs at least S days"
  size_t blocks = 0;            // S
  size_t combinations = 0;      // C(S, S/2)
  size_t rows_dropped = 0;      // T mod S
  size_t trials = 0, days = 0;  // N, T
  // λ of each choice, in the order the choices are enumerated (lexicographic over in-sample block
  // sets), for a histogram.
  std::vector<double> logits;
};
// REQUIRES: every returns[n] has the same length. S (`blocks`) must be even and >= 2 (else a
// `reason`); S above T gives a reason too.
Pbo ProbabilityOfOverfitting(const std::vector<std::vector<double>>& returns, size_t blocks);

}  // namespace tapedeck::sweep
