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
// only the means of bar t.
#include <algorithm>
#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include "strategies/builtins.h"
#include "strategies/indicators.h"
#include "strategies/long_flat.h"

namespace tapedeck::strategies::internal {
namespace {

class SmaCross final : public LongFlat<SmaCross> {
 public:
  // Bars per chunk.
  static constexpr size_t kChunk = 4096;

  // REQUIRES: 1 <= fast < slow.
  SmaCross(size_t fast, size_t slow) : fast_fill_(fast), slow_fill_(slow), slow_n_(slow) {}

  void Declare(engine::Context& ctx) {
    // With one symbol its bar index is the timeline's, so the means can go to the plotted series
    // a chunk at a time, as they are computed (each written once), and the bars with nothing to
    // do can be skipped. With several, each bar of symbol 0 plots its own.
    single_ = ctx.symbol_count() == 1;
    if (single_) {
      fast_plot_ = ctx.DeclarePlotInOrder("fast", engine::PlotPane::kPrice);
      slow_plot_ = ctx.DeclarePlotInOrder("slow", engine::PlotPane::kPrice);
    } else {
      fast_plot_ = ctx.DeclarePlot("fast", engine::PlotPane::kPrice);
      slow_plot_ = ctx.DeclarePlot("slow", engine::PlotPane::kPrice);
    }
    fast_.resize(kChunk);
    slow_.resize(kChunk);
  }

  Signal Decide(engine::Context& ctx) {
    // Decide runs at bars of symbol 0 in order, none twice: i only grows.
    const size_t i = ctx.bar_index(0);
    if (i >= chunk_end_) [[unlikely]] Refill(ctx, i);
    const double fast = fast_[i - chunk_begin_], slow = slow_[i - chunk_begin_];
    if (!single_) {
      ctx.Plot(fast_plot_, fast);
      ctx.Plot(slow_plot_, slow);
    }
    const Signal want = Want(i);
    // When nothing is resting and this bar sends nothing (it wants what it holds, or nothing
    // yet), the position cannot change until this strategy sends an order: skip to the next bar
    // whose signal disagrees with it (or the end of the chunk, to compute the next one).
    if (single_ && ctx.open_orders(0) == 0) {
      const bool is_long = ctx.position(0) > 0;
      if (want == Signal::kHold || (want == Signal::kLong) == is_long) {
        size_t u = i + 1;
        while (u < chunk_end_ && !Acts(Want(u), is_long)) ++u;
        ctx.SkipUntil(u);
      }
    }
    return want;
  }

 private:
  // Whether signal `want` sends an order while long (or not).
  static bool Acts(Signal want, bool is_long) {
    return want != Signal::kHold && (want == Signal::kLong) != is_long;
  }

  // The signal at bar i of the current chunk.
  Signal Want(size_t i) const {
    if (i + 1 < slow_n_) return Signal::kHold;
    const size_t k = i - chunk_begin_;
    return Above(fast_[k], slow_[k]) ? Signal::kLong : Signal::kFlat;
  }

  [[gnu::noinline]] void Refill(engine::Context& ctx, size_t i) {
    const auto closes = ctx.series(0).close();
    const size_t count = std::min(kChunk, closes.size() - i);
    fast_fill_.Fill(closes.data(), i, count, fast_.data());
    slow_fill_.Fill(closes.data(), i, count, slow_.data());
    if (single_) {
      ctx.AppendPlot(fast_plot_, std::span(fast_.data(), count));
      ctx.AppendPlot(slow_plot_, std::span(slow_.data(), count));
    }
    chunk_begin_ = i;
    chunk_end_ = i + count;
  }

  SmaFill fast_fill_, slow_fill_;
  size_t slow_n_;
  bool single_ = false;
  // The means of bars chunk_begin_ .. chunk_end_ - 1: 2 x 32 KiB, which stay in the cache
  // between fill and use.
  std::vector<double> fast_, slow_;
  size_t chunk_begin_ = 0, chunk_end_ = 0;
  engine::PlotId fast_plot_ = 0, slow_plot_ = 0;
};

}  // namespace

std::unique_ptr<engine::Strategy> MakeSmaCross(size_t fast, size_t slow) {
  return std::make_unique<SmaCross>(fast, slow);
}

}  // namespace tapedeck::strategies::internal
