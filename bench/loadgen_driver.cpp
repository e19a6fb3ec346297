// loadgen_driver: load generator for tapedeck's playback channels (issue 3, "Speed and scale").
//
// Against a running `tapedeck serve` on loopback it measures, one mode per invocation (the modes
// may also be combined; they run in this order):
//   --backtest JSON --runs K   POST /backtests with JSON K times; for each, the time until
//                              GET /backtests/{id} says "done" (polled on one keep-alive
//                              connection), and the server's own created -> finished.
//   --first-frame M            M fresh WebSocket connections one after another: TCP connect,
//                              handshake start -> first frame (p50/p99).
//   --n N                      N concurrent playback streams (--ws or --sse) for --duration
//                              seconds, opened at --ramp connections per second: frames/s,
//                              inter-frame gaps, lateness against the 30 FPS schedule, windows
//                              skipped, `dropped`, errors, and the server's RSS (--server-pid).
//   --churn C                  Connection churn (issue 5, "Hostile clients and load"): C
//                              connect/play/disconnect cycles, --churn-concurrency K at once,
//                              while --n M background streams (WS and SSE alternating, or all
//                              --ws / --sse) play for the whole churn, looping at the end of the
//                              run (WS: seek 0 + play; SSE: a new request). Each cycle, planned
//                              from --seed and its index alone (reproducible), picks WS or SSE,
//                              sometimes a random ?from=, waits for the first frame, on WS
//                              sometimes sends seek (and waits for its frame), speed or pause,
//                              then leaves: cleanly (~50%: WS close handshake, SSE shutdown and
//                              wait for the server's close) or abruptly (SO_LINGER 0 -> RST after
//                              the first frame; a plain close while frames keep coming; RST
//                              right after the request, before any answer). With --server-pid:
//                              the server's RSS and open descriptors after --churn-warmup cycles
//                              and --settle seconds (baseline) and again after the last cycle and
//                              --settle seconds (end); pass/fail of: RSS end <= baseline * (1 +
//                              --rss-tolerance), descriptors end <= baseline + --fd-slack, no
//                              error in the background streams, no failed cycle (every cycle that
//                              waits for a first frame got one). Exit status 1 when one fails.
//                              --churn-rate R caps cycles per second, --churn-for SECONDS stops
//                              the churn after that long (soak), --interval SECONDS is the period
//                              of the per-interval table (cycles, background gaps, RSS, fds).
// Each mode prints a readable summary and one JSON line starting with {"mode":.
//
// Other options: --url http://127.0.0.1:PORT (or --host/--port), --run ID, --speed S (60),
// --duration SECONDS (20), --ramp PER_SECOND (500; 0: all at once), --threads T (1 io_context
// each), --server-pid PID (RSS and CPU from /proc), --timeline (per-second frames, slow gaps,
// CPU, RSS), --random-from (first-frame mode: a random ?from= window, i.e. a frame not cached),
// --ws-client raw|beast (raw: our own RFC 6455 reader, 64 KB reads; beast: Beast's client, which
// costs ~30% more generator CPU per frame), --label TEXT (copied into the JSON line).
//
// Only loopback is ever contacted: --host must be a loopback address (or "localhost").
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/json_writer.h"
#include "common/time.h"

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = net::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;

constexpr double kFrameIntervalUs = 1e6 / 30;

double UsSince(TimePoint a, TimePoint b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

// ---------------------------------------------------------------------------------------------
// Options.

struct Options {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  std::string run_id;
  bool sse = false;
  size_t n = 0;
  double speed = 60;
  double duration_s = 20;
  double ramp = 500;  // connections per second; 0: all at once
  int threads = 1;
  long server_pid = 0;
  size_t first_frame = 0;
  bool first_frame_random_from = false;
  bool timeline = false;
  bool beast_ws_client = false;
  std::string backtest_body;
  size_t runs = 5;
  std::string label;
  bool channel_given = false;  // --ws or --sse was given

  // Churn (--churn).
  size_t churn = 0;
  size_t churn_concurrency = 64;
  // 0: min(10000, churn / 5). Long enough for the run's frame cache (random windows, seeks) to
  // fill mostly, which would otherwise read as growth after the baseline.
  size_t churn_warmup = 0;
  double churn_rate = 0;   // cycles per second; 0: as fast as they complete
  double churn_for_s = 0;  // 0: until `churn` cycles are done
  uint64_t seed = 1;
  double settle_s = 2;
  double interval_s = 10;
  double rss_tolerance = 0.10;
  long fd_slack = 4;
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "loadgen_driver: %s\n"
               "usage: loadgen_driver [--url http://127.0.0.1:PORT | --host H --port P]\n"
               "  [--run ID] [--ws | --sse] [--n N] [--speed S] [--duration SECONDS]\n"
               "  [--ramp CONNECTIONS_PER_SECOND] [--threads T] [--server-pid PID] [--timeline]\n"
               "  [--ws-client raw|beast]\n"
               "  [--first-frame M [--random-from]] [--backtest JSON [--runs K]] [--label TEXT]\n"
               "  [--churn C [--churn-concurrency K] [--churn-warmup W] [--churn-rate R]\n"
               "   [--churn-for SECONDS] [--seed S] [--settle SECONDS] [--interval SECONDS]\n"
               "   [--rss-tolerance FRACTION] [--fd-slack FDS]]\n",
               why);
  std::exit(2);
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  auto value = [&](int& i) -> std::string {
    if (i + 1 >= argc) Usage((std::string("missing value for ") + argv[i]).c_str());
    return argv[++i];
  };
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--url") {
      std::string url = value(i);
      if (!url.starts_with("http://")) Usage("--url must start with http://");
      url.erase(0, 7);
      if (const auto slash = url.find('/'); slash != std::string::npos) url.resize(slash);
      const auto colon = url.rfind(':');
      if (colon == std::string::npos) Usage("--url needs a port");
      o.host = url.substr(0, colon);
      o.port = static_cast<uint16_t>(std::stoi(url.substr(colon + 1)));
    } else if (a == "--host") {
      o.host = value(i);
    } else if (a == "--port") {
      o.port = static_cast<uint16_t>(std::stoi(value(i)));
    } else if (a == "--run") {
      o.run_id = value(i);
    } else if (a == "--ws") {
      o.sse = false;
      o.channel_given = true;
    } else if (a == "--sse") {
      o.sse = true;
      o.channel_given = true;
    } else if (a == "--n") {
      o.n = std::stoul(value(i));
    } else if (a == "--speed") {
      o.speed = std::stod(value(i));
    } else if (a == "--duration") {
      o.duration_s = std::stod(value(i));
    } else if (a == "--ramp") {
      o.ramp = std::stod(value(i));
    } else if (a == "--threads") {
      o.threads = std::max(1, std::stoi(value(i)));
    } else if (a == "--server-pid") {
      o.server_pid = std::stol(value(i));
    } else if (a == "--first-frame") {
      o.first_frame = std::stoul(value(i));
    } else if (a == "--ws-client") {
      const std::string which = value(i);
      if (which != "raw" && which != "beast") Usage("--ws-client is raw or beast");
      o.beast_ws_client = which == "beast";
    } else if (a == "--timeline") {
      o.timeline = true;
    } else if (a == "--random-from") {
      o.first_frame_random_from = true;
    } else if (a == "--backtest") {
      o.backtest_body = value(i);
    } else if (a == "--runs") {
      o.runs = std::stoul(value(i));
    } else if (a == "--label") {
      o.label = value(i);
    } else if (a == "--churn") {
      o.churn = std::stoul(value(i));
    } else if (a == "--churn-concurrency") {
      o.churn_concurrency = std::stoul(value(i));
    } else if (a == "--churn-warmup") {
      o.churn_warmup = std::stoul(value(i));
    } else if (a == "--churn-rate") {
      o.churn_rate = std::stod(value(i));
    } else if (a == "--churn-for") {
      o.churn_for_s = std::stod(value(i));
    } else if (a == "--seed") {
      o.seed = std::stoull(value(i));
    } else if (a == "--settle") {
      o.settle_s = std::stod(value(i));
    } else if (a == "--interval") {
      o.interval_s = std::stod(value(i));
    } else if (a == "--rss-tolerance") {
      o.rss_tolerance = std::stod(value(i));
    } else if (a == "--fd-slack") {
      o.fd_slack = std::stol(value(i));
    } else {
      Usage((std::string("unknown option ") + argv[i]).c_str());
    }
  }
  if (o.duration_s <= 0 || o.duration_s > 600) Usage("--duration must be in (0, 600]");
  if (o.n > 20000) Usage("--n is capped at 20000");
  if (o.first_frame > 100000) Usage("--first-frame is capped at 100000");
  if (o.runs > 1000) Usage("--runs is capped at 1000");
  if (o.churn > 100'000'000) Usage("--churn is capped at 100000000");
  if (o.churn_concurrency < 1 || o.churn_concurrency > 4096) {
    Usage("--churn-concurrency must be in [1, 4096]");
  }
  if (o.churn > 0 && o.churn_warmup == 0) o.churn_warmup = std::min<size_t>(10000, o.churn / 5);
  if (o.churn_warmup > o.churn) Usage("--churn-warmup must not exceed --churn");
  if (o.churn_rate < 0 || o.churn_for_s < 0 || o.churn_for_s > 86400) {
    Usage("--churn-rate must be >= 0 and --churn-for in [0, 86400]");
  }
  if (o.settle_s < 0 || o.settle_s > 600) Usage("--settle must be in [0, 600]");
  if (o.interval_s < 1) Usage("--interval must be >= 1");
  if (o.rss_tolerance < 0 || o.fd_slack < 0) Usage("--rss-tolerance and --fd-slack are >= 0");
  return o;
}

// The one endpoint this tool talks to; anything but loopback is refused.
tcp::endpoint LoopbackEndpoint(const Options& o) {
  const std::string host = o.host == "localhost" ? "127.0.0.1" : o.host;
  boost::system::error_code ec;
  const net::ip::address address = net::ip::make_address(host, ec);
  if (ec || !address.is_loopback()) Usage("--host must be a loopback address (127.0.0.1)");
  return {address, o.port};
}

// ---------------------------------------------------------------------------------------------
// Small statistics helpers.

struct Quantiles {
  size_t count = 0;
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0, min = 0, mean = 0;
};

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

// Quantiles given in microseconds, as milliseconds in JSON.
json::object MsJson(const Quantiles& q) {
  auto ms = [](double us) { return std::round(us / 10.0) / 100.0; };
  return json::object{{"count", q.count},    {"p50_ms", ms(q.p50)},   {"p90_ms", ms(q.p90)},
                      {"p99_ms", ms(q.p99)}, {"p999_ms", ms(q.p999)}, {"max_ms", ms(q.max)},
                      {"min_ms", ms(q.min)}, {"mean_ms", ms(q.mean)}};
}

// Boost.JSON writes 30.0 as "3E1"; our own writer keeps the shortest plain form.
void Write(tapedeck::JsonWriter& w, const json::value& v) {
  switch (v.kind()) {
    case json::kind::object:
      w.BeginObject();
      for (const auto& [key, value] : v.get_object()) {
        w.Key(key);
        Write(w, value);
      }
      w.EndObject();
      break;
    case json::kind::array:
      w.BeginArray();
      for (const auto& value : v.get_array()) Write(w, value);
      w.EndArray();
      break;
    case json::kind::string:
      w.String(v.get_string());
      break;
    case json::kind::int64:
      w.Int(v.get_int64());
      break;
    case json::kind::uint64:
      w.Int(static_cast<int64_t>(v.get_uint64()));
      break;
    case json::kind::double_:
      w.Number(v.get_double());
      break;
    case json::kind::bool_:
      w.Bool(v.get_bool());
      break;
    case json::kind::null:
      w.Null();
      break;
  }
}

