#include "server/websocket_session.h"

#include <boost/asio/dispatch.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket/error.hpp>

namespace tapedeck::server {

namespace beast = boost::beast;
namespace websocket = beast::websocket;

namespace {

// Messages a client may send past the limit before the connection is closed: a client that keeps
// flooding after being told is not a browser with a sticky key.
constexpr double kFloodMessagesPerBurst = 2;

}  // namespace

void WebSocketSession::Start(tcp::socket socket, HttpRequest upgrade, Shared& shared,
                             ConnectionSlot slot, std::string run_id,
                             Result<playback::Session> session) {
  std::optional<playback::Session> playing;
  std::optional<Error> error;
  if (session) {
    playing.emplace(std::move(*session));
  } else {
    error = session.error();
  }
  auto ws =
      std::make_shared<WebSocketSession>(std::move(socket), shared, std::move(slot),
                                         std::move(run_id), std::move(playing), std::move(error));
  ws->upgrade_ = std::move(upgrade);
  net::dispatch(ws->executor_, [ws] {
    const Settings& s = ws->shared_.settings;
    beast::get_lowest_layer(ws->ws_).expires_never();  // the websocket's own timeouts rule now
    websocket::stream_base::timeout timeout;
    timeout.handshake_timeout = s.handshake_timeout;
    timeout.idle_timeout = s.idle_timeout;
    timeout.keep_alive_pings = true;
    ws->ws_.set_option(timeout);
    ws->ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
      res.set(http::field::server, "tapedeck");
    }));
    // DESIGN: one message per text frame.
    ws->ws_.auto_fragment(false);
    // Messages over the limit get VALIDATION and the connection stays open; only far larger ones
    // (which must be buffered to be answered) make Beast fail the read and close.
    ws->ws_.read_message_max(std::max<size_t>(s.max_ws_message * 16, 64 * 1024));
    ws->ws_.async_accept(ws->upgrade_, [ws](const boost::system::error_code& ec) {
      ws->OnAccept(ec);
    });
  });
}

WebSocketSession::WebSocketSession(tcp::socket socket, Shared& shared, ConnectionSlot slot,
                                   std::string run_id, std::optional<playback::Session> session,
                                   std::optional<Error> error)
    : StreamSession(socket.get_executor(), shared, ConnectionKind::kWebSocket, std::move(slot),
                    std::move(run_id), std::move(session)),
      ws_(std::move(socket)),
      open_error_(std::move(error)),
      ping_timer_(executor_) {
  tokens_ = 2 * shared_.settings.control_rate;
  tokens_at_ = std::chrono::steady_clock::now();
}

void WebSocketSession::OnAccept(const boost::system::error_code& ec) {
  upgrade_ = {};
  if (ec) {
    if (!IsNormalEnd(ec)) Log("websocket handshake failed: %s", ec.message().c_str());
    closed_ = true;
    return;
  }
  DoRead();
  SchedulePing();
  if (open_error_) {
    // No playback: say why, then close. Nothing else is written meanwhile.
    closed_ = true;
    auto text = std::make_shared<std::string>(playback::EncodeErrorJson(*open_error_));
    // Refused credentials close as a policy violation (1008), for clients that read close codes.
    const auto code = open_error_->code == ErrorCode::kUnauthorized
                          ? websocket::close_code::policy_error
                          : websocket::close_code::normal;
    ws_.text(true);
    ws_.async_write(net::buffer(*text),
                    [self = self(), this, text, code](const boost::system::error_code& ec, size_t) {
                      if (ec) return;
                      Close(code);
                    });
    return;
  }
  StartPlayback();
}

void WebSocketSession::DoRead() {
  ws_.async_read(buffer_, [self = self(), this](const boost::system::error_code& ec, size_t n) {
    OnRead(ec, n);
  });
}

void WebSocketSession::OnRead(const boost::system::error_code& ec, size_t) {
  if (ec) {
    // The peer closed, went silent past the idle timeout, or sent a message past the hard cap
    // (Beast has sent the close frame for those). Either way the connection is over.
    if (!IsNormalEnd(ec) && ec != websocket::error::message_too_big) {
      Log("websocket read failed: %s", ec.message().c_str());
    }
    closed_ = true;
    StopTimers();
    ping_timer_.cancel();
    return;
  }
  HandleMessage();
  buffer_.consume(buffer_.size());
  Drive();
  DoRead();
}

