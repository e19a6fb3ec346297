#include "server/router.h"

#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/url/parse.hpp>

#include "common/json_writer.h"
#include "server/access.h"
#include "server/connection.h"
#include "server/origin.h"

namespace tapedeck::server {
namespace {

namespace beast = boost::beast;

// RFC 6750: the scheme a client must answer a 401 with.
constexpr std::string_view kBearerChallenge = R"(Bearer realm="tapedeck")";

std::vector<std::string> SplitPattern(std::string_view pattern) {
  std::vector<std::string> segments;
  if (pattern.starts_with('/')) pattern.remove_prefix(1);
  if (pattern.empty()) return segments;
  size_t start = 0;
  while (true) {
    const size_t slash = pattern.find('/', start);
    segments.emplace_back(pattern.substr(start, slash == std::string_view::npos ? slash
                                                                                : slash - start));
    if (slash == std::string_view::npos) return segments;
    start = slash + 1;
  }
}

bool IsCapture(const std::string& segment) {
  return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

// Matches the decoded path segments against a route's; fills `params` on success.
bool MatchSegments(const std::vector<std::string>& route, const std::vector<std::string>& path,
                   std::map<std::string, std::string>* params) {
  if (route.size() != path.size()) return false;
  for (size_t i = 0; i < route.size(); ++i) {
    if (IsCapture(route[i])) {
      if (path[i].empty()) return false;  // "/backtests//trades" names no run
      if (params) (*params)[route[i].substr(1, route[i].size() - 2)] = path[i];
    } else if (route[i] != path[i]) {
      return false;
    }
  }
  return true;
}

std::vector<std::string> DecodedSegments(const boost::urls::url_view& url) {
  std::vector<std::string> segments;
  for (const auto segment : url.segments()) segments.push_back(segment);
  return segments;
}

std::optional<std::string_view> HeaderValue(const HttpRequest& request, http::field field) {
  const auto it = request.find(field);
  if (it == request.end()) return std::nullopt;
  return std::string_view(it->value());
}

}  // namespace

std::optional<std::string> Request::Query(std::string_view name) const {
  for (const auto param : url.params()) {
    if (param.key == name) return param.has_value ? param.value : std::string();
  }
  return std::nullopt;
}

void Router::Add(http::verb method, std::string pattern, Handler handler, RouteOptions options) {
  auto segments = SplitPattern(pattern);
  routes_.push_back({method, std::move(pattern), std::move(segments), std::move(handler), options,
                     /*stream=*/false});
}

void Router::AddStream(std::string pattern, Handler handler, RouteOptions options) {
  auto segments = SplitPattern(pattern);
  routes_.push_back({http::verb::get, std::move(pattern), std::move(segments), std::move(handler),
                     options, /*stream=*/true});
}

void Router::SetFallback(Handler handler) { fallback_ = std::move(handler); }

void Router::SetPages(std::function<bool(const std::vector<std::string>&)> is_page) {
  is_page_ = std::move(is_page);
}

void Router::SetAccess(std::shared_ptr<const Access> access) { access_ = std::move(access); }

void Router::SetAllowedOrigins(std::vector<std::string> origins) {
  allowed_origins_ = std::move(origins);
}

std::vector<Router::RouteInfo> Router::Routes() const {
  std::vector<RouteInfo> routes;
  routes.reserve(routes_.size());
  for (const auto& route : routes_) {
    routes.push_back({route.method, route.pattern, route.options, route.stream});
  }
  return routes;
}

std::optional<std::string> Router::RouteOf(std::string_view target) const {
  const auto url = boost::urls::parse_origin_form(target);
  if (!url) return std::nullopt;
  const auto path = DecodedSegments(*url);
  for (const auto& route : routes_) {
    if (MatchSegments(route.segments, path, nullptr)) return route.pattern;
  }
  return std::nullopt;
}

std::string_view Router::Match::label() const {
  switch (kind_) {
    case Kind::kRoute:
    case Kind::kMethodNotAllowed:
      return route_->pattern;
    case Kind::kFallback:
      return "static";
    case Kind::kPreflight:
      return "preflight";
    case Kind::kNoWebSocket:
    case Kind::kNotFound:
      return "unmatched";
    case Kind::kMalformed:
      break;
  }
  return "malformed";
}

Router::Match Router::Find(const HttpRequest& header) const {
  Match match;
  const auto url = boost::urls::parse_origin_form(header.target());
  if (!url) return match;  // kMalformed
  match.url_ = *url;
  match.segments_ = DecodedSegments(*url);
  const http::verb method = header.method();

  using Kind = Match::Kind;
  if (is_page_ && fallback_ && (method == http::verb::get || method == http::verb::head) &&
      !beast::websocket::is_upgrade(header) &&
      HeaderValue(header, http::field::accept).value_or("").find("text/html") !=
          std::string_view::npos &&
      is_page_(match.segments_)) {
    match.kind_ = Kind::kFallback;
    match.page_ = true;
    return match;
  }

  const Route* found = nullptr;
  const Route* get_route = nullptr;
  const Route* first = nullptr;
  for (const auto& route : routes_) {
    if (!MatchSegments(route.segments, match.segments_, nullptr)) continue;
    if (!first) first = &route;
    if (route.method == method && !found) found = &route;
    if (route.method == http::verb::get && !route.stream && !get_route) get_route = &route;
  }
  // A HEAD is answered by the GET route (Answer drops the body).
  if (!found && method == http::verb::head) found = get_route;

  match.upgrade_ = beast::websocket::is_upgrade(header);
  if (match.upgrade_ && !(found && found->stream)) {
    match.kind_ = Kind::kNoWebSocket;
  } else if (method == http::verb::options &&
             CorsOrigin(HeaderValue(header, http::field::origin), allowed_origins_)) {
    match.kind_ = Kind::kPreflight;
  } else if (found) {
    match.kind_ = Kind::kRoute;
    match.route_ = found;
  } else if (first) {
    match.kind_ = Kind::kMethodNotAllowed;
    match.route_ = first;
  } else if (fallback_ && (method == http::verb::get || method == http::verb::head)) {
    match.kind_ = Kind::kFallback;
  } else {
    match.kind_ = Kind::kNotFound;
  }
  return match;
}

Result<std::string> Router::Check(AccessRule rule, const Request& req) const {
  if (rule == AccessRule::kPublic || !access_) return std::string();
  const auto authorization = HeaderValue(req.http, http::field::authorization);
  if (rule == AccessRule::kBearer || !access_->enabled()) {
    return access_->Authenticate(authorization);
  }
  // kTicketOrBearer.
  if (const auto ticket = req.Query("ticket")) {
    const auto id = req.path_params.find("id");
    Status valid = access_->Verify(*ticket, id == req.path_params.end() ? "" : id->second,
                                   Access::Clock::now());
    if (!valid) return valid.take_error();
    return std::string();
  }
  if (!authorization) {
    return MakeError(ErrorCode::kUnauthorized,
                     "a playback stream needs ?ticket= from POST /backtests/{id}/ticket",
                     {{"field", "ticket"}});
  }
  return access_->Authenticate(authorization);
}

void Router::AddCors(const HttpRequest& request, HttpResponse& response) const {
  if (allowed_origins_.empty()) return;  // no answer depends on the Origin
  // Caches must not hand one origin's answer to another.
  response.set(http::field::vary, "Origin");
  const auto cors = CorsOrigin(HeaderValue(request, http::field::origin), allowed_origins_);
  if (!cors) return;
  response.set(http::field::access_control_allow_origin, *cors);
  // Beyond the CORS-safelisted headers, what a page needs to read from our answers.
  response.set(http::field::access_control_expose_headers,
               "Location, Retry-After, WWW-Authenticate");
}

HttpResponse Router::Answer(const Match& match, const HttpRequest& request,
                            const std::string& remote, const std::string& client,
                            Takeover* takeover) const {
  using Kind = Match::Kind;
  switch (match.kind_) {
    case Kind::kMalformed:
      return ErrorResponse(request, MakeError(ErrorCode::kValidation, "malformed request target",
                                              {{"field", "target"}}));
    case Kind::kNoWebSocket:
      return ErrorResponse(request, MakeError(ErrorCode::kNotFound, "no WebSocket here",
                                              {{"path", std::string(match.url_.path())}}));
    default:
      break;
  }

  const http::verb method = request.method();
  HttpResponse res;
  if (match.kind_ == Kind::kPreflight) {
    res = HttpResponse{http::status::no_content, request.version()};
    res.set(http::field::access_control_allow_methods, "GET, POST, DELETE, OPTIONS");
    res.set(http::field::access_control_allow_headers,
            "Content-Type, Authorization, Last-Event-ID");
    res.set(http::field::access_control_max_age, "600");
    res.keep_alive(request.keep_alive());
  } else if (match.kind_ == Kind::kNotFound) {
    res = ErrorResponse(request, MakeError(ErrorCode::kNotFound, "no such resource",
                                           {{"path", std::string(match.url_.path())}}));
  } else if (match.kind_ == Kind::kFallback) {
    res = fallback_(Request{.http = request,
                            .url = match.url_,
                            .remote = remote,
                            .client = client.empty() ? remote : client});
  } else {
    const Route& route = *match.route_;
    Request req{.http = request,
                .url = match.url_,
                .remote = remote,
                .client = client.empty() ? remote : client};
    MatchSegments(route.segments, match.segments_, &req.path_params);
    // Browsers send preflights without credentials; any other OPTIONS only learns the Allow list.
    if (method != http::verb::options) {
      auto who = Check(route.options.access, req);
      if (!who) {
        req.denied = who.take_error();
      } else if (!who->empty()) {
        req.client = std::move(*who);
      }
    }
    if (match.kind_ == Kind::kMethodNotAllowed) {
      res = req.denied ? ErrorResponse(request, *req.denied) : MethodNotAllowed(request, match);
    } else if (req.denied && !route.stream) {
      res = ErrorResponse(request, *req.denied);
    } else {
      if (route.stream) req.takeover = takeover;
      res = route.handler(req);
      // The connection is the handler's now: `request` may be gone.
      if (takeover && takeover->taken()) return res;
    }
  }
  // A WebSocket's answer is read by no page: CORS is for fetch and EventSource.
  if (!match.upgrade_) AddCors(request, res);
  if (match.page_) {
    // The same address answers JSON to the API's callers: caches must tell the two apart.
    const std::string vary(res[http::field::vary]);
    res.set(http::field::vary, vary.empty() ? "Accept" : vary + ", Accept");
  }
  if (method == http::verb::head && !res.body().empty()) {
    const auto size = res.body().size();
    res.body().clear();
    res.content_length(size);
  }
  return res;
}

HttpResponse Router::MethodNotAllowed(const HttpRequest& request, const Match& match) const {
  std::string allow;
  for (const auto& route : routes_) {
    if (!MatchSegments(route.segments, match.segments_, nullptr)) continue;
    if (!allow.empty()) allow += ", ";
    allow += http::to_string(route.method);
    if (route.method == http::verb::get && !route.stream) allow += ", HEAD";
  }
  auto res = JsonResponse(
      request, http::status::method_not_allowed,
      ErrorJson(MakeError(ErrorCode::kValidation,
                          std::string(request.method_string()) + " is not allowed here",
                          {{"field", "method"}, {"allow", allow}})));
  res.set(http::field::allow, allow);
  return res;
}

HttpResponse Router::Dispatch(const HttpRequest& request, const std::string& remote,
                              const std::string& client) const {
  return Answer(Find(request), request, remote, client);
}

std::string ErrorJson(const Error& error) {
  JsonWriter w;
  w.BeginObject().Key("code").String(Name(error.code)).Key("msg").String(error.msg);
  w.Key("details").BeginObject();
  for (const auto& [k, v] : error.details) w.Key(k).String(v);
  w.EndObject().EndObject();
  return w.Take();
}

HttpResponse TextResponse(const HttpRequest& request, http::status status, std::string body,
                          std::string_view content_type) {
  HttpResponse res{status, request.version()};
  res.set(http::field::content_type, content_type);
  res.keep_alive(request.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

HttpResponse JsonResponse(const HttpRequest& request, http::status status, std::string body) {
  return TextResponse(request, status, std::move(body), "application/json");
}

HttpResponse ErrorResponse(const HttpRequest& request, const Error& error) {
  HttpResponse res =
      JsonResponse(request, static_cast<http::status>(HttpStatus(error.code)), ErrorJson(error));
  if (error.code == ErrorCode::kUnauthorized) {
    res.set(http::field::www_authenticate, kBearerChallenge);
  } else if (error.code == ErrorCode::kRateLimited || error.code == ErrorCode::kUnavailable) {
    const auto after = error.details.find("retry_after");
    res.set(http::field::retry_after, after == error.details.end() ? "1" : after->second);
  }
  return res;
}

}  // namespace tapedeck::server