void PrintJsonLine(const json::object& out) {
  tapedeck::JsonWriter w;
  Write(w, out);
  std::printf("%s\n", w.str().c_str());
  std::fflush(stdout);
}

// The 1-minute load average: other work on the machine skews every figure here.
double LoadAverage() {
  std::ifstream in("/proc/loadavg");
  double load = -1;
  in >> load;
  return load;
}

std::string MsLine(const Quantiles& q) {
  char line[256];
  std::snprintf(line, sizeof line, "p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f ms (n=%zu)",
                q.p50 / 1e3, q.p90 / 1e3, q.p99 / 1e3, q.p999 / 1e3, q.max / 1e3, q.count);
  return line;
}

// ---------------------------------------------------------------------------------------------
// The server process: RSS and CPU from /proc.

long ReadStatusKb(long pid, std::string_view key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(key) && line.size() > key.size() && line[key.size()] == ':') {
      return std::strtol(line.c_str() + key.size() + 1, nullptr, 10);
    }
  }
  return -1;
}

// utime + stime of `pid`, in seconds.
double ReadCpuSeconds(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto paren = text.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream fields(text.substr(paren + 2));
  std::string field;
  double utime = 0, stime = 0;
  // Fields after the command: state(3) ... utime(14) stime(15).
  for (int k = 3; k <= 15 && fields >> field; ++k) {
    if (k == 14) utime = std::stod(field);
    if (k == 15) stime = std::stod(field);
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Open descriptors of `pid` (entries of /proc/PID/fd), or -1 when they cannot be listed.
long CountFds(long pid) {
  std::error_code ec;
  long count = 0;
  for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end;
       !ec && it != end; it.increment(ec)) {
    ++count;
  }
  return ec ? -1 : count;
}

double SelfCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto s = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return s(usage.ru_utime) + s(usage.ru_stime);
}

// Samples the server's VmRSS every 100 ms while alive.
// Also keeps, once a second, the CPU time of the server and of this process, the RSS, the
// server's open descriptors and the load average, for --timeline and the churn's intervals.
class RssSampler {
 public:
  struct Second {
    double server_cpu_s = 0, self_cpu_s = 0;
    long rss_kb = 0;
    long fds = -1;
    double loadavg = -1;
  };

  explicit RssSampler(long pid) : pid_(pid) {
    if (pid_ <= 0) return;
    start_kb_ = ReadStatusKb(pid_, "VmRSS");
    peak_kb_ = start_kb_;
    thread_ = std::thread([this] {
      const TimePoint start = SteadyClock::now();
      for (int k = 0; !stop_.load(); ++k) {
        const long kb = ReadStatusKb(pid_, "VmRSS");
        if (kb > 0) {
          std::lock_guard lock(mu_);
          peak_kb_ = std::max(peak_kb_, kb);
          last_kb_ = kb;
          if (k % 10 == 0) {
            seconds_.push_back(
                {ReadCpuSeconds(pid_), SelfCpuSeconds(), kb, CountFds(pid_), LoadAverage()});
          }
        }
        std::this_thread::sleep_until(start + std::chrono::milliseconds(100 * (k + 1)));
      }
    });
  }
  std::vector<Second> seconds() {
    std::lock_guard lock(mu_);
    return seconds_;
  }
  ~RssSampler() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  long start_kb() const { return start_kb_; }
  long peak_kb() {
    std::lock_guard lock(mu_);
    return peak_kb_;
  }
  long last_kb() {
    std::lock_guard lock(mu_);
    return last_kb_;
  }

 private:
  long pid_;
  long start_kb_ = -1, peak_kb_ = -1, last_kb_ = -1;
  std::mutex mu_;
  std::vector<Second> seconds_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// ---------------------------------------------------------------------------------------------
// Messages: the few fields we need, without a JSON parser on the hot path.

enum class MessageType { kFrame, kHeartbeat, kEnd, kError, kOther };

MessageType TypeOf(std::string_view json) {
  constexpr std::string_view kTag = "\"t\":\"";
  const auto at = json.find(kTag);
  if (at == std::string_view::npos || at > 8) return MessageType::kOther;
  const std::string_view rest = json.substr(at + kTag.size());
  if (rest.starts_with("frame\"")) return MessageType::kFrame;
  if (rest.starts_with("hb\"")) return MessageType::kHeartbeat;
  if (rest.starts_with("end\"")) return MessageType::kEnd;
  if (rest.starts_with("err\"")) return MessageType::kError;
  return MessageType::kOther;
}

// The integer after `"key":`, searched from the front (`"i"`, `"n"`) or the back (`"dropped"`,
// which is the frame's last field).
std::optional<int64_t> IntField(std::string_view json, std::string_view key, bool from_back) {
  const auto at = from_back ? json.rfind(key) : json.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  const char* p = json.data() + at + key.size();
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(p, json.data() + json.size(), v);
  if (ec != std::errc()) return std::nullopt;
  return v;
}

// ---------------------------------------------------------------------------------------------
// The client side of the wire, on plain sockets: requests, RFC 6455 framing, SSE events.

// A fixed Sec-WebSocket-Key: the server checks its form, and we do not check its answer's hash.
std::string WsUpgradeRequest(const std::string& host, const std::string& target) {
  return "GET " + target + " HTTP/1.1\r\nHost: " + host +
         "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
}

std::string SseRequest(const std::string& host, const std::string& target) {
  return "GET " + target + " HTTP/1.1\r\nHost: " + host +
         "\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n";
}

// A client frame: FIN, `opcode`, masked payload (RFC 6455 5.3). REQUIRES: payload < 64 KiB.
std::string MaskedFrame(uint8_t opcode, std::string_view payload) {
  static constexpr uint8_t kMask[4] = {0x12, 0x34, 0x56, 0x78};
  std::string frame;
  frame += static_cast<char>(0x80 | opcode);
  if (payload.size() < 126) {
    frame += static_cast<char>(0x80 | payload.size());
  } else {
    frame += static_cast<char>(0x80 | 126);
    frame += static_cast<char>(payload.size() >> 8);
    frame += static_cast<char>(payload.size() & 0xff);
  }
  frame.append(reinterpret_cast<const char*>(kMask), 4);
  for (size_t k = 0; k < payload.size(); ++k) {
    frame += static_cast<char>(payload[k] ^ kMask[k % 4]);
  }
  return frame;
}

// One frame from a server (RFC 6455 5.2; server frames are unmasked).
struct WsFrame {
  bool fin = false;
  uint8_t opcode = 0;
  std::string_view payload;
  size_t size = 0;  // header and payload
};

enum class WsParse { kFrame, kNeedMore, kBad };

// The frame at the front of `bytes` into `frame`; kNeedMore when it is not all there yet; kBad,
// with `why`, for a masked frame or one over 64 MiB.
WsParse ParseWsFrame(std::string_view bytes, WsFrame& frame, const char** why) {
  if (bytes.size() < 2) return WsParse::kNeedMore;
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  frame.fin = p[0] & 0x80;
  frame.opcode = p[0] & 0x0f;
  uint64_t length = p[1] & 0x7f;
  size_t header = 2;
  if (p[1] & 0x80) {
    *why = "masked frame from the server";
    return WsParse::kBad;
  }
  if (length == 126) {
    if (bytes.size() < 4) return WsParse::kNeedMore;
    length = (uint64_t{p[2]} << 8) | p[3];
    header = 4;
  } else if (length == 127) {
    if (bytes.size() < 10) return WsParse::kNeedMore;
    length = 0;
    for (int k = 0; k < 8; ++k) length = (length << 8) | p[2 + k];
    header = 10;
  }
  if (length > (64u << 20)) {
    *why = "frame over 64 MiB";
    return WsParse::kBad;
  }
  if (bytes.size() < header + length) return WsParse::kNeedMore;
  frame.payload = bytes.substr(header, length);
  frame.size = header + length;
  return WsParse::kFrame;
}

// The JSON of each complete SSE event at the front of `bytes` (its `data:` line), passed to
// `on_message`; returns how many bytes were consumed.
template <typename OnMessage>
size_t ParseSseEvents(std::string_view bytes, OnMessage&& on_message) {
  size_t pos = 0;
  for (;;) {
    const auto end = bytes.find("\n\n", pos);
    if (end == std::string_view::npos) return pos;
    const std::string_view event = bytes.substr(pos, end - pos);
    if (const auto data = event.find("data: "); data != std::string_view::npos) {
      std::string_view json = event.substr(data + 6);
      on_message(json.substr(0, json.find('\n')));
    }
    pos = end + 2;
  }
}

// ---------------------------------------------------------------------------------------------
// Concurrent streams.

struct StreamStats {
  TimePoint connect_start{}, first_frame_at{}, last_frame_at{};
  uint64_t frames = 0, heartbeats = 0, ends = 0, err_messages = 0, skipped_windows = 0;
  uint64_t frames_in_window = 0;  // frames received while every stream was open
  uint64_t loops = 0;             // times the stream went back to the start (--churn)
  int64_t first_i = -1, last_i = -1, n = -1;
  uint64_t dropped = 0;
  bool connect_failed = false, handshake_failed = false, closed_early = false;
  std::string error;
  std::vector<uint32_t> gaps_us;    // between consecutive frames
  std::vector<int32_t> late_us;     // arrival - schedule of its window (first frame as anchor)
  std::vector<uint32_t> gap_at_ms;  // when each gap ended, since the run began
};

struct RunClock {
  std::atomic<bool> stopping{false};
  TimePoint start{};
  // Frames count towards frames_in_window between these (set before the streams start).
  TimePoint window_begin{}, window_end{};
};

void RecordFrame(StreamStats& st, const RunClock& clock, std::string_view json, TimePoint now) {
  const int64_t i = IntField(json, "\"i\":", false).value_or(-1);
  const int64_t dropped = IntField(json, "\"dropped\":", true).value_or(0);
  if (st.frames == 0) {
    st.first_frame_at = now;
    st.first_i = i;
    st.n = IntField(json, "\"n\":", false).value_or(-1);
  } else {
    st.gaps_us.push_back(static_cast<uint32_t>(std::min(UsSince(st.last_frame_at, now), 4e9)));
    st.gap_at_ms.push_back(static_cast<uint32_t>(UsSince(clock.start, now) / 1e3));
    if (i >= 0 && i < st.last_i) {
      // Back at the start of the run (a looping stream): the schedule starts again here.
      ++st.loops;
      st.first_i = i;
      st.first_frame_at = now;
    } else if (i >= 0 && st.last_i >= 0 && i > st.last_i + 1) {
      st.skipped_windows += static_cast<uint64_t>(i - st.last_i - 1);
    }
    const double due = static_cast<double>(i - st.first_i) * kFrameIntervalUs;
    st.late_us.push_back(
        static_cast<int32_t>(std::clamp(UsSince(st.first_frame_at, now) - due, -2e9, 2e9)));
  }
  if (now >= clock.window_begin && now <= clock.window_end) ++st.frames_in_window;
  ++st.frames;
  st.last_i = i;
  st.last_frame_at = now;
  st.dropped = static_cast<uint64_t>(std::max<int64_t>(dropped, 0));
}

void RecordMessage(StreamStats& st, const RunClock& clock, std::string_view json, TimePoint now) {
  switch (TypeOf(json)) {
    case MessageType::kFrame:
      RecordFrame(st, clock, json, now);
      break;
    case MessageType::kHeartbeat:
      ++st.heartbeats;
      break;
    case MessageType::kEnd:
      ++st.ends;
      break;
    case MessageType::kError:
      ++st.err_messages;
      if (st.error.empty()) st.error = std::string(json.substr(0, 200));
      break;
    case MessageType::kOther:
      break;
  }
}

std::string StreamTarget(const Options& o, bool sse, std::optional<int64_t> from = std::nullopt) {
  char speed[64];
  std::snprintf(speed, sizeof speed, "%g", o.speed);
  std::string target = "/backtests/" + o.run_id + (sse ? "/stream" : "/ws") + "?speed=" + speed;
  if (from) target += "&from=" + std::to_string(*from);
  return target;
}

class Stream {
 public:
  virtual ~Stream() = default;
  virtual void Start() = 0;
  // Ends the stream; on the stream's io_context.
  virtual void Stop() = 0;
};

// WebSocket through Beast (--ws-client beast): Beast reads a frame in 1,536-byte pieces, three
// recvmsg calls for a typical 3 KB frame, which costs the generator CPU the server then lacks.
class BeastWsStream final : public Stream, public std::enable_shared_from_this<BeastWsStream> {
 public:
  BeastWsStream(net::io_context& ioc, tcp::endpoint endpoint, std::string host, std::string target,
                StreamStats& stats, const RunClock& clock)
      : ws_(ioc),
        endpoint_(endpoint),
        host_(std::move(host)),
        target_(std::move(target)),
        st_(stats),
        clock_(clock) {}

