// --n: N concurrent playback streams (--ws or --sse) for --duration seconds, opened at --ramp
// connections per second: frames/s, inter-frame gaps, lateness against the 30 FPS schedule,
// windows skipped, `dropped`, errors, and the server's RSS and CPU (--server-pid).
#include <algorithm>
#include <cstdio>
#include <thread>

#include "client.h"
#include "process.h"
#include "scenarios/scenarios.h"
#include "stats.h"

namespace tapedeck::loadgen {

namespace json = boost::json;

namespace {

// What the streams received, over all of them.
struct StreamsResult {
  StreamCounts totals;
  uint64_t gaps_over_50 = 0;
  Quantiles gap, late, fps;  // fps: per stream, over its own first to last frame
  double window_s = 0;       // the steady window
  double fps_total = 0;      // frames a second in the steady window, all streams
  std::vector<std::string> sample_errors;
};

// The server and this process over the run.
struct StreamsCost {
  double elapsed_s = 0;  // from the first stream's start to the stop
  long rss_start_kb = -1, rss_peak_kb = -1, rss_end_kb = -1, hwm_kb = -1;
  double server_cpu = -1, self_cpu = 0;  // shares of a core
  double server_us_per_frame = -1, self_us_per_frame = -1;
  double load_start = -1;
};

// The steady window: from one second after the last stream was opened until the stop.
void SetSteadyWindow(const Options& o, TimePoint start, RunClock& clock) {
  const double ramp_s = o.ramp > 0 ? static_cast<double>(o.n) / o.ramp : 0;
  clock.start = start;
  clock.window_begin = start + Seconds(ramp_s) + std::chrono::seconds(1);
  clock.window_end = start + Seconds(ramp_s + o.duration_s);
}

// Room for every frame of a stream, so that recording them does not allocate.
size_t ExpectedFrames(const Options& o) {
  return static_cast<size_t>((o.duration_s + o.n / std::max(o.ramp, 1.0) + 2) * 30) + 16;
}

StreamClient ClientOf(const Options& o) {
  if (o.sse) return StreamClient::kSse;
  return o.beast_ws_client ? StreamClient::kBeastWs : StreamClient::kRawWs;
}

StreamsResult Aggregate(const std::vector<StreamStats>& stats, const RunClock& clock) {
  StreamsResult r;
  r.totals = Total(stats);
  std::vector<uint32_t> gaps;
  std::vector<int32_t> late;
  std::vector<double> per_stream_fps;
  for (const StreamStats& s : stats) {
    r.gaps_over_50 += CountSlow(s.gaps_us);
    gaps.insert(gaps.end(), s.gaps_us.begin(), s.gaps_us.end());
    late.insert(late.end(), s.late_us.begin(), s.late_us.end());
    if (s.counts.frames > 1) {
      per_stream_fps.push_back(static_cast<double>(s.counts.frames - 1) /
                               (UsSince(s.first_frame_at, s.last_frame_at) / 1e6));
    }
  }
  r.sample_errors = SampleErrors(stats, 5);
  r.window_s =
      std::max(1e-3, std::chrono::duration<double>(clock.window_end - clock.window_begin).count());
  r.fps_total = static_cast<double>(r.totals.frames_in_window) / r.window_s;
  r.gap = Summarize(std::move(gaps));
  r.late = Summarize(std::move(late));
  r.fps = Summarize(per_stream_fps);
  return r;
}

void PrintSummary(const Options& o, const StreamsResult& r, const StreamsCost& cost) {
  using ull = unsigned long long;
  const StreamCounts& t = r.totals;
  std::printf("== %s streams: N=%zu speed=%g duration=%.1fs ramp=%g/s threads=%d run=%s\n",
              o.sse ? "sse" : "ws", o.n, o.speed, o.duration_s, o.ramp, o.threads,
              o.run_id.c_str());
  std::printf(
      "  frames received      %llu (steady window %.1fs: %.0f frames/s total, %.2f per "
      "stream; ideal %.0f)\n",
      static_cast<ull>(t.frames), r.window_s, r.fps_total, r.fps_total / std::max<size_t>(o.n, 1),
      30.0 * o.n);
  std::printf("  per-stream fps       p50 %.2f  min %.2f\n", r.fps.p50, r.fps.min);
  std::printf("  inter-frame gap      %s; >50ms: %llu (%.3f%%)\n", MsLine(r.gap).c_str(),
              static_cast<ull>(r.gaps_over_50),
              r.gap.count ? 100.0 * r.gaps_over_50 / r.gap.count : 0.0);
  std::printf("  lateness vs 30 FPS   %s\n", MsLine(r.late).c_str());
  std::printf("  windows skipped      %llu (merged by the server: lag or coalescing)\n",
              static_cast<ull>(t.skipped_windows));
  std::printf("  dropped (server)     %llu\n", static_cast<ull>(t.dropped));
  std::printf("  heartbeats %llu, ends %llu\n", static_cast<ull>(t.heartbeats),
              static_cast<ull>(t.ends));
  std::printf("  errors               %s\n", ErrorsLine(t).c_str());
  PrintExamples(r.sample_errors);
  if (o.server_pid > 0) {
    std::printf(
        "  server RSS           start %.1f MB, peak %.1f MB (sampled every 100 ms), end "
        "%.1f MB, VmHWM %.1f MB\n",
        cost.rss_start_kb / 1024.0, cost.rss_peak_kb / 1024.0, cost.rss_end_kb / 1024.0,
        cost.hwm_kb / 1024.0);
    std::printf("  server CPU           %.0f%% of a core\n", cost.server_cpu * 100);
    std::printf("  server CPU per frame %.1f us\n", cost.server_us_per_frame);
  }
  std::printf("  generator CPU        %.0f%% of a core, %.1f us per frame\n", cost.self_cpu * 100,
              cost.self_us_per_frame);
  std::printf("  load average         %.2f at start, %.2f at end\n", cost.load_start,
              LoadAverage());
}

// Per second of the run: frames received, gaps over 50 ms and the longest gap ending in that
// second, CPU of the server and of the generator (share of one core), server RSS.
void PrintTimeline(const std::vector<StreamStats>& stats,
                   const std::vector<RssSampler::Second>& samples, double elapsed_s) {
  const size_t secs = static_cast<size_t>(elapsed_s) + 1;
  std::vector<uint64_t> frames_at(secs), slow_at(secs);
  std::vector<uint32_t> max_gap_at(secs);
  ForEachGap(stats, [&](uint32_t at_ms, uint32_t gap_us) {
    const size_t sec = std::min<size_t>(at_ms / 1000, secs - 1);
    ++frames_at[sec];
    slow_at[sec] += gap_us > kSlowGapUs;
    max_gap_at[sec] = std::max(max_gap_at[sec], gap_us);
  });
  std::printf("  timeline   s  frames  gaps>50ms  max-gap-ms  srv-cpu  gen-cpu  rss-MB\n");
  for (size_t sec = 0; sec < secs; ++sec) {
    double srv = -1, gen = -1, mb = -1;
    if (sec + 1 < samples.size()) {
      srv = samples[sec + 1].server_cpu_s - samples[sec].server_cpu_s;
      gen = samples[sec + 1].self_cpu_s - samples[sec].self_cpu_s;
      mb = samples[sec + 1].rss_kb / 1024.0;
    }
    std::printf("  timeline %3zu %7llu %10llu %11.1f %8.2f %8.2f %7.1f\n", sec,
                static_cast<unsigned long long>(frames_at[sec]),
                static_cast<unsigned long long>(slow_at[sec]), max_gap_at[sec] / 1e3, srv, gen, mb);
  }
}

json::object ResultJson(const Options& o, const StreamsResult& r, const StreamsCost& cost) {
  const StreamCounts& t = r.totals;
  json::object out{
      {"mode", "streams"},
      {"label", o.label},
      {"channel", o.sse ? "sse" : "ws"},
      {"ws_client", o.sse ? "" : (o.beast_ws_client ? "beast" : "raw")},
      {"n", o.n},
      {"speed", o.speed},
      {"duration_s", o.duration_s},
      {"ramp_per_s", o.ramp},
      {"threads", o.threads},
      {"frames", t.frames},
      {"frames_per_s", std::round(r.fps_total)},
      {"frames_per_s_per_stream", Hundredths(r.fps_total / std::max<size_t>(o.n, 1))},
      {"stream_fps_p50", Hundredths(r.fps.p50)},
      {"stream_fps_min", Hundredths(r.fps.min)},
      {"gap", MsJson(r.gap)},
      {"gaps_over_50ms", r.gaps_over_50},
      {"lateness", MsJson(r.late)},
      {"windows_skipped", t.skipped_windows},
      {"dropped", t.dropped},
      {"heartbeats", t.heartbeats},
      {"ends", t.ends},
  };
  AppendErrorsJson(t, out);
  out.insert({
      {"server_rss_start_mb", MbJson(cost.rss_start_kb)},
      {"server_rss_peak_mb", MbJson(cost.rss_peak_kb)},
      {"server_rss_end_mb", MbJson(cost.rss_end_kb)},
      {"server_vmhwm_mb", MbJson(cost.hwm_kb)},
      {"server_cpu", Hundredths(cost.server_cpu)},
      {"generator_cpu", Hundredths(cost.self_cpu)},
      {"server_cpu_us_per_frame", std::round(cost.server_us_per_frame * 10) / 10},
      {"generator_cpu_us_per_frame", std::round(cost.self_us_per_frame * 10) / 10},
      {"loadavg_start", cost.load_start},
      {"loadavg_end", LoadAverage()},
  });
  return out;
}

}  // namespace

int RunStreams(const Options& o, const tcp::endpoint& endpoint) {
  IoThreads io(o.threads);
  std::vector<StreamStats> stats(o.n);
  for (StreamStats& s : stats) s.Reserve(ExpectedFrames(o));
  RunClock clock;
  const TimePoint start = SteadyClock::now();
  SetSteadyWindow(o, start, clock);
  StreamsCost cost;
  cost.load_start = LoadAverage();
  RssSampler rss(o.server_pid);
  const double server_cpu0 = ReadCpuSeconds(o.server_pid);
  const double self_cpu0 = SelfCpuSeconds();

  const std::string host = o.HostHeader();
  const std::string target = StreamTarget(o, o.sse);
  std::vector<std::shared_ptr<Stream>> streams =
      OpenStreams(io, o.threads, o.n, o.ramp, start, [&](net::io_context& ctx, size_t k) {
        return MakeStream(ClientOf(o), ctx, endpoint, host, target, stats[k], clock);
      });
  std::this_thread::sleep_until(clock.window_end);

  // The stop: the figures of the run are taken before the streams close.
  const TimePoint stopped_at = SteadyClock::now();
  clock.stopping = true;
  const double server_cpu1 = ReadCpuSeconds(o.server_pid);
  const double self_cpu1 = SelfCpuSeconds();
  rss.Stop();
  cost.rss_end_kb = ReadStatusKb(o.server_pid, "VmRSS");
  cost.hwm_kb = ReadStatusKb(o.server_pid, "VmHWM");
  StopStreams(streams, io, o.threads);
  io.Finish(std::chrono::seconds(5));  // closing handshakes get a bounded grace

  const StreamsResult result = Aggregate(stats, clock);
  cost.elapsed_s = std::chrono::duration<double>(stopped_at - start).count();
  cost.rss_start_kb = rss.start_kb();
  cost.rss_peak_kb = rss.peak_kb();
  cost.server_cpu = CpuShare(server_cpu0, server_cpu1, cost.elapsed_s);
  cost.self_cpu = (self_cpu1 - self_cpu0) / cost.elapsed_s;
  // CPU time per frame received, over the whole run (ramp included).
  const double frames = static_cast<double>(result.totals.frames);
  if (cost.server_cpu >= 0 && frames > 0) {
    cost.server_us_per_frame = cost.server_cpu * cost.elapsed_s * 1e6 / frames;
  }
  if (frames > 0) cost.self_us_per_frame = cost.self_cpu * cost.elapsed_s * 1e6 / frames;

  PrintSummary(o, result, cost);
  if (o.timeline) PrintTimeline(stats, rss.seconds(), cost.elapsed_s);
  PrintJsonLine(ResultJson(o, result, cost));
  return 0;
}

}  // namespace tapedeck::loadgen
