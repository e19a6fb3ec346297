#include "playback/timeline.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

namespace tapedeck::playback {
namespace {

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

Result<SeekTarget> ParseSeekTarget(std::string_view text, std::string_view field) {
  if (AllDigits(text)) {
    uint64_t index = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), index);
    if (ec == std::errc() && ptr == text.data() + text.size()) return SeekTarget{index};
  } else if (auto t = ParseIso(text)) {
    return SeekTarget{*t};
  }
  return MakeError(ErrorCode::kValidation, "position must be an ISO-8601 time or a window index",
                   {{"field", std::string(field)}, {"got", std::string(text.substr(0, 64))}});
}

Timeline Timeline::Create(std::shared_ptr<const Tape> tape, Speed speed) {
  Timeline tl;
  tl.tape_ = std::move(tape);
  tl.speed_ = speed;
  // D = S * 8760 / 30 s = S * 292 s, in whole microseconds (>= 2.92 s, so rounding is negligible
  // and every viewer at the same speed gets the same windows).
  tl.delta_ = Micros{std::llround(speed.value() * 292e6)};
  if (!tl.tape_->empty()) {
    tl.n_ = static_cast<size_t>((tl.tape_->last_time() - tl.tape_->first_time()) / tl.delta_) + 1;
  }
  return tl;
}

Timestamp Timeline::WindowStart(size_t k) const {
  return tape_->first_time() + delta_ * static_cast<int64_t>(k);
}

size_t Timeline::WindowOf(size_t bar) const {
  return static_cast<size_t>((tape_->times()[bar] - tape_->first_time()) / delta_);
}

size_t Timeline::FirstBarOf(size_t k) const {
  if (k >= n_) return tape_->total_bars();
  if (k == 0) return 0;
  return tape_->LowerBound(WindowStart(k));
}

size_t Timeline::FirstBarOf(size_t k, size_t hint) const {
  if (k >= n_) return tape_->total_bars();
  if (k == 0) return 0;
  return tape_->LowerBound(WindowStart(k), hint);
}

BarRange Timeline::Bars(size_t k) const {
  if (k >= n_) return {tape_->total_bars(), tape_->total_bars()};
  return {FirstBarOf(k), FirstBarOf(k + 1)};
}

std::optional<size_t> Timeline::NextWindowWithBars(size_t k) const {
  const size_t bar = FirstBarOf(k);
  if (bar >= tape_->bar_count()) return std::nullopt;
  return WindowOf(bar);
}

std::optional<size_t> Timeline::PrevWindowWithBars(size_t k) const {
  const size_t bar = k + 1 >= n_ ? tape_->total_bars() : FirstBarOf(k + 1);
  if (bar == 0) return std::nullopt;
  return WindowOf(bar - 1);
}

size_t Timeline::Snap(size_t k) const {
  const std::optional<size_t> next = NextWindowWithBars(k);
  if (next && *next == k) return k;
  const std::optional<size_t> prev = PrevWindowWithBars(k);
  if (!prev) return *next;
  if (!next) return *prev;
  return (*next - k) <= (k - *prev) ? *next : *prev;  // a tie goes to the later window
}

bool Timeline::Known(size_t k) const {
  return tape_->complete() || (k < n_ && tape_->Knows(WindowStart(k + 1)));
}

std::optional<size_t> Timeline::TargetWindow(const SeekTarget& target) const {
  if (const uint64_t* index = std::get_if<uint64_t>(&target)) {
    if (*index >= n_) return std::nullopt;
    return static_cast<size_t>(*index);
  }
  const Timestamp t = std::get<Timestamp>(target);
  if (n_ == 0 || t < tape_->first_time() || t >= WindowStart(n_)) return std::nullopt;
  return static_cast<size_t>((t - tape_->first_time()) / delta_);
}

size_t Timeline::CountWindows(BarRange bars) const {
  // One window (the common case: a frame on time) needs no search.
  if (!bars.empty() && WindowOf(bars.end - 1) == WindowOf(bars.begin)) return 1;
  size_t count = 0;
  for (size_t b = bars.begin; b < bars.end; b = FirstBarOf(WindowOf(b) + 1)) ++count;
  return count;
}