  void Start() override {
    st_.connect_start = SteadyClock::now();
    beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(10));
    beast::get_lowest_layer(ws_).async_connect(
        endpoint_,
        [self = shared_from_this()](const boost::system::error_code& ec) { self->OnConnect(ec); });
  }

  void Stop() override {
    if (!open_ || closing_) {
      beast::get_lowest_layer(ws_).cancel();
      return;
    }
    closing_ = true;
    ws_.async_close(websocket::close_code::normal,
                    [self = shared_from_this()](const boost::system::error_code&) {});
  }

 private:
  void OnConnect(const boost::system::error_code& ec) {
    if (ec) {
      st_.connect_failed = true;
      st_.error = "connect: " + ec.message();
      return;
    }
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout timeout{};
    timeout.handshake_timeout = std::chrono::seconds(10);
    timeout.idle_timeout = websocket::stream_base::none();
    timeout.keep_alive_pings = false;
    ws_.set_option(timeout);
    ws_.async_handshake(host_, target_,
                        [self = shared_from_this()](const boost::system::error_code& ec) {
                          self->OnHandshake(ec);
                        });
  }

  void OnHandshake(const boost::system::error_code& ec) {
    if (ec) {
      st_.handshake_failed = true;
      st_.error = "handshake: " + ec.message();
      return;
    }
    open_ = true;
    if (clock_.stopping.load()) {
      Stop();
    }
    DoRead();
  }

  void DoRead() {
    ws_.async_read(buffer_, [self = shared_from_this()](const boost::system::error_code& ec,
                                                        size_t) { self->OnRead(ec); });
  }

  void OnRead(const boost::system::error_code& ec) {
    const TimePoint now = SteadyClock::now();
    if (ec) {
      open_ = false;
      if (!closing_ && !clock_.stopping.load()) {
        st_.closed_early = true;
        if (st_.error.empty()) st_.error = "read: " + ec.message();
      }
      return;
    }
    const auto data = buffer_.cdata();
    RecordMessage(st_, clock_, std::string_view(static_cast<const char*>(data.data()), data.size()),
                  now);
    buffer_.consume(buffer_.size());
    DoRead();
  }

  websocket::stream<beast::tcp_stream> ws_;
  tcp::endpoint endpoint_;
  std::string host_, target_;
  StreamStats& st_;
  const RunClock& clock_;
  beast::flat_buffer buffer_;
  bool open_ = false, closing_ = false;
};

// WebSocket on a plain socket (the default): the upgrade written by hand, then whatever the socket
// holds read in one go and cut into frames here. Server frames are unmasked (RFC 6455 5.1); pings
// are answered with masked pongs, a close with a close. With `loop`, an `end` is answered with a
// seek to window 0 and play, so the stream plays for as long as the test needs.
class RawWsStream final : public Stream, public std::enable_shared_from_this<RawWsStream> {
 public:
  RawWsStream(net::io_context& ioc, tcp::endpoint endpoint, std::string host, std::string target,
              StreamStats& stats, const RunClock& clock, bool loop = false)
      : socket_(ioc),
        endpoint_(endpoint),
        st_(stats),
        clock_(clock),
        request_(WsUpgradeRequest(host, target)),
        loop_(loop) {}

  void Start() override {
    st_.connect_start = SteadyClock::now();
    socket_.async_connect(endpoint_,
                          [self = shared_from_this()](const boost::system::error_code& ec) {
                            if (ec) {
                              self->st_.connect_failed = true;
                              self->st_.error = "connect: " + ec.message();
                              return;
                            }
                            self->Send(std::string(self->request_));
                            self->DoRead();
                          });
  }

  void Stop() override {
    stopping_ = true;
    if (!open_ || close_sent_) {
      Cut();
      return;
    }
    close_sent_ = true;
    Send(MaskedFrame(0x8, "\x03\xe8"));  // 1000: normal closure; the server answers and closes
  }

 private:
  void Cut() {
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  // One write at a time; a control frame due meanwhile waits its turn.
  void Send(std::string bytes) {
    outbox_.push_back(std::move(bytes));
    if (outbox_.size() == 1) WriteNext();
  }
  void WriteNext() {
    net::async_write(socket_, net::buffer(outbox_.front()),
                     [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                       self->outbox_.pop_front();
                       if (ec) return;  // the read sees the end
                       if (!self->outbox_.empty()) self->WriteNext();
                     });
  }

  void DoRead() {
    if (pending_.size() < pos_ + kChunk) pending_.resize(pos_ + kChunk);
    socket_.async_read_some(net::buffer(pending_.data() + pos_, kChunk),
                            [self = shared_from_this()](const boost::system::error_code& ec,
                                                        size_t n) { self->OnRead(ec, n); });
  }

  void OnRead(const boost::system::error_code& ec, size_t bytes) {
    const TimePoint now = SteadyClock::now();
    if (ec) {
      if (!stopping_ && !clock_.stopping.load() && !got_close_) {
        st_.closed_early = true;
        if (st_.error.empty()) st_.error = "read: " + ec.message();
      }
      if (!open_ && !stopping_ && !clock_.stopping.load() && !st_.handshake_failed) {
        st_.handshake_failed = true;
      }
      Cut();
      return;
    }
    pos_ += bytes;
    size_t at = 0;
    if (!open_) {
      const std::string_view head(pending_.data(), pos_);
      const auto end = head.find("\r\n\r\n");
      if (end == std::string_view::npos) {
        if (pos_ > 16384) return Fail("upgrade response too long");
        return DoRead();
      }
      if (!head.starts_with("HTTP/1.1 101")) {
        return Fail("upgrade: " + std::string(head.substr(0, head.find('\r'))));
      }
      open_ = true;
      at = end + 4;
      if (clock_.stopping.load()) Stop();
    }
    for (;;) {
      WsFrame frame;
      const char* why = nullptr;
      const WsParse parsed =
          ParseWsFrame(std::string_view(pending_.data() + at, pos_ - at), frame, &why);
      if (parsed == WsParse::kBad) return Fail(why);
      if (parsed == WsParse::kNeedMore) break;
      at += frame.size;
      const std::string_view payload = frame.payload;
      if (frame.opcode == 0x9) {  // ping
        Send(MaskedFrame(0xA, payload.substr(0, 125)));
      } else if (frame.opcode == 0x8) {  // close
        got_close_ = true;
        if (!close_sent_) {
          close_sent_ = true;
          Send(MaskedFrame(0x8, payload.substr(0, 2)));
        }
      } else if (frame.opcode == 0xA) {
        // pong: nothing to do
      } else if (frame.fin && frame.opcode != 0x0 && message_.empty()) {
        OnMessage(payload, now);
      } else {  // a fragmented message (the server does not send them, but the protocol allows)
        message_.append(payload);
        if (frame.fin) {
          OnMessage(message_, now);
          message_.clear();
        }
      }
    }
    // Keep the partial frame at the front.
    if (at > 0) {
      std::memmove(pending_.data(), pending_.data() + at, pos_ - at);
      pos_ -= at;
    }
    DoRead();
  }

  void OnMessage(std::string_view json, TimePoint now) {
    RecordMessage(st_, clock_, json, now);
    if (loop_ && !stopping_ && !close_sent_ && TypeOf(json) == MessageType::kEnd) {
      Send(MaskedFrame(0x1, R"({"t":"ctrl","cmd":"seek","pos":0})"));
      Send(MaskedFrame(0x1, R"({"t":"ctrl","cmd":"play"})"));
    }
  }

  void Fail(std::string why) {
    if (!open_) st_.handshake_failed = true;
    if (st_.error.empty()) st_.error = std::move(why);
    Cut();
  }

  static constexpr size_t kChunk = 64 * 1024;

  tcp::socket socket_;
  tcp::endpoint endpoint_;
  StreamStats& st_;
  const RunClock& clock_;
  std::string request_;
  const bool loop_;
  std::vector<char> pending_;  // [0, pos_) read and not yet parsed
  size_t pos_ = 0;
  std::string message_;
  std::deque<std::string> outbox_;
  bool open_ = false, stopping_ = false, close_sent_ = false, got_close_ = false;
};

// SSE over a plain socket: the server sends a header without a length, then events until it
// closes (no chunked encoding). With `loop`, a stream the server closed after its `end` is
// requested again (from window 0), as the WebSocket streams seek back.
class SseStream final : public Stream, public std::enable_shared_from_this<SseStream> {
 public:
  SseStream(net::io_context& ioc, tcp::endpoint endpoint, std::string host, std::string target,
            StreamStats& stats, const RunClock& clock, bool loop = false)
      : socket_(ioc),
        endpoint_(endpoint),
        st_(stats),
        clock_(clock),
        request_(SseRequest(host, target)),
        loop_(loop) {}

  void Start() override {
    if (st_.connect_start == TimePoint{}) st_.connect_start = SteadyClock::now();
    socket_.async_connect(
        endpoint_,
        [self = shared_from_this()](const boost::system::error_code& ec) { self->OnConnect(ec); });
  }

