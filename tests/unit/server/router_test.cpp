#include "server/router.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "server/access.h"
#include "server/connection.h"

namespace tapedeck::server {
namespace {

HttpRequest Get(std::string target, http::verb method = http::verb::get) {
  HttpRequest req{method, target, 11};
  req.keep_alive(true);
  return req;
}

Router MakeRouter() {
  Router router;
  router.Add(http::verb::get, "/backtests", [](const Request& r) {
    return JsonResponse(r.http, http::status::ok, R"({"list":true})");
  });
  router.Add(http::verb::post, "/backtests", [](const Request& r) {
    return JsonResponse(r.http, http::status::accepted, "{}");
  });
  router.Add(http::verb::get, "/backtests/{id}", [](const Request& r) {
    return JsonResponse(r.http, http::status::ok, r.path_params.at("id"));
  });
  router.Add(http::verb::delete_, "/backtests/{id}", [](const Request& r) {
    return JsonResponse(r.http, http::status::no_content, "");
  });
  router.Add(http::verb::get, "/backtests/{id}/frames", [](const Request& r) {
    return JsonResponse(r.http, http::status::ok,
                        r.path_params.at("id") + "|" + r.Query("speed").value_or("none") + "|" +
                            r.Query("from").value_or("none"));
  });
  return router;
}

TEST(RouterTest, MatchesLiteralAndCapturedSegments) {
  const Router router = MakeRouter();
  auto res = router.Dispatch(Get("/backtests"), "127.0.0.1");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), R"({"list":true})");
  res = router.Dispatch(Get("/backtests/abc"), "127.0.0.1");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), "abc");
  EXPECT_EQ(res[http::field::content_type], "application/json");
}

TEST(RouterTest, PercentDecodesCapturesAndQueries) {
  const Router router = MakeRouter();
  auto res = router.Dispatch(Get("/backtests/a%20b%2Fc/frames?speed=60&from=2023-01-01T00%3A00%3A00Z"),
                             "127.0.0.1");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), "a b/c|60|2023-01-01T00:00:00Z");
  res = router.Dispatch(Get("/backtests/x/frames"), "127.0.0.1");
  EXPECT_EQ(res.body(), "x|none|none");
}

TEST(RouterTest, UnknownPathIsNotFoundWithJsonBody) {
  const Router router = MakeRouter();
  for (const char* target : {"/nope", "/backtests/x/y/z", "/backtests/", "/backtests//frames"}) {
    const auto res = router.Dispatch(Get(target), "127.0.0.1");
    EXPECT_EQ(res.result(), http::status::not_found) << target;
    EXPECT_NE(res.body().find(R"("code":"NOT_FOUND")"), std::string::npos) << res.body();
    EXPECT_NE(res.body().find(R"("details":{)"), std::string::npos) << res.body();
  }
}

TEST(RouterTest, WrongMethodIs405WithAllow) {
  const Router router = MakeRouter();
  const auto res = router.Dispatch(Get("/backtests/abc", http::verb::put), "127.0.0.1");
  EXPECT_EQ(res.result(), http::status::method_not_allowed);
  EXPECT_EQ(res[http::field::allow], "GET, HEAD, DELETE");
  EXPECT_NE(res.body().find(R"("field":"method")"), std::string::npos) << res.body();
}

TEST(RouterTest, HeadIsAnsweredByGetWithoutBody) {
  const Router router = MakeRouter();
  const auto res = router.Dispatch(Get("/backtests", http::verb::head), "127.0.0.1");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_TRUE(res.body().empty());
  EXPECT_EQ(res[http::field::content_length], "13");
}

TEST(RouterTest, MalformedTargetIsValidation) {
  const Router router = MakeRouter();
  const auto res = router.Dispatch(Get("http//bad target"), "127.0.0.1");
  EXPECT_EQ(res.result(), http::status::bad_request);
  EXPECT_NE(res.body().find(R"("code":"VALIDATION")"), std::string::npos);
}

TEST(RouterTest, RouteOfNamesThePatternWhateverTheMethod) {
  const Router router = MakeRouter();
  EXPECT_EQ(router.RouteOf("/backtests/7?x=1"), "/backtests/{id}");
  EXPECT_EQ(router.RouteOf("/backtests/7/frames"), "/backtests/{id}/frames");
  EXPECT_EQ(router.RouteOf("/index.html"), std::nullopt);
}

