#include "server/http_session.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/url/parse.hpp>
#include <fstream>

#include "server/origin.h"
#include "server/sse_session.h"
#include "server/websocket_session.h"

namespace tapedeck::server {

namespace beast = boost::beast;

namespace {

// Static files are the web UI's: small. Anything bigger is not ours to serve from memory.
constexpr uint64_t kMaxStaticFileBytes = 32u << 20;

std::optional<std::string_view> HeaderValue(const HttpRequest& request, http::field field) {
  const auto it = request.find(field);
  if (it == request.end()) return std::nullopt;
  return std::string_view(it->value());
}

// /backtests/{id}/ws and /backtests/{id}/stream: the endpoint ("ws" or "stream") and the id.
std::optional<std::pair<std::string, std::string>> StreamEndpoint(const boost::urls::url_view& url) {
  const auto segments = url.segments();
  if (segments.size() != 3) return std::nullopt;
  auto it = segments.begin();
  if (*it != "backtests") return std::nullopt;
  std::string id = *++it;
  std::string endpoint = *++it;
  if (id.empty() || (endpoint != "ws" && endpoint != "stream")) return std::nullopt;
  return std::pair{std::move(endpoint), std::move(id)};
}

bool IsUploadTarget(const HttpRequest& request) {
  return (request.method() == http::verb::post || request.method() == http::verb::put) &&
         request.target().starts_with("/datasets");
}

}  // namespace

HttpSession::HttpSession(tcp::socket socket, Shared& shared, Ticket ticket)
    : stream_(std::move(socket)), shared_(shared), ticket_(std::move(ticket)) {
  remote_ = ticket_.address();
  shared_.metrics->ConnectionOpened(ConnectionKind::kHttp);
}

HttpSession::~HttpSession() {
  shared_.registry.Remove(this);
  shared_.metrics->ConnectionClosed(ConnectionKind::kHttp);
}

void HttpSession::Start() {
  // Onto the connection's strand before touching anything, as every handler will run there.
  net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
    self->shared_.registry.Add(self.get(), self);
    if (self->shared_.registry.stopping()) {
      self->Close();
      return;
    }
    self->DoRead();
  });
}

void HttpSession::Shutdown() {
  net::post(stream_.get_executor(), [self = shared_from_this()] {
    self->shutting_down_ = true;
    // Waiting for a next request that may never come: close. A request being read or answered
    // finishes first, and the connection closes after its response.
    if (self->state_ == State::kIdle) self->Close();
  });
}

void HttpSession::DoRead() {
  state_ = State::kIdle;
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(shared_.settings.header_limit));
  // The largest limit until the target is known; OnReadHeader narrows it.
  parser_->body_limit(std::max(shared_.settings.body_limit, shared_.settings.json_body_limit));
  // Covers a slow header (slowloris) and an idle keep-alive connection alike.
  stream_.expires_after(shared_.settings.header_timeout);
  http::async_read_header(stream_, buffer_, *parser_,
                          [self = shared_from_this()](const boost::system::error_code& ec,
                                                      size_t) { self->OnReadHeader(ec); });
}

void HttpSession::OnReadHeader(const boost::system::error_code& ec) {
  if (ec) {
    RespondToBadRequest(ec);
    return;
  }
  state_ = State::kReadingBody;
  const HttpRequest& request = parser_->get();
  const uint64_t limit =
      IsUploadTarget(request) ? shared_.settings.body_limit : shared_.settings.json_body_limit;
  if (const auto length = parser_->content_length(); length && *length > limit) {
    RespondToBadRequest(http::error::body_limit);
    return;
  }
  parser_->body_limit(limit);
  if (parser_->is_done()) {
    OnRead({});
    return;
  }
  if (beast::iequals(request[http::field::expect], "100-continue")) {
    // curl and others wait for this before sending a large body.
    static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    net::async_write(stream_, net::buffer(kContinue),
                     [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                       if (ec) {
                         self->Close();
                         return;
                       }
                       self->ReadBody();
                     });
    return;
  }
  ReadBody();
}

void HttpSession::ReadBody() {
  stream_.expires_after(shared_.settings.body_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                     self->OnRead(ec);
                   });
}

void HttpSession::OnRead(const boost::system::error_code& ec) {
  if (ec) {
    RespondToBadRequest(ec);
    return;
  }
  stream_.expires_never();
  state_ = State::kBusy;
  started_ = std::chrono::steady_clock::now();
  Handle(parser_->release());
}

