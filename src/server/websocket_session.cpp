#include "server/websocket_session.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <boost/asio/dispatch.hpp>
#include <cerrno>
#include <cstring>

namespace tapedeck::server {

namespace beast = boost::beast;
namespace websocket = beast::websocket;

namespace {

// Messages a client may send past the limit before the connection is closed: a client that keeps
// flooding after being told is not a browser with a sticky key.
constexpr double kFloodMessagesPerBurst = 2;

// Opcodes (text, 0x1, is written by WriteWebSocketTextHeader).
constexpr uint8_t kContinuation = 0x0, kBinary = 0x2, kClose = 0x8, kPing = 0x9, kPong = 0xA;

// Well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF).
bool ValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    const unsigned c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    size_t n;
    unsigned lo = 0x80, hi = 0xBF;  // the range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (static_cast<size_t>(end - p) <= n) return false;
    if (p[1] < lo || p[1] > hi) return false;
    for (size_t k = 2; k <= n; ++k) {
      if ((p[k] & 0xC0) != 0x80) return false;
    }
    p += n + 1;
  }
  return true;
}

// A close status a peer may send (RFC 6455 7.4).
bool ValidCloseCode(unsigned code) {
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1014 && code != 1004 && code != 1005 && code != 1006;
}

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
  Pacer& pacer = shared.NextPacer();
  auto ws = std::make_shared<WebSocketSession>(MoveToExecutor(std::move(socket), pacer.executor()),
                                               pacer, shared, std::move(slot), std::move(run_id),
                                               std::move(playing), std::move(error));
  ws->upgrade_ = std::move(upgrade);
  net::dispatch(ws->executor_, [ws] {
    const Settings& s = ws->shared_.settings;
    auto& hs = *ws->handshake_;
    beast::get_lowest_layer(hs).expires_never();
    websocket::stream_base::timeout timeout;
    timeout.handshake_timeout = s.handshake_timeout;
    timeout.idle_timeout = websocket::stream_base::none();
    timeout.keep_alive_pings = false;
    hs.set_option(timeout);
    hs.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "tapedeck"); }));
    hs.async_accept(ws->upgrade_, [ws](const boost::system::error_code& ec) { ws->OnAccept(ec); });
  });
}

WebSocketSession::WebSocketSession(tcp::socket socket, Pacer& pacer, Shared& shared,
                                   ConnectionSlot slot, std::string run_id,
                                   std::optional<playback::Session> session,
                                   std::optional<Error> error)
    : StreamSession(pacer, shared, ConnectionKind::kWebSocket, std::move(slot), std::move(run_id),
                    std::move(session)),
      socket_(socket.get_executor()),
      open_error_(std::move(error)),
      keepalive_timer_(executor_) {
  handshake_.emplace(std::move(socket));
  tokens_ = 2 * shared_.settings.control_rate;
  tokens_at_ = std::chrono::steady_clock::now();
}

void WebSocketSession::OnAccept(const boost::system::error_code& ec) {
  upgrade_ = {};
  if (ec) {
    if (!IsNormalEnd(ec)) Log("websocket handshake failed: %s", ec.message().c_str());
    closed_ = true;
    handshake_.reset();
    return;
  }
  // The 101 is out; the connection is ours from here on.
  socket_ = beast::get_lowest_layer(*handshake_).release_socket();
  handshake_.reset();
  const auto now = std::chrono::steady_clock::now();
  last_read_at_ = now;
  next_ping_at_ = now + shared_.settings.ping_interval;
  DoRead();
  ArmKeepAlive();
  if (open_error_) {
    // No playback: say why, then close. Nothing else is written meanwhile.
    closed_ = true;
    // Refused credentials close as a policy violation (1008), for clients that read close codes.
    open_error_close_ =
        open_error_->code == ErrorCode::kUnauthorized ? CloseCode::policy_error : CloseCode::normal;
    own_ = {};
    own_.kind = playback::Outgoing::Kind::kError;
    own_.prefix = playback::EncodeErrorJson(*open_error_);
    WriteMessage(own_, false);
    return;
  }
  StartPlayback();
}

// ---- Reading ----------------------------------------------------------------------------------

void WebSocketSession::DoRead() {
  socket_.async_read_some(
      net::buffer(read_buf_),
      [self = self(), this](const boost::system::error_code& ec, size_t n) { OnRead(ec, n); });
}

