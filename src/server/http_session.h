// Internal: one HTTP connection. Reads requests one at a time (so pipelined requests are answered
// in order) and writes the Router's answers, as Beast's advanced server does: what a request
// means is the Router's business. A stream route's handler may take the connection over
// (Takeover), to hand it to a WebSocketSession or SseSession.
#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string_view>

#include "server/connection.h"

namespace tapedeck::server {

class HttpSession final : public Connection,
                          public Takeover,
                          public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, Shared& shared, ConnectionSlot slot);
  ~HttpSession() override;

  // Starts reading; call once.
  void Start();
  void Shutdown() override;

  TakenConnection Take() override;
  bool taken() const override { return taken_; }

 private:
  enum class State { kIdle, kReadingBody, kBusy, kDone };

  void DoRead();
  void OnReadHeader(const boost::system::error_code& ec);
  void ReadBody();
  void OnRead(const boost::system::error_code& ec);
  void Handle();
  // The byte limit of the request's body, from its route (`match_`, else found now).
  uint64_t BodyLimitBytes();
  // `route`: the metrics label (Router::Match::label).
  void Respond(HttpResponse response, std::string_view route);
  void RespondToBadRequest(const boost::system::error_code& ec);
  void Close();

  boost::beast::tcp_stream stream_;
  const net::any_io_executor executor_;  // the connection's strand, kept after a takeover
  Shared& shared_;
  ConnectionSlot slot_;
  std::string remote_;
  boost::beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  // The route of the request in parser_, found once its header is in. Views the parser's target.
  std::optional<Router::Match> match_;
  std::shared_ptr<HttpResponse> response_;  // being written
  State state_ = State::kIdle;
  bool shutting_down_ = false;
  bool taken_ = false;                             // a stream handler took the connection over
  std::chrono::steady_clock::time_point started_;  // the request being answered was read
};

}  // namespace tapedeck::server