TEST(RouterTest, ErrorJsonHasCodeMsgDetails) {
  EXPECT_EQ(ErrorJson(MakeError(ErrorCode::kRange, "out \"of\" range", {{"field", "pos"}})),
            R"({"code":"RANGE","msg":"out \"of\" range","details":{"field":"pos"}})");
  const auto res = ErrorResponse(Get("/"), MakeError(ErrorCode::kRunNotFound, "no"));
  EXPECT_EQ(res.result_int(), 404);
  EXPECT_TRUE(res.keep_alive());
}

TEST(RouterTest, ErrorsTellHowToAuthenticateAndWhenToRetry) {
  const auto unauthorized = ErrorResponse(Get("/"), MakeError(ErrorCode::kUnauthorized, "no"));
  EXPECT_EQ(unauthorized.result_int(), 401);
  EXPECT_EQ(unauthorized[http::field::www_authenticate], R"(Bearer realm="tapedeck")");
  const auto limited = ErrorResponse(Get("/"), MakeError(ErrorCode::kRateLimited, "slow down"));
  EXPECT_EQ(limited.result_int(), 429);
  EXPECT_EQ(limited[http::field::retry_after], "1");
  const auto full =
      ErrorResponse(Get("/"), MakeError(ErrorCode::kUnavailable, "full", {{"retry_after", "5"}}));
  EXPECT_EQ(full.result_int(), 503);
  EXPECT_EQ(full[http::field::retry_after], "5");
  const auto other = ErrorResponse(Get("/"), MakeError(ErrorCode::kRange, "no"));
  EXPECT_EQ(other.count(http::field::retry_after), 0u);
  EXPECT_EQ(other.count(http::field::www_authenticate), 0u);
}

TEST(RouterTest, ClientIsTheGivenOneElseTheRemoteAddress) {
  Router router;
  router.Add(http::verb::get, "/who", [](const Request& r) {
    return JsonResponse(r.http, http::status::ok, r.remote + "|" + r.client);
  });
  EXPECT_EQ(router.Dispatch(Get("/who"), "10.0.0.1").body(), "10.0.0.1|10.0.0.1");
  EXPECT_EQ(router.Dispatch(Get("/who"), "10.0.0.1", "token:2").body(), "10.0.0.1|token:2");
}

// --- One front door: per-route body limits and access rules, streams, fallback, CORS ---------

const std::string kToken = "alpha-token-0123456789";

HttpRequest With(std::string target, http::verb method,
                 std::vector<std::pair<http::field, std::string>> headers) {
  HttpRequest req = Get(std::move(target), method);
  for (const auto& [field, value] : headers) req.set(field, value);
  return req;
}

std::shared_ptr<const Access> TokenAccess() {
  return std::make_shared<const Access>(std::vector<std::string>{kToken}, std::chrono::seconds(60),
                                        std::string(32, 'k'));
}

HttpResponse Ok(const Request& r) { return JsonResponse(r.http, http::status::ok, r.client); }

// A router as the server builds it: REST behind the bearer token, a public route, an upload with
// the large limit, a stream route, and a fallback.
Router FrontDoor(std::shared_ptr<const Access> access = TokenAccess()) {
  Router router;
  router.Add(http::verb::get, "/backtests", Ok);
  router.Add(http::verb::post, "/datasets", Ok, {.body = BodyLimit::kUpload});
  router.Add(http::verb::get, "/healthz", Ok, {.access = AccessRule::kPublic});
  router.AddStream("/backtests/{id}/stream",
                   [](const Request& r) {
                     return JsonResponse(r.http, http::status::ok,
                                         r.denied ? "denied:" + r.denied->msg : "open");
                   },
                   {.access = AccessRule::kTicketOrBearer});
  router.SetFallback([](const Request& r) {
    return TextResponse(r.http, http::status::ok, "file", "text/plain");
  });
  router.SetAccess(std::move(access));
  return router;
}

