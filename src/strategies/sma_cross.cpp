// sma_cross: long while the fast simple moving average is above the slow one.
//
// Pinned: other tools must reproduce these fills exactly (docs/strategies.md, "Pinned").
// At the close of bar t (0-based, bars of symbol 0), once t >= slow - 1, the desired position is
// long when the mean of the last `fast` closes is above the mean of the last `slow` closes
// ("a above b": a - b > 1e-10 * |b|, so means equal on paper are a tie) and flat otherwise. When
// desired differs from held, a market order is sent at that close and fills at the next bar's
// open: a buy of all cash (qty = cash / (price * (1 + commission))), or a sell of the whole
// position. No order is sent on the last bar. Before t = slow - 1 nothing is sent.
//
// How: the means are those of MovingAverageCross<Sma> (the same values bit for bit, so the same
// fills and plots; strategies_test holds the two to that), but computed a chunk of bars ahead by
// SmaFill from the stored closes rather than one bar at a time. One bar at a time, each average's
// running sum has to go through memory between one OnBar and the next, and that chain of loads,
// adds and stores was most of the strategy's cost; ahead, four windows are summed side by side in
// registers. A mean for bar t still depends on closes 0..t only, and the decision at bar t reads
// only the means of bar t. The plotted means are `fast` and `slow` (derivations "sma:fast",
// "sma:slow" with RunConfig::derive_plots: then not stored at all). With one symbol and derived
// plots the means are not needed as values, only what they decide: the windows' sums are compared
// through estimated means and divided only at bars too near the tolerance (CompareSums), with the
// same answer at every bar.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "strategies/builtins.h"
#include "strategies/derived_plots.h"
#include "strategies/indicators.h"
#include "strategies/long_flat.h"

namespace tapedeck::strategies::internal {
namespace {

class SmaCross final : public LongFlat<SmaCross> {
 public:
  // Bars per chunk.
  static constexpr size_t kChunk = 4096;

  // REQUIRES: 1 <= fast < slow.
  SmaCross(size_t fast, size_t slow)
      : fast_fill_(fast), slow_fill_(slow), fast_n_(fast), slow_n_(slow) {}

  void Declare(engine::Context& ctx) {
    // With one symbol its bar index is the timeline's, so the means can go to the plotted series
    // a chunk at a time, as they are computed (each written once), and the bars with nothing to
    // do can be skipped. With several, each bar of symbol 0 plots its own. With
    // RunConfig::derive_plots the means are recorded as what they are ("sma:n") and not stored.
    single_ = ctx.symbol_count() == 1;
    const auto n = [](size_t period) { return static_cast<double>(period); };
    fast_plot_ = ctx.DeclareDerivedPlot("fast", engine::PlotPane::kPrice,
                                        Derivation("sma", {n(fast_n_)}), single_);
    slow_plot_ = ctx.DeclareDerivedPlot("slow", engine::PlotPane::kPrice,
                                        Derivation("sma", {n(slow_n_)}), single_);
    plot_ = !ctx.derive_plots();
    fast_.resize(kChunk);
    slow_.resize(kChunk);
    above_.resize(kChunk / 64);
  }

  Signal Decide(engine::Context& ctx) {
    // Decide runs at bars of symbol 0 in order, none twice: i only grows.
    const size_t i = ctx.bar_index(0);
    if (i >= chunk_end_) [[unlikely]] {
      Refill(ctx, i);
    }
    if (!single_ && plot_) {
      ctx.Plot(fast_plot_, fast_[i - chunk_begin_]);
      ctx.Plot(slow_plot_, slow_[i - chunk_begin_]);
    }
    const Signal want = Want(i);
    // When nothing is resting and this bar sends nothing (it wants what it holds, or nothing
    // yet), the position cannot change until this strategy sends an order: skip to the next bar
    // whose signal disagrees with it (or the end of the chunk, to compute the next one).
    if (single_ && ctx.open_orders(0) == 0) {
      const bool is_long = ctx.position(0) > 0;
      if (want == Signal::kHold || (want == Signal::kLong) == is_long) {
        ctx.SkipUntil(NextActing(std::max(i + 1, slow_n_ - 1), is_long));
      }
    }
    return want;
  }