void WebSocketSession::OnRead(const boost::system::error_code& ec, size_t bytes) {
  if (torn_down_) return;
  if (ec) {
    // The peer closed or reset, or we closed the socket. Either way the connection is over.
    if (!IsNormalEnd(ec)) Log("websocket read failed: %s", ec.message().c_str());
    Teardown();
    return;
  }
  last_read_at_ = std::chrono::steady_clock::now();
  in_.append(read_buf_.data(), bytes);
  if (!ParseFrames()) return;
  if (in_.empty() && in_.capacity() > 4 * read_buf_.size()) std::string().swap(in_);
  Drive();
  if (!torn_down_) DoRead();
}

bool WebSocketSession::ParseFrames() {
  const Settings& s = shared_.settings;
  const size_t message_max = std::max<size_t>(s.max_ws_message * 16, 64 * 1024);
  size_t at = 0;
  while (!torn_down_) {
    const auto* p = reinterpret_cast<const unsigned char*>(in_.data() + at);
    const size_t have = in_.size() - at;
    if (have < 2) break;
    const bool fin = p[0] & 0x80;
    const uint8_t opcode = p[0] & 0x0F;
    const bool masked = p[1] & 0x80;
    uint64_t len = p[1] & 0x7F;
    size_t head = 2;
    if (len == 126) {
      if (have < 4) break;
      len = (uint64_t{p[2]} << 8) | p[3];
      head = 4;
    } else if (len == 127) {
      if (have < 10) break;
      len = 0;
      for (int k = 0; k < 8; ++k) len = (len << 8) | p[2 + k];
      head = 10;
    }
    // RFC 6455 5.2-5.5: no extensions were agreed (RSV bits clear), a client masks every frame,
    // control frames are whole and short, opcodes are the defined ones.
    const bool control = opcode & 0x8;
    if ((p[0] & 0x70) != 0 || !masked || (control && (!fin || len > 125)) ||
        (opcode > kBinary && !control) || opcode > kPong ||
        (!control && opcode == kContinuation && !in_message_) ||
        (!control && opcode != kContinuation && in_message_)) {
      FailProtocol(CloseCode::protocol_error);
      return false;
    }
    if (!control && message_.size() + len > message_max) {
      FailProtocol(CloseCode::too_big);
      return false;
    }
    if (have < head + 4 + len) break;
    const unsigned char* mask = p + head;
    const char* data = reinterpret_cast<const char*>(p + head + 4);
    at += head + 4 + static_cast<size_t>(len);

    std::string payload(data, static_cast<size_t>(len));
    for (size_t k = 0; k < payload.size(); ++k) payload[k] ^= static_cast<char>(mask[k % 4]);
    if (control) {
      OnControl(opcode, payload);
      if (close_received_) {  // nothing may follow a close
        in_.clear();
        return false;
      }
      continue;
    }
    if (opcode != kContinuation) message_binary_ = opcode == kBinary;
    if (!fin) {
      in_message_ = true;
      message_ += payload;
      continue;
    }
    std::string whole;
    if (in_message_) {
      whole = std::move(message_);
      whole += payload;
      message_ = {};
      in_message_ = false;
    } else {
      whole = std::move(payload);
    }
    if (!message_binary_ && !ValidUtf8(whole)) {
      FailProtocol(CloseCode::bad_payload);
      return false;
    }
    if (!close_sent_) HandleMessage(whole, message_binary_);
  }
  if (torn_down_) return false;
  in_.erase(0, at);
  return true;
}

void WebSocketSession::OnControl(uint8_t opcode, std::string_view payload) {
  if (opcode == kPing) {
    if (!close_sent_) QueueControl(kPong, payload);
    return;
  }
  if (opcode == kPong) return;  // a keep-alive answered: the read itself counted
  // A close. Answer it with its code (unless ours went first), then end the connection.
  close_received_ = true;
  if (payload.size() == 1) return FailProtocol(CloseCode::protocol_error);
  if (payload.size() >= 2) {
    const unsigned code =
        (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]);
    if (!ValidCloseCode(code) || !ValidUtf8(payload.substr(2))) {
      return FailProtocol(CloseCode::protocol_error);
    }
  }
  closed_ = true;
  StopTimers();
  if (!close_sent_) {
    close_sent_ = true;
    QueueControl(kClose, payload.substr(0, std::min<size_t>(payload.size(), 2)));
  }
  // Once our close is out, the handshake is complete: Flush tears down.
  Flush();
}

void WebSocketSession::HandleMessage(std::string_view text, bool binary) {
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
  if (binary) {
    session_->QueueError(playback::BinaryMessageError());
    return;
  }
  if (text.size() > s.max_ws_message) {
    session_->QueueError(MakeError(ErrorCode::kValidation, "control message too large",
                                   {{"field", "message"},
                                    {"limit", std::to_string(s.max_ws_message)},
                                    {"got", std::to_string(text.size())}}));
    return;
  }
  (void)session_->HandleText(text);
}

