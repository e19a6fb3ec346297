#include "server/sse_session.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/write.hpp>

namespace tapedeck::server {

namespace beast = boost::beast;

namespace {

// How long a closing stream waits for the client to close its side before closing anyway.
constexpr std::chrono::seconds kLinger{5};

}  // namespace

void SseSession::Start(beast::tcp_stream stream, Shared& shared, ConnectionSlot slot,
                       std::string run_id, playback::Session session, std::string cors_origin) {
  Pacer& pacer = shared.NextPacer();
  auto sse = std::make_shared<SseSession>(
      beast::tcp_stream(MoveToExecutor(stream.release_socket(), pacer.executor())), pacer, shared,
      std::move(slot), std::move(run_id), std::move(session));
  // The body has no length: it ends when the stream closes. Chunked encoding would only put
  // chunk sizes between events for clients that read the socket themselves.
  sse->header_ =
      "HTTP/1.1 200 OK\r\n"
      "Server: tapedeck\r\n"
      "Content-Type: text/event-stream\r\n"
      "Cache-Control: no-cache\r\n"
      "X-Accel-Buffering: no\r\n"
      "Connection: keep-alive\r\n";
  if (!cors_origin.empty()) {
    sse->header_ += "Access-Control-Allow-Origin: " + cors_origin + "\r\nVary: Origin\r\n";
  }
  sse->header_ += "\r\n";
  net::dispatch(sse->executor_, [sse] {
    sse->stream_.expires_never();  // our write deadline rules; a stream is long by nature
    sse->DoRead();
    sse->StartPlayback();
  });
}

SseSession::SseSession(beast::tcp_stream stream, Pacer& pacer, Shared& shared, ConnectionSlot slot,
                       std::string run_id, playback::Session session)
    : StreamSession(pacer, shared, ConnectionKind::kSse, std::move(slot), std::move(run_id),
                    std::move(session)),
      stream_(std::move(stream)),
      close_timer_(executor_) {}

// An EventSource never sends after its request; reading tells at once when it goes away.
void SseSession::DoRead() {
  stream_.socket().async_read_some(
      net::buffer(discard_), [self = self(), this](const boost::system::error_code& ec, size_t) {
        if (!ec) {
          DoRead();
          return;
        }
        closed_ = true;
        StopTimers();
        close_timer_.cancel();
        boost::system::error_code ignored;
        stream_.socket().close(ignored);
      });
}

void SseSession::StartWrite(const playback::Outgoing& message) {
  // A frame the lane's other streams send too is their one buffer (WireCache).
  if (header_.empty()) wire_ = pacer_.wire_cache().Get(message, Framing::kNone);
  if (wire_) {
    net::async_write(stream_.socket(), net::buffer(*wire_),
                     [self = self(), this](const boost::system::error_code& ec, size_t n) {
                       wire_.reset();
                       WriteDone(ec, n);
                     });
    return;
  }
  const std::array<net::const_buffer, 4> buffers = {
      net::buffer(header_), net::buffer(message.prefix),
      message.shared ? net::buffer(*message.shared) : net::const_buffer(),
      net::buffer(message.suffix)};
  net::async_write(stream_.socket(), buffers,
                   [self = self(), this](const boost::system::error_code& ec, size_t n) {
                     header_.clear();
                     WriteDone(ec, n);
                   });
}

void SseSession::CloseGracefully() {
  closed_ = true;
  StopTimers();
  // Send FIN after everything written, then wait (briefly) for the client to close: closing with
  // its bytes unread would reset the connection and could lose the last event.
  boost::system::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  close_timer_.expires_after(kLinger);
  close_timer_.async_wait([self = self(), this](const boost::system::error_code& ec) {
    if (ec) return;
    boost::system::error_code ignored;
    stream_.socket().close(ignored);
  });
}

void SseSession::Abort() {
  closed_ = true;
  close_timer_.cancel();
  boost::system::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.socket().close(ignored);
}

void SseSession::OnShutdown() {
  closed_ = true;
  StopTimers();
  last_ = std::make_shared<std::string>(
      header_ + playback::EncodeSseEvent("end", playback::EndJson()));
  header_.clear();
  // No write deadline here: the server's shutdown timeout bounds this write.
  net::async_write(stream_.socket(), net::buffer(*last_),
                   [self = self(), this](const boost::system::error_code& ec, size_t) {
                     if (ec) {
                       Abort();
                       return;
                     }
                     CloseGracefully();
                   });
}

}  // namespace tapedeck::server