  void Stop() override {
    stopped_ = true;
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

 private:
  void OnConnect(const boost::system::error_code& ec) {
    if (ec) {
      st_.connect_failed = true;
      st_.error = "connect: " + ec.message();
      return;
    }
    net::async_write(socket_, net::buffer(request_),
                     [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                       if (ec) {
                         self->st_.handshake_failed = true;
                         self->st_.error = "request: " + ec.message();
                         return;
                       }
                       self->DoRead();
                     });
  }

  void DoRead() {
    socket_.async_read_some(net::buffer(chunk_),
                            [self = shared_from_this()](const boost::system::error_code& ec,
                                                        size_t n) { self->OnRead(ec, n); });
  }

  void OnRead(const boost::system::error_code& ec, size_t bytes) {
    const TimePoint now = SteadyClock::now();
    if (ec) {
      const bool stopping = stopped_ || clock_.stopping.load();
      if (!stopping && !got_end_) {
        st_.closed_early = true;
        if (st_.error.empty()) st_.error = "read: " + ec.message();
      } else if (!stopping && loop_) {
        Restart();
      }
      return;
    }
    pending_.append(chunk_.data(), bytes);
    size_t pos = 0;
    if (!header_done_) {
      const auto end = pending_.find("\r\n\r\n");
      if (end == std::string::npos) {
        DoRead();
        return;
      }
      if (!pending_.starts_with("HTTP/1.1 200")) {
        st_.handshake_failed = true;
        st_.error = "status: " + pending_.substr(0, pending_.find('\r'));
        Stop();
        return;
      }
      header_done_ = true;
      pos = end + 4;
    }
    // Events end with a blank line; the JSON is on the `data: ` line.
    pos += ParseSseEvents(std::string_view(pending_).substr(pos), [&](std::string_view json) {
      RecordMessage(st_, clock_, json, now);
      if (TypeOf(json) == MessageType::kEnd) got_end_ = true;
    });
    pending_.erase(0, pos);
    DoRead();
  }

  void Restart() {
    boost::system::error_code ignored;
    socket_.close(ignored);
    socket_ = tcp::socket(socket_.get_executor());
    pending_.clear();
    header_done_ = got_end_ = false;
    Start();
  }

  tcp::socket socket_;
  tcp::endpoint endpoint_;
  StreamStats& st_;
  const RunClock& clock_;
  std::string request_;
  const bool loop_;
  std::string pending_;
  std::array<char, 16384> chunk_{};
  bool header_done_ = false, stopped_ = false, got_end_ = false;
};

int RunStreams(const Options& o, const tcp::endpoint& endpoint) {
  const int threads = o.threads;
  std::vector<std::unique_ptr<net::io_context>> contexts;
  for (int t = 0; t < threads; ++t) contexts.push_back(std::make_unique<net::io_context>(1));
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
  for (auto& c : contexts) guards.push_back(net::make_work_guard(*c));
  std::vector<std::thread> runners;
  for (auto& c : contexts) runners.emplace_back([&ctx = *c] { ctx.run(); });

  std::vector<StreamStats> stats(o.n);
  const size_t expected_frames =
      static_cast<size_t>((o.duration_s + o.n / std::max(o.ramp, 1.0) + 2) * 30) + 16;
  for (auto& s : stats) {
    s.gaps_us.reserve(expected_frames);
    s.late_us.reserve(expected_frames);
    s.gap_at_ms.reserve(expected_frames);
  }
  RunClock clock;
  const TimePoint start = SteadyClock::now();
  clock.start = start;
  const auto ramp_time =
      o.ramp > 0 ? std::chrono::duration<double>(o.n / o.ramp) : std::chrono::duration<double>(0);
  // The steady window: from one second after the last stream was opened until the stop.
  clock.window_begin = start + std::chrono::duration_cast<SteadyClock::duration>(ramp_time) +
                       std::chrono::seconds(1);
  clock.window_end = start + std::chrono::duration_cast<SteadyClock::duration>(
                                 ramp_time + std::chrono::duration<double>(o.duration_s));
  const double load_start = LoadAverage();
  RssSampler rss(o.server_pid);
  const double server_cpu0 = o.server_pid > 0 ? ReadCpuSeconds(o.server_pid) : -1;
  const double self_cpu0 = SelfCpuSeconds();

  std::vector<std::shared_ptr<Stream>> streams(o.n);
  const std::string host = o.host + ":" + std::to_string(o.port);
  const std::string target = StreamTarget(o, o.sse);
  for (size_t k = 0; k < o.n; ++k) {
    if (o.ramp > 0) {
      std::this_thread::sleep_until(
          start + std::chrono::duration_cast<SteadyClock::duration>(
                      std::chrono::duration<double>(static_cast<double>(k) / o.ramp)));
    }
    net::io_context& ctx = *contexts[k % contexts.size()];
    if (o.sse) {
      streams[k] = std::make_shared<SseStream>(ctx, endpoint, host, target, stats[k], clock);
    } else if (o.beast_ws_client) {
      streams[k] = std::make_shared<BeastWsStream>(ctx, endpoint, host, target, stats[k], clock);
    } else {
      streams[k] = std::make_shared<RawWsStream>(ctx, endpoint, host, target, stats[k], clock);
    }
    net::post(ctx, [s = streams[k]] { s->Start(); });
  }
  std::this_thread::sleep_until(clock.window_end);
  const TimePoint stopped_at = SteadyClock::now();
  clock.stopping = true;
  const double server_cpu1 = o.server_pid > 0 ? ReadCpuSeconds(o.server_pid) : -1;
  const double self_cpu1 = SelfCpuSeconds();
  rss.Stop();
  const long rss_end_kb = o.server_pid > 0 ? ReadStatusKb(o.server_pid, "VmRSS") : -1;
  const long hwm_kb = o.server_pid > 0 ? ReadStatusKb(o.server_pid, "VmHWM") : -1;
  for (size_t k = 0; k < o.n; ++k) {
    net::post(*contexts[k % contexts.size()], [s = streams[k]] { s->Stop(); });
  }
  streams.clear();
  guards.clear();
  // Closing handshakes get a bounded grace; then whatever is left is cut.
  const TimePoint give_up = SteadyClock::now() + std::chrono::seconds(5);
  for (auto& c : contexts) {
    while (!c->stopped() && SteadyClock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    c->stop();
  }
  for (auto& r : runners) r.join();

  // Aggregate.
  std::vector<uint32_t> gaps;
  std::vector<int32_t> late;
  uint64_t frames = 0, in_window = 0, heartbeats = 0, ends = 0, err_messages = 0, skipped = 0,
           dropped = 0, connect_failed = 0, handshake_failed = 0, closed_early = 0,
           never_framed = 0, gaps_over_50 = 0;
  std::vector<double> per_stream_fps;
  std::vector<std::string> sample_errors;
  for (const auto& s : stats) {
    frames += s.frames;
    in_window += s.frames_in_window;
    heartbeats += s.heartbeats;
    ends += s.ends;
    err_messages += s.err_messages;
    skipped += s.skipped_windows;
    dropped += s.dropped;
    connect_failed += s.connect_failed;
    handshake_failed += s.handshake_failed;
    closed_early += s.closed_early;
    if (s.frames == 0) ++never_framed;
    for (uint32_t g : s.gaps_us) gaps_over_50 += g > 50'000;
    gaps.insert(gaps.end(), s.gaps_us.begin(), s.gaps_us.end());
    late.insert(late.end(), s.late_us.begin(), s.late_us.end());
    if (s.frames > 1) {
      per_stream_fps.push_back(static_cast<double>(s.frames - 1) /
                               (UsSince(s.first_frame_at, s.last_frame_at) / 1e6));
    }
    if (!s.error.empty() && sample_errors.size() < 5) sample_errors.push_back(s.error);
  }
  const double window_s =
      std::max(1e-3, std::chrono::duration<double>(clock.window_end - clock.window_begin).count());
  const double fps_total = static_cast<double>(in_window) / window_s;
  const Quantiles gap_q = Summarize(std::move(gaps));
  const Quantiles late_q = Summarize(std::move(late));
  const Quantiles fps_q = Summarize(per_stream_fps);
  const uint64_t errors =
      connect_failed + handshake_failed + closed_early + err_messages + never_framed;
  const double elapsed = std::chrono::duration<double>(stopped_at - start).count();
  const double server_cpu =
      server_cpu0 >= 0 && server_cpu1 >= 0 ? (server_cpu1 - server_cpu0) / elapsed : -1;
  const double self_cpu = (self_cpu1 - self_cpu0) / elapsed;

  const char* channel = o.sse ? "sse" : "ws";
  std::printf("== %s streams: N=%zu speed=%g duration=%.1fs ramp=%g/s threads=%d run=%s\n", channel,
              o.n, o.speed, o.duration_s, o.ramp, threads, o.run_id.c_str());
  std::printf(
      "  frames received      %llu (steady window %.1fs: %.0f frames/s total, %.2f per "
      "stream; ideal %.0f)\n",
      static_cast<unsigned long long>(frames), window_s, fps_total,
      fps_total / std::max<size_t>(o.n, 1), 30.0 * o.n);
  std::printf("  per-stream fps       p50 %.2f  min %.2f\n", fps_q.p50, fps_q.min);
  std::printf("  inter-frame gap      %s; >50ms: %llu (%.3f%%)\n", MsLine(gap_q).c_str(),
              static_cast<unsigned long long>(gaps_over_50),
              gap_q.count ? 100.0 * gaps_over_50 / gap_q.count : 0.0);
  std::printf("  lateness vs 30 FPS   %s\n", MsLine(late_q).c_str());
  std::printf("  windows skipped      %llu (merged by the server: lag or coalescing)\n",
              static_cast<unsigned long long>(skipped));
  std::printf("  dropped (server)     %llu\n", static_cast<unsigned long long>(dropped));
  std::printf("  heartbeats %llu, ends %llu\n", static_cast<unsigned long long>(heartbeats),
              static_cast<unsigned long long>(ends));
  std::printf(
      "  errors               %llu (connect %llu, handshake %llu, closed early %llu, err "
      "messages %llu, no frame %llu)\n",
      static_cast<unsigned long long>(errors), static_cast<unsigned long long>(connect_failed),
      static_cast<unsigned long long>(handshake_failed),
      static_cast<unsigned long long>(closed_early), static_cast<unsigned long long>(err_messages),
      static_cast<unsigned long long>(never_framed));
  for (const auto& e : sample_errors) std::printf("    e.g. %s\n", e.c_str());
  if (o.server_pid > 0) {
    std::printf(
        "  server RSS           start %.1f MB, peak %.1f MB (sampled every 100 ms), end "
        "%.1f MB, VmHWM %.1f MB\n",
        rss.start_kb() / 1024.0, rss.peak_kb() / 1024.0, rss_end_kb / 1024.0, hwm_kb / 1024.0);
    std::printf("  server CPU           %.0f%% of a core\n", server_cpu * 100);
  }
  // CPU time per frame received, over the whole run (ramp included).
  const double server_us_per_frame =
      server_cpu >= 0 && frames > 0 ? server_cpu * elapsed * 1e6 / static_cast<double>(frames) : -1;
  const double self_us_per_frame =
      frames > 0 ? self_cpu * elapsed * 1e6 / static_cast<double>(frames) : -1;
  if (o.server_pid > 0) {
    std::printf("  server CPU per frame %.1f us\n", server_us_per_frame);
  }
  std::printf("  generator CPU        %.0f%% of a core, %.1f us per frame\n", self_cpu * 100,
              self_us_per_frame);
  std::printf("  load average         %.2f at start, %.2f at end\n", load_start, LoadAverage());

  if (o.timeline) {
    // Per second of the run: frames received, gaps over 50 ms and the longest gap ending in that
    // second, CPU of the server and of the generator (share of one core), server RSS.
    const size_t secs = static_cast<size_t>(elapsed) + 1;
    std::vector<uint64_t> frames_at(secs), slow_at(secs);
    std::vector<uint32_t> max_gap_at(secs);
    for (const auto& st : stats) {
      for (size_t g = 0; g < st.gaps_us.size(); ++g) {
        const size_t sec = std::min<size_t>(st.gap_at_ms[g] / 1000, secs - 1);
        ++frames_at[sec];
        slow_at[sec] += st.gaps_us[g] > 50'000;
        max_gap_at[sec] = std::max(max_gap_at[sec], st.gaps_us[g]);
      }
    }
    const auto samples = rss.seconds();
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
                  static_cast<unsigned long long>(slow_at[sec]), max_gap_at[sec] / 1e3, srv, gen,
                  mb);
    }
  }

