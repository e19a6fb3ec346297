#include "server/server_routes.h"

#include <boost/beast/websocket/rfc6455.hpp>
#include <fstream>

#include "common/json_writer.h"
#include "common/time.h"
#include "server/origin.h"
#include "server/playback_info.h"
#include "server/sse_session.h"
#include "server/websocket_session.h"

namespace tapedeck::server {
namespace {

namespace beast = boost::beast;

// Static files are the web UI's: small. Anything bigger is not ours to serve from memory.
constexpr uint64_t kMaxStaticFileBytes = 32u << 20;

std::optional<std::string_view> HeaderValue(const HttpRequest& request, http::field field) {
  const auto it = request.find(field);
  if (it == request.end()) return std::nullopt;
  return std::string_view(it->value());
}

HttpResponse Health(const Shared& shared, const Request& req) {
  const bool stopping = shared.registry.stopping();
  HttpResponse res =
      JsonResponse(req.http, stopping ? http::status::service_unavailable : http::status::ok,
                   stopping ? R"({"status":"stopping"})" : R"({"status":"ok"})");
  res.set(http::field::cache_control, "no-store");
  return res;
}

HttpResponse MetricsText(const Shared& shared, const Request& req) {
  HttpResponse res = TextResponse(req.http, http::status::ok, shared.metrics->Render(),
                                  "text/plain; version=0.0.4; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  return res;
}

// What a page passes as ?ticket= to open the run's WebSocket or SSE stream. The run is not looked
// up (the stream says RUN_NOT_FOUND for an unknown one).
HttpResponse IssueTicket(const Access& access, const Request& req) {
  const std::string& id = req.path_params.at("id");
  const auto ticket = access.Issue(id, Access::Clock::now());
  JsonWriter w;
  w.BeginObject().Key("ticket").String(ticket.value).Key("run").String(id);
  w.Key("expires").String(FormatIso(std::chrono::time_point_cast<Micros>(ticket.expires)));
  w.Key("expires_in").Number(std::chrono::duration<double>(access.ttl()).count()).EndObject();
  HttpResponse res = JsonResponse(req.http, http::status::ok, w.Take());
  res.set(http::field::cache_control, "no-store");
  return res;
}

HttpResponse ServeWebSocket(Shared& shared, const Request& req) {
  if (!beast::websocket::is_upgrade(req.http)) {
    return ErrorResponse(
        req.http, MakeError(ErrorCode::kValidation, "this endpoint takes a WebSocket upgrade",
                            {{"field", "Upgrade"}}));
  }
  const auto origin = HeaderValue(req.http, http::field::origin);
  const auto host = HeaderValue(req.http, http::field::host).value_or("");
  if (!OriginAllowed(origin, host, shared.settings.allow_origins)) {
    // Another site's page may not open streams with this browser's access.
    return ErrorResponse(req.http, MakeError(ErrorCode::kForbidden, "origin not allowed",
                                             {{"origin", std::string(*origin)}}));
  }
  HttpResponse answered{http::status::switching_protocols, req.http.version()};
  if (!req.takeover) return answered;
  // Refused credentials are told over the socket: a browser sees nothing of a refused upgrade.
  auto session = req.denied ? Result<playback::Session>(*req.denied)
                            : OpenPlayback(shared, req, playback::Channel::kWebSocket);
  std::string id = req.path_params.at("id");
  TakenConnection taken = req.takeover->Take();  // `req` is gone from here on
  LimitSendBuffer(taken.stream.socket());
  WebSocketSession::Start(taken.stream.release_socket(), std::move(taken.request), shared,
                          std::move(taken.slot), std::move(id), std::move(session));
  return answered;
}

// Errors are answered over HTTP, before any stream bytes: an EventSource stops retrying on a 401,
// 404 or 204 instead of looping.
HttpResponse ServeSse(Shared& shared, const Request& req) {
  if (req.denied) return ErrorResponse(req.http, *req.denied);
  auto session = OpenPlayback(shared, req, playback::Channel::kSse);
  if (!session) return ErrorResponse(req.http, session.error());
  if (session->nothing_more()) {
    HttpResponse res{http::status::no_content, req.http.version()};
    res.keep_alive(req.http.keep_alive());
    return res;
  }
  HttpResponse answered{http::status::ok, req.http.version()};
  if (!req.takeover) return answered;
  const auto cors =
      CorsOrigin(HeaderValue(req.http, http::field::origin), shared.settings.allow_origins);
  std::string id = req.path_params.at("id");
  TakenConnection taken = req.takeover->Take();  // `req` is gone from here on
  LimitSendBuffer(taken.stream.socket());
  SseSession::Start(std::move(taken.stream), shared, std::move(taken.slot), std::move(id),
                    std::move(*session), cors.value_or(""));
  return answered;
}

HttpResponse ServeStatic(const Shared& shared, const Request& req) {
  const HttpRequest& request = req.http;
  const auto file = shared.static_files.Resolve(request.target());
  if (!file) return ErrorResponse(request, file.error());
  if (file->size > kMaxStaticFileBytes) {
    return ErrorResponse(request, MakeError(ErrorCode::kNotFound, "no such file"));
  }
  HttpResponse response{http::status::ok, request.version()};
  response.keep_alive(request.keep_alive());
  // The UI's file names carry no content hash: always revalidate, cheaply, by ETag.
  response.set(http::field::cache_control, "no-cache");
  response.set(http::field::etag, file->etag);
  response.set("X-Content-Type-Options", "nosniff");
  response.set(http::field::content_type, file->content_type);
  const auto match = HeaderValue(request, http::field::if_none_match);
  if (match && *match == file->etag) {
    response.result(http::status::not_modified);
    return response;
  }
  if (request.method() == http::verb::head) {
    response.content_length(file->size);
    return response;
  }
  std::ifstream in(file->path, std::ios::binary);
  std::string body(file->size, '\0');
  if (!in.read(body.data(), static_cast<std::streamsize>(body.size()))) {
    return ErrorResponse(request, MakeError(ErrorCode::kIo, "could not read the file"));
  }
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

}  // namespace

void AddServerRoutes(Shared& shared) {
  Router& router = shared.router;
  Shared* s = &shared;
  router.Add(http::verb::get, "/healthz", [s](const Request& req) { return Health(*s, req); },
             {.access = AccessRule::kPublic});
  router.Add(http::verb::get, "/metrics", [s](const Request& req) { return MetricsText(*s, req); },
             {.access = AccessRule::kBearer});
  router.Add(http::verb::post, "/backtests/{id}/ticket",
             [s](const Request& req) { return IssueTicket(*s->access, req); },
             {.access = AccessRule::kBearer});
  router.Add(http::verb::get, "/playback", PlaybackInfoHandler(shared.settings),
             {.access = AccessRule::kBearer});
  router.AddStream("/backtests/{id}/ws",
                   [s](const Request& req) { return ServeWebSocket(*s, req); },
                   {.access = AccessRule::kTicketOrBearer});
  router.AddStream("/backtests/{id}/stream", [s](const Request& req) { return ServeSse(*s, req); },
                   {.access = AccessRule::kTicketOrBearer});
  router.SetFallback([s](const Request& req) { return ServeStatic(*s, req); });
  router.SetPages(IsUiPage);
  router.SetAllowedOrigins(shared.settings.allow_origins);
}

}  // namespace tapedeck::server
