// Fuzzes HTTP request targets as the server takes them apart: the router's origin-form parsing,
// path matching and percent-decoding (server::Router::Dispatch, RouteOf), query parameters
// (Request::Query), and what the playback endpoints make of ?speed=, ?from= and Last-Event-ID
// (server::OpenPlayback); also the Origin checks of WebSocket upgrades and CORS.
//
// Input: line 1 is the request target, line 2 (optional) a Last-Event-ID header, line 3
// (optional) an Origin header.
//
// Invariants: a target that is not origin-form is 400 VALIDATION naming `target`; RouteOf finds a
// route exactly when Dispatch does not answer 404; captures are non-empty; every error response
// is a JSON error body with the status of its code; HEAD is GET without the body. A stream
// request is refused exactly when its id is unknown or a parameter does not parse (VALIDATION
// naming it) or lies outside the run (RANGE); otherwise the session plays at ?speed=. An origin
// echoed for CORS is also allowed to open a WebSocket; "null" never is.
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/url/parse.hpp>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "playback/playback.h"
#include "server/connection.h"
#include "server/origin.h"
#include "server/router.h"
#include "server/run_source.h"
#include "server/stream_session.h"
#include "unit/playback/tape_fixture.h"

namespace tapedeck::server {
namespace {

using fuzz::CheckError;
using fuzz::CheckErrorJson;

// What the last stream handler saw, for the checks after Dispatch returns.
struct StreamOutcome {
  std::string id;
  bool sse = false;
  std::optional<Error> error;
  double speed = 0;
};

// The REST routes tapedeck registers (src/api), plus the two playback endpoints, which the server
// registers as stream routes (server_routes.cpp) and whose handlers call OpenPlayback as these do.
struct World {
  std::shared_ptr<MemoryRunSource> runs = std::make_shared<MemoryRunSource>();
  std::unique_ptr<Shared> shared;
  Router router;
  std::optional<StreamOutcome> outcome;

