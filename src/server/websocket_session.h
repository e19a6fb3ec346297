// Internal: one playback connection over WebSocket (GET /backtests/{id}/ws).
#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "server/stream_session.h"

namespace tapedeck::server {

class WebSocketSession final : public StreamSession {
 public:
  // Takes over an upgraded connection. `session` is the playback session, or the error to send
  // (as {"t":"err"}) before closing.
  static void Start(tcp::socket socket, HttpRequest upgrade, Shared& shared, ConnectionSlot slot,
                    std::string run_id, Result<playback::Session> session);

  WebSocketSession(tcp::socket socket, Shared& shared, ConnectionSlot slot, std::string run_id,
                   std::optional<playback::Session> session, std::optional<Error> error);

 private:
  void OnAccept(const boost::system::error_code& ec);
  void DoRead();
  void OnRead(const boost::system::error_code& ec, size_t bytes);
  void HandleMessage();
  // Token bucket: false when the message is over the control-rate limit.
  bool TakeToken();
  void SchedulePing();
  void OnPingTimer(const boost::system::error_code& ec);

  void StartWrite(const playback::Outgoing& message) override;
  void CloseGracefully() override;
  void Abort() override;
  void OnShutdown() override;
  void Close(boost::beast::websocket::close_code code);

  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  boost::beast::flat_buffer buffer_;
  HttpRequest upgrade_;
  std::optional<Error> open_error_;  // sent instead of playing, then close
  net::steady_timer ping_timer_;
  bool ping_in_flight_ = false;
  bool close_started_ = false;

  // Control-message rate limit.
  double tokens_ = 0;
  std::chrono::steady_clock::time_point tokens_at_;
  uint64_t over_limit_ = 0;       // messages refused since the bucket last had tokens
  std::chrono::steady_clock::time_point limit_reported_at_{};  // last RATE_LIMITED sent
};

}  // namespace tapedeck::server
