// HTTP routing for tapedeck's REST API: a method and a path pattern ("/backtests/{id}/trades")
// map to a handler. Handlers are synchronous and run on an I/O thread: they must be quick (anything
// heavy — a backtest, a large import — goes to the worker pool and the handler answers 202).
//
// Thread-safety: routes are added before the server starts; Dispatch may then run on any thread.
#pragma once

#include <boost/beast/http.hpp>
#include <boost/url/url_view.hpp>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace tapedeck::server {

namespace http = boost::beast::http;

using HttpRequest = http::request<http::string_body>;
using HttpResponse = http::response<http::string_body>;

struct Request {
  const HttpRequest& http;
  boost::urls::url_view url;                        // parsed target: path and query
  std::map<std::string, std::string> path_params;   // "{id}" -> value, percent-decoded
  std::string remote;                               // peer address, for logs and limits
  // Who per-client limits count this request against: the token ("token:N", see Access) when
  // access control is on, else the peer address.
  std::string client;

  // The decoded value of query parameter `name`, or nullopt.
  std::optional<std::string> Query(std::string_view name) const;
};

using Handler = std::function<HttpResponse(const Request&)>;

class Router {
 public:
  // A registered route, as Routes() lists it.
  struct RouteInfo {
    http::verb method;
    std::string pattern;  // as given to Add: "/backtests/{id}"
  };

  // REQUIRES: called before the server starts. Pattern segments in braces capture one segment.
  void Add(http::verb method, std::string pattern, Handler handler);

  // Finds the route and calls it. No route for the path: NOT_FOUND (404); a route for the path but
  // not the method: 405 with an Allow header. Both with the JSON error body.
  // A HEAD request is answered by the GET route when there is no HEAD route: same status and
  // headers, no body. A target that is not a valid origin-form URL is VALIDATION (400).
  // `client`: Request::client; empty means `remote`.
  HttpResponse Dispatch(const HttpRequest& request, const std::string& remote,
                        const std::string& client = {}) const;

  // The pattern of the first route whose path matches `path` (an undecoded request target,
  // query allowed), whatever its method; nullopt when none does. The server uses it to label
  // metrics and to leave unrouted paths to the static file handler.
  std::optional<std::string> RouteOf(std::string_view target) const;

  // Every route, in the order added.
  std::vector<RouteInfo> Routes() const;

 private:
  struct Route {
    http::verb method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
  };
  std::vector<Route> routes_;
};

// Responses with tapedeck's conventions: JSON bodies with `Content-Type: application/json`,
// errors as {"code","msg","details"} with the status mapped from the code. An UNAUTHORIZED error
// carries `WWW-Authenticate: Bearer`; RATE_LIMITED and UNAVAILABLE carry `Retry-After`, in
// seconds: details["retry_after"] when given, else 1.
HttpResponse JsonResponse(const HttpRequest& request, http::status status, std::string body);
HttpResponse ErrorResponse(const HttpRequest& request, const Error& error);
HttpResponse TextResponse(const HttpRequest& request, http::status status, std::string body,
                          std::string_view content_type);

// The error body alone: {"code":"RANGE","msg":"...","details":{...}}.
std::string ErrorJson(const Error& error);

}  // namespace tapedeck::server