void HttpSession::RespondToBadRequest(const boost::system::error_code& ec) {
  if (ec == http::error::end_of_stream || IsNormalEnd(ec)) {
    Close();
    return;
  }
  HttpRequest request;
  if (parser_) request.version(parser_->get().version());
  Error error;
  http::status status = http::status::bad_request;
  if (ec == http::error::body_limit) {
    status = http::status::payload_too_large;
    const uint64_t limit = IsUploadTarget(parser_->get()) ? shared_.settings.body_limit
                                                          : shared_.settings.json_body_limit;
    error = MakeError(ErrorCode::kValidation, "request body too large",
                      {{"field", "body"}, {"limit", std::to_string(limit)}});
  } else if (ec == http::error::header_limit) {
    status = http::status::request_header_fields_too_large;
    error = MakeError(ErrorCode::kValidation, "request header too large",
                      {{"field", "header"},
                       {"limit", std::to_string(shared_.settings.header_limit)}});
  } else {
    error = MakeError(ErrorCode::kValidation, "malformed HTTP request",
                      {{"field", "request"}, {"reason", ec.message()}});
  }
  state_ = State::kBusy;
  started_ = std::chrono::steady_clock::now();
  shutting_down_ = true;  // the stream is out of step: close after answering
  HttpResponse response = JsonResponse(request, status, ErrorJson(error));
  response.keep_alive(false);
  Respond(std::move(response), "malformed");
}

void HttpSession::Handle(HttpRequest request) {
  const auto url = boost::urls::parse_origin_form(request.target());
  if (!url) {
    Respond(ErrorResponse(request, MakeError(ErrorCode::kValidation, "malformed request target",
                                             {{"field", "target"}})),
            "malformed");
    return;
  }
  if (HandleStream(request)) return;

  const std::string_view path = url->encoded_path();
  const bool get = request.method() == http::verb::get || request.method() == http::verb::head;
  const auto origin = HeaderValue(request, http::field::origin);
  const auto cors = CorsOrigin(origin, shared_.settings.allow_origins);
  const bool preflight = request.method() == http::verb::options && cors;
  const bool metrics = get && path == "/metrics";
  auto pattern = shared_.router.RouteOf(request.target());

  // The API and /metrics need the bearer token when access control is on; /healthz (for probes),
  // the web UI's files (the page must load to ask for a token) and preflights (browsers send them
  // without credentials) do not.
  std::string client = remote_;
  std::optional<Error> denied;
  if ((metrics || pattern) && request.method() != http::verb::options) {
    auto who = shared_.access->Authenticate(HeaderValue(request, http::field::authorization));
    if (!who) {
      denied = who.take_error();
    } else if (!who->empty()) {
      client = std::move(*who);
    }
  }

  HttpResponse response;
  std::string route;
  if (preflight) {
    // A CORS preflight from a listed origin.
    response = HttpResponse{http::status::no_content, request.version()};
    response.set(http::field::access_control_allow_methods, "GET, POST, DELETE, OPTIONS");
    response.set(http::field::access_control_allow_headers,
                 "Content-Type, Authorization, Last-Event-ID");
    response.set(http::field::access_control_max_age, "600");
    response.keep_alive(request.keep_alive());
    route = "preflight";
  } else if (get && path == "/healthz") {
    const bool stopping = shared_.registry.stopping();
    response = JsonResponse(request, stopping ? http::status::service_unavailable : http::status::ok,
                            stopping ? R"({"status":"stopping"})" : R"({"status":"ok"})");
    response.set(http::field::cache_control, "no-store");
    route = "/healthz";
  } else if (denied) {
    response = ErrorResponse(request, *denied);
    route = metrics ? "/metrics" : *pattern;
  } else if (metrics) {
    response = TextResponse(request, http::status::ok, shared_.metrics->Render(),
                            "text/plain; version=0.0.4; charset=utf-8");
    response.set(http::field::cache_control, "no-store");
    route = "/metrics";
  } else if (pattern) {
    response = shared_.router.Dispatch(request, remote_, client);
    route = std::move(*pattern);
  } else if (get) {
    response = HandleStatic(request);
    route = "static";
  } else {
    response = ErrorResponse(request, MakeError(ErrorCode::kNotFound, "no such resource",
                                                {{"path", std::string(url->path())}}));
    route = "unmatched";
  }
  AddCors(request, response);
  if (request.method() == http::verb::head && route != "static" && !response.body().empty()) {
    const auto size = response.body().size();
    response.body().clear();
    response.content_length(size);
  }
  Respond(std::move(response), std::move(route));
}

