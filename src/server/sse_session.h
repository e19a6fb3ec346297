// Internal: one playback connection over Server-Sent Events (GET /backtests/{id}/stream).
#pragma once

#include <array>
#include <boost/beast/core/tcp_stream.hpp>

#include "server/stream_session.h"

namespace tapedeck::server {

class SseSession final : public StreamSession {
 public:
  // Takes over the connection of a stream request whose playback session opened (errors and the
  // 204 of a finished resume were answered over HTTP). `cors_origin`: the Origin to allow, if any.
  static void Start(boost::beast::tcp_stream stream, Shared& shared, ConnectionSlot slot,
                    std::string run_id, playback::Session session, std::string cors_origin);

  // `stream` runs on `pacer`'s strand.
  SseSession(boost::beast::tcp_stream stream, Pacer& pacer, Shared& shared, ConnectionSlot slot,
             std::string run_id, playback::Session session);

 private:
  void DoRead();
  void StartWrite(const playback::Outgoing& message) override;
  void CloseGracefully() override;
  void Abort() override;
  void OnShutdown() override;

  boost::beast::tcp_stream stream_;
  std::string header_;  // the response header, sent with the first message
  std::shared_ptr<const std::string> wire_;  // the message in flight as the lane's shared bytes
  std::array<char, 512> discard_{};
  net::steady_timer close_timer_;
  std::shared_ptr<std::string> last_;  // the final `end` written on shutdown
};

}  // namespace tapedeck::server