TEST(RouterTest, ABrowsersNavigationToAPageThatIsARouteTooGetsThePage) {
  Router router = FrontDoor(nullptr);
  router.SetPages([](const std::vector<std::string>& segments) {
    return !segments.empty() && segments[0] == "backtests";
  });
  auto navigation = Get("/backtests");
  navigation.set(http::field::accept, "text/html,application/xhtml+xml,*/*;q=0.8");
  const auto page = router.Dispatch(navigation, "1.2.3.4");
  EXPECT_EQ(page.body(), "file");
  EXPECT_EQ(page[http::field::vary], "Accept");
  // The API's own callers (no Accept, or JSON) get the route; other routes are not pages.
  EXPECT_NE(router.Dispatch(Get("/backtests"), "1.2.3.4").body(), "file");
  auto healthz = Get("/healthz");
  healthz.set(http::field::accept, "text/html");
  EXPECT_NE(router.Dispatch(healthz, "1.2.3.4").body(), "file");
}

TEST(RouterTest, EachRouteHasItsOwnBodyLimitKnownFromTheHeader) {
  const Router router = FrontDoor();
  EXPECT_EQ(router.Find(Get("/datasets?name=x", http::verb::post)).body_limit(),
            BodyLimit::kUpload);
  EXPECT_EQ(router.Find(Get("/backtests", http::verb::post)).body_limit(), BodyLimit::kJson);
  EXPECT_EQ(router.Find(Get("/backtests")).body_limit(), BodyLimit::kJson);
  // Nothing routed, nothing large: a path that merely starts like an upload's is not one.
  EXPECT_EQ(router.Find(Get("/datasets/x", http::verb::post)).body_limit(), BodyLimit::kJson);
  EXPECT_EQ(router.Find(Get("/datasetsx", http::verb::post)).body_limit(), BodyLimit::kJson);
  EXPECT_EQ(router.Find(Get("bad target")).body_limit(), BodyLimit::kJson);
}

TEST(RouterTest, BearerRoutesNeedTheTokenPublicOnesAndTheFallbackDoNot) {
  const Router router = FrontDoor();
  auto res = router.Dispatch(Get("/backtests"), "10.0.0.1");
  EXPECT_EQ(res.result_int(), 401);
  EXPECT_EQ(res[http::field::www_authenticate], R"(Bearer realm="tapedeck")");
  EXPECT_NE(res.body().find(R"("code":"UNAUTHORIZED")"), std::string::npos) << res.body();
  res = router.Dispatch(
      With("/backtests", http::verb::get, {{http::field::authorization, "Bearer " + kToken}}),
      "10.0.0.1");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "token:1");  // the client is the token, not the address
  EXPECT_EQ(router.Dispatch(Get("/healthz"), "10.0.0.1").result_int(), 200);
  EXPECT_EQ(router.Dispatch(Get("/app.js"), "10.0.0.1").body(), "file");
  EXPECT_EQ(router.Dispatch(Get("/app.js", http::verb::head), "10.0.0.1").result_int(), 200);
}

TEST(RouterTest, WithoutAccessControlEveryRoutePasses) {
  const Router router = FrontDoor(nullptr);
  auto res = router.Dispatch(Get("/backtests"), "10.0.0.1");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "10.0.0.1");
  EXPECT_EQ(router.Dispatch(Get("/backtests/7/stream"), "10.0.0.1").body(), "open");
  const auto off = std::make_shared<const Access>(std::vector<std::string>{},
                                                  std::chrono::seconds(60), std::string(32, 'k'));
  EXPECT_EQ(FrontDoor(off).Dispatch(Get("/backtests"), "10.0.0.1").result_int(), 200);
  EXPECT_EQ(FrontDoor(off).Dispatch(Get("/backtests/7/stream?ticket=x"), "1").body(), "open");
}

TEST(RouterTest, TheAccessRuleComesBeforeTheMethodButNotForOptions) {
  const Router router = FrontDoor();
  EXPECT_EQ(router.Dispatch(Get("/backtests", http::verb::delete_), "1").result_int(), 401);
  const auto res = router.Dispatch(
      With("/backtests", http::verb::delete_, {{http::field::authorization, "Bearer " + kToken}}),
      "1");
  EXPECT_EQ(res.result_int(), 405);
  EXPECT_EQ(res[http::field::allow], "GET, HEAD");
  EXPECT_EQ(router.Dispatch(Get("/backtests", http::verb::options), "1").result_int(), 405);
  // A public path's other methods are 405 for anyone.
  EXPECT_EQ(router.Dispatch(Get("/healthz", http::verb::post), "1").result_int(), 405);
}

