#include "server/router.h"

#include <boost/url/parse.hpp>

#include "common/json_writer.h"

namespace tapedeck::server {
namespace {

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
bool Match(const std::vector<std::string>& route, const std::vector<std::string>& path,
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

}  // namespace

std::optional<std::string> Request::Query(std::string_view name) const {
  for (const auto param : url.params()) {
    if (param.key == name) return param.has_value ? param.value : std::string();
  }
  return std::nullopt;
}

void Router::Add(http::verb method, std::string pattern, Handler handler) {
  auto segments = SplitPattern(pattern);
  routes_.push_back({method, std::move(pattern), std::move(segments), std::move(handler)});
}

std::vector<Router::RouteInfo> Router::Routes() const {
  std::vector<RouteInfo> routes;
  routes.reserve(routes_.size());
  for (const auto& route : routes_) routes.push_back({route.method, route.pattern});
  return routes;
}

std::optional<std::string> Router::RouteOf(std::string_view target) const {
  const auto url = boost::urls::parse_origin_form(target);
  if (!url) return std::nullopt;
  const auto path = DecodedSegments(*url);
  for (const auto& route : routes_) {
    if (Match(route.segments, path, nullptr)) return route.pattern;
  }
  return std::nullopt;
}

HttpResponse Router::Dispatch(const HttpRequest& request, const std::string& remote,
                              const std::string& client) const {
  const auto url = boost::urls::parse_origin_form(request.target());
  if (!url) {
    return ErrorResponse(request, MakeError(ErrorCode::kValidation, "malformed request target",
                                            {{"field", "target"}}));
  }
  const auto path = DecodedSegments(*url);
  const http::verb method = request.method();

  const Route* found = nullptr;
  const Route* get_route = nullptr;
  std::vector<http::verb> allowed;
  for (const auto& route : routes_) {
    if (!Match(route.segments, path, nullptr)) continue;
    allowed.push_back(route.method);
    if (route.method == method && !found) found = &route;
    if (route.method == http::verb::get && !get_route) get_route = &route;
  }
  const bool head_as_get = !found && method == http::verb::head && get_route;
  if (head_as_get) found = get_route;

  if (!found) {
    if (allowed.empty()) {
      return ErrorResponse(request, MakeError(ErrorCode::kNotFound, "no such resource",
                                              {{"path", std::string(url->path())}}));
    }
    std::string allow;
    for (const auto verb : allowed) {
      if (!allow.empty()) allow += ", ";
      allow += http::to_string(verb);
      if (verb == http::verb::get) allow += ", HEAD";
    }
    auto res = JsonResponse(
        request, http::status::method_not_allowed,
        ErrorJson(MakeError(ErrorCode::kValidation,
                            std::string(request.method_string()) + " is not allowed here",
                            {{"field", "method"}, {"allow", allow}})));
    res.set(http::field::allow, allow);
    return res;
  }

  Request req{request, *url, {}, remote, client.empty() ? remote : client};
  Match(found->segments, path, &req.path_params);
  HttpResponse res = found->handler(req);
  if (head_as_get) {
    const auto size = res.body().size();
    res.body().clear();
    res.content_length(size);
  }
  return res;
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