  json::object out{
      {"mode", "streams"},
      {"label", o.label},
      {"channel", channel},
      {"ws_client", o.sse ? "" : (o.beast_ws_client ? "beast" : "raw")},
      {"n", o.n},
      {"speed", o.speed},
      {"duration_s", o.duration_s},
      {"ramp_per_s", o.ramp},
      {"threads", threads},
      {"frames", frames},
      {"frames_per_s", std::round(fps_total)},
      {"frames_per_s_per_stream", std::round(fps_total / std::max<size_t>(o.n, 1) * 100) / 100},
      {"stream_fps_p50", std::round(fps_q.p50 * 100) / 100},
      {"stream_fps_min", std::round(fps_q.min * 100) / 100},
      {"gap", MsJson(gap_q)},
      {"gaps_over_50ms", gaps_over_50},
      {"lateness", MsJson(late_q)},
      {"windows_skipped", skipped},
      {"dropped", dropped},
      {"heartbeats", heartbeats},
      {"ends", ends},
      {"errors", errors},
      {"connect_failed", connect_failed},
      {"handshake_failed", handshake_failed},
      {"closed_early", closed_early},
      {"err_messages", err_messages},
      {"no_frame", never_framed},
      {"server_rss_start_mb", std::round(rss.start_kb() / 102.4) / 10},
      {"server_rss_peak_mb", std::round(rss.peak_kb() / 102.4) / 10},
      {"server_rss_end_mb", std::round(rss_end_kb / 102.4) / 10},
      {"server_vmhwm_mb", std::round(hwm_kb / 102.4) / 10},
      {"server_cpu", std::round(server_cpu * 100) / 100},
      {"generator_cpu", std::round(self_cpu * 100) / 100},
      {"server_cpu_us_per_frame", std::round(server_us_per_frame * 10) / 10},
      {"generator_cpu_us_per_frame", std::round(self_us_per_frame * 10) / 10},
      {"loadavg_start", load_start},
      {"loadavg_end", LoadAverage()},
  };
  PrintJsonLine(out);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Connection churn: short connect/play/disconnect cycles against one server while background
// streams play, and whether the server gives back what the cycles took.

// How a cycle leaves. kClean: the WebSocket close handshake, or (SSE) a shutdown of our side and a
// read until the server closes. kRst: SO_LINGER 0 and close, after the first frame (the server
// sees a reset). kDrop: a plain close after the first frame while frames keep coming (FIN, or RST
// when unread bytes remain; the server's next write fails). kEarly: SO_LINGER 0 and close right
// after the request is written, before any answer (the server may be mid-upgrade).
enum class ChurnLeave : uint8_t { kClean, kRst, kDrop, kEarly };
enum class ChurnControl : uint8_t { kNone, kSeek, kSpeed, kPause };

const char* ToString(ChurnLeave leave) {
  switch (leave) {
    case ChurnLeave::kClean:
      return "clean";
    case ChurnLeave::kRst:
      return "rst";
    case ChurnLeave::kDrop:
      return "drop";
    case ChurnLeave::kEarly:
      return "early";
  }
  return "?";
}

struct ChurnPlan {
  bool sse = false;
  std::optional<int64_t> from;
  ChurnControl control = ChurnControl::kNone;
  int64_t seek_to = 0;
  int speed = 60;
  ChurnLeave leave = ChurnLeave::kClean;
  // Every cycle but kEarly waits for its first frame: not getting one is a failure.
  bool ExpectsFrame() const { return leave != ChurnLeave::kEarly; }
};

// What cycle k does: a function of the seed and k alone, so that a run can be repeated whatever
// the order in which cycles complete. `windows`: the run's window count at the cycles' speed.
ChurnPlan PlanCycle(uint64_t seed, uint64_t k, int64_t windows) {
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                    static_cast<uint32_t>(k), static_cast<uint32_t>(k >> 32)};
  std::mt19937_64 rng(seq);
  // Written out rather than a <random> distribution, whose results the standard leaves open.
  auto uniform = [&] { return static_cast<double>(rng() >> 11) * 0x1.0p-53; };
  auto window = [&] {
    return static_cast<int64_t>(rng() % static_cast<uint64_t>(std::max<int64_t>(windows, 1)));
  };
  ChurnPlan plan;
  plan.sse = uniform() < 0.5;
  if (uniform() < 0.25) plan.from = window();  // most likely a frame nobody asked for yet
  if (!plan.sse && uniform() < 0.4) {
    const uint64_t pick = rng() % 3;
    plan.control = pick == 0   ? ChurnControl::kSeek
                   : pick == 1 ? ChurnControl::kSpeed
                               : ChurnControl::kPause;
    plan.seek_to = window();
    // A few speeds only: each speed has its own frame cache in the tape (bounded, 64 MB), and
    // many would make the cache's growth look like a leak.
    plan.speed = rng() % 2 == 0 ? 30 : 120;
  }
  const double leave = uniform();
  plan.leave = leave < 0.5   ? ChurnLeave::kClean
               : leave < 0.7 ? ChurnLeave::kRst
               : leave < 0.9 ? ChurnLeave::kDrop
                             : ChurnLeave::kEarly;
  return plan;
}

enum class CycleOutcome : uint8_t {
  kOk,
  kConnectFailed,
  kRefused,           // 429 or 503: a connection limit
  kUpgradeFailed,     // any other status
  kErrMessage,        // {"t":"err"}
  kClosedEarly,       // the server closed before the frame the cycle waited for
  kNoCloseHandshake,  // a clean leave that did not end cleanly
  kTimeout,
  kCount
};

constexpr const char* kOutcomeNames[] = {
    "ok",           "connect_failed",     "refused", "upgrade_failed", "err_message",
    "closed_early", "no_close_handshake", "timeout"};
static_assert(std::size(kOutcomeNames) == static_cast<size_t>(CycleOutcome::kCount));

// What the summary needs of one cycle.
struct CycleRecord {
  CycleOutcome outcome = CycleOutcome::kOk;
  bool done = false, got_frame = false;
  ChurnPlan plan;
  uint32_t done_ms = 0;         // since the run began
  uint32_t first_frame_us = 0;  // connect start -> first frame
};

// One cycle on a plain socket. Every handler runs on the churn's one io_context thread.
class ChurnCycle final : public std::enable_shared_from_this<ChurnCycle> {
 public:
  using Done = std::function<void(CycleOutcome, bool got_frame, double first_frame_us,
                                  const std::string& error)>;

  ChurnCycle(net::io_context& ioc, tcp::endpoint endpoint, std::string request, ChurnPlan plan,
             std::chrono::milliseconds timeout, Done done)
      : socket_(ioc),
        timer_(ioc),
        endpoint_(endpoint),
        request_(std::move(request)),
        plan_(plan),
        timeout_(timeout),
        done_(std::move(done)) {}

  void Start() {
    started_ = SteadyClock::now();
    timer_.expires_after(timeout_);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->phase_ == Phase::kDone) return;
      self->Finish(CycleOutcome::kTimeout,
                   std::string("no progress within the cycle timeout, ") + self->PhaseName(), true);
    });
    socket_.async_connect(
        endpoint_,
        [self = shared_from_this()](const boost::system::error_code& ec) { self->OnConnect(ec); });
  }

 private:
  enum class Phase { kConnecting, kHeader, kFirstFrame, kSeekFrame, kLeaving, kDone };

  const char* PhaseName() const {
    switch (phase_) {
      case Phase::kConnecting:
        return "connecting";
      case Phase::kHeader:
        return "waiting for the response header";
      case Phase::kFirstFrame:
        return "waiting for the first frame";
      case Phase::kSeekFrame:
        return "waiting for the seek's frame";
      case Phase::kLeaving:
        return "leaving cleanly";
      case Phase::kDone:
        return "done";
    }
    return "?";
  }

  void OnConnect(const boost::system::error_code& ec) {
    if (phase_ == Phase::kDone) return;
    if (ec) return Finish(CycleOutcome::kConnectFailed, "connect: " + ec.message());
    boost::system::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    phase_ = Phase::kHeader;
    Send(std::move(request_));
    if (plan_.leave == ChurnLeave::kEarly) {
      leave_after_writes_ = true;  // see WriteNext
      return;
    }
    DoRead();
  }

  void Send(std::string bytes) {
    outbox_.push_back(std::move(bytes));
    if (outbox_.size() == 1) WriteNext();
  }

  void WriteNext() {
    net::async_write(socket_, net::buffer(outbox_.front()),
                     [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                       if (self->phase_ == Phase::kDone) return;
                       self->outbox_.pop_front();
                       if (ec) return;  // the read sees the end
                       if (!self->outbox_.empty()) {
                         self->WriteNext();
                       } else if (self->leave_after_writes_) {
                         self->Leave();
                       }
                     });
  }

  void DoRead() {
    socket_.async_read_some(net::buffer(chunk_),
                            [self = shared_from_this()](const boost::system::error_code& ec,
                                                        size_t n) { self->OnRead(ec, n); });
  }

  void OnRead(const boost::system::error_code& ec, size_t bytes) {
    if (phase_ == Phase::kDone) return;
    if (ec) {
      if (phase_ != Phase::kLeaving) {
        return Finish(CycleOutcome::kClosedEarly,
                      std::string("server closed ") + PhaseName() + ": " + ec.message());
      }
      if (ec != net::error::eof) {
        return Finish(CycleOutcome::kNoCloseHandshake, "leaving: " + ec.message());
      }
      if (!plan_.sse && !got_close_) {
        return Finish(CycleOutcome::kNoCloseHandshake, "eof before the server's close frame");
      }
      return Finish(CycleOutcome::kOk);
    }
    pending_.append(chunk_.data(), bytes);
    if (phase_ == Phase::kHeader) {
      const auto end = pending_.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (pending_.size() > 16384) {
          return Finish(CycleOutcome::kUpgradeFailed, "response header too long");
        }
        return DoRead();
      }
      const std::string status = pending_.substr(0, pending_.find('\r'));
      if (!status.starts_with(plan_.sse ? "HTTP/1.1 200" : "HTTP/1.1 101")) {
        const bool refused =
            status.starts_with("HTTP/1.1 429") || status.starts_with("HTTP/1.1 503");
        return Finish(refused ? CycleOutcome::kRefused : CycleOutcome::kUpgradeFailed, status);
      }
      pending_.erase(0, end + 4);
      phase_ = Phase::kFirstFrame;
    }
    size_t used = 0;
    if (plan_.sse) {
      used = ParseSseEvents(pending_, [this](std::string_view json) {
        if (phase_ != Phase::kDone) OnMessage(json);
      });
    } else {
      while (phase_ != Phase::kDone) {
        WsFrame frame;
        const char* why = nullptr;
        const WsParse parsed = ParseWsFrame(std::string_view(pending_).substr(used), frame, &why);
        if (parsed == WsParse::kBad) return Finish(CycleOutcome::kUpgradeFailed, why);
        if (parsed == WsParse::kNeedMore) break;
        used += frame.size;
        if (frame.opcode == 0x8) {
          if (phase_ != Phase::kLeaving) {
            return Finish(CycleOutcome::kClosedEarly,
                          std::string("close frame from the server, ") + PhaseName());
          }
          got_close_ = true;
        } else if (frame.opcode == 0x1 && frame.fin) {
          OnMessage(frame.payload);
        }
        // Pings go unanswered: a cycle lasts far less than the server's idle timeout.
      }
    }
    if (phase_ == Phase::kDone) return;
    pending_.erase(0, used);
    DoRead();
  }

  void OnMessage(std::string_view json) {
    switch (TypeOf(json)) {
      case MessageType::kError:
        return Finish(CycleOutcome::kErrMessage, std::string(json.substr(0, 200)));
      case MessageType::kFrame:
        if (phase_ == Phase::kFirstFrame) {
          got_frame_ = true;
          first_frame_us_ = UsSince(started_, SteadyClock::now());
          AfterFirstFrame();
        } else if (phase_ == Phase::kSeekFrame) {
          Leave();
        }
        return;
      default:
        return;
    }
  }

  void AfterFirstFrame() {
    if (plan_.sse || plan_.control == ChurnControl::kNone) return Leave();
    std::string control;
    switch (plan_.control) {
      case ChurnControl::kSeek:
        control = R"({"t":"ctrl","cmd":"seek","pos":)" + std::to_string(plan_.seek_to) + "}";
        break;
      case ChurnControl::kSpeed:
        control = R"({"t":"ctrl","cmd":"speed","val":)" + std::to_string(plan_.speed) + "}";
        break;
      case ChurnControl::kPause:
      case ChurnControl::kNone:
        control = R"({"t":"ctrl","cmd":"pause"})";
        break;
    }
    Send(MaskedFrame(0x1, control));
    // A seek's frame is sent at once: wait for it. Otherwise leave once the message is out.
    if (plan_.control == ChurnControl::kSeek) {
      phase_ = Phase::kSeekFrame;
    } else {
      leave_after_writes_ = true;
    }
  }

  // Leaves as planned, once nothing of ours waits to be written.
  void Leave() {
    if (!outbox_.empty()) {
      leave_after_writes_ = true;
      return;
    }
    leave_after_writes_ = false;
    switch (plan_.leave) {
      case ChurnLeave::kClean:
        if (phase_ == Phase::kLeaving) return;
        phase_ = Phase::kLeaving;
        if (plan_.sse) {
          // The server reads our end of stream and closes; we read until it has.
          boost::system::error_code ignored;
          socket_.shutdown(tcp::socket::shutdown_send, ignored);
        } else {
          Send(MaskedFrame(0x8, "\x03\xe8"));  // 1000; the server answers and closes
        }
        return;
      case ChurnLeave::kRst:
      case ChurnLeave::kEarly:
        return Finish(CycleOutcome::kOk, {}, true);
      case ChurnLeave::kDrop:
        return Finish(CycleOutcome::kOk);
    }
  }

  void Finish(CycleOutcome outcome, std::string error = {}, bool reset = false) {
    if (phase_ == Phase::kDone) return;
    phase_ = Phase::kDone;
    timer_.cancel();
    boost::system::error_code ignored;
    if (reset) socket_.set_option(net::socket_base::linger(true, 0), ignored);
    socket_.close(ignored);
    done_(outcome, got_frame_, first_frame_us_, error);
  }

  tcp::socket socket_;
  net::steady_timer timer_;
  tcp::endpoint endpoint_;
  std::string request_;
  const ChurnPlan plan_;
  const std::chrono::milliseconds timeout_;
  Done done_;
  Phase phase_ = Phase::kConnecting;
  TimePoint started_{};
  std::string pending_;
  std::array<char, 16384> chunk_{};
  std::deque<std::string> outbox_;
  bool got_frame_ = false, got_close_ = false, leave_after_writes_ = false;
  double first_frame_us_ = 0;
};

