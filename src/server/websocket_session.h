// Internal: one playback connection over WebSocket (GET /backtests/{id}/ws).
//
// Beast answers the upgrade (its checks, the 101); from then on the connection speaks RFC 6455
// itself on the plain socket, because fan-out is the server's hot path: a frame is one send of the
// lane's shared wire bytes (header, head and tail built once for the streams in step: WireCache),
// or else one sendmsg of [2-4 header bytes, the shared frame head, the per-connection tail],
// straight from Drive, with no composed operation, completion handler or strand hop when the
// socket takes it all (it nearly always does); only a socket that is full waits for writability. Control frames (pong, ping,
// close) go through the same queue, after the frame being written, so nothing interleaves.
//
// What it holds per connection, past the StreamSession: the socket, a 256-byte read buffer, the
// bytes of a client frame not yet complete and of a fragmented message (empty between messages),
// the control frames waiting behind a frame, the one timer for pings, idle and close timeouts.
#pragma once

#include <array>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "server/stream_session.h"

namespace tapedeck::server {

class WebSocketSession final : public StreamSession {
 public:
  // Takes over an upgraded connection. `session` is the playback session, or the error to send
  // (as {"t":"err"}) before closing.
  static void Start(tcp::socket socket, HttpRequest upgrade, Shared& shared, ConnectionSlot slot,
                    std::string run_id, Result<playback::Session> session);

  // `socket` runs on `pacer`'s strand.
  WebSocketSession(tcp::socket socket, Pacer& pacer, Shared& shared, ConnectionSlot slot,
                   std::string run_id, std::optional<playback::Session> session,
                   std::optional<Error> error);

 private:
  using CloseCode = boost::beast::websocket::close_code;

  void OnAccept(const boost::system::error_code& ec);

  // Reading: client frames, reassembled into messages.
  void DoRead();
  void OnRead(const boost::system::error_code& ec, size_t bytes);
  // Consumes the complete frames at the front of in_; false when the connection is over.
  bool ParseFrames();
  void OnControl(uint8_t opcode, std::string_view payload);
  void HandleMessage(std::string_view text, bool binary);
  // Token bucket: false when the message is over the control-rate limit.
  bool TakeToken();

  // One timer: pings (every ping_interval, and half an idle timeout after the last byte read),
  // the idle timeout, and the close handshake's timeout once a close was sent.
  void ArmKeepAlive();
  void OnKeepAlive(const boost::system::error_code& ec);

  // Writing.
  void StartWrite(const playback::Outgoing& message) override;
  void WriteMessage(const playback::Outgoing& message, bool from_session);
  // A frame started in a pacer's pass goes out when the pass ends (Pacer::DeferWrite).
  void OnPassEnd() override;
  void OnPassWritten() override;
  void QueueControl(uint8_t opcode, std::string_view payload);
  void QueueClose(CloseCode code);
  // Writes what is queued, in order, until done or the socket is full.
  void Flush();
  void FailProtocol(CloseCode code);

  void CloseGracefully() override;
  void Abort() override;
  void OnShutdown() override;
  void Close(CloseCode code);
  // Closes the socket (once); the connection is over.
  void Teardown();

  std::optional<boost::beast::websocket::stream<boost::beast::tcp_stream>> handshake_;
  tcp::socket socket_;
  HttpRequest upgrade_;
  std::optional<Error> open_error_;  // sent instead of playing, then close
  playback::Outgoing own_;           // a message of this connection's own (the open error)

  // Reading.
  std::array<char, 256> read_buf_{};
  std::string in_;       // received bytes of a frame not yet complete
  std::string message_;  // a fragmented message's payload so far
  bool in_message_ = false, message_binary_ = false;
  std::chrono::steady_clock::time_point last_read_at_{};

  // Writing: ctrl_now_, then the message (header_ + its parts), then ctrl_later_.
  std::string ctrl_now_;
  size_t ctrl_now_done_ = 0;
  const playback::Outgoing* message_out_ = nullptr;
  bool message_from_session_ = false;
  std::array<char, 10> header_{};
  uint8_t header_size_ = 0;
  std::shared_ptr<const std::string> wire_;  // the message as the lane's shared bytes, if it is
  size_t message_size_ = 0, message_done_ = 0;
  std::string ctrl_later_;  // queued while a message was partly written
  bool flushing_ = false, waiting_writable_ = false;
  bool deferred_ = false;  // the message waits for the end of the pacer's pass
  bool in_pass_write_ = false;  // written at a pass's end: its WriteDone waits (OnPassWritten)
  std::optional<size_t> done_bytes_;  // a message written whose WriteDone waits

  // Closing.
  bool close_sent_ = false, close_received_ = false, torn_down_ = false;
  CloseCode open_error_close_ = CloseCode::normal;

  // Keep-alive.
  net::steady_timer keepalive_timer_;
  std::chrono::steady_clock::time_point next_ping_at_{}, last_ping_at_{}, close_sent_at_{};

  // Control-message rate limit.
  double tokens_ = 0;
  std::chrono::steady_clock::time_point tokens_at_;
  uint64_t over_limit_ = 0;  // messages refused since the bucket last had tokens
  std::chrono::steady_clock::time_point limit_reported_at_{};  // last RATE_LIMITED sent
};

}  // namespace tapedeck::server