bool WebSocketSession::TakeToken() {
  const double rate = shared_.settings.control_rate;
  const double capacity = 2 * rate;
  const auto now = std::chrono::steady_clock::now();
  tokens_ =
      std::min(capacity, tokens_ + rate * std::chrono::duration<double>(now - tokens_at_).count());
  tokens_at_ = now;
  if (tokens_ >= capacity) over_limit_ = 0;  // calm long enough: the past is forgiven
  if (tokens_ < 1) {
    ++over_limit_;
    return false;
  }
  tokens_ -= 1;
  return true;
}

// ---- Keep-alive -------------------------------------------------------------------------------

void WebSocketSession::ArmKeepAlive() {
  if (torn_down_) return;
  const Settings& s = shared_.settings;
  std::chrono::steady_clock::time_point at;
  if (close_sent_) {
    at = close_sent_at_ + s.handshake_timeout;
  } else {
    at = std::min(next_ping_at_, last_read_at_ + s.idle_timeout);
    // Half an idle timeout of silence gets a ping, so a live client has time to answer it.
    const auto half = last_read_at_ + s.idle_timeout / 2;
    if (last_ping_at_ < half) at = std::min(at, half);
  }
  keepalive_timer_.expires_at(at);
  keepalive_timer_.async_wait(
      [self = self(), this](const boost::system::error_code& ec) { OnKeepAlive(ec); });
}

void WebSocketSession::OnKeepAlive(const boost::system::error_code& ec) {
  if (ec || torn_down_) return;
  const Settings& s = shared_.settings;
  const auto now = std::chrono::steady_clock::now();
  if (close_sent_) {
    if (now >= close_sent_at_ + s.handshake_timeout) return Teardown();  // no close came back
    return ArmKeepAlive();
  }
  if (now >= last_read_at_ + s.idle_timeout) return Teardown();  // silent past the idle timeout
  if (now >= next_ping_at_ || (now >= last_read_at_ + s.idle_timeout / 2 &&
                               last_ping_at_ < last_read_at_ + s.idle_timeout / 2)) {
    // A ping still waiting to be written means the client is not reading; the write deadline or
    // the idle timeout will end it.
    if (ctrl_now_.empty() && ctrl_later_.empty()) QueueControl(kPing, {});
    last_ping_at_ = now;
    next_ping_at_ = now + s.ping_interval;
  }
  ArmKeepAlive();
}

// ---- Writing ----------------------------------------------------------------------------------

void WebSocketSession::StartWrite(const playback::Outgoing& message) {
  WriteMessage(message, true);
}

void WebSocketSession::WriteMessage(const playback::Outgoing& message, bool from_session) {
  message_out_ = &message;
  message_from_session_ = from_session;
  message_done_ = 0;
  wire_ = from_session ? pacer_.wire_cache().Get(message, Framing::kWebSocketText) : nullptr;
  if (wire_) {
    header_size_ = 0;
    message_size_ = wire_->size();
  } else {
    // One message per text frame (DESIGN).
    const size_t len = message.prefix.size() + (message.shared ? message.shared->size() : 0) +
                       message.suffix.size();
    header_size_ = static_cast<uint8_t>(WriteWebSocketTextHeader(header_.data(), len));
    message_size_ = header_size_ + len;
  }
  if (from_session && in_pass()) {
    deferred_ = true;
    pacer_.DeferWrite(self());
    return;
  }
  Flush();
}

void WebSocketSession::OnPassEnd() {
  deferred_ = false;
  in_pass_write_ = true;
  Flush();
  in_pass_write_ = false;
}

void WebSocketSession::OnPassWritten() {
  if (!done_bytes_) return;  // not all out (it waits for writability), or failed
  const size_t bytes = *done_bytes_;
  done_bytes_.reset();
  if (torn_down_) return;
  WriteDone({}, bytes);
  Flush();  // what WriteDone started, if anything
}

void WebSocketSession::QueueControl(uint8_t opcode, std::string_view payload) {
  std::string& queue = message_out_ && message_done_ > 0 ? ctrl_later_ : ctrl_now_;
  queue += static_cast<char>(0x80 | opcode);
  queue += static_cast<char>(payload.size());
  queue.append(payload);
  if (opcode == kClose) close_sent_at_ = std::chrono::steady_clock::now();
  Flush();
}

void WebSocketSession::QueueClose(CloseCode code) {
  close_sent_ = true;
  const unsigned c = static_cast<unsigned>(code);
  const char payload[2] = {static_cast<char>(c >> 8), static_cast<char>(c & 0xFF)};
  QueueControl(kClose, std::string_view(payload, 2));
}