  World() {
    runs->Add("run1", playback::testing::MinuteTape(600));
    runs->AddFailed("broken", "strategy threw");
    Settings settings;
    shared = std::make_unique<Shared>(settings, Router(), runs, std::make_shared<Metrics>());

    const auto echo = [](const Request& r) {
      std::string body = "{}";
      for (const auto& [name, value] : r.path_params) {
        FUZZ_CHECK(!value.empty());  // "/backtests//trades" names no run
        body += value;
      }
      return JsonResponse(r.http, http::status::ok, body);
    };
    for (const char* pattern : {"/datasets", "/backtests", "/strategies"}) {
      router.Add(http::verb::get, pattern, echo);
    }
    router.Add(http::verb::post, "/datasets", echo);
    router.Add(http::verb::post, "/backtests", echo);
    for (const char* pattern : {"/datasets/{name}", "/backtests/{id}"}) {
      router.Add(http::verb::get, pattern, echo);
      router.Add(http::verb::delete_, pattern, echo);
    }
    for (const char* pattern :
         {"/backtests/{id}/trades", "/backtests/{id}/equity", "/backtests/{id}/frames"}) {
      router.Add(http::verb::get, pattern, echo);
    }
    for (const bool sse : {false, true}) {
      router.Add(http::verb::get, sse ? "/backtests/{id}/stream" : "/backtests/{id}/ws",
                 [this, sse](const Request& r) {
                   StreamOutcome seen;
                   seen.id = r.path_params.at("id");
                   seen.sse = sse;
                   auto session = OpenPlayback(
                       *shared, r, sse ? playback::Channel::kSse : playback::Channel::kWebSocket);
                   if (session.ok()) {
                     seen.speed = session->speed().value();
                   } else {
                     seen.error = session.error();
                   }
                   outcome = seen;
                   return session.ok() ? JsonResponse(r.http, http::status::ok, "{}")
                                       : ErrorResponse(r.http, session.error());
                 });
    }
  }
};

World& TheWorld() {
  static World* world = new World();  // never destroyed: no order-of-exit surprises
  return *world;
}

void CheckErrorResponse(const HttpResponse& res, ErrorCode code) {
  FUZZ_CHECK(static_cast<int>(res.result_int()) == HttpStatus(code));
  FUZZ_CHECK(res[http::field::content_type] == "application/json");
  CheckErrorJson(res.body(), code);
}

// The query parameter as the handlers read it, from an independent walk of the parsed URL.
std::optional<std::string> FirstParam(const boost::urls::url_view& url, std::string_view key) {
  for (const auto param : url.params()) {
    if (param.key == key) return param.has_value ? param.value : std::string();
  }
  return std::nullopt;
}

void CheckStream(const StreamOutcome& seen, const boost::urls::url_view& url,
                 std::string_view last_event_id) {
  FUZZ_CHECK(!seen.id.empty());
  if (seen.id != "run1") {
    FUZZ_CHECK(seen.error);
    CheckError(*seen.error, seen.id == "broken" ? ErrorCode::kRunFailed : ErrorCode::kRunNotFound);
    return;
  }
  // The parameters, in the order OpenPlayback reads them; the first bad one is the one named.
  const std::optional<std::string> speed = FirstParam(url, "speed");
  const std::optional<std::string> from = FirstParam(url, "from");
  std::optional<std::string_view> bad;
  double expected_speed = playback::kDefaultSpeed;
  if (speed) {
    const auto parsed = playback::Speed::Parse(*speed, "speed");
    if (parsed.ok()) {
      expected_speed = parsed->value();
    } else {
      bad = "speed";
    }
  }
  if (!bad && from && !from->empty() && !playback::ParseSeekTarget(*from, "from").ok()) bad = "from";
  if (!bad && seen.sse && !last_event_id.empty() &&
      !playback::ParseLastEventId(last_event_id).ok()) {
    bad = "Last-Event-ID";
  }
  if (bad) {
    FUZZ_CHECK(seen.error);
    CheckError(*seen.error, ErrorCode::kValidation, {*bad});
    return;
  }
  if (seen.error) {
    // Only a seek target outside the run is left to refuse.
    CheckError(*seen.error, ErrorCode::kRange, {"from", "Last-Event-ID"});
    return;
  }
  FUZZ_CHECK(seen.speed == expected_speed);
}

void CheckTarget(std::string_view target, std::string_view last_event_id) {
  World& world = TheWorld();
  HttpRequest request{http::verb::get, target, 11};
  if (!last_event_id.empty()) {
    request.set("Last-Event-ID", last_event_id);
    // As stored, and as Beast's parser would hand it over: without surrounding whitespace.
    last_event_id = request["Last-Event-ID"];
  }

  world.outcome.reset();
  const HttpResponse res = world.router.Dispatch(request, "127.0.0.1");
  const auto url = boost::urls::parse_origin_form(target);
  if (!url) {
    CheckErrorResponse(res, ErrorCode::kValidation);
    FUZZ_CHECK(res.body().find(R"("field":"target")") != std::string::npos);
    FUZZ_CHECK(!world.router.RouteOf(target));
    return;
  }
  const std::optional<std::string> route = world.router.RouteOf(target);
  if (!route) {
    CheckErrorResponse(res, ErrorCode::kNotFound);
    FUZZ_CHECK(!world.outcome);
    return;
  }
  // Every route has a GET.
  FUZZ_CHECK(res.result() != http::status::not_found || world.outcome);
  FUZZ_CHECK(res.result() != http::status::method_not_allowed);
  if (world.outcome) {
    FUZZ_CHECK(route->ends_with("/stream") || route->ends_with("/ws"));
    CheckStream(*world.outcome, *url, last_event_id);
    if (world.outcome->error) CheckErrorResponse(res, world.outcome->error->code);
  } else {
    FUZZ_CHECK(res.result() == http::status::ok);
  }

  // HEAD is answered by the GET route: same status, no body, the GET body's length.
  request.method(http::verb::head);
  const HttpResponse head = world.router.Dispatch(request, "127.0.0.1");
  FUZZ_CHECK(head.result() == res.result());
  FUZZ_CHECK(head.body().empty());
  FUZZ_CHECK(head[http::field::content_length] == std::to_string(res.body().size()));
}

void CheckOrigin(std::string_view origin) {
  static const std::vector<std::string> kAllowed = {"https://desk.example.com/",
                                                    "http://LOCALHOST:5173"};
  const bool ws = OriginAllowed(origin, "127.0.0.1:8080", kAllowed);
  const std::optional<std::string> cors = CorsOrigin(origin, kAllowed);
  if (cors) {
    FUZZ_CHECK(*cors == origin);
    FUZZ_CHECK(ws);
  }
  std::string lower(origin);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "null") FUZZ_CHECK(!ws && !cors);
  FUZZ_CHECK(OriginAllowed(std::nullopt, "127.0.0.1:8080", kAllowed));
}

}  // namespace
}  // namespace tapedeck::server

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view lines[3];
  for (auto& line : lines) {
    const size_t eol = input.find('\n');
    line = input.substr(0, eol);
    input = eol == std::string_view::npos ? std::string_view() : input.substr(eol + 1);
  }
  // Beast refuses header values with CR, LF or NUL long before the router sees them.
  if (lines[1].find_first_of(std::string_view("\r\0", 2)) != std::string_view::npos) return 0;
  tapedeck::server::CheckTarget(lines[0], lines[1]);
  tapedeck::server::CheckOrigin(lines[2]);
  return 0;
}