TEST(RouterTest, StreamRoutesTakeATicketForTheirRunOrTheBearerAndHearOfRefusals) {
  const auto access = TokenAccess();
  const Router router = FrontDoor(access);
  const auto ticket = access->Issue("7", Access::Clock::now()).value;
  EXPECT_EQ(router.Dispatch(Get("/backtests/7/stream?ticket=" + ticket), "1").body(), "open");
  EXPECT_EQ(router
                .Dispatch(With("/backtests/7/stream", http::verb::get,
                               {{http::field::authorization, "Bearer " + kToken}}),
                          "1")
                .body(),
            "open");
  // Refusals reach the handler, which tells them its own way.
  const auto other = router.Dispatch(Get("/backtests/8/stream?ticket=" + ticket), "1");
  EXPECT_EQ(other.result_int(), 200);
  EXPECT_TRUE(other.body().starts_with("denied:")) << other.body();
  EXPECT_EQ(router.Dispatch(Get("/backtests/7/stream"), "1").body(),
            "denied:a playback stream needs ?ticket= from POST /backtests/{id}/ticket");
}

TEST(RouterTest, OnlyStreamRoutesTakeWebSocketUpgradesAndTheyAnswerNoHead) {
  const Router router = FrontDoor(nullptr);
  const std::vector<std::pair<http::field, std::string>> upgrade = {
      {http::field::connection, "Upgrade"},
      {http::field::upgrade, "websocket"},
      {http::field::sec_websocket_version, "13"}};
  auto res = router.Dispatch(With("/backtests", http::verb::get, upgrade), "1");
  EXPECT_EQ(res.result_int(), 404);
  EXPECT_NE(res.body().find("no WebSocket here"), std::string::npos) << res.body();
  EXPECT_EQ(router.Find(With("/backtests", http::verb::get, upgrade)).label(), "unmatched");
  EXPECT_EQ(router.Dispatch(With("/app.js", http::verb::get, upgrade), "1").result_int(), 404);
  EXPECT_EQ(router.Dispatch(With("/backtests/7/stream", http::verb::get, upgrade), "1").body(),
            "open");
  res = router.Dispatch(Get("/backtests/7/stream", http::verb::head), "1");
  EXPECT_EQ(res.result_int(), 405);
  EXPECT_EQ(res[http::field::allow], "GET");
}

TEST(RouterTest, MetricsLabelsAreRoutePatternsOrAKind) {
  Router router = FrontDoor();
  router.SetAllowedOrigins({"http://ui.example"});
  EXPECT_EQ(router.Find(Get("/backtests/x%20y/stream?speed=60")).label(), "/backtests/{id}/stream");
  EXPECT_EQ(router.Find(Get("/backtests", http::verb::put)).label(), "/backtests");
  EXPECT_EQ(router.Find(Get("/runs/abc")).label(), "static");
  EXPECT_EQ(router.Find(Get("/runs/abc", http::verb::post)).label(), "unmatched");
  EXPECT_EQ(router.Find(Get("http//bad target")).label(), "malformed");
  EXPECT_EQ(router
                .Find(With("/anything", http::verb::options,
                           {{http::field::origin, "http://ui.example"}}))
                .label(),
            "preflight");
}

TEST(RouterTest, CorsForAllowedOriginsOnEveryAnswerAndPreflightsWithoutCredentials) {
  Router router = FrontDoor();
  router.SetAllowedOrigins({"http://ui.example"});
  const auto preflight = router.Dispatch(
      With("/backtests", http::verb::options, {{http::field::origin, "http://ui.example"}}), "1");
  EXPECT_EQ(preflight.result_int(), 204);
  EXPECT_EQ(preflight[http::field::access_control_allow_origin], "http://ui.example");
  EXPECT_NE(preflight[http::field::access_control_allow_headers].find("Authorization"),
            std::string::npos);
  EXPECT_EQ(preflight[http::field::vary], "Origin");
  // A 401 is readable by an allowed page too; another origin's gets only Vary.
  auto res = router.Dispatch(
      With("/backtests", http::verb::get, {{http::field::origin, "http://ui.example"}}), "1");
  EXPECT_EQ(res.result_int(), 401);
  EXPECT_EQ(res[http::field::access_control_allow_origin], "http://ui.example");
  EXPECT_NE(res[http::field::access_control_expose_headers].find("WWW-Authenticate"),
            std::string::npos);
  res = router.Dispatch(
      With("/healthz", http::verb::get, {{http::field::origin, "http://evil.example"}}), "1");
  EXPECT_EQ(res[http::field::vary], "Origin");
  EXPECT_EQ(res.count(http::field::access_control_allow_origin), 0u);
  EXPECT_EQ(router
                .Dispatch(With("/backtests", http::verb::options,
                               {{http::field::origin, "http://evil.example"}}),
                          "1")
                .result_int(),
            405);
  // Without an allowed list, no answer depends on the Origin.
  EXPECT_EQ(FrontDoor().Dispatch(Get("/healthz"), "1").count(http::field::vary), 0u);
}

