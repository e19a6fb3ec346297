// The load generator's command line: what to measure, against which server, and how hard.
// The options and their spelling are read by bench/*.sh and documented in main.cpp; the
// Options below are parsed once and then only read.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace tapedeck::loadgen {

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

  // "host:port", the Host header of every request.
  std::string HostHeader() const { return host + ":" + std::to_string(port); }
};

// Prints `why` and the usage text to stderr and exits with status 2.
[[noreturn]] void Usage(const char* why);

// The options of argv; on anything unknown, missing or out of range, Usage (does not return).
Options ParseArgs(int argc, char** argv);

// The one endpoint this tool talks to; anything but loopback is refused (Usage).
boost::asio::ip::tcp::endpoint LoopbackEndpoint(const Options& o);

// The stream's target at --speed: /backtests/RUN/ws (or /stream for SSE), with ?from= if given.
std::string StreamTarget(const Options& o, bool sse, std::optional<int64_t> from = std::nullopt);

}  // namespace tapedeck::loadgen
