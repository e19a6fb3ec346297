// --first-frame M: M fresh WebSocket connections one after another: TCP connect, handshake,
// handshake start -> first frame. The first connection loads the tape and is reported apart.
#include <cstdio>
#include <optional>
#include <random>

#include "client.h"
#include "process.h"
#include "scenarios/scenarios.h"
#include "stats.h"
#include "wire.h"

namespace tapedeck::loadgen {

namespace json = boost::json;

int RunFirstFrame(const Options& o, const tcp::endpoint& endpoint) {
  net::io_context ioc(1);
  const std::string host = o.HostHeader();
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
      const FirstFrame f = FetchFirstFrame(ioc, endpoint, host, StreamTarget(o, false, from));
      if (windows < 0) windows = IntField(f.frame, "\"n\":", false).value_or(-1);
      if (m == 0) {
        cold_us = UsSince(f.connected, f.framed);
      } else {
        connect_us.push_back(UsSince(f.start, f.connected));
        handshake_us.push_back(UsSince(f.connected, f.handshaken));
        hs_to_frame_us.push_back(UsSince(f.connected, f.framed));
        connect_to_frame_us.push_back(UsSince(f.start, f.framed));
      }
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

}  // namespace tapedeck::loadgen