// Starts cycles on one io_context, at most `concurrency` at once and at most `rate` a second.
// RunUntil and StopLaunching may be called from any thread; the records may be read once
// completed() == started() and no RunUntil is pending.
class Churner {
 public:
  Churner(net::io_context& ioc, const Options& o, tcp::endpoint endpoint, int64_t windows,
          TimePoint epoch)
      : ioc_(ioc),
        o_(o),
        endpoint_(endpoint),
        host_(o.host + ":" + std::to_string(o.port)),
        windows_(windows),
        epoch_(epoch),
        rate_timer_(ioc),
        records_(o.churn) {}

  // Launches cycles up to (not including) index `to`.
  void RunUntil(uint64_t to) {
    net::post(ioc_, [this, to] {
      end_ = to;
      phase_first_ = next_;
      phase_start_ = SteadyClock::now();
      Pump();
    });
  }
  void StopLaunching() { stop_ = true; }

  uint64_t started() const { return started_.load(); }
  uint64_t completed() const { return completed_.load(); }
  const std::vector<CycleRecord>& records() const { return records_; }
  const std::vector<std::string>& sample_errors() const { return sample_errors_; }

 private:
  void Pump() {
    while (!stop_.load() && next_ < end_ && in_flight_ < o_.churn_concurrency) {
      if (o_.churn_rate > 0) {
        const auto due =
            phase_start_ +
            std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(
                static_cast<double>(next_ - phase_first_) / o_.churn_rate));
        if (SteadyClock::now() < due) {
          if (!rate_timer_armed_) {
            rate_timer_armed_ = true;
            rate_timer_.expires_at(due);
            rate_timer_.async_wait([this](const boost::system::error_code&) {
              rate_timer_armed_ = false;
              Pump();
            });
          }
          return;
        }
      }
      Launch(next_++);
    }
  }

  void Launch(uint64_t k) {
    CycleRecord& record = records_[k];
    record.plan = PlanCycle(o_.seed, k, windows_);
    const std::string target = StreamTarget(o_, record.plan.sse, record.plan.from);
    std::string request =
        record.plan.sse ? SseRequest(host_, target) : WsUpgradeRequest(host_, target);
    ++in_flight_;
    started_.fetch_add(1);
    auto cycle = std::make_shared<ChurnCycle>(
        ioc_, endpoint_, std::move(request), record.plan, kCycleTimeout,
        [this, k](CycleOutcome outcome, bool got_frame, double first_frame_us,
                  const std::string& error) {
          CycleRecord& r = records_[k];
          r.done = true;
          r.outcome = outcome;
          r.got_frame = got_frame;
          r.first_frame_us = static_cast<uint32_t>(std::min(first_frame_us, 4e9));
          r.done_ms = static_cast<uint32_t>(UsSince(epoch_, SteadyClock::now()) / 1e3);
          if (outcome != CycleOutcome::kOk && sample_errors_.size() < 10) {
            sample_errors_.push_back("cycle " + std::to_string(k) + " (" +
                                     (r.plan.sse ? "sse" : "ws") + ", " + ToString(r.plan.leave) +
                                     "): " + kOutcomeNames[static_cast<size_t>(outcome)] + ": " +
                                     error);
          }
          --in_flight_;
          completed_.fetch_add(1);
          // Not from inside the cycle's own handler: the next one starts on a fresh stack.
          net::post(ioc_, [this] { Pump(); });
        });
    cycle->Start();
  }

  static constexpr std::chrono::milliseconds kCycleTimeout{10000};

  net::io_context& ioc_;
  const Options& o_;
  tcp::endpoint endpoint_;
  std::string host_;
  int64_t windows_;
  TimePoint epoch_;
  net::steady_timer rate_timer_;
  bool rate_timer_armed_ = false;
  uint64_t next_ = 0, end_ = 0, phase_first_ = 0;
  TimePoint phase_start_{};
  size_t in_flight_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> started_{0}, completed_{0};
  std::vector<CycleRecord> records_;
  std::vector<std::string> sample_errors_;
};

