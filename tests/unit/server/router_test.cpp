#include "server/router.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace tapedeck::server
