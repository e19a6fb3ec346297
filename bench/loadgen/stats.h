// What the load generator measures and how it reports it: quantiles of latencies and gaps, the
// per-stream record (counters, gaps, lateness) filled as messages arrive, the one way to total
// those counters over many streams, and the output helpers (readable lines, one JSON line).
//
// A StreamStats belongs to one stream and is written only on that stream's io_context thread;
// it may be read once the stream's io_context has stopped. Everything else here is a value.
#pragma once

#include <algorithm>
#include <atomic>
#include <boost/json/object.hpp>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tapedeck::loadgen {

using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;

// The playback schedule: one window every 1/30 s.
inline constexpr double kFrameIntervalUs = 1e6 / 30;
// A gap between two frames longer than this counts as slow ("gaps over 50 ms").
inline constexpr uint32_t kSlowGapUs = 50'000;

inline double UsSince(TimePoint a, TimePoint b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

// `seconds` as a steady-clock duration.
inline SteadyClock::duration Seconds(double seconds) {
  return std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(seconds));
}

// ---- Quantiles --------------------------------------------------------------------------------

struct Quantiles {
  size_t count = 0;
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0, min = 0, mean = 0;
};

// Exact quantiles of `v` (nearest rank, sorted copy); all zero when `v` is empty.
template <typename T>
Quantiles Summarize(std::vector<T> v) {
  Quantiles q;
  q.count = v.size();
  if (v.empty()) return q;
  std::sort(v.begin(), v.end());
  auto at = [&](double p) {
    const size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
    return static_cast<double>(v[k]);
  };
  q.p50 = at(0.50);
  q.p90 = at(0.90);
  q.p99 = at(0.99);
  q.p999 = at(0.999);
  q.min = static_cast<double>(v.front());
  q.max = static_cast<double>(v.back());
  double sum = 0;
  for (const T& x : v) sum += static_cast<double>(x);
  q.mean = sum / static_cast<double>(v.size());
  return q;
}

// How many of `gaps_us` are slow (over kSlowGapUs).
uint64_t CountSlow(const std::vector<uint32_t>& gaps_us);

// ---- One stream -------------------------------------------------------------------------------

// The counters of one stream, or (added up with +=) of many. Every field is a count; add a field
// to kFields in stats.cpp too (a static_assert there checks the size).
struct StreamCounts {
  uint64_t frames = 0;
  uint64_t frames_in_window = 0;  // frames received while every stream was open
  uint64_t heartbeats = 0, ends = 0, err_messages = 0;
  uint64_t skipped_windows = 0;
  uint64_t loops = 0;    // times the stream went back to the start (--churn)
  uint64_t dropped = 0;  // the server's own count, from the stream's last frame
  uint64_t connect_failed = 0, handshake_failed = 0, closed_early = 0;  // 0 or 1 per stream
  uint64_t no_frame = 0;  // in totals: streams that got no frame at all

  StreamCounts& operator+=(const StreamCounts& other);
  // Every way a stream can fail: connect, handshake, closed early, err messages, no frame.
  uint64_t errors() const {
    return connect_failed + handshake_failed + closed_early + err_messages + no_frame;
  }
};

struct StreamStats {
  StreamCounts counts;
  TimePoint connect_start{}, first_frame_at{}, last_frame_at{};
  int64_t first_i = -1, last_i = -1, n = -1;
  std::string error;                // the first error seen
  std::vector<uint32_t> gaps_us;    // between consecutive frames
  std::vector<int32_t> late_us;     // arrival - schedule of its window (first frame as anchor)
  std::vector<uint32_t> gap_at_ms;  // when each gap ended, since the run began

  // Room for `frames` frames, so that recording one does not allocate.
  void Reserve(size_t frames);
  // Counts the stream as failed in `how` (&StreamCounts::connect_failed, handshake_failed or
  // closed_early) and keeps `why` as its error unless one came first.
  void Fail(uint64_t StreamCounts::*how, std::string why);
};

// The counters of all `stats`, with no_frame set to the streams that got no frame.
StreamCounts Total(const std::vector<StreamStats>& stats);

// Up to `most` of the streams' first errors, in stream order.
std::vector<std::string> SampleErrors(const std::vector<StreamStats>& stats, size_t most);

// Calls f(gap_at_ms, gap_us) for every gap of every stream.
template <typename F>
void ForEachGap(const std::vector<StreamStats>& stats, F&& f) {
  for (const StreamStats& st : stats) {
    for (size_t g = 0; g < st.gaps_us.size(); ++g) f(st.gap_at_ms[g], st.gaps_us[g]);
  }
}

// The time frame of a run of streams, shared by all of them.
struct RunClock {
  std::atomic<bool> stopping{false};
  TimePoint start{};
  // Frames count towards frames_in_window between these (set before the streams start).
  TimePoint window_begin{}, window_end{};
};

// Records one server message that arrived at `now` on the stream of `st`.
void RecordMessage(StreamStats& st, const RunClock& clock, std::string_view json, TimePoint now);

// ---- Output -----------------------------------------------------------------------------------

// "p50 1.00  p90 ...  max 3.00 ms (n=N)", from quantiles in microseconds.
std::string MsLine(const Quantiles& q);

// "N (connect N, handshake N, closed early N, err messages N, no frame N)": errors() and its parts.
std::string ErrorsLine(const StreamCounts& c);
// The same as JSON, appended to `out`: errors, connect_failed, handshake_failed, closed_early,
// err_messages, no_frame.
void AppendErrorsJson(const StreamCounts& c, boost::json::object& out);
// Each of `errors` on a line of its own, as an example ("    e.g. ...").
void PrintExamples(const std::vector<std::string>& errors);

// Quantiles given in microseconds, as milliseconds in JSON.
boost::json::object MsJson(const Quantiles& q);

// Microseconds as milliseconds with two decimals, for JSON.
inline double RoundMs(double us) { return std::round(us / 10.0) / 100.0; }
// Kilobytes as megabytes with one decimal; hundredths, for JSON.
inline double MbJson(long kb) { return std::round(kb / 102.4) / 10; }
inline double Hundredths(double x) { return std::round(x * 100) / 100; }

// `out` as one line on stdout (numbers in their shortest plain form), flushed.
void PrintJsonLine(const boost::json::object& out);

}  // namespace tapedeck::loadgen
