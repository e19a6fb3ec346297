#include "options.h"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace tapedeck::loadgen {

namespace net = boost::asio;
using tcp = net::ip::tcp;

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

namespace {

// Usage unless every option is in its range; fills in the default warm-up of a churn.
void CheckRanges(Options& o) {
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
}

}  // namespace

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
  CheckRanges(o);
  return o;
}

tcp::endpoint LoopbackEndpoint(const Options& o) {
  const std::string host = o.host == "localhost" ? "127.0.0.1" : o.host;
  boost::system::error_code ec;
  const net::ip::address address = net::ip::make_address(host, ec);
  if (ec || !address.is_loopback()) Usage("--host must be a loopback address (127.0.0.1)");
  return {address, o.port};
}

std::string StreamTarget(const Options& o, bool sse, std::optional<int64_t> from) {
  char speed[64];
  std::snprintf(speed, sizeof speed, "%g", o.speed);
  std::string target = "/backtests/" + o.run_id + (sse ? "/stream" : "/ws") + "?speed=" + speed;
  if (from) target += "&from=" + std::to_string(*from);
  return target;
}

}  // namespace tapedeck::loadgen
