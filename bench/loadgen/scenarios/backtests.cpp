// --backtest JSON --runs K: POST /backtests with JSON K times; for each, the time until
// GET /backtests/{id} says "done" (polled on one keep-alive connection), and the server's own
// created -> finished and started -> finished.
#include <boost/json/parse.hpp>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <thread>

#include "client.h"
#include "common/time.h"
#include "process.h"
#include "scenarios/scenarios.h"
#include "stats.h"

namespace tapedeck::loadgen {

namespace json = boost::json;

namespace {

// The run's figures, once it is done.
struct RunTimes {
  std::string id;
  double client_us = 0;                      // POST sent -> GET says done
  std::optional<double> server_us, exec_us;  // created -> finished, started -> finished
};

// Posts one backtest and polls it every 2 ms until done, for at most 120 s. Throws
// std::exception when the POST is refused, the run fails or takes too long.
RunTimes PostAndWait(HttpClient& client, const std::string& body) {
  const TimePoint t0 = SteadyClock::now();
  auto posted = client.Send(HttpClient::Method::kPost, "/backtests", body);
  if (posted.status != 202) {
    throw std::runtime_error("POST /backtests: " + std::to_string(posted.status) + " " +
                             posted.body);
  }
  RunTimes times;
  times.id = std::string(json::parse(posted.body).as_object().at("id").as_string());
  json::object run;
  for (int k = 0;; ++k) {
    if (k > 60000) throw std::runtime_error("run " + times.id + " not done after 120 s");
    auto got = client.Send(HttpClient::Method::kGet, "/backtests/" + times.id);
    run = json::parse(got.body).as_object();
    const std::string_view status = run.at("status").as_string();
    if (status == "done") break;
    if (status == "failed") throw std::runtime_error("run failed: " + got.body);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  times.client_us = UsSince(t0, SteadyClock::now());
  auto at = [&](const char* key) -> std::optional<Timestamp> {
    if (!run.contains(key)) return std::nullopt;
    return ParseIso(run.at(key).as_string());
  };
  const auto created = at("created"), started = at("started"), finished = at("finished");
  if (created && finished) times.server_us = static_cast<double>((*finished - *created).count());
  if (started && finished) times.exec_us = static_cast<double>((*finished - *started).count());
  return times;
}

}  // namespace

int RunBacktests(const Options& o, const tcp::endpoint& endpoint) {
  net::io_context ioc(1);
  HttpClient client(ioc, endpoint, o.HostHeader());
  std::vector<double> client_us, server_us, exec_us;
  uint64_t failures = 0;
  std::string last_id, first_error;
  for (size_t r = 0; r < o.runs; ++r) {
    try {
      const RunTimes times = PostAndWait(client, o.backtest_body);
      client_us.push_back(times.client_us);
      if (times.server_us) server_us.push_back(*times.server_us);
      if (times.exec_us) exec_us.push_back(*times.exec_us);
      last_id = times.id;
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

}  // namespace tapedeck::loadgen
