// HTTP routing for tapedeck: the one place that decides what a request means. A method and a path
// pattern ("/backtests/{id}/trades") map to a handler, with the route's body limit and access
// rule; every route is registered here — the REST API's, the server's own (/healthz, /metrics,
// the playback ticket) and the playback streams, whose handlers take the connection over. GET and
// HEAD requests that match no route go to the fallback (the web UI's files).
//
// A request is routed in two steps, as its bytes arrive: Find, once its header is in, parses the
// target (once per request) and picks the route, so the session knows the body limit before it
// reads the body; Answer then runs the access rule and the handler. Handlers are synchronous and
// run on an I/O thread: they must be quick (anything heavy — a backtest, a large import — goes to
// the worker pool and the handler answers 202).
//
// Thread-safety: routes and settings are added before the server starts; Find, Answer, Dispatch,
// RouteOf and Routes may then run on any thread.
#pragma once

#include <boost/beast/http.hpp>
#include <boost/url/url_view.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace tapedeck::server {

namespace http = boost::beast::http;

using HttpRequest = http::request<http::string_body>;
using HttpResponse = http::response<http::string_body>;

class Access;
class Takeover;

// Which of the server's body limits caps a route's request body. Unrouted requests get kJson.
enum class BodyLimit {
  kJson,    // Settings::json_body_limit: every request but uploads
  kUpload,  // Settings::body_limit: CSV uploads (POST /datasets)
};

// Who may call a route, when access control is on (see SetAccess; off, everyone may).
enum class AccessRule {
  kPublic,  // anyone: /healthz (for probes) and the web UI's files (the page must load to ask
            // for a token)
  kBearer,  // `Authorization: Bearer <token>`: the REST API and /metrics
  // ?ticket= from POST /backtests/{id}/ticket for the route's run {id}, or the bearer header: the
  // playback streams, whose browser APIs cannot set a header. REQUIRES: the pattern has {id}.
  kTicketOrBearer,
};

struct RouteOptions {
  BodyLimit body = BodyLimit::kJson;
  AccessRule access = AccessRule::kBearer;
};