 private:
  // The signal at bar i of the current chunk.
  Signal Want(size_t i) const {
    if (i + 1 < slow_n_) return Signal::kHold;
    return Bit(i - chunk_begin_) ? Signal::kLong : Signal::kFlat;
  }
  bool Bit(size_t k) const { return (above_[k / 64] >> (k % 64)) & 1; }

  // The first bar from `from` (past the warm-up) to the end of the chunk whose signal sends an
  // order while long (or not): whose bit differs from is_long. chunk_end_ when none does.
  size_t NextActing(size_t from, bool is_long) const {
    if (from >= chunk_end_) return chunk_end_;
    const size_t count = chunk_end_ - chunk_begin_;
    const uint64_t flip = is_long ? ~uint64_t{0} : 0;
    size_t k = from - chunk_begin_;
    uint64_t word = (above_[k / 64] ^ flip) & (~uint64_t{0} << (k % 64));
    for (k /= 64; word == 0;) {
      if (++k * 64 >= count) return chunk_end_;
      word = above_[k] ^ flip;
    }
    return std::min(chunk_end_, chunk_begin_ + k * 64 + static_cast<size_t>(__builtin_ctzll(word)));
  }

#if defined(__SSE2__)
  // Two doubles (two bars) side by side, and a comparison's two lanes (all ones where true).
  using V2 = double __attribute__((vector_size(16)));
  using M2 = int64_t __attribute__((vector_size(16)));
  // |v| lane by lane: the sign bits cleared, as std::fabs does.
  static V2 Abs(V2 v) {
    M2 bits;
    __builtin_memcpy(&bits, &v, sizeof bits);
    bits &= M2{INT64_MAX, INT64_MAX};
    __builtin_memcpy(&v, &bits, sizeof v);
    return v;
  }
#endif

  // above_'s bit k: Above(fast_[k], slow_[k]), the signal of bar chunk_begin_ + k once past the
  // warm-up; the same comparison, a - b > 1e-10 * |b|, two bars per SSE2 instruction (an
  // element-wise vector operation rounds as its scalar form; NaN compares false either way).
  void Compare(size_t count) {
    for (size_t w = 0; w * 64 < count; ++w) {
      const size_t from = w * 64, to = std::min(count, from + 64);
      uint64_t word = 0;
      size_t k = from;
#if defined(__SSE2__)
      const V2 tol = {kTieTolerance, kTieTolerance};
      for (; k + 2 <= to; k += 2) {
        V2 a, b;
        __builtin_memcpy(&a, fast_.data() + k, sizeof a);
        __builtin_memcpy(&b, slow_.data() + k, sizeof b);
        const M2 above = (a - b) > tol * Abs(b);
        const auto two = static_cast<uint64_t>(_mm_movemask_pd(reinterpret_cast<__m128d>(above)));
        word |= two << (k - from);
      }
#endif
      for (; k < to; ++k) word |= static_cast<uint64_t>(Above(fast_[k], slow_[k])) << (k - from);
      above_[w] = word;
    }
  }