void WebSocketSession::HandleMessage() {
  if (!session_ || closed_) return;
  const Settings& s = shared_.settings;
  if (!TakeToken()) {
    const auto now = std::chrono::steady_clock::now();
    const bool flood = over_limit_ > kFloodMessagesPerBurst * 2 * s.control_rate;
    if (flood || now - limit_reported_at_ >= std::chrono::seconds(1)) {
      limit_reported_at_ = now;
      std::string limit = std::to_string(s.control_rate);
      limit.erase(limit.find_last_not_of('0') + 1);
      if (limit.ends_with('.')) limit.pop_back();
      session_->QueueError(MakeError(
          ErrorCode::kRateLimited,
          flood ? "too many control messages; closing" : "too many control messages; ignored",
          {{"field", "message"}, {"limit", limit + "/s"}}));
      if (flood) close_after_error_ = true;
    }
    return;
  }
  if (ws_.got_binary()) {
    session_->QueueError(playback::BinaryMessageError());
    return;
  }
  if (buffer_.size() > s.max_ws_message) {
    session_->QueueError(MakeError(ErrorCode::kValidation, "control message too large",
                                   {{"field", "message"},
                                    {"limit", std::to_string(s.max_ws_message)},
                                    {"got", std::to_string(buffer_.size())}}));
    return;
  }
  const auto data = buffer_.cdata();
  (void)session_->HandleText(
      std::string_view(static_cast<const char*>(data.data()), data.size()));
}

bool WebSocketSession::TakeToken() {
  const double rate = shared_.settings.control_rate;
  const double capacity = 2 * rate;
  const auto now = std::chrono::steady_clock::now();
  tokens_ = std::min(capacity,
                     tokens_ + rate * std::chrono::duration<double>(now - tokens_at_).count());
  tokens_at_ = now;
  if (tokens_ >= capacity) over_limit_ = 0;  // calm long enough: the past is forgiven
  if (tokens_ < 1) {
    ++over_limit_;
    return false;
  }
  tokens_ -= 1;
  return true;
}

void WebSocketSession::SchedulePing() {
  ping_timer_.expires_after(shared_.settings.ping_interval);
  ping_timer_.async_wait(
      [self = self(), this](const boost::system::error_code& ec) { OnPingTimer(ec); });
}

void WebSocketSession::OnPingTimer(const boost::system::error_code& ec) {
  if (ec || closed_) return;
  // A ping still waiting means the client is not reading; the write deadline or the idle timeout
  // will end it. Beast allows one ping in flight.
  if (!ping_in_flight_) {
    ping_in_flight_ = true;
    ws_.async_ping({}, [self = self(), this](const boost::system::error_code&) {
      ping_in_flight_ = false;
    });
  }
  SchedulePing();
}

void WebSocketSession::StartWrite(const playback::Outgoing& message) {
  const std::array<net::const_buffer, 3> buffers = {
      net::buffer(message.prefix),
      message.shared ? net::buffer(*message.shared) : net::const_buffer(),
      net::buffer(message.suffix)};
  ws_.text(true);
  ws_.async_write(buffers, [self = self(), this](const boost::system::error_code& ec, size_t n) {
    WriteDone(ec, n);
  });
}

void WebSocketSession::CloseGracefully() { Close(websocket::close_code::normal); }

void WebSocketSession::OnShutdown() { Close(websocket::close_code::going_away); }

void WebSocketSession::Close(websocket::close_code code) {
  if (close_started_) return;
  close_started_ = true;
  closed_ = true;
  StopTimers();
  ping_timer_.cancel();
  // The pending read sees the peer's close frame (or the handshake timeout) and ends.
  ws_.async_close(code, [self = self()](const boost::system::error_code&) {});
}

void WebSocketSession::Abort() {
  closed_ = true;
  ping_timer_.cancel();
  boost::system::error_code ignored;
  beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
  beast::get_lowest_layer(ws_).close();
}

}  // namespace tapedeck::server