Result<size_t> Timeline::Locate(const SeekTarget& target, std::string_view field) const {
  if (const uint64_t* index = std::get_if<uint64_t>(&target)) {
    if (*index >= n_) {
      return MakeError(ErrorCode::kRange, "window index out of range",
                       {{"field", std::string(field)},
                        {"got", std::to_string(*index)},
                        {"n", std::to_string(n_)}});
    }
    return Snap(static_cast<size_t>(*index));
  }
  const Timestamp t = std::get<Timestamp>(target);
  if (n_ == 0 || t < tape_->first_time() || t >= WindowStart(n_)) {
    std::map<std::string, std::string> details{{"field", std::string(field)},
                                               {"got", FormatIso(t)}};
    if (n_ > 0) {
      details["first"] = FormatIso(tape_->first_time());
      details["end"] = FormatIso(WindowStart(n_));
    }
    return MakeError(ErrorCode::kRange, "time outside the run", std::move(details));
  }
  return Snap(static_cast<size_t>((t - tape_->first_time()) / delta_));
}

Frame Timeline::BuildFrame(BarRange bars) const {
  Frame frame;
  const size_t last = bars.end - 1;
  const auto times = tape_->times();
  frame.window = WindowOf(last);
  frame.window_count = n_;
  frame.bars = bars;
  frame.ts = times[last];
  frame.equity = tape_->equity()[last];
  frame.orders = tape_->EventsIn(bars);
  const size_t plots = tape_->plot_count();
  if (plots > 0) {
    frame.plots.reserve(plots);
    for (size_t p = 0; p < plots; ++p) {
      if (const std::optional<double> value = tape_->LastPlotValue(p, bars)) {
        frame.plots.push_back(PlotValue{static_cast<engine::PlotId>(p), *value});
      }
    }
  }
  frame.logs = tape_->LogsIn(bars);
  const auto series = tape_->series();
  frame.ohlc.reserve(series.size());
  for (size_t s = 0; s < series.size(); ++s) {
    const market::Series& ser = series[s];
    const auto st = ser.times();
    size_t lo = bars.begin, hi = bars.end;
    // A series' times are strictly increasing, so where its bar at an index has the timeline's
    // time at that index, the searches below would land on that index: a one-symbol run's
    // series is its timeline. Not searching keeps the rest of the series' times out of memory
    // (a binary search over a year of minutes faults in pages all over the column).
    if (last >= st.size() || st[bars.begin] != times[bars.begin] || st[last] != times[last]) {
      lo = static_cast<size_t>(std::lower_bound(st.begin(), st.end(), times[bars.begin]) -
                               st.begin());
      hi = static_cast<size_t>(
          std::upper_bound(st.begin() + static_cast<ptrdiff_t>(lo), st.end(), times[last]) -
          st.begin());
    }
    if (lo >= hi) continue;
    SymbolOhlcv agg{static_cast<engine::SymbolId>(s),
                    ser.open()[lo],
                    ser.high()[lo],
                    ser.low()[lo],
                    ser.close()[hi - 1],
                    0};
    const auto high = ser.high(), low = ser.low(), volume = ser.volume();
    for (size_t i = lo; i < hi; ++i) {
      agg.high = std::max(agg.high, high[i]);
      agg.low = std::min(agg.low, low[i]);
      agg.volume += volume[i];
    }
    frame.ohlc.push_back(agg);
  }
  return frame;
}

std::shared_ptr<const std::string> Timeline::FrameHead(size_t k) const {
  const BarRange bars = Bars(k);
  return tape_->CachedFrame(delta_, bars, true,
                            [&] { return EncodeFrameHead(BuildFrame(bars), *tape_); });
}

bool Timeline::IsWholeWindow(BarRange bars) const {
  if (bars.empty()) return false;
  const size_t k = WindowOf(bars.begin);
  const size_t bar_count = tape_->bar_count();
  // Without a search where the bars around tell: the bar before begins an earlier window, the bar
  // at end a later one (or the run ends there).
  if (WindowOf(bars.end - 1) != k) return false;
  if (bars.begin > 0 && WindowOf(bars.begin - 1) == k) return false;
  if (bars.end < bar_count) return WindowOf(bars.end) != k;
  if (bars.end == tape_->total_bars()) return true;
  return bars == Bars(k);  // past the bars loaded so far
}

std::shared_ptr<const std::string> Timeline::FrameHead(BarRange bars) const {
  const bool whole_window = IsWholeWindow(bars);
  return tape_->CachedFrame(delta_, bars, whole_window,
                            [&] { return EncodeFrameHead(BuildFrame(bars), *tape_); });
}

}  // namespace tapedeck::playback
