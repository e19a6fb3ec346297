#include "server/http_session.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace tapedeck::server {

namespace beast = boost::beast;

HttpSession::HttpSession(tcp::socket socket, Shared& shared, ConnectionSlot slot)
    : stream_(std::move(socket)),
      executor_(stream_.get_executor()),
      shared_(shared),
      slot_(std::move(slot)) {
  remote_ = slot_.address();
  shared_.metrics->ConnectionOpened(ConnectionKind::kHttp);
}

HttpSession::~HttpSession() {
  shared_.registry.Remove(this);
  shared_.metrics->ConnectionClosed(ConnectionKind::kHttp);
}

void HttpSession::Start() {
  // Onto the connection's strand before touching anything, as every handler will run there.
  net::dispatch(executor_, [self = shared_from_this()] {
    self->shared_.registry.Add(self.get(), self);
    if (self->shared_.registry.stopping()) {
      self->Close();
      return;
    }
    self->DoRead();
  });
}

void HttpSession::Shutdown() {
  net::post(executor_, [self = shared_from_this()] {
    if (self->taken_) return;  // a stream session has the connection, and its own Shutdown
    self->shutting_down_ = true;
    // Waiting for a next request that may never come: close. A request being read or answered
    // finishes first, and the connection closes after its response.
    if (self->state_ == State::kIdle) self->Close();
  });
}

void HttpSession::DoRead() {
  state_ = State::kIdle;
  match_.reset();  // before the parser it views
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
  // The route decides the body's limit, so it is found now, before the body is read.
  match_.emplace(shared_.router.Find(request));
  const uint64_t limit = BodyLimitBytes();
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
  Handle();
}

uint64_t HttpSession::BodyLimitBytes() {
  // A body over the largest limit is refused while the header is read, before any route is found.
  if (!match_) match_.emplace(shared_.router.Find(parser_->get()));
  return match_->body_limit() == BodyLimit::kUpload ? shared_.settings.body_limit
                                                    : shared_.settings.json_body_limit;
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
    error = MakeError(ErrorCode::kValidation, "request body too large",
                      {{"field", "body"}, {"limit", std::to_string(BodyLimitBytes())}});
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

void HttpSession::Handle() {
  HttpResponse response = shared_.router.Answer(*match_, parser_->get(), remote_, {}, this);
  if (taken_) {
    shared_.metrics->RequestDone(match_->label(), response.result_int(),
                                 std::chrono::steady_clock::now() - started_);
    return;
  }
  Respond(std::move(response), match_->label());
}

TakenConnection HttpSession::Take() {
  taken_ = true;
  state_ = State::kDone;
  return {std::move(stream_), std::move(slot_), parser_->release()};
}

void HttpSession::Respond(HttpResponse response, std::string_view route) {
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
