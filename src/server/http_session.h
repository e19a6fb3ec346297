// Internal: one HTTP connection. Reads requests one at a time (so pipelined requests are answered
// in order), answers /healthz, /metrics, static files and the Router's routes, and hands the
// connection over to a WebSocketSession or SseSession for the playback endpoints.
#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <memory>
#include <optional>

#include "server/connection.h"

namespace tapedeck::server {

class HttpSession final : public Connection, public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, Shared& shared, Ticket ticket);
  ~HttpSession() override;

  // Starts reading; call once.
  void Start();
  void Shutdown() override;

 private:
  enum class State { kIdle, kReadingBody, kBusy, kDone };

  void DoRead();
  void OnReadHeader(const boost::system::error_code& ec);
  void ReadBody();
  void OnRead(const boost::system::error_code& ec);
  void Handle(HttpRequest request);
  // Returns true when the connection was handed over to a stream session.
  bool HandleStream(HttpRequest& request);
  // Whether a stream request may open run `id`: always when access control is off, else with a
  // valid ?ticket= for this run or a valid bearer header. Errors: UNAUTHORIZED.
  Status CheckStreamAccess(const Request& req, const std::string& id) const;
  // CORS headers for a REST or SSE answer: `Vary: Origin` whenever --allow-origin is given, and
  // Access-Control-Allow-Origin (with the exposed headers) for a listed Origin.
  void AddCors(const HttpRequest& request, HttpResponse& response) const;
  HttpResponse HandleStatic(const HttpRequest& request);
  void Respond(HttpResponse response, std::string route);
  void RespondToBadRequest(const boost::system::error_code& ec);
  void Close();

  boost::beast::tcp_stream stream_;
  Shared& shared_;
  Ticket ticket_;
  std::string remote_;
  boost::beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<HttpResponse> response_;  // being written
  State state_ = State::kIdle;
  bool shutting_down_ = false;
  std::chrono::steady_clock::time_point started_;  // the request being answered was read
};

}  // namespace tapedeck::server
