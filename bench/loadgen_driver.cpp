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
#include <fstream>
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
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "loadgen_driver: %s\n"
               "usage: loadgen_driver [--url http://127.0.0.1:PORT | --host H --port P]\n"
               "  [--run ID] [--ws | --sse] [--n N] [--speed S] [--duration SECONDS]\n"
               "  [--ramp CONNECTIONS_PER_SECOND] [--threads T] [--server-pid PID] [--timeline]\n"
               "  [--ws-client raw|beast]\n"
               "  [--first-frame M [--random-from]] [--backtest JSON [--runs K]] [--label TEXT]\n",
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
    } else if (a == "--sse") {
      o.sse = true;
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
    } else {
      Usage((std::string("unknown option ") + argv[i]).c_str());
    }
  }
  if (o.duration_s <= 0 || o.duration_s > 600) Usage("--duration must be in (0, 600]");
  if (o.n > 20000) Usage("--n is capped at 20000");
  if (o.first_frame > 100000) Usage("--first-frame is capped at 100000");
  if (o.runs > 1000) Usage("--runs is capped at 1000");
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

double SelfCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto s = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return s(usage.ru_utime) + s(usage.ru_stime);
}

// Samples the server's VmRSS every 100 ms while alive.
// Also keeps, once a second, the CPU time of the server and of this process and the RSS, for
// --timeline.
class RssSampler {
 public:
  struct Second {
    double server_cpu_s = 0, self_cpu_s = 0;
    long rss_kb = 0;
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
          if (k % 10 == 0) seconds_.push_back({ReadCpuSeconds(pid_), SelfCpuSeconds(), kb});
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
// Concurrent streams.

struct StreamStats {
  TimePoint connect_start{}, first_frame_at{}, last_frame_at{};
  uint64_t frames = 0, heartbeats = 0, ends = 0, err_messages = 0, skipped_windows = 0;
  uint64_t frames_in_window = 0;  // frames received while every stream was open
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
    if (i >= 0 && st.last_i >= 0 && i > st.last_i + 1) {
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
// are answered with masked pongs, a close with a close.
class RawWsStream final : public Stream, public std::enable_shared_from_this<RawWsStream> {
 public:
  RawWsStream(net::io_context& ioc, tcp::endpoint endpoint, std::string host, std::string target,
              StreamStats& stats, const RunClock& clock)
      : socket_(ioc), endpoint_(endpoint), st_(stats), clock_(clock) {
    // A fixed key: the server checks its form, and we do not check its answer's hash.
    request_ = "GET " + target + " HTTP/1.1\r\nHost: " + host +
               "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  }

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
    Send(Masked(0x8, "\x03\xe8"));  // 1000: normal closure; the server answers and closes
  }

 private:
  void Cut() {
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  // A client frame: FIN, `opcode`, masked payload (RFC 6455 5.3). Control payloads are short.
  static std::string Masked(uint8_t opcode, std::string_view payload) {
    static constexpr uint8_t kMask[4] = {0x12, 0x34, 0x56, 0x78};
    std::string frame;
    frame += static_cast<char>(0x80 | opcode);
    frame += static_cast<char>(0x80 | payload.size());
    frame.append(reinterpret_cast<const char*>(kMask), 4);
    for (size_t k = 0; k < payload.size(); ++k) {
      frame += static_cast<char>(payload[k] ^ kMask[k % 4]);
    }
    return frame;
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
    while (pos_ - at >= 2) {
      const auto* p = reinterpret_cast<const uint8_t*>(pending_.data() + at);
      const bool fin = p[0] & 0x80;
      const uint8_t opcode = p[0] & 0x0f;
      uint64_t length = p[1] & 0x7f;
      size_t header = 2;
      if (p[1] & 0x80) return Fail("masked frame from the server");
      if (length == 126) {
        if (pos_ - at < 4) break;
        length = (uint64_t{p[2]} << 8) | p[3];
        header = 4;
      } else if (length == 127) {
        if (pos_ - at < 10) break;
        length = 0;
        for (int k = 0; k < 8; ++k) length = (length << 8) | p[2 + k];
        header = 10;
      }
      if (length > (64u << 20)) return Fail("frame over 64 MiB");
      if (pos_ - at < header + length) break;
      const std::string_view payload(pending_.data() + at + header, length);
      at += header + length;
      if (opcode == 0x9) {  // ping
        Send(Masked(0xA, payload.substr(0, 125)));
      } else if (opcode == 0x8) {  // close
        got_close_ = true;
        if (!close_sent_) {
          close_sent_ = true;
          Send(Masked(0x8, payload.substr(0, 2)));
        }
      } else if (opcode == 0xA) {
        // pong: nothing to do
      } else if (fin && opcode != 0x0 && message_.empty()) {
        RecordMessage(st_, clock_, payload, now);
      } else {  // a fragmented message (the server does not send them, but the protocol allows)
        message_.append(payload);
        if (fin) {
          RecordMessage(st_, clock_, message_, now);
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
  std::vector<char> pending_;  // [0, pos_) read and not yet parsed
  size_t pos_ = 0;
  std::string message_;
  std::deque<std::string> outbox_;
  bool open_ = false, stopping_ = false, close_sent_ = false, got_close_ = false;
};

// SSE over a plain socket: the server sends a header without a length, then events until it
// closes (no chunked encoding).
class SseStream final : public Stream, public std::enable_shared_from_this<SseStream> {
 public:
  SseStream(net::io_context& ioc, tcp::endpoint endpoint, std::string host, std::string target,
            StreamStats& stats, const RunClock& clock)
      : socket_(ioc), endpoint_(endpoint), st_(stats), clock_(clock) {
    request_ = "GET " + target + " HTTP/1.1\r\nHost: " + host +
               "\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n";
  }

  void Start() override {
    st_.connect_start = SteadyClock::now();
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
      if (!stopped_ && !clock_.stopping.load() && st_.ends == 0) {
        st_.closed_early = true;
        if (st_.error.empty()) st_.error = "read: " + ec.message();
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
    for (;;) {
      const auto end = pending_.find("\n\n", pos);
      if (end == std::string::npos) break;
      const std::string_view event(pending_.data() + pos, end - pos);
      if (const auto data = event.find("data: "); data != std::string_view::npos) {
        std::string_view json = event.substr(data + 6);
        json = json.substr(0, json.find('\n'));
        RecordMessage(st_, clock_, json, now);
      }
      pos = end + 2;
    }
    pending_.erase(0, pos);
    DoRead();
  }

  tcp::socket socket_;
  tcp::endpoint endpoint_;
  StreamStats& st_;
  const RunClock& clock_;
  std::string request_, pending_;
  std::array<char, 16384> chunk_{};
  bool header_done_ = false, stopped_ = false;
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
  if (o.n > 0) {
    if (o.run_id.empty()) Usage("--n needs --run");
    rc |= RunStreams(o, endpoint);
    did = true;
  }
  if (!did) Usage("nothing to do: give --backtest, --first-frame or --n");
  return rc;
}