// The window count of the run at --speed, from one WebSocket's first frame; -1 and `error` when
// there is none.
int64_t ProbeWindows(const Options& o, const tcp::endpoint& endpoint, std::string& error) {
  try {
    net::io_context ioc(1);
    websocket::stream<tcp::socket> ws(ioc);
    ws.next_layer().connect(endpoint);
    ws.handshake(o.host + ":" + std::to_string(o.port), StreamTarget(o, false));
    beast::flat_buffer buffer;
    for (int k = 0; k < 100; ++k) {
      buffer.clear();
      ws.read(buffer);
      const auto data = buffer.cdata();
      const std::string_view msg(static_cast<const char*>(data.data()), data.size());
      if (TypeOf(msg) == MessageType::kFrame) {
        const int64_t n = IntField(msg, "\"n\":", false).value_or(-1);
        boost::system::error_code ignored;
        ws.close(websocket::close_code::normal, ignored);
        if (n <= 0) error = "no window count in the first frame";
        return n;
      }
      if (TypeOf(msg) == MessageType::kError) {
        error = std::string(msg);
        return -1;
      }
    }
    error = "no frame in 100 messages";
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

int RunChurn(const Options& o, const tcp::endpoint& endpoint) {
  std::string probe_error;
  const int64_t windows = ProbeWindows(o, endpoint, probe_error);
  if (windows <= 0) {
    std::fprintf(stderr, "loadgen_driver: cannot play run %s: %s\n", o.run_id.c_str(),
                 probe_error.c_str());
    return 1;
  }
  const double load_start = LoadAverage();
  char rate_cap[64] = "";
  if (o.churn_rate > 0) std::snprintf(rate_cap, sizeof rate_cap, ", at most %g/s", o.churn_rate);
  std::printf(
      "== churn: %zu cycles (%zu warm-up), %zu at once%s, seed %llu; %zu background "
      "streams (%s), speed %g, run %s (%lld windows); load average %.2f\n",
      o.churn, o.churn_warmup, o.churn_concurrency, rate_cap,
      static_cast<unsigned long long>(o.seed), o.n,
      o.channel_given ? (o.sse ? "sse" : "ws") : "ws/sse alternating", o.speed, o.run_id.c_str(),
      static_cast<long long>(windows), load_start);
  std::fflush(stdout);

  // Background streams on --threads io_contexts, the churn on one more.
  const int threads = o.threads;
  std::vector<std::unique_ptr<net::io_context>> contexts;
  for (int t = 0; t <= threads; ++t) contexts.push_back(std::make_unique<net::io_context>(1));
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
  for (auto& c : contexts) guards.push_back(net::make_work_guard(*c));
  std::vector<std::thread> runners;
  for (auto& c : contexts) runners.emplace_back([&ctx = *c] { ctx.run(); });
  net::io_context& churn_ctx = *contexts.back();

  RunClock clock;
  const TimePoint start = SteadyClock::now();
  clock.start = start;
  clock.window_begin = start;
  clock.window_end = TimePoint::max();
  RssSampler rss(o.server_pid);
  const double server_cpu0 = o.server_pid > 0 ? ReadCpuSeconds(o.server_pid) : -1;
  auto ms_since_start = [&](TimePoint t) { return UsSince(start, t) / 1e3; };

  // 1. Background streams: WS and SSE alternating unless a channel was given; they loop.
  std::vector<StreamStats> stats(o.n);
  std::vector<bool> bg_sse(o.n);
  std::vector<std::shared_ptr<Stream>> streams(o.n);
  const std::string host = o.host + ":" + std::to_string(o.port);
  for (size_t k = 0; k < o.n; ++k) {
    if (o.ramp > 0) {
      std::this_thread::sleep_until(
          start + std::chrono::duration_cast<SteadyClock::duration>(
                      std::chrono::duration<double>(static_cast<double>(k) / o.ramp)));
    }
    net::io_context& ctx = *contexts[k % threads];
    bg_sse[k] = o.channel_given ? o.sse : k % 2 == 1;
    const std::string target = StreamTarget(o, bg_sse[k]);
    if (bg_sse[k]) {
      streams[k] = std::make_shared<SseStream>(ctx, endpoint, host, target, stats[k], clock, true);
    } else {
      streams[k] =
          std::make_shared<RawWsStream>(ctx, endpoint, host, target, stats[k], clock, true);
    }
    net::post(ctx, [s = streams[k]] { s->Start(); });
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));  // every background stream playing

  // 2. Warm-up cycles, a settle, the baseline.
  Churner churner(churn_ctx, o, endpoint, windows, start);
  const TimePoint churn_start = SteadyClock::now();
  const TimePoint churn_deadline =
      o.churn_for_s > 0 ? churn_start + std::chrono::duration_cast<SteadyClock::duration>(
                                            std::chrono::duration<double>(o.churn_for_s))
                        : TimePoint::max();
  // Launching stops at --churn-for; cycles in flight then get their own timeout to finish.
  auto run_phase = [&](uint64_t to) {
    churner.RunUntil(to);
    if (!WaitFor([&] { return churner.completed() >= to; }, churn_deadline)) {
      churner.StopLaunching();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a post in flight lands
      WaitFor([&] { return churner.completed() >= churner.started(); }, TimePoint::max());
    }
  };
  const auto settle =
      std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(o.settle_s));
  run_phase(o.churn_warmup);
  const TimePoint warmup_end = SteadyClock::now();
  std::this_thread::sleep_for(settle);
  const TimePoint baseline_at = SteadyClock::now();
  const long rss_base_kb = o.server_pid > 0 ? ReadStatusKb(o.server_pid, "VmRSS") : -1;
  const long fds_base = o.server_pid > 0 ? CountFds(o.server_pid) : -1;
  const uint64_t warmup_done = churner.completed();
  std::printf("  baseline after %llu warm-up cycles and %.1f s: RSS %.1f MB, %ld fds (t=%.1f s)\n",
              static_cast<unsigned long long>(warmup_done), o.settle_s, rss_base_kb / 1024.0,
              fds_base, ms_since_start(baseline_at) / 1e3);
  std::fflush(stdout);

  // 3. The rest of the churn, a settle, the end.
  const TimePoint main_start = SteadyClock::now();
  if (SteadyClock::now() < churn_deadline) run_phase(o.churn);
  const TimePoint churn_end = SteadyClock::now();
  std::this_thread::sleep_for(settle);
  const TimePoint end_at = SteadyClock::now();
  const long rss_end_kb = o.server_pid > 0 ? ReadStatusKb(o.server_pid, "VmRSS") : -1;
  const long fds_end = o.server_pid > 0 ? CountFds(o.server_pid) : -1;
  const long hwm_kb = o.server_pid > 0 ? ReadStatusKb(o.server_pid, "VmHWM") : -1;
  const double server_cpu1 = o.server_pid > 0 ? ReadCpuSeconds(o.server_pid) : -1;
  rss.Stop();

  // 4. The background streams end.
  clock.stopping = true;
  for (size_t k = 0; k < o.n; ++k) {
    net::post(*contexts[k % threads], [s = streams[k]] { s->Stop(); });
  }
  streams.clear();
  guards.clear();
  const TimePoint give_up = SteadyClock::now() + std::chrono::seconds(5);
  for (auto& c : contexts) {
    while (!c->stopped() && SteadyClock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    c->stop();
  }
  for (auto& r : runners) r.join();

  // Cycles.
  const uint64_t done = churner.completed();
  std::array<uint64_t, static_cast<size_t>(CycleOutcome::kCount)> outcomes{};
  uint64_t ws_cycles = 0, sse_cycles = 0, with_from = 0, expect_frame = 0, got_frame = 0;
  std::array<uint64_t, 4> leaves{}, controls{};
  std::vector<uint32_t> first_frame_us;
  first_frame_us.reserve(done);
  for (const CycleRecord& r : churner.records()) {
    if (!r.done) continue;
    ++outcomes[static_cast<size_t>(r.outcome)];
    (r.plan.sse ? sse_cycles : ws_cycles) += 1;
    with_from += r.plan.from.has_value();
    ++leaves[static_cast<size_t>(r.plan.leave)];
    ++controls[static_cast<size_t>(r.plan.control)];
    if (r.plan.ExpectsFrame()) {
      ++expect_frame;
      got_frame += r.got_frame;
    }
    if (r.got_frame) first_frame_us.push_back(r.first_frame_us);
  }
  const uint64_t cycle_failures = done - outcomes[0];
  const double churn_s = std::chrono::duration<double>(churn_end - churn_start).count() -
                         std::chrono::duration<double>(main_start - warmup_end).count();
  const double main_s = std::chrono::duration<double>(churn_end - main_start).count();
  const double cycles_per_s = churn_s > 0 ? static_cast<double>(done) / churn_s : 0;
  const double main_cycles_per_s =
      main_s > 0 ? static_cast<double>(done - warmup_done) / main_s : 0;
  const Quantiles ff_q = Summarize(std::move(first_frame_us));

  // Background streams: the gaps that ended between the first cycle's start and the last one's
  // end (the baseline's settle included: the streams play throughout).
  const double from_ms = ms_since_start(churn_start), to_ms = ms_since_start(churn_end);
  std::vector<uint32_t> bg_gaps;
  uint64_t bg_frames = 0, bg_loops = 0, bg_connect = 0, bg_handshake = 0, bg_closed = 0, bg_err = 0,
           bg_never = 0, bg_dropped = 0, bg_over_50 = 0;
  std::vector<std::string> bg_errors;
  for (const auto& st : stats) {
    bg_frames += st.frames;
    bg_loops += st.loops;
    bg_connect += st.connect_failed;
    bg_handshake += st.handshake_failed;
    bg_closed += st.closed_early;
    bg_err += st.err_messages;
    bg_never += st.frames == 0;
    bg_dropped += st.dropped;
    for (size_t g = 0; g < st.gaps_us.size(); ++g) {
      if (st.gap_at_ms[g] < from_ms || st.gap_at_ms[g] > to_ms) continue;
      bg_gaps.push_back(st.gaps_us[g]);
      bg_over_50 += st.gaps_us[g] > 50'000;
    }
    if (!st.error.empty() && bg_errors.size() < 5) bg_errors.push_back(st.error);
  }
  const uint64_t bg_errors_total = bg_connect + bg_handshake + bg_closed + bg_err + bg_never;
  const Quantiles bg_q = Summarize(std::move(bg_gaps));

  // Criteria.
  const bool measured = o.server_pid > 0 && rss_base_kb > 0 && fds_base >= 0;
  const bool rss_ok = measured && static_cast<double>(rss_end_kb) <=
                                      static_cast<double>(rss_base_kb) * (1 + o.rss_tolerance);
  const bool fds_ok = measured && fds_end >= 0 && fds_end <= fds_base + o.fd_slack;
  const bool bg_ok = bg_errors_total == 0;
  const bool cycles_ok = cycle_failures == 0 && got_frame == expect_frame && done > 0;
  const bool pass = (o.server_pid <= 0 || (rss_ok && fds_ok)) && bg_ok && cycles_ok;

  // Intervals: cycles completed, background gaps, and the server at the interval's end.
  struct Interval {
    uint64_t cycles = 0, failures = 0;
    std::vector<uint32_t> gaps;
  };
  const double elapsed_ms = ms_since_start(end_at);
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
  for (const auto& st : stats) {
    for (size_t g = 0; g < st.gaps_us.size(); ++g) {
      intervals[row_of(st.gap_at_ms[g])].gaps.push_back(st.gaps_us[g]);
    }
  }
  const auto samples = rss.seconds();
  json::array interval_json;
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
                row, row_end_s, static_cast<unsigned long long>(in.cycles),
                row_len_s > 0 ? static_cast<double>(in.cycles) / row_len_s : 0.0,
                static_cast<unsigned long long>(in.failures), q.count, q.p50 / 1e3, q.p99 / 1e3,
                q.max / 1e3, rss_kb / 1024.0, fds, cpu, load);
    auto ms = [](double us) { return std::round(us / 10.0) / 100.0; };
    interval_json.push_back(json::object{{"t_end_s", std::round(row_end_s * 10) / 10},
                                         {"cycles", in.cycles},
                                         {"failed", in.failures},
                                         {"bg_gaps", q.count},
                                         {"gap_p50_ms", ms(q.p50)},
                                         {"gap_p99_ms", ms(q.p99)},
                                         {"gap_max_ms", ms(q.max)},
                                         {"rss_mb", std::round(rss_kb / 102.4) / 10},
                                         {"fds", fds},
                                         {"server_cpu", std::round(cpu * 100) / 100},
                                         {"loadavg", load}});
  }

  auto yes = [](bool b) { return b ? "PASS" : "FAIL"; };
  std::printf(
      "  cycles               %llu done in %.1f s: %.0f/s (after warm-up %.0f/s); ws %llu, "
      "sse %llu, ?from= %llu\n",
      static_cast<unsigned long long>(done), churn_s, cycles_per_s, main_cycles_per_s,
      static_cast<unsigned long long>(ws_cycles), static_cast<unsigned long long>(sse_cycles),
      static_cast<unsigned long long>(with_from));
  std::printf(
      "  leaving              clean %llu, rst %llu, drop %llu, early %llu; controls: seek "
      "%llu, speed %llu, pause %llu\n",
      static_cast<unsigned long long>(leaves[0]), static_cast<unsigned long long>(leaves[1]),
      static_cast<unsigned long long>(leaves[2]), static_cast<unsigned long long>(leaves[3]),
      static_cast<unsigned long long>(controls[1]), static_cast<unsigned long long>(controls[2]),
      static_cast<unsigned long long>(controls[3]));
  std::printf("  connect -> frame     %s\n", MsLine(ff_q).c_str());
  std::printf("  first frames         %llu of %llu cycles that wait for one\n",
              static_cast<unsigned long long>(got_frame),
              static_cast<unsigned long long>(expect_frame));
  std::printf("  failed cycles        %llu", static_cast<unsigned long long>(cycle_failures));
  for (size_t k = 1; k < outcomes.size(); ++k) {
    if (outcomes[k]) {
      std::printf(" %s %llu", kOutcomeNames[k], static_cast<unsigned long long>(outcomes[k]));
    }
  }
  std::printf("\n");
  for (const auto& e : churner.sample_errors()) std::printf("    e.g. %s\n", e.c_str());
  std::printf(
      "  background           %zu streams, %llu frames, %llu loops, dropped %llu; gap "
      "during the churn %s; >50ms %llu\n",
      o.n, static_cast<unsigned long long>(bg_frames), static_cast<unsigned long long>(bg_loops),
      static_cast<unsigned long long>(bg_dropped), MsLine(bg_q).c_str(),
      static_cast<unsigned long long>(bg_over_50));
  std::printf(
      "  background errors    %llu (connect %llu, handshake %llu, closed early %llu, err "
      "messages %llu, no frame %llu)\n",
      static_cast<unsigned long long>(bg_errors_total), static_cast<unsigned long long>(bg_connect),
      static_cast<unsigned long long>(bg_handshake), static_cast<unsigned long long>(bg_closed),
      static_cast<unsigned long long>(bg_err), static_cast<unsigned long long>(bg_never));
  for (const auto& e : bg_errors) std::printf("    e.g. %s\n", e.c_str());
  if (o.server_pid > 0) {
    std::printf(
        "  server RSS           baseline %.1f MB -> end %.1f MB (%+.1f%%, limit +%.0f%%): "
        "%s; peak %.1f MB, VmHWM %.1f MB\n",
        rss_base_kb / 1024.0, rss_end_kb / 1024.0,
        100.0 * (static_cast<double>(rss_end_kb) / std::max(rss_base_kb, 1L) - 1),
        o.rss_tolerance * 100, yes(rss_ok), rss.peak_kb() / 1024.0, hwm_kb / 1024.0);
    std::printf("  server descriptors   baseline %ld -> end %ld (slack %ld): %s\n", fds_base,
                fds_end, o.fd_slack, yes(fds_ok));
  }
  std::printf("  background streams   %s; cycles %s\n", yes(bg_ok), yes(cycles_ok));
  std::printf("  load average         %.2f at start, %.2f at end\n", load_start, LoadAverage());
  std::printf("  verdict              %s\n", yes(pass));

  const double elapsed_s = elapsed_ms / 1e3;
  const double server_cpu =
      server_cpu0 >= 0 && server_cpu1 >= 0 ? (server_cpu1 - server_cpu0) / elapsed_s : -1;
  json::object outcome_json;
  for (size_t k = 0; k < outcomes.size(); ++k) outcome_json[kOutcomeNames[k]] = outcomes[k];
  json::object out{
      {"mode", "churn"},
      {"label", o.label},
      {"cycles", o.churn},
      {"cycles_done", done},
      {"warmup", o.churn_warmup},
      {"concurrency", o.churn_concurrency},
      {"rate_cap", o.churn_rate},
      {"seed", o.seed},
      {"speed", o.speed},
      {"windows", windows},
      {"churn_s", std::round(churn_s * 10) / 10},
      {"cycles_per_s", std::round(cycles_per_s)},
      {"cycles_per_s_after_warmup", std::round(main_cycles_per_s)},
      {"ws", ws_cycles},
      {"sse", sse_cycles},
      {"with_from", with_from},
      {"leave",
       json::object{
           {"clean", leaves[0]}, {"rst", leaves[1]}, {"drop", leaves[2]}, {"early", leaves[3]}}},
      {"control",
       json::object{{"seek", controls[1]}, {"speed", controls[2]}, {"pause", controls[3]}}},
      {"outcomes", outcome_json},
      {"failed", cycle_failures},
      {"expect_frame", expect_frame},
      {"got_frame", got_frame},
      {"connect_to_frame", MsJson(ff_q)},
      {"background", json::object{{"n", o.n},
                                  {"channel", o.channel_given ? (o.sse ? "sse" : "ws") : "mixed"},
                                  {"frames", bg_frames},
                                  {"loops", bg_loops},
                                  {"dropped", bg_dropped},
                                  {"gap", MsJson(bg_q)},
                                  {"gaps_over_50ms", bg_over_50},
                                  {"errors", bg_errors_total},
                                  {"connect_failed", bg_connect},
                                  {"handshake_failed", bg_handshake},
                                  {"closed_early", bg_closed},
                                  {"err_messages", bg_err},
                                  {"no_frame", bg_never}}},
      {"server", json::object{{"rss_baseline_mb", std::round(rss_base_kb / 102.4) / 10},
                              {"rss_end_mb", std::round(rss_end_kb / 102.4) / 10},
                              {"rss_peak_mb", std::round(rss.peak_kb() / 102.4) / 10},
                              {"vmhwm_mb", std::round(hwm_kb / 102.4) / 10},
                              {"fds_baseline", fds_base},
                              {"fds_end", fds_end},
                              {"cpu", std::round(server_cpu * 100) / 100}}},
      {"criteria", json::object{{"rss_tolerance", o.rss_tolerance},
                                {"fd_slack", o.fd_slack},
                                {"rss_ok", rss_ok},
                                {"fds_ok", fds_ok},
                                {"background_ok", bg_ok},
                                {"cycles_ok", cycles_ok},
                                {"pass", pass}}},
      {"intervals", interval_json},
      {"loadavg_start", load_start},
      {"loadavg_end", LoadAverage()},
  };
  PrintJsonLine(out);
  return pass ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------
