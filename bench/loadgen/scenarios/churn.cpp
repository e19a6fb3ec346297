// --churn C: connection churn. C connect/play/disconnect cycles, --churn-concurrency K at once,
// while --n M background streams (WS and SSE alternating, or all --ws / --sse) play for the
// whole churn, looping at the end of the run. With --server-pid: the server's RSS and open
// descriptors after --churn-warmup cycles and --settle seconds (baseline) and again after the
// last cycle and --settle seconds (end), and pass/fail of: RSS end <= baseline * (1 +
// --rss-tolerance), descriptors end <= baseline + --fd-slack, no error in the background
// streams, no failed cycle. A table every --interval seconds: cycles, background gaps, RSS, fds.
#include <array>
#include <boost/json/array.hpp>
#include <cstdio>
#include <thread>

#include "client.h"
#include "process.h"
#include "scenarios/churn_cycle.h"
#include "scenarios/scenarios.h"
#include "stats.h"
#include "wire.h"

namespace tapedeck::loadgen {

namespace json = boost::json;
using ull = unsigned long long;

namespace {

// The window count of the run at --speed, from one WebSocket's first frame; -1 and `error` when
// there is none.
int64_t ProbeWindows(const Options& o, const tcp::endpoint& endpoint, std::string& error) {
  try {
    net::io_context ioc(1);
    const FirstFrame f = FetchFirstFrame(ioc, endpoint, o.HostHeader(), StreamTarget(o, false));
    const int64_t n = IntField(f.frame, "\"n\":", false).value_or(-1);
    if (n <= 0) error = "no window count in the first frame";
    return n;
  } catch (const std::exception& e) {
    error = e.what();
  }
  return -1;
}

// Sleeps until `done()` or `deadline`; false on the deadline.
template <typename Done>
bool WaitFor(Done&& done, TimePoint deadline) {
  while (!done()) {
    if (SteadyClock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

const char* BackgroundChannel(const Options& o, const char* mixed) {
  return o.channel_given ? (o.sse ? "sse" : "ws") : mixed;
}

void PrintHeader(const Options& o, int64_t windows, double load_start) {
  char rate_cap[64] = "";
  if (o.churn_rate > 0) std::snprintf(rate_cap, sizeof rate_cap, ", at most %g/s", o.churn_rate);
  std::printf(
      "== churn: %zu cycles (%zu warm-up), %zu at once%s, seed %llu; %zu background "
      "streams (%s), speed %g, run %s (%lld windows); load average %.2f\n",
      o.churn, o.churn_warmup, o.churn_concurrency, rate_cap, static_cast<ull>(o.seed), o.n,
      BackgroundChannel(o, "ws/sse alternating"), o.speed, o.run_id.c_str(),
      static_cast<long long>(windows), load_start);
  std::fflush(stdout);
}

// When each phase of the churn began or ended.
struct ChurnTimes {
  TimePoint start{};        // the background streams' start; every "t" is counted from it
  TimePoint churn_start{};  // the first cycle's launch
  TimePoint warmup_end{}, main_start{}, churn_end{}, end_at{};
};

// The server at the baseline and at the end.
struct ServerMarks {
  ServerSnapshot baseline, end;
  uint64_t warmup_done = 0;  // cycles completed at the baseline
};

// The cycles: the warm-up, a settle, the baseline; the rest, a settle, the end. Launching stops
// at --churn-for; cycles in flight then get their own timeout to finish.
ServerMarks RunCycles(const Options& o, Churner& churner, ChurnTimes& times) {
  times.churn_start = SteadyClock::now();
  const TimePoint deadline =
      o.churn_for_s > 0 ? times.churn_start + Seconds(o.churn_for_s) : TimePoint::max();
  auto run_phase = [&](uint64_t to) {
    churner.RunUntil(to);
    if (!WaitFor([&] { return churner.completed() >= to; }, deadline)) {
      churner.StopLaunching();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a post in flight lands
      WaitFor([&] { return churner.completed() >= churner.started(); }, TimePoint::max());
    }
  };
  const auto settle = Seconds(o.settle_s);
  ServerMarks marks;

  run_phase(o.churn_warmup);
  times.warmup_end = SteadyClock::now();
  std::this_thread::sleep_for(settle);
  const TimePoint baseline_at = SteadyClock::now();
  marks.baseline = TakeSnapshot(o.server_pid);
  marks.warmup_done = churner.completed();
  std::printf("  baseline after %llu warm-up cycles and %.1f s: RSS %.1f MB, %ld fds (t=%.1f s)\n",
              static_cast<ull>(marks.warmup_done), o.settle_s, marks.baseline.rss_kb / 1024.0,
              marks.baseline.fds, UsSince(times.start, baseline_at) / 1e6);
  std::fflush(stdout);

  times.main_start = SteadyClock::now();
  if (SteadyClock::now() < deadline) run_phase(o.churn);
  times.churn_end = SteadyClock::now();
  std::this_thread::sleep_for(settle);
  times.end_at = SteadyClock::now();
  marks.end = TakeSnapshot(o.server_pid);
  return marks;
}

// What the cycles did, over all of them.
struct CycleTotals {
  uint64_t done = 0;
  std::array<uint64_t, static_cast<size_t>(CycleOutcome::kCount)> outcomes{};
  uint64_t ws = 0, sse = 0, with_from = 0, expect_frame = 0, got_frame = 0;
  std::array<uint64_t, kChurnLeaves> leaves{};
  std::array<uint64_t, kChurnControls> controls{};
  Quantiles first_frame;  // connect -> first frame
  double churn_s = 0;     // cycling, the baseline's settle left out
  double cycles_per_s = 0, main_cycles_per_s = 0;

  uint64_t failures() const { return done - outcomes[0]; }
};

CycleTotals TotalCycles(const Churner& churner, const ChurnTimes& times, uint64_t warmup_done) {
  CycleTotals t;
  t.done = churner.completed();
  std::vector<uint32_t> first_frame_us;
  first_frame_us.reserve(t.done);
  for (const CycleRecord& r : churner.records()) {
    if (!r.done) continue;
    ++t.outcomes[static_cast<size_t>(r.outcome)];
    (r.plan.sse ? t.sse : t.ws) += 1;
    t.with_from += r.plan.from.has_value();
    ++t.leaves[static_cast<size_t>(r.plan.leave)];
    ++t.controls[static_cast<size_t>(r.plan.control)];
    if (r.plan.ExpectsFrame()) {
      ++t.expect_frame;
      t.got_frame += r.got_frame;
    }
    if (r.got_frame) first_frame_us.push_back(r.first_frame_us);
  }
  t.first_frame = Summarize(std::move(first_frame_us));
  using Secs = std::chrono::duration<double>;
  t.churn_s = Secs(times.churn_end - times.churn_start).count() -
              Secs(times.main_start - times.warmup_end).count();
  const double main_s = Secs(times.churn_end - times.main_start).count();
  t.cycles_per_s = t.churn_s > 0 ? static_cast<double>(t.done) / t.churn_s : 0;
  t.main_cycles_per_s = main_s > 0 ? static_cast<double>(t.done - warmup_done) / main_s : 0;
  return t;
}

// What the background streams saw; the gaps are those that ended between the first cycle's
// start and the last one's end (the baseline's settle included: the streams play throughout).
struct BackgroundTotals {
  StreamCounts counts;
  Quantiles gap;
  uint64_t gaps_over_50 = 0;
  std::vector<std::string> sample_errors;
};

BackgroundTotals TotalBackground(const std::vector<StreamStats>& stats, const ChurnTimes& times) {
  BackgroundTotals b;
  b.counts = Total(stats);
  const double from_ms = UsSince(times.start, times.churn_start) / 1e3;
  const double to_ms = UsSince(times.start, times.churn_end) / 1e3;
  std::vector<uint32_t> gaps;
  ForEachGap(stats, [&](uint32_t at_ms, uint32_t gap_us) {
    if (at_ms < from_ms || at_ms > to_ms) return;
    gaps.push_back(gap_us);
  });
  b.gaps_over_50 = CountSlow(gaps);
  b.gap = Summarize(std::move(gaps));
  b.sample_errors = SampleErrors(stats, 5);
  return b;
}

struct Criteria {
  bool rss_ok = false, fds_ok = false, background_ok = false, cycles_ok = false, pass = false;
};

Criteria Judge(const Options& o, const ServerMarks& server, const CycleTotals& cycles,
               const BackgroundTotals& background) {
  Criteria c;
  const ServerSnapshot& base = server.baseline;
  const ServerSnapshot& end = server.end;
  const bool measured = o.server_pid > 0 && base.rss_kb > 0 && base.fds >= 0;
  c.rss_ok = measured && static_cast<double>(end.rss_kb) <=
                             static_cast<double>(base.rss_kb) * (1 + o.rss_tolerance);
  c.fds_ok = measured && end.fds >= 0 && end.fds <= base.fds + o.fd_slack;
  c.background_ok = background.counts.errors() == 0;
  c.cycles_ok =
      cycles.failures() == 0 && cycles.got_frame == cycles.expect_frame && cycles.done > 0;
  c.pass = (o.server_pid <= 0 || (c.rss_ok && c.fds_ok)) && c.background_ok && c.cycles_ok;
  return c;
}

// The table of intervals: cycles completed, background gaps, and the server at the interval's
// end. Printed, and returned as JSON.
json::array PrintIntervals(const Options& o, const Churner& churner,
                           const std::vector<StreamStats>& stats,
                           const std::vector<RssSampler::Second>& samples, double elapsed_ms) {
  struct Interval {
    uint64_t cycles = 0, failures = 0;
    std::vector<uint32_t> gaps;
  };
  const double interval_ms = o.interval_s * 1e3;
  const size_t rows = static_cast<size_t>(std::ceil(elapsed_ms / interval_ms));
  std::vector<Interval> intervals(std::max<size_t>(rows, 1));
  auto row_of = [&](double ms) {
    return std::min(intervals.size() - 1, static_cast<size_t>(ms / interval_ms));
  };
  for (const CycleRecord& r : churner.records()) {
    if (!r.done) continue;
    Interval& in = intervals[row_of(r.done_ms)];
    ++in.cycles;
    in.failures += r.outcome != CycleOutcome::kOk;
  }
  ForEachGap(stats, [&](uint32_t at_ms, uint32_t gap_us) {
    intervals[row_of(at_ms)].gaps.push_back(gap_us);
  });

  json::array rows_json;
  std::printf(
      "  interval  t-end-s  cycles  cyc/s  failed  bg-gaps  gap-p50  gap-p99  gap-max  "
      "rss-MB   fds  srv-cpu  load\n");
  for (size_t row = 0; row < intervals.size(); ++row) {
    Interval& in = intervals[row];
    const double row_end_s = std::min(elapsed_ms, (row + 1) * interval_ms) / 1e3;
    const double row_len_s = row_end_s - row * o.interval_s;
    const Quantiles q = Summarize(std::move(in.gaps));
    long rss_kb = -1, fds = -1;
    double load = -1, cpu = -1;
    if (!samples.empty()) {
      const size_t at = std::min(samples.size() - 1, static_cast<size_t>(row_end_s));
      const size_t from = std::min(samples.size() - 1, static_cast<size_t>(row * o.interval_s));
      rss_kb = samples[at].rss_kb;
      fds = samples[at].fds;
      load = samples[at].loadavg;
      if (at > from) {
        cpu = (samples[at].server_cpu_s - samples[from].server_cpu_s) /
              static_cast<double>(at - from);
      }
    }
    std::printf("  %8zu %8.1f %7llu %6.0f %7llu %8zu %8.2f %8.2f %8.2f %7.1f %5ld %8.2f %5.2f\n",
                row, row_end_s, static_cast<ull>(in.cycles),
                row_len_s > 0 ? static_cast<double>(in.cycles) / row_len_s : 0.0,
                static_cast<ull>(in.failures), q.count, q.p50 / 1e3, q.p99 / 1e3, q.max / 1e3,
                rss_kb / 1024.0, fds, cpu, load);
    rows_json.push_back(json::object{{"t_end_s", std::round(row_end_s * 10) / 10},
                                     {"cycles", in.cycles},
                                     {"failed", in.failures},
                                     {"bg_gaps", q.count},
                                     {"gap_p50_ms", RoundMs(q.p50)},
                                     {"gap_p99_ms", RoundMs(q.p99)},
                                     {"gap_max_ms", RoundMs(q.max)},
                                     {"rss_mb", MbJson(rss_kb)},
                                     {"fds", fds},
                                     {"server_cpu", Hundredths(cpu)},
                                     {"loadavg", load}});
  }
  return rows_json;
}

const char* PassFail(bool b) { return b ? "PASS" : "FAIL"; }

void PrintSummary(const Options& o, const CycleTotals& cycles,
                  const std::vector<std::string>& cycle_errors, const BackgroundTotals& bg,
                  const ServerMarks& server, long peak_kb, const Criteria& c, double load_start) {
  std::printf(
      "  cycles               %llu done in %.1f s: %.0f/s (after warm-up %.0f/s); ws %llu, "
      "sse %llu, ?from= %llu\n",
      static_cast<ull>(cycles.done), cycles.churn_s, cycles.cycles_per_s, cycles.main_cycles_per_s,
      static_cast<ull>(cycles.ws), static_cast<ull>(cycles.sse),
      static_cast<ull>(cycles.with_from));
  std::printf(
      "  leaving              clean %llu, rst %llu, drop %llu, early %llu; controls: seek "
      "%llu, speed %llu, pause %llu\n",
      static_cast<ull>(cycles.leaves[0]), static_cast<ull>(cycles.leaves[1]),
      static_cast<ull>(cycles.leaves[2]), static_cast<ull>(cycles.leaves[3]),
      static_cast<ull>(cycles.controls[1]), static_cast<ull>(cycles.controls[2]),
      static_cast<ull>(cycles.controls[3]));
  std::printf("  connect -> frame     %s\n", MsLine(cycles.first_frame).c_str());
  std::printf("  first frames         %llu of %llu cycles that wait for one\n",
              static_cast<ull>(cycles.got_frame), static_cast<ull>(cycles.expect_frame));
  std::printf("  failed cycles        %llu", static_cast<ull>(cycles.failures()));
  for (size_t k = 1; k < cycles.outcomes.size(); ++k) {
    if (cycles.outcomes[k]) {
      std::printf(" %s %llu", kOutcomeNames[k], static_cast<ull>(cycles.outcomes[k]));
    }
  }
  std::printf("\n");
  PrintExamples(cycle_errors);
  const StreamCounts& t = bg.counts;
  std::printf(
      "  background           %zu streams, %llu frames, %llu loops, dropped %llu; gap "
      "during the churn %s; >50ms %llu\n",
      o.n, static_cast<ull>(t.frames), static_cast<ull>(t.loops), static_cast<ull>(t.dropped),
      MsLine(bg.gap).c_str(), static_cast<ull>(bg.gaps_over_50));
  std::printf("  background errors    %s\n", ErrorsLine(t).c_str());
  PrintExamples(bg.sample_errors);
  if (o.server_pid > 0) {
    const ServerSnapshot& base = server.baseline;
    const ServerSnapshot& end = server.end;
    std::printf(
        "  server RSS           baseline %.1f MB -> end %.1f MB (%+.1f%%, limit +%.0f%%): "
        "%s; peak %.1f MB, VmHWM %.1f MB\n",
        base.rss_kb / 1024.0, end.rss_kb / 1024.0,
        100.0 * (static_cast<double>(end.rss_kb) / std::max(base.rss_kb, 1L) - 1),
        o.rss_tolerance * 100, PassFail(c.rss_ok), peak_kb / 1024.0, end.hwm_kb / 1024.0);
    std::printf("  server descriptors   baseline %ld -> end %ld (slack %ld): %s\n", base.fds,
                end.fds, o.fd_slack, PassFail(c.fds_ok));
  }
  std::printf("  background streams   %s; cycles %s\n", PassFail(c.background_ok),
              PassFail(c.cycles_ok));
  std::printf("  load average         %.2f at start, %.2f at end\n", load_start, LoadAverage());
  std::printf("  verdict              %s\n", PassFail(c.pass));
}

json::object ResultJson(const Options& o, int64_t windows, const CycleTotals& cycles,
                        const BackgroundTotals& bg, const ServerMarks& server, long peak_kb,
                        double server_cpu, const Criteria& c, json::array intervals,
                        double load_start) {
  json::object outcomes;
  for (size_t k = 0; k < cycles.outcomes.size(); ++k)
    outcomes[kOutcomeNames[k]] = cycles.outcomes[k];
  const StreamCounts& t = bg.counts;
  json::object background{{"n", o.n},
                          {"channel", BackgroundChannel(o, "mixed")},
                          {"frames", t.frames},
                          {"loops", t.loops},
                          {"dropped", t.dropped},
                          {"gap", MsJson(bg.gap)},
                          {"gaps_over_50ms", bg.gaps_over_50}};
  AppendErrorsJson(t, background);
  const auto& leaves = cycles.leaves;
  const auto& controls = cycles.controls;
  return json::object{
      {"mode", "churn"},
      {"label", o.label},
      {"cycles", o.churn},
      {"cycles_done", cycles.done},
      {"warmup", o.churn_warmup},
      {"concurrency", o.churn_concurrency},
      {"rate_cap", o.churn_rate},
      {"seed", o.seed},
      {"speed", o.speed},
      {"windows", windows},
      {"churn_s", std::round(cycles.churn_s * 10) / 10},
      {"cycles_per_s", std::round(cycles.cycles_per_s)},
      {"cycles_per_s_after_warmup", std::round(cycles.main_cycles_per_s)},
      {"ws", cycles.ws},
      {"sse", cycles.sse},
      {"with_from", cycles.with_from},
      {"leave",
       json::object{
           {"clean", leaves[0]}, {"rst", leaves[1]}, {"drop", leaves[2]}, {"early", leaves[3]}}},
      {"control",
       json::object{{"seek", controls[1]}, {"speed", controls[2]}, {"pause", controls[3]}}},
      {"outcomes", outcomes},
      {"failed", cycles.failures()},
      {"expect_frame", cycles.expect_frame},
      {"got_frame", cycles.got_frame},
      {"connect_to_frame", MsJson(cycles.first_frame)},
      {"background", std::move(background)},
      {"server", json::object{{"rss_baseline_mb", MbJson(server.baseline.rss_kb)},
                              {"rss_end_mb", MbJson(server.end.rss_kb)},
                              {"rss_peak_mb", MbJson(peak_kb)},
                              {"vmhwm_mb", MbJson(server.end.hwm_kb)},
                              {"fds_baseline", server.baseline.fds},
                              {"fds_end", server.end.fds},
                              {"cpu", Hundredths(server_cpu)}}},
      {"criteria", json::object{{"rss_tolerance", o.rss_tolerance},
                                {"fd_slack", o.fd_slack},
                                {"rss_ok", c.rss_ok},
                                {"fds_ok", c.fds_ok},
                                {"background_ok", c.background_ok},
                                {"cycles_ok", c.cycles_ok},
                                {"pass", c.pass}}},
      {"intervals", std::move(intervals)},
      {"loadavg_start", load_start},
      {"loadavg_end", LoadAverage()},
  };
}

}  // namespace

int RunChurn(const Options& o, const tcp::endpoint& endpoint) {
  std::string probe_error;
  const int64_t windows = ProbeWindows(o, endpoint, probe_error);
  if (windows <= 0) {
    std::fprintf(stderr, "loadgen_driver: cannot play run %s: %s\n", o.run_id.c_str(),
                 probe_error.c_str());
    return 1;
  }
  const double load_start = LoadAverage();
  PrintHeader(o, windows, load_start);

  // Background streams on --threads io_contexts, the churn on one more.
  const size_t threads = static_cast<size_t>(o.threads);
  IoThreads io(threads + 1);
  RunClock clock;
  ChurnTimes times;
  times.start = SteadyClock::now();
  clock.start = times.start;
  clock.window_begin = times.start;
  clock.window_end = TimePoint::max();
  RssSampler rss(o.server_pid);
  const double server_cpu0 = ReadCpuSeconds(o.server_pid);

  // Background streams, WS and SSE alternating unless a channel was given; they loop.
  std::vector<StreamStats> stats(o.n);
  const std::string host = o.HostHeader();
  std::vector<std::shared_ptr<Stream>> streams =
      OpenStreams(io, threads, o.n, o.ramp, times.start, [&](net::io_context& ctx, size_t k) {
        const bool sse = o.channel_given ? o.sse : k % 2 == 1;
        return MakeStream(sse ? StreamClient::kSse : StreamClient::kRawWs, ctx, endpoint, host,
                          StreamTarget(o, sse), stats[k], clock, /*loop=*/true);
      });
  std::this_thread::sleep_for(std::chrono::seconds(1));  // every background stream playing

  Churner churner(io.at(threads), o, endpoint, windows, times.start);
  const ServerMarks server = RunCycles(o, churner, times);
  rss.Stop();

  clock.stopping = true;
  StopStreams(streams, io, threads);
  io.Finish(std::chrono::seconds(5));

  const CycleTotals cycles = TotalCycles(churner, times, server.warmup_done);
  const BackgroundTotals background = TotalBackground(stats, times);
  const Criteria criteria = Judge(o, server, cycles, background);
  const double elapsed_ms = UsSince(times.start, times.end_at) / 1e3;
  json::array intervals = PrintIntervals(o, churner, stats, rss.seconds(), elapsed_ms);
  PrintSummary(o, cycles, churner.sample_errors(), background, server, rss.peak_kb(), criteria,
               load_start);
  const double server_cpu = CpuShare(server_cpu0, server.end.cpu_s, elapsed_ms / 1e3);
  PrintJsonLine(ResultJson(o, windows, cycles, background, server, rss.peak_kb(), server_cpu,
                           criteria, std::move(intervals), load_start));
  return criteria.pass ? 0 : 1;
}

}  // namespace tapedeck::loadgen