void WebSocketSession::Flush() {
  if (flushing_ || waiting_writable_ || torn_down_ || deferred_) return;
  flushing_ = true;
  for (;;) {
    std::array<iovec, 5> iov;
    size_t count = 0;
    auto add = [&](const char* data, size_t size, size_t& skip) {
      if (skip >= size) {
        skip -= size;
        return;
      }
      iov[count++] = {const_cast<char*>(data + skip), size - skip};
      skip = 0;
    };
    size_t skip = ctrl_now_done_;
    add(ctrl_now_.data(), ctrl_now_.size(), skip);
    if (message_out_) {
      const playback::Outgoing& m = *message_out_;
      skip = message_done_;
      if (wire_) {
        add(wire_->data(), wire_->size(), skip);
      } else {
        add(header_.data(), header_size_, skip);
        add(m.prefix.data(), m.prefix.size(), skip);
        if (m.shared) add(m.shared->data(), m.shared->size(), skip);
        add(m.suffix.data(), m.suffix.size(), skip);
      }
    }
    if (count == 0) break;
    constexpr int kFlags = MSG_NOSIGNAL | MSG_DONTWAIT;
    ssize_t put;
    if (count == 1) {
      put = ::send(socket_.native_handle(), iov[0].iov_base, iov[0].iov_len, kFlags);
    } else {
      msghdr msg{};
      msg.msg_iov = iov.data();
      msg.msg_iovlen = count;
      put = ::sendmsg(socket_.native_handle(), &msg, kFlags);
    }
    if (put < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        // Full: wait until the kernel holds less than TCP_NOTSENT_LOWAT unsent.
        waiting_writable_ = true;
        socket_.async_wait(tcp::socket::wait_write,
                           [self = self(), this](const boost::system::error_code& ec) {
                             waiting_writable_ = false;
                             if (ec || torn_down_) return;
                             Flush();
                           });
        flushing_ = false;
        return;
      }
      const boost::system::error_code ec(errno, boost::system::system_category());
      flushing_ = false;
      if (message_out_ && message_from_session_) {
        message_out_ = nullptr;
        WriteDone(ec, 0);  // logs unless a normal end, and aborts
      } else {
        message_out_ = nullptr;
        Teardown();
      }
      return;
    }
    size_t n = static_cast<size_t>(put);
    const size_t ctrl_left = ctrl_now_.size() - ctrl_now_done_;
    const size_t from_ctrl = std::min(n, ctrl_left);
    ctrl_now_done_ += from_ctrl;
    n -= from_ctrl;
    if (ctrl_now_done_ == ctrl_now_.size()) {
      ctrl_now_.clear();
      ctrl_now_done_ = 0;
    }
    if (message_out_ && n > 0) {
      message_done_ += n;
      if (message_done_ == message_size_) {
        const bool from_session = message_from_session_;
        const size_t bytes = message_size_;
        message_out_ = nullptr;
        wire_.reset();
        ctrl_now_ += ctrl_later_;  // ctrl_now_ was written before the message: it is empty
        ctrl_later_.clear();
        if (from_session && in_pass_write_) {
          done_bytes_ = bytes;  // told once the pass's other frames are out too
        } else if (from_session) {
          WriteDone({}, bytes);  // may start the next message: this loop writes it
        } else if (!close_sent_) {
          QueueClose(open_error_close_);  // the open error is out: close
          ArmKeepAlive();
        }
        if (torn_down_) break;
      }
    }
  }
  flushing_ = false;
  // Everything is out. Our close frame was the last thing written: with the peer's close
  // received too, the closing handshake is complete.
  if (close_sent_ && close_received_ && !waiting_writable_) Teardown();
}

void WebSocketSession::FailProtocol(CloseCode code) {
  // The client broke the protocol: say why with a close frame and end without waiting for its.
  closed_ = true;
  close_received_ = true;  // no answer is awaited
  StopTimers();
  if (!close_sent_) QueueClose(code);
  Flush();
  if (!torn_down_) ArmKeepAlive();  // a close that cannot be written ends at the timeout
}

void WebSocketSession::CloseGracefully() { Close(CloseCode::normal); }

void WebSocketSession::OnShutdown() { Close(CloseCode::going_away); }

void WebSocketSession::Close(CloseCode code) {
  closed_ = true;
  StopTimers();
  if (close_sent_ || torn_down_) return;
  QueueClose(code);
  // The read goes on until the peer's close frame (the handshake is then complete) or the
  // handshake timeout.
  ArmKeepAlive();
}

void WebSocketSession::Abort() { Teardown(); }

void WebSocketSession::Teardown() {
  if (torn_down_) return;
  torn_down_ = true;
  closed_ = true;
  StopTimers();
  keepalive_timer_.cancel();
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace tapedeck::server