TEST(RouterTest, UnroutedNonGetIsNotFoundAndHeadAnswersHaveNoBody) {
  const Router router = FrontDoor(nullptr);
  auto res = router.Dispatch(Get("/nope", http::verb::delete_), "1");
  EXPECT_EQ(res.result_int(), 404);
  EXPECT_NE(res.body().find(R"("path":"/nope")"), std::string::npos) << res.body();
  res = router.Dispatch(Get("/nope", http::verb::head), "1");  // the fallback's answer
  EXPECT_TRUE(res.body().empty());
  EXPECT_EQ(res[http::field::content_length], "4");
  res = FrontDoor().Dispatch(Get("/backtests", http::verb::head), "1");  // an error's
  EXPECT_EQ(res.result_int(), 401);
  EXPECT_TRUE(res.body().empty());
}

// A stream handler that takes the connection over: its answer is returned as is, untouched.
class FakeTakeover final : public Takeover {
 public:
  TakenConnection Take() override { std::abort(); }
  bool taken() const override { return taken_; }
  bool taken_ = false;
};

TEST(RouterTest, AStreamHandlerGetsTheConnectionAndWhatItTookIsLeftAlone) {
  FakeTakeover connection;
  Router router;
  router.AddStream("/backtests/{id}/ws",
                   [&connection](const Request& r) {
                     EXPECT_EQ(r.takeover, &connection);
                     connection.taken_ = true;
                     return HttpResponse{http::status::switching_protocols, 11};
                   },
                   {.access = AccessRule::kTicketOrBearer});
  router.SetAllowedOrigins({"http://ui.example"});
  const HttpRequest req =
      With("/backtests/7/ws", http::verb::get, {{http::field::origin, "http://ui.example"}});
  const auto res = router.Answer(router.Find(req), req, "1", {}, &connection);
  EXPECT_EQ(res.result_int(), 101);
  EXPECT_EQ(res.count(http::field::vary), 0u);
  // Other routes never see the connection.
  router.Add(http::verb::get, "/x", [](const Request& r) {
    EXPECT_EQ(r.takeover, nullptr);
    return JsonResponse(r.http, http::status::ok, "{}");
  });
  connection.taken_ = false;
  const HttpRequest x = Get("/x");
  EXPECT_EQ(router.Answer(router.Find(x), x, "1", {}, &connection).result_int(), 200);
}

TEST(RouterTest, AnswerRoutesByWhatFindParsedWithoutParsingTheTargetAgain) {
  const Router router = MakeRouter();
  const HttpRequest header = Get("/backtests/abc/frames?speed=60");
  const Router::Match match = router.Find(header);
  // Answer sees only the match's view of the target: another target in the request it is given
  // changes nothing, so the target was parsed once, by Find.
  const HttpRequest elsewhere = Get("http//bad target");
  const auto res = router.Answer(match, elsewhere, "127.0.0.1");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), "abc|60|none");
}

TEST(RouterTest, RoutesListsEveryRouteInOrder) {
  const auto routes = FrontDoor().Routes();
  ASSERT_EQ(routes.size(), 4u);
  EXPECT_EQ(routes[0].method, http::verb::get);
  EXPECT_EQ(routes[0].pattern, "/backtests");
  EXPECT_FALSE(routes[0].stream);
  EXPECT_EQ(routes[1].method, http::verb::post);
  EXPECT_EQ(routes[1].pattern, "/datasets");
  EXPECT_EQ(routes[1].options.body, BodyLimit::kUpload);
  EXPECT_EQ(routes[2].options.access, AccessRule::kPublic);
  EXPECT_EQ(routes[3].pattern, "/backtests/{id}/stream");
  EXPECT_EQ(routes[3].method, http::verb::get);
  EXPECT_EQ(routes[3].options.access, AccessRule::kTicketOrBearer);
  EXPECT_TRUE(routes[3].stream);
}

}  // namespace
}  // namespace tapedeck::server
