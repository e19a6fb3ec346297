// The run loop: the aligned timeline, per-bar order matching, marking and the strategy call.
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "engine/engine.h"
#include "engine/run_state.h"

namespace tapedeck::engine {
namespace {

// Hooks are polled every 2^16 bars: often enough for a progress bar (a fraction of a millisecond
// apart), rare enough to cost nothing per bar.
constexpr size_t kHookMask = (size_t{1} << 16) - 1;
// Cancel is polled every 64 bars: a script that spends milliseconds a bar (a sweep's trial being
// deleted) still stops within a fraction of a second, for one load every 64 bars.
constexpr size_t kCancelMask = (size_t{1} << 6) - 1;
// How many bars ahead the single-symbol loop prefetches the open column and the timeline: 64
// lines, far enough to cover a memory access at a few nanoseconds a bar. Both are read only at
// the bars the loop steps through (a fill's open, the time of a bar with an order event), bars
// apart, so each such read would otherwise miss the cache.
constexpr size_t kOpenAhead = 512;
// How many bars ahead it prefetches the close column: a strategy that computes its indicators a
// chunk of bars ahead from the stored closes (sma_cross: 4,096 bars) reads each chunk's closes
// for the first time a window at a time, in strides the hardware prefetcher does not follow;
// fetched here, spread over the bars before, they are in the cache by then. 64 KiB ahead.
constexpr size_t kCloseAhead = 8192;
// How far ahead it prefetches the parts of the curve and of the timeline that the block of
// equity and times being written will be appended to: a block, so that the appends write to lines
// in the cache.
constexpr size_t kCurveAhead = size_t{1} << 12;
// The equity curve's statistics are read every 2^12 bars (32 KiB of equity), while those bars
// are still in the cache.
constexpr size_t kScanMask = (size_t{1} << 12) - 1;

Status Validate(std::span<const market::Series> data, const RunConfig& config) {
  if (!(std::isfinite(config.cash) && config.cash > 0)) {
    return MakeError(ErrorCode::kValidation, "cash must be a positive finite number",
                     {{"field", "cash"}});
  }
  const std::pair<const char*, double> costs[] = {{"commission", config.costs.commission},
                                                  {"fixed_fee", config.costs.fixed_fee},
                                                  {"slippage", config.costs.slippage}};
  for (const auto& [name, value] : costs) {
    if (!(std::isfinite(value) && value >= 0)) {
      return MakeError(ErrorCode::kValidation,
                       std::string(name) + " must be a non-negative finite number",
                       {{"field", name}});
    }
  }
  // A slippage of 100% would sell at a price of zero or less.
  if (!(config.costs.slippage < 1)) {
    return MakeError(ErrorCode::kValidation, "slippage must be below 1", {{"field", "slippage"}});
  }
  if (data.empty()) {
    return MakeError(ErrorCode::kValidation, "no market data", {{"field", "data"}});
  }
  for (size_t i = 0; i < data.size(); ++i) {
    if (data[i].empty()) {
      return MakeError(
          ErrorCode::kValidation, "series '" + data[i].symbol() + "' has no bars",
          {{"field", "data"}, {"symbol", data[i].symbol()}, {"index", std::to_string(i)}});
    }
  }
  return Ok();
}

// Asks the kernel to back a large, not yet touched buffer with transparent huge pages. A run's
// per-bar vectors (times, equity) are megabytes of fresh memory: with 4 KiB pages every run takes
// a page fault per 512 bars, which on virtualised hosts costs more than the loop itself. Only the
// 2 MiB-aligned interior can be advised; the advice is a hint and failures are ignored.
template <typename T>
void AdviseHugePages(std::vector<T>& v) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  const auto begin = reinterpret_cast<uintptr_t>(v.data());
  const uintptr_t end = begin + v.capacity() * sizeof(T);
  const uintptr_t from = (begin + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t to = end & ~(kHuge - 1);
  if (to > from) madvise(reinterpret_cast<void*>(from), to - from, MADV_HUGEPAGE);
#else
  (void)v;
#endif
}

// Every time at which any symbol has a bar, ascending, once. With one symbol, those are its
// series' times: then the result is empty, with room for all of them, and the loop appends them
// a block at a time (Loop), from lines it has fetched ahead, instead of a copy of megabytes here
// that would stream through memory (times were ~10 % of a run's time).
std::vector<Timestamp> AlignedTimes(std::span<const market::Series> data) {
  if (data.size() == 1) {
    std::vector<Timestamp> times;
    times.reserve(data[0].size());
    AdviseHugePages(times);
    return times;
  }
  size_t total = 0;
  for (const auto& s : data) total += s.size();
  std::vector<Timestamp> times;
  times.reserve(total);
  AdviseHugePages(times);
  for (const auto& s : data) {
    const auto t = s.times();
    const auto mid = times.insert(times.end(), t.begin(), t.end());
    std::inplace_merge(times.begin(), mid, times.end());
  }
  times.erase(std::unique(times.begin(), times.end()), times.end());
  return times;
}

// Marks bars [t, end) of the one-symbol loop, at which nothing can happen but marking (the
// strategy asked not to be called before them, SkipUntil, and no order rests), into
// out[0 .. end - t). Equity is cash + position * close as at any bar: the same two operations,
// two bars per SSE2 instruction (an element-wise vector operation rounds as its scalar form).
void MarkQuiet(detail::RunState& st, double* out, const double* curve, const Timestamp* timeline,
               size_t t, size_t end) {
  detail::SymbolState& y = st.syms[0];
  const double* close = y.close;
  const double cash = st.cash, pos = y.position;
  using V2 = double __attribute__((vector_size(16)));
  const V2 vcash = {cash, cash}, vpos = {pos, pos};
  size_t u = t;
  for (; u + 2 <= end; u += 2) {
    V2 c;
    __builtin_memcpy(&c, close + u, sizeof c);
    const V2 e = vcash + vpos * c;
    __builtin_memcpy(out + (u - t), &e, sizeof e);
  }
  if (u < end) out[u - t] = cash + pos * close[u];
  // The columns read and appended to ahead keep streaming into the cache, as at every other bar
  // (see Loop): `curve` and `timeline` are where the loop's blocks of equity and times go.
  const size_t n = st.bar_count;
  for (u = t; u < end; u += 8) {
    __builtin_prefetch(y.open + std::min(u + kOpenAhead, n - 1));
    __builtin_prefetch(st.times + std::min(u + kOpenAhead, n - 1));
    __builtin_prefetch(close + std::min(u + kCloseAhead, n - 1));
    __builtin_prefetch(curve + std::min(u + kCurveAhead, n - 1));
    __builtin_prefetch(timeline + std::min(u + kCurveAhead, n - 1));
  }
  // What the bars after these read of the state: the symbol's bar (Finish marks an open trade at
  // it). The time and the marked equity are set by the next bar the loop steps through, before
  // the strategy or the broker sees them (reading the timeline here would be a cache miss).
  y.idx = end - 1;
  y.seen = end;
  st.index = end - 1;
}

// The loop proper. kSingle is the one-symbol fast path: the symbol has a bar at every time of
// the timeline, so its index is the timeline's and nothing needs searching or comparing; and the
// bars before the strategy's wake with no order resting are marked a block at a time (MarkQuiet)
// without the per-bar bookkeeping.
//
// The equity of each bar is written to a block of kScanMask + 1 bars; at the end of a block (and
// of the run) the block is appended to `equity` and the curve's statistics read it there while it
// is in the cache (RunState::scan). Appending writes each mark to the curve once, where a curve
// sized up front would be written with zeros first. With one symbol the run's timeline is filled
// the same way, from the series' times (st.times) at the same points. After the last bar the scan
// is finished and the last bar's equity stored in *last_equity.
//
// With `keep` false (RunConfig::record_history off) nothing is appended: the scan reads each block
// where it was written, with the two bars before it kept in front of it (the scan may need to read
// them again: it reads bars in pairs), so its sums see the same values in the same order.
// REQUIRES: with keep, equity (and with one symbol, timeline, empty) has room for every bar.
template <bool kSingle>
Status Loop(detail::RunState& st, Strategy& strategy, std::vector<double>& equity,
            std::vector<Timestamp>& timeline, bool keep, double* last_equity,
            const RunHooks& hooks) {
  Context ctx(&st);
  const size_t n = st.bar_count;
  detail::SymbolState& first = st.syms[0];
  // Two bars of the block before, then the block.
  constexpr size_t kBefore = 2;
  std::vector<double> block(kBefore + kScanMask + 1);
  double* const out = block.data() + kBefore;
  // Where the blocks go (reserved for every bar; only prefetched ahead of the appends). Without
  // keeping, the series' times stand in: any valid addresses do.
  const double* const curve =
      keep ? equity.data() : reinterpret_cast<const double*>(static_cast<const void*>(st.times));
  const Timestamp* const times_to = keep ? timeline.data() : st.times;
  size_t base = 0;  // the bar of out[0]
  auto flush = [&](size_t to, bool last) {
    if (keep) {
      equity.insert(equity.end(), out, out + (to - base));
      if constexpr (kSingle) timeline.insert(timeline.end(), st.times + base, st.times + to);
      if (last) {
        st.scan.Finish(equity.data(), st.times, to);
      } else {
        st.scan.Advance(equity.data(), st.times, to);
      }
    } else {
      // The window starts at bar base - kBefore (bar 0 for the first block).
      const size_t origin = base >= kBefore ? base - kBefore : 0;
      const double* window = block.data() + kBefore - (base - origin);
      if (last) {
        st.scan.Finish(window, origin, st.times, to);
      } else {
        st.scan.Advance(window, origin, st.times, to);
        // The block's last two bars, in front of the next block.
        block[0] = out[to - base - 2];
        block[1] = out[to - base - 1];
      }
    }
    if (last) *last_equity = out[to - base - 1];
    base = to;
  };
  size_t t = 0;
  while (t < n) {
    bool quiet = false;
    if constexpr (kSingle) quiet = t < st.wake && st.pending.empty();
    if (quiet) {
      // Up to the wake, or the next bar after which the hooks are polled, whichever is first.
      const size_t end = std::min({st.wake, n, (t | kCancelMask) + 1});
      MarkQuiet(st, out + (t - base), curve, times_to, t, end);
      t = end;
    } else {
      st.index = t;
      st.time = st.times[t];
      double eq;
      if constexpr (kSingle) {
        first.idx = t;
        first.seen = t + 1;
        // The opens are read only when a market order fills, bars apart, so each such read would
        // miss the cache (Submit's prefetch comes only a bar ahead, too late for memory). Keep the
        // column streaming into the cache well ahead instead: one prefetch per 64-byte line.
        if ((t & 7) == 0) {
          __builtin_prefetch(first.open + std::min(t + kOpenAhead, n - 1));
          __builtin_prefetch(st.times + std::min(t + kOpenAhead, n - 1));
          __builtin_prefetch(first.close + std::min(t + kCloseAhead, n - 1));
          __builtin_prefetch(curve + std::min(t + kCurveAhead, n - 1));
          __builtin_prefetch(times_to + std::min(t + kCurveAhead, n - 1));
        }
        if (!st.pending.empty()) st.ProcessPending();
        eq = st.cash + first.position * first.close[t];
      } else {
        for (detail::SymbolState& y : st.syms) {
          y.has_bar = y.seen < y.size && y.times[y.seen] == st.time;
          if (y.has_bar) y.idx = y.seen++;
        }
        if (!st.pending.empty()) st.ProcessPending();
        eq = st.cash;
        for (const detail::SymbolState& y : st.syms) {
          if (y.position != 0) eq += y.position * y.close[y.idx];
        }
      }
      st.equity = eq;
      out[t - base] = eq;
      if (t >= st.wake) strategy.OnBar(ctx);
      ++t;
    }
    // t bars are done.
    if ((t & kCancelMask) == 0) [[unlikely]] {
      if ((t & kScanMask) == 0 && t < n) flush(t, false);
      if (hooks.cancel != nullptr && hooks.cancel->load(std::memory_order_relaxed)) {
        if (st.failure) return *st.failure;
        return MakeError(ErrorCode::kUnavailable, "cancelled");
      }
      if ((t & kHookMask) == 0) {
        if (st.failure) return *st.failure;
        if (hooks.progress) hooks.progress(t, n);
      }
    }
  }
  if (base < n) flush(n, true);
  if (hooks.progress && (n & kHookMask) != 0) hooks.progress(n, n);
  return Ok();
}

}  // namespace

namespace detail {

PlotId RunState::DeclarePlot(std::string_view name, PlotPane pane, bool in_order,
                             std::string_view derivation) {
  std::vector<PlotSeries>& plots = result->plots;
  for (size_t i = 0; i < plots.size(); ++i) {
    if (plots[i].name == name) return static_cast<PlotId>(i);
  }
  const auto id = static_cast<PlotId>(plot_cols.size());
  plot_next.push_back(0);
  plot_in_order.push_back(in_order);
  if (!record_plots) {
    plot_cols.push_back(&plot_scratch);
    // The name is kept (without values) only so that the same name gets the same id.
    plots.push_back(PlotSeries{std::string(name), pane, {}});
    return id;
  }
  if (derive_plots && !derivation.empty()) {
    // What the series is, not its values: nothing is stored into it during the run (the
    // strategy is told so by Context::derive_plots), so it needs no column.
    plot_in_order.back() = false;
    plot_cols.push_back(&plot_scratch);
    plots.push_back(PlotSeries{std::string(name), pane, {}, std::string(derivation)});
    return id;
  }
  std::vector<double> values;
  values.reserve(bar_count);
  AdviseHugePages(values);
  // An in-order series starts empty and grows by AppendPlot, each value written once.
  if (!in_order) values.assign(bar_count, NAN);
  plots.push_back(PlotSeries{std::string(name), pane, std::move(values)});
  // Moving a vector keeps its buffer, so the pointer survives later declarations.
  plot_cols.push_back(plots.back().values.data());
  return id;
}

void RunState::AppendPlot(PlotId id, std::span<const double> values) {
  if (!record_plots) return;
  const size_t from = plot_next[id];
  const size_t count = std::min(values.size(), bar_count - from);
  plot_next[id] = from + count;
  std::vector<double>& column = result->plots[id].values;
  if (plot_in_order[id]) {
    column.insert(column.end(), values.begin(), values.begin() + count);
  } else {
    std::copy_n(values.begin(), count, column.begin() + from);
  }
}

void RunState::FinishPlots() {
  if (!record_plots) return;
  for (size_t id = 0; id < plot_cols.size(); ++id) {
    if (plot_in_order[id]) result->plots[id].values.resize(bar_count, NAN);
  }
}

void RunState::Log(std::string_view msg) {
  if (!record_plots) return;
  if (result->logs.size() >= kMaxLogs) {
    ++logs_dropped;
    return;
  }
  if (msg.size() > kMaxLogBytes) {
    size_t cut = kMaxLogBytes;
    // Not inside a UTF-8 sequence: back off its continuation bytes.
    while (cut > 0 && (static_cast<unsigned char>(msg[cut]) & 0xC0) == 0x80) --cut;
    msg = msg.substr(0, cut);
  }
  result->logs.push_back(LogEntry{time, index, std::string(msg)});
}

}  // namespace detail

Result<RunResult> Run(std::span<const market::Series> data, Strategy& strategy,
                      const RunConfig& config, const RunHooks& hooks) {
  if (Status valid = Validate(data, config); !valid.ok()) return valid.take_error();

  RunResult result;
  result.symbols.reserve(data.size());
  for (const auto& s : data) result.symbols.push_back(s.symbol());
  const bool keep = config.record_history;
  const bool single = data.size() == 1;
  // With one symbol the timeline is the series' times, appended by the loop (when kept).
  if (keep || !single) result.times = AlignedTimes(data);
  const Timestamp* const times = single ? data[0].times().data() : result.times.data();
  const size_t bars = single ? data[0].size() : result.times.size();
  if (keep) {
    result.equity.reserve(bars);  // filled by the loop, a block at a time
    AdviseHugePages(result.equity);
  }

  detail::RunState st;
  st.syms.resize(data.size());
  for (size_t i = 0; i < data.size(); ++i) {
    const market::Series& s = data[i];
    detail::SymbolState& y = st.syms[i];
    y.times = s.times().data();
    y.open = s.open().data();
    y.high = s.high().data();
    y.low = s.low().data();
    y.close = s.close().data();
    y.volume = s.volume().data();
    y.size = s.size();
    y.series = &s;
  }
  st.times = times;
  st.bar_count = bars;
  st.time = times[0];  // what OnStart sees, and when its orders are recorded
  st.cash = config.cash;
  st.equity = config.cash;
  st.costs = config.costs;
  st.allow_short = config.allow_short;
  st.result = &result;
  st.record_events = keep;
  if (!keep) result.trade_totals.resize(data.size());
  st.record_plots = config.record_plots;
  st.derive_plots = config.derive_plots || !config.record_plots;
  if (!config.record_plots) st.plot_mask = 0;

  Context ctx(&st);
  strategy.OnStart(ctx);
  if (st.failure) return *st.failure;

  Status done = Ok();
  double final_equity = 0;
  if (data.size() == 1) {
    st.syms[0].has_bar = true;
    done = Loop<true>(st, strategy, result.equity, result.times, keep, &final_equity, hooks);
  } else {
    done = Loop<false>(st, strategy, result.equity, result.times, keep, &final_equity, hooks);
  }
  if (!done.ok()) return done.take_error();
  if (st.failure) return *st.failure;
  st.Finish();
  st.FinishPlots();
  if (st.logs_dropped > 0) {
    result.logs.push_back(LogEntry{times[bars - 1], bars - 1,
                                   std::to_string(st.logs_dropped) +
                                       " more messages dropped (a run keeps at most " +
                                       std::to_string(kMaxLogs) + ")"});
  }
  if (!config.record_plots) result.plots.clear();
  detail::CurveEnds ends;
  ends.bars = bars;
  ends.final_equity = final_equity;
  if (bars >= 2) {
    ends.spanned = true;
    ends.first = times[0];
    ends.last = times[bars - 1];
  }
  if (keep) {
    for (const Trade& t : result.trades) st.trade_sums.Add(t, bars);
  }
  result.stats =
      detail::ComputeStats(data, config.cash, st.fill_count, st.scan, ends, st.trade_sums);
  if (!keep) result.times = std::vector<Timestamp>();
  return result;
}

}  // namespace tapedeck::engine