bool HttpSession::HandleStream(HttpRequest& request) {
  const auto url = boost::urls::parse_origin_form(request.target());
  const auto endpoint = StreamEndpoint(*url);
  const bool upgrade = beast::websocket::is_upgrade(request);
  if (!endpoint || request.method() != http::verb::get) {
    if (upgrade) {
      Respond(ErrorResponse(request, MakeError(ErrorCode::kNotFound, "no WebSocket here",
                                               {{"path", std::string(url->path())}})),
              "unmatched");
      return true;
    }
    return false;
  }
  const auto& [kind, id] = *endpoint;
  const std::string route = "/backtests/{id}/" + kind;
  Request req{request, *url, {{"id", id}}, remote_, remote_};

  if (kind == "ws") {
    if (!upgrade) {
      Respond(ErrorResponse(request, MakeError(ErrorCode::kValidation,
                                               "this endpoint takes a WebSocket upgrade",
                                               {{"field", "Upgrade"}})),
              route);
      return true;
    }
    const auto origin = HeaderValue(request, http::field::origin);
    const auto host = HeaderValue(request, http::field::host).value_or("");
    if (!OriginAllowed(origin, host, shared_.settings.allow_origins)) {
      // Another site's page may not open streams with this browser's access (issue 5).
      Respond(ErrorResponse(request, MakeError(ErrorCode::kForbidden, "origin not allowed",
                                               {{"origin", std::string(*origin)}})),
              route);
      return true;
    }
    // Refused credentials are told over the socket: a browser sees nothing of a refused upgrade.
    const Status allowed = CheckStreamAccess(req, id);
    auto session = allowed ? OpenPlayback(shared_, req, playback::Channel::kWebSocket)
                           : Result<playback::Session>(allowed.error());
    shared_.metrics->RequestDone(route, 101, std::chrono::steady_clock::now() - started_);
    LimitSendBuffer(stream_.socket());
    state_ = State::kDone;
    WebSocketSession::Start(stream_.release_socket(), std::move(request), shared_,
                            std::move(ticket_), id, std::move(session));
    return true;
  }

  // SSE. Errors are answered over HTTP, before any stream bytes: an EventSource stops retrying
  // on a 401, 404 or 204 instead of looping.
  const Status allowed = CheckStreamAccess(req, id);
  auto session = allowed ? OpenPlayback(shared_, req, playback::Channel::kSse)
                         : Result<playback::Session>(allowed.error());
  if (!session) {
    HttpResponse response = ErrorResponse(request, session.error());
    AddCors(request, response);
    Respond(std::move(response), route);
    return true;
  }
  if (session->nothing_more()) {
    HttpResponse response{http::status::no_content, request.version()};
    response.keep_alive(request.keep_alive());
    AddCors(request, response);
    Respond(std::move(response), route);
    return true;
  }
  const auto cors = CorsOrigin(HeaderValue(request, http::field::origin),
                               shared_.settings.allow_origins);
  shared_.metrics->RequestDone(route, 200, std::chrono::steady_clock::now() - started_);
  LimitSendBuffer(stream_.socket());
  state_ = State::kDone;
  SseSession::Start(std::move(stream_), shared_, std::move(ticket_), id, std::move(*session),
                    cors.value_or(""));
  return true;
}

Status HttpSession::CheckStreamAccess(const Request& req, const std::string& id) const {
  const Access& access = *shared_.access;
  if (!access.enabled()) return Ok();
  if (const auto ticket = req.Query("ticket"))
    return access.Verify(*ticket, id, Access::Clock::now());
  const auto authorization = HeaderValue(req.http, http::field::authorization);
  if (!authorization) {
    return MakeError(ErrorCode::kUnauthorized,
                     "a playback stream needs ?ticket= from POST /backtests/{id}/ticket",
                     {{"field", "ticket"}});
  }
  auto who = access.Authenticate(authorization);
  if (!who) return who.take_error();
  return Ok();
}

void HttpSession::AddCors(const HttpRequest& request, HttpResponse& response) const {
  const auto& allowed = shared_.settings.allow_origins;
  if (allowed.empty()) return;  // no answer depends on the Origin
  // Caches must not hand one origin's answer to another.
  response.set(http::field::vary, "Origin");
  const auto cors = CorsOrigin(HeaderValue(request, http::field::origin), allowed);
  if (!cors) return;
  response.set(http::field::access_control_allow_origin, *cors);
  // Beyond the CORS-safelisted headers, what a page needs to read from our answers.
  response.set(http::field::access_control_expose_headers,
               "Location, Retry-After, WWW-Authenticate");
}

HttpResponse HttpSession::HandleStatic(const HttpRequest& request) {
  const auto file = shared_.static_files.Resolve(request.target());
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

void HttpSession::Respond(HttpResponse response, std::string route) {
  response.set(http::field::server, "tapedeck");
  if (shutting_down_) response.keep_alive(false);
  shared_.metrics->RequestDone(route, response.result_int(),
                               std::chrono::steady_clock::now() - started_);
  response_ = std::make_shared<HttpResponse>(std::move(response));
  state_ = State::kBusy;
  // A client that does not read its response must not hold the connection for ever.
  stream_.expires_after(shared_.settings.write_timeout);
  http::async_write(stream_, *response_,
                    [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                      const bool keep_alive = self->response_->keep_alive();
                      self->response_.reset();
                      if (ec || !keep_alive || self->shutting_down_) {
                        self->Close();
                        return;
                      }
                      self->DoRead();
                    });
}

void HttpSession::Close() {
  state_ = State::kDone;
  boost::system::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream_.close();
}

}  // namespace tapedeck::server