// Handshake to first frame, one fresh connection at a time.

int RunFirstFrame(const Options& o, const tcp::endpoint& endpoint) {
  net::io_context ioc(1);
  const std::string host = o.host + ":" + std::to_string(o.port);
  std::vector<double> connect_us, handshake_us, hs_to_frame_us, connect_to_frame_us;
  std::optional<double> cold_us;
  uint64_t failures = 0;
  std::string first_error;
  std::mt19937_64 rng(42);
  int64_t windows = -1;
  for (size_t m = 0; m < o.first_frame; ++m) {
    std::optional<int64_t> from;
    if (o.first_frame_random_from && windows > 0) {
      from = static_cast<int64_t>(rng() % static_cast<uint64_t>(windows));
    }
    try {
      websocket::stream<tcp::socket> ws(ioc);
      const TimePoint t0 = SteadyClock::now();
      ws.next_layer().connect(endpoint);
      ws.next_layer().set_option(tcp::no_delay(true));
      const TimePoint t1 = SteadyClock::now();
      ws.handshake(host, StreamTarget(o, false, from));
      const TimePoint t2 = SteadyClock::now();
      beast::flat_buffer buffer;
      TimePoint t3{};
      // A bounded wait: the first message of a playing stream is its first frame.
      for (int k = 0; k < 100; ++k) {
        buffer.clear();
        ws.read(buffer);
        const auto data = buffer.cdata();
        const std::string_view msg(static_cast<const char*>(data.data()), data.size());
        const MessageType type = TypeOf(msg);
        if (type == MessageType::kFrame) {
          t3 = SteadyClock::now();
          if (windows < 0) windows = IntField(msg, "\"n\":", false).value_or(-1);
          break;
        }
        if (type == MessageType::kError) throw std::runtime_error(std::string(msg));
      }
      if (t3 == TimePoint{}) throw std::runtime_error("no frame in 100 messages");
      if (m == 0) {
        cold_us = UsSince(t1, t3);
      } else {
        connect_us.push_back(UsSince(t0, t1));
        handshake_us.push_back(UsSince(t1, t2));
        hs_to_frame_us.push_back(UsSince(t1, t3));
        connect_to_frame_us.push_back(UsSince(t0, t3));
      }
      boost::system::error_code ignored;
      ws.close(websocket::close_code::normal, ignored);
    } catch (const std::exception& e) {
      ++failures;
      if (first_error.empty()) first_error = e.what();
    }
  }
  const Quantiles hs = Summarize(handshake_us), ff = Summarize(hs_to_frame_us),
                  cf = Summarize(connect_to_frame_us), tc = Summarize(connect_us);
  std::printf("== handshake to first frame: %zu fresh WebSocket connections, one at a time%s\n",
              o.first_frame, o.first_frame_random_from ? ", random ?from= window" : "");
  if (cold_us) std::printf("  first connection (tape load)  %.2f ms\n", *cold_us / 1e3);
  std::printf("  TCP connect                   %s\n", MsLine(tc).c_str());
  std::printf("  WS handshake                  %s\n", MsLine(hs).c_str());
  std::printf("  handshake start -> frame      %s\n", MsLine(ff).c_str());
  std::printf("  connect start -> frame        %s\n", MsLine(cf).c_str());
  std::printf("  failures                      %llu%s%s\n",
              static_cast<unsigned long long>(failures), first_error.empty() ? "" : ": ",
              first_error.c_str());
  json::object out{{"mode", "first_frame"},
                   {"label", o.label},
                   {"connections", o.first_frame},
                   {"random_from", o.first_frame_random_from},
                   {"cold_ms", cold_us ? std::round(*cold_us / 10) / 100 : -1.0},
                   {"handshake", MsJson(hs)},
                   {"handshake_to_frame", MsJson(ff)},
                   {"connect_to_frame", MsJson(cf)},
                   {"failures", failures},
                   {"loadavg", LoadAverage()}};
  PrintJsonLine(out);
  return failures == 0 ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------
// POST /backtests -> done.

class HttpClient {
 public:
  HttpClient(net::io_context& ioc, tcp::endpoint endpoint, std::string host)
      : ioc_(ioc), endpoint_(endpoint), host_(std::move(host)) {}

  http::response<http::string_body> Send(http::verb verb, const std::string& target,
                                         std::string body = {}) {
    if (!stream_) {
      stream_.emplace(ioc_);
      stream_->connect(endpoint_);
      stream_->socket().set_option(tcp::no_delay(true));
    }
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, host_);
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = std::move(body);
    }
    req.prepare_payload();
    stream_->expires_after(std::chrono::seconds(30));
    http::write(*stream_, req);
    http::response<http::string_body> res;
    http::read(*stream_, buffer_, res);
    if (!res.keep_alive()) {
      boost::system::error_code ignored;
      stream_->socket().close(ignored);
      stream_.reset();
      buffer_.clear();
    }
    return res;
  }

 private:
  net::io_context& ioc_;
  std::optional<beast::tcp_stream> stream_;
  tcp::endpoint endpoint_;
  std::string host_;
  beast::flat_buffer buffer_;
};

int RunBacktests(const Options& o, const tcp::endpoint& endpoint) {
  net::io_context ioc(1);
  HttpClient client(ioc, endpoint, o.host + ":" + std::to_string(o.port));
  std::vector<double> client_us, server_us, exec_us;
  uint64_t failures = 0;
  std::string last_id, first_error;
  for (size_t r = 0; r < o.runs; ++r) {
    try {
      const TimePoint t0 = SteadyClock::now();
      auto posted = client.Send(http::verb::post, "/backtests", o.backtest_body);
      if (posted.result() != http::status::accepted) {
        throw std::runtime_error("POST /backtests: " + std::to_string(posted.result_int()) + " " +
                                 posted.body());
      }
      const std::string id(json::parse(posted.body()).as_object().at("id").as_string());
      json::object run;
      // Polled every 2 ms, for at most 120 s.
      for (int k = 0;; ++k) {
        if (k > 60000) throw std::runtime_error("run " + id + " not done after 120 s");
        auto got = client.Send(http::verb::get, "/backtests/" + id);
        run = json::parse(got.body()).as_object();
        const std::string_view status = run.at("status").as_string();
        if (status == "done") break;
        if (status == "failed") throw std::runtime_error("run failed: " + got.body());
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      const TimePoint t1 = SteadyClock::now();
      client_us.push_back(UsSince(t0, t1));
      auto at = [&](const char* key) -> std::optional<tapedeck::Timestamp> {
        if (!run.contains(key)) return std::nullopt;
        return tapedeck::ParseIso(run.at(key).as_string());
      };
      const auto created = at("created"), started = at("started"), finished = at("finished");
      if (created && finished) {
        server_us.push_back(static_cast<double>((*finished - *created).count()));
      }
      if (started && finished) {
        exec_us.push_back(static_cast<double>((*finished - *started).count()));
      }
      last_id = id;
    } catch (const std::exception& e) {
      ++failures;
      if (first_error.empty()) first_error = e.what();
    }
  }
  const Quantiles c = Summarize(client_us), s = Summarize(server_us), x = Summarize(exec_us);
  std::printf("== POST /backtests -> done: %zu runs of %s\n", o.runs, o.backtest_body.c_str());
  std::printf("  client (POST sent -> GET says done, 2 ms polls)  %s\n", MsLine(c).c_str());
  std::printf("  server created -> finished                       %s\n", MsLine(s).c_str());
  std::printf("  server started -> finished                       %s\n", MsLine(x).c_str());
  std::printf("  failures %llu%s%s\n", static_cast<unsigned long long>(failures),
              first_error.empty() ? "" : ": ", first_error.c_str());
  std::printf("  last run id %s\n", last_id.c_str());
  json::object out{{"mode", "backtest"},
                   {"label", o.label},
                   {"runs", o.runs},
                   {"client", MsJson(c)},
                   {"server_created_to_finished", MsJson(s)},
                   {"server_started_to_finished", MsJson(x)},
                   {"failures", failures},
                   {"last_id", last_id},
                   {"loadavg", LoadAverage()}};
  PrintJsonLine(out);
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = ParseArgs(argc, argv);
  const tcp::endpoint endpoint = LoopbackEndpoint(o);
  int rc = 0;
  bool did = false;
  if (!o.backtest_body.empty()) {
    rc |= RunBacktests(o, endpoint);
    did = true;
  }
  if (o.first_frame > 0) {
    if (o.run_id.empty()) Usage("--first-frame needs --run");
    rc |= RunFirstFrame(o, endpoint);
    did = true;
  }
  if (o.churn > 0) {
    if (o.run_id.empty()) Usage("--churn needs --run");
    rc |= RunChurn(o, endpoint);  // --n: its background streams
    did = true;
  } else if (o.n > 0) {
    if (o.run_id.empty()) Usage("--n needs --run");
    rc |= RunStreams(o, endpoint);
    did = true;
  }
  if (!did) Usage("nothing to do: give --backtest, --first-frame, --n or --churn");
  return rc;
}