struct Request {
  const HttpRequest& http;
  boost::urls::url_view url;  // the target, parsed once (Router::Find): path and query
  std::map<std::string, std::string> path_params = {};  // "{id}" -> value, percent-decoded
  std::string remote;  // peer address, for logs and limits
  // Who per-client limits count this request against: the token ("token:N", see Access) when
  // access control is on, else the peer address.
  std::string client;
  // Stream routes only (Router::AddStream). The connection, for the handler to take over; nullptr
  // when the request came without one (tests).
  Takeover* takeover = nullptr;
  // Stream routes only: why the route's access rule refuses this request, if it does. The handler
  // must refuse it then, in its own way (a WebSocket after the upgrade).
  std::optional<Error> denied = std::nullopt;

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
    RouteOptions options;
    bool stream;  // added by AddStream
  };

  class Match;

  // REQUIRES: called before the server starts. Pattern segments in braces capture one segment.
  // A GET route also answers HEAD (same status and headers, no body) unless a HEAD route exists.
  void Add(http::verb method, std::string pattern, Handler handler, RouteOptions options = {});

  // A GET route whose handler may take the connection over (Request::takeover): the playback
  // streams. Unlike Add's: it alone answers WebSocket upgrades (an upgrade anywhere else is
  // NOT_FOUND); HEAD is not answered (405); and a request its access rule refuses still reaches
  // the handler, with the refusal in Request::denied, because a browser learns nothing from a
  // refused upgrade and the WebSocket must tell it after. A handler that takes the connection
  // over returns the response it gave over it (101, 200) for the metrics; it is not written.
  void AddStream(std::string pattern, Handler handler, RouteOptions options);

  // Answers GET and HEAD requests that match no route, whatever access control says (the web UI's
  // files). Without a fallback they are NOT_FOUND.
  void SetFallback(Handler handler);
  // Paths that are the web UI's pages as well as routes (`/sweeps`): a browser's navigation to
  // one — a GET or HEAD whose Accept names text/html, no upgrade — goes to the fallback (the page)
  // instead of the route, answered with `Vary: Accept`. `is_page` takes the decoded segments.
  void SetPages(std::function<bool(const std::vector<std::string>&)> is_page);
  // The access control the routes' rules are checked against; nullptr (the default) lets every
  // request through, as access control off does.
  void SetAccess(std::shared_ptr<const Access> access);
  // Origins (besides the server's own) whose pages may read answers (CORS) and send preflights.
  void SetAllowedOrigins(std::vector<std::string> origins);

  // What a request's header asks for. Parses the target; reads nothing but the method, target
  // and headers. The Match holds a view of the request's target: it is valid while the request
  // lives and its target is unchanged.
  Match Find(const HttpRequest& header) const;

  // The answer to the request `match` was found for (by Find, from this request's header), now
  // that its body is in. `client`: Request::client when access control does not name one (empty:
  // `remote`). `takeover`: for stream routes, the connection (see AddStream).
  //  - A target that is not a valid origin-form URL: VALIDATION (400).
  //  - A WebSocket upgrade to anything but a stream route: NOT_FOUND (404).
  //  - An OPTIONS from an allowed origin (a CORS preflight): 204 with the Access-Control headers.
  //  - No route for the path: the fallback for GET and HEAD, else NOT_FOUND (404).
  //  - A route for the path: its access rule first (but for OPTIONS, which browsers send without
  //    credentials): UNAUTHORIZED (401) when it refuses; then the handler, or, when no route
  //    of the path takes the method, 405 with an Allow header.
  // Errors carry the JSON error body. Every answer but the first two gets the CORS headers
  // (`Vary: Origin` when origins are allowed; Access-Control-Allow-Origin for an allowed Origin),
  // and an answer to HEAD has no body.
  HttpResponse Answer(const Match& match, const HttpRequest& request, const std::string& remote,
                      const std::string& client = {}, Takeover* takeover = nullptr) const;

  // Find, then Answer: for a request that is whole already (tests, fuzzing).
  HttpResponse Dispatch(const HttpRequest& request, const std::string& remote,
                        const std::string& client = {}) const;

  // The pattern of the first route whose path matches `target` (an undecoded request target,
  // query allowed), whatever its method; nullopt when none does.
  std::optional<std::string> RouteOf(std::string_view target) const;

  // Every route, in the order added.
  std::vector<RouteInfo> Routes() const;

 private:
  struct Route {
    http::verb method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
    RouteOptions options;
    bool stream;
  };

  // Who the request counts as under `rule` ("" when access control does not say), or why not.
  Result<std::string> Check(AccessRule rule, const Request& req) const;
  HttpResponse MethodNotAllowed(const HttpRequest& request, const Match& match) const;
  void AddCors(const HttpRequest& request, HttpResponse& response) const;

  std::vector<Route> routes_;
  Handler fallback_;
  std::function<bool(const std::vector<std::string>&)> is_page_;
  std::shared_ptr<const Access> access_;
  std::vector<std::string> allowed_origins_;
};

class Router::Match {
 public:
  // The body limit of the request's route.
  BodyLimit body_limit() const {
    return kind_ == Kind::kRoute ? route_->options.body : BodyLimit::kJson;
  }
  // How metrics label the request: the route's pattern ("/backtests/{id}"), never the raw path,
  // so the number of series stays bounded; else "static" (the fallback), "preflight",
  // "unmatched" or "malformed". Valid while the Router lives.
  std::string_view label() const;

 private:
  friend class Router;
  enum class Kind {
    kMalformed,         // the target does not parse
    kNoWebSocket,       // an upgrade to a route that takes none
    kPreflight,         // OPTIONS from an allowed origin
    kRoute,             // route_ takes the method
    kMethodNotAllowed,  // routes match the path (route_ is the first) but none takes the method
    kFallback,          // GET or HEAD, no route
    kNotFound,          // no route, no fallback for the method
  };
  Kind kind_ = Kind::kMalformed;
  const Route* route_ = nullptr;
  bool upgrade_ = false;  // a WebSocket upgrade
  bool page_ = false;     // a browser's navigation to a page that is a route too (SetPages)
  boost::urls::url_view url_;
  std::vector<std::string> segments_;  // the decoded path
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