  // As Compare, but from the windows' sums (SmaFill::FillSums), which is all a run with derived
  // plots needs of them: the means are not stored, only what they decide. The bits are Compare's
  // exactly. Each mean is first estimated as sum × (1 / n), within 3 ulps of the correctly
  // rounded sum / n; the comparison's value from the estimates, (a - b) - 1e-10·|b|, is then
  // within about 8 ulps of (|a| + |b|) of the one Compare tests, so where it is farther than
  // 1e-13·(|a| + |b|) from zero (almost every bar: a tie on paper lands near -1e-10·|b|) its sign
  // is Compare's answer. Nearer than that, or NaN (the warm-up), infinite or tiny, the bar is
  // decided by Compare's own operations on the divided means.
  void CompareSums(size_t count) {
    const double nf = static_cast<double>(fast_n_), ns = static_cast<double>(slow_n_);
    const double rf = 1 / nf, rs = 1 / ns;
    const auto exact = [&](size_t k) { return Above(fast_[k] / nf, slow_[k] / ns); };
    for (size_t w = 0; w * 64 < count; ++w) {
      const size_t from = w * 64, to = std::min(count, from + 64);
      uint64_t word = 0;
      size_t k = from;
#if defined(__SSE2__)
      const V2 tol = {kTieTolerance, kTieTolerance}, vrf = {rf, rf}, vrs = {rs, rs};
      const V2 rel = {kSure, kSure}, tiny = {kTiny, kTiny};
      for (; k + 2 <= to; k += 2) {
        V2 sa, sb;
        __builtin_memcpy(&sa, fast_.data() + k, sizeof sa);
        __builtin_memcpy(&sb, slow_.data() + k, sizeof sb);
        const V2 a = sa * vrf, b = sb * vrs;
        const V2 abs_b = Abs(b);
        const V2 d = (a - b) - tol * abs_b;
        const V2 margin = rel * (Abs(a) + abs_b) + tiny;
        const M2 above = d > margin;
        const M2 sure = above | (d < -margin);
        auto two = static_cast<uint64_t>(_mm_movemask_pd(reinterpret_cast<__m128d>(above)));
        const int decided = _mm_movemask_pd(reinterpret_cast<__m128d>(sure));
        if (decided != 3) [[unlikely]] {
          two = static_cast<uint64_t>(exact(k)) | static_cast<uint64_t>(exact(k + 1)) << 1;
        }
        word |= two << (k - from);
      }
#endif
      for (; k < to; ++k) word |= static_cast<uint64_t>(exact(k)) << (k - from);
      above_[w] = word;
    }
  }

  [[gnu::noinline]] void Refill(engine::Context& ctx, size_t i) {
    const auto closes = ctx.series(0).close();
    const size_t count = std::min(kChunk, closes.size() - i);
    if (single_ && !plot_) {
      fast_fill_.FillSums(closes.data(), i, count, fast_.data());
      slow_fill_.FillSums(closes.data(), i, count, slow_.data());
      CompareSums(count);
    } else {
      fast_fill_.Fill(closes.data(), i, count, fast_.data());
      slow_fill_.Fill(closes.data(), i, count, slow_.data());
      Compare(count);
    }
    if (single_ && plot_) {
      ctx.AppendPlot(fast_plot_, std::span(fast_.data(), count));
      ctx.AppendPlot(slow_plot_, std::span(slow_.data(), count));
    }
    chunk_begin_ = i;
    chunk_end_ = i + count;
  }

  // CompareSums: how far from zero (relative to |a| + |b|, plus an absolute floor below which the
  // relative bound would not hold) an estimate must be for its sign to be certain.
  static constexpr double kSure = 1e-13;
  static constexpr double kTiny = 1e-290;

  SmaFill fast_fill_, slow_fill_;
  size_t fast_n_, slow_n_;
  bool single_ = false;
  bool plot_ = true;  // false: the means are derived (recorded as what they are)
  // The means of bars chunk_begin_ .. chunk_end_ - 1 (with one symbol and derived plots: their
  // windows' sums, CompareSums): 2 x 32 KiB, which stay in the cache between fill and use.
  std::vector<double> fast_, slow_;
  std::vector<uint64_t> above_;  // bit k: the means of bar chunk_begin_ + k, fast above slow
  size_t chunk_begin_ = 0, chunk_end_ = 0;
  engine::PlotId fast_plot_ = 0, slow_plot_ = 0;
};

}  // namespace

std::unique_ptr<engine::Strategy> MakeSmaCross(size_t fast, size_t slow) {
  return std::make_unique<SmaCross>(fast, slow);
}

}  // namespace tapedeck::strategies::internal
