#include "client.h"

#include <array>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <cstring>
#include <stdexcept>

#include "wire.h"

namespace tapedeck::loadgen {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

namespace {

// WebSocket through Beast (--ws-client beast): Beast reads a frame in 1,536-byte pieces, three
// recvmsg calls for a typical 3 KB frame, which costs the generator CPU the server then lacks.
class BeastWsStream final : public Stream, public std::enable_shared_from_this<BeastWsStream> {
 public:
  BeastWsStream(net::io_context& ioc, tcp::endpoint endpoint, std::string host, std::string target,
                StreamStats& stats, const RunClock& clock)
      : ws_(ioc),
        endpoint_(endpoint),
        host_(std::move(host)),
        target_(std::move(target)),
        st_(stats),
        clock_(clock) {}

  void Start() override {
    st_.connect_start = SteadyClock::now();
    beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(10));
    beast::get_lowest_layer(ws_).async_connect(
        endpoint_,
        [self = shared_from_this()](const boost::system::error_code& ec) { self->OnConnect(ec); });
  }

  void Stop() override {
    if (!open_ || closing_) {
      beast::get_lowest_layer(ws_).cancel();
      return;
    }
    closing_ = true;
    ws_.async_close(websocket::close_code::normal,
                    [self = shared_from_this()](const boost::system::error_code&) {});
  }

 private:
  void OnConnect(const boost::system::error_code& ec) {
    if (ec) return st_.Fail(&StreamCounts::connect_failed, "connect: " + ec.message());
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout timeout{};
    timeout.handshake_timeout = std::chrono::seconds(10);
    timeout.idle_timeout = websocket::stream_base::none();
    timeout.keep_alive_pings = false;
    ws_.set_option(timeout);
    ws_.async_handshake(host_, target_,
                        [self = shared_from_this()](const boost::system::error_code& ec) {
                          self->OnHandshake(ec);
                        });
  }

  void OnHandshake(const boost::system::error_code& ec) {
    if (ec) return st_.Fail(&StreamCounts::handshake_failed, "handshake: " + ec.message());
    open_ = true;
    if (clock_.stopping.load()) {
      Stop();
    }
    DoRead();
  }

  void DoRead() {
    ws_.async_read(buffer_, [self = shared_from_this()](const boost::system::error_code& ec,
                                                        size_t) { self->OnRead(ec); });
  }

  void OnRead(const boost::system::error_code& ec) {
    const TimePoint now = SteadyClock::now();
    if (ec) {
      open_ = false;
      if (!closing_ && !clock_.stopping.load()) {
        st_.Fail(&StreamCounts::closed_early, "read: " + ec.message());
      }
      return;
    }
    const auto data = buffer_.cdata();
    RecordMessage(st_, clock_, std::string_view(static_cast<const char*>(data.data()), data.size()),
                  now);
    buffer_.consume(buffer_.size());
    DoRead();
  }

  websocket::stream<beast::tcp_stream> ws_;
  tcp::endpoint endpoint_;
  std::string host_, target_;
  StreamStats& st_;
  const RunClock& clock_;
  beast::flat_buffer buffer_;
  bool open_ = false, closing_ = false;
};

// What the streams on a plain socket share: the socket, the request they open with, where they
// record, and how they cut the connection.
class PlainStream : public Stream {
 protected:
  PlainStream(net::io_context& ioc, tcp::endpoint endpoint, std::string request, StreamStats& stats,
              const RunClock& clock, bool loop)
      : socket_(ioc),
        endpoint_(endpoint),
        st_(stats),
        clock_(clock),
        request_(std::move(request)),
        loop_(loop) {}

  void Cut() {
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  tcp::socket socket_;
  tcp::endpoint endpoint_;
  StreamStats& st_;
  const RunClock& clock_;
  std::string request_;
  const bool loop_;
};

// WebSocket on a plain socket (the default): the upgrade written by hand, then whatever the socket
// holds read in one go and cut into frames here. Server frames are unmasked (RFC 6455 5.1); pings
// are answered with masked pongs, a close with a close. With `loop`, an `end` is answered with a
// seek to window 0 and play, so the stream plays for as long as the test needs.
class RawWsStream final : public PlainStream, public std::enable_shared_from_this<RawWsStream> {
 public:
  RawWsStream(net::io_context& ioc, tcp::endpoint endpoint, const std::string& host,
              const std::string& target, StreamStats& stats, const RunClock& clock, bool loop)
      : PlainStream(ioc, endpoint, WsUpgradeRequest(host, target), stats, clock, loop),
        outbox_(socket_) {}

  void Start() override {
    st_.connect_start = SteadyClock::now();
    socket_.async_connect(
        endpoint_, [self = shared_from_this()](const boost::system::error_code& ec) {
          if (ec) {
            return self->st_.Fail(&StreamCounts::connect_failed, "connect: " + ec.message());
          }
          self->Send(std::string(self->request_));
          self->DoRead();
        });
  }

  void Stop() override {
    stopping_ = true;
    if (!open_ || close_sent_) {
      Cut();
      return;
    }
    close_sent_ = true;
    Send(MaskedFrame(kWsClose, kWsNormalClosure));  // the server answers and closes
  }

 private:
  // A control frame due while another write is out waits its turn; a failed write is seen by
  // the read.
  void Send(std::string bytes) { outbox_.Send(shared_from_this(), std::move(bytes)); }

  void DoRead() {
    if (pending_.size() < pos_ + kChunk) pending_.resize(pos_ + kChunk);
    socket_.async_read_some(net::buffer(pending_.data() + pos_, kChunk),
                            [self = shared_from_this()](const boost::system::error_code& ec,
                                                        size_t n) { self->OnRead(ec, n); });
  }

  void OnRead(const boost::system::error_code& ec, size_t bytes) {
    const TimePoint now = SteadyClock::now();
    if (ec) return OnReadError(ec);
    pos_ += bytes;
    size_t at = 0;
    if (!open_) {
      const ResponseHead head = ParseResponseHead(std::string_view(pending_.data(), pos_));
      if (head.result == ResponseHead::kTooLong) return Fail("upgrade response too long");
      if (head.result == ResponseHead::kNeedMore) return DoRead();
      if (!head.status.starts_with("HTTP/1.1 101")) {
        return Fail("upgrade: " + std::string(head.status));
      }
      open_ = true;
      at = head.size;
      if (clock_.stopping.load()) Stop();
    }
    for (;;) {
      WsFrame frame;
      const char* why = nullptr;
      const WsParse parsed =
          ParseWsFrame(std::string_view(pending_.data() + at, pos_ - at), frame, &why);
      if (parsed == WsParse::kBad) return Fail(why);
      if (parsed == WsParse::kNeedMore) break;
      at += frame.size;
      OnFrame(frame, now);
    }
    // Keep the partial frame at the front.
    if (at > 0) {
      std::memmove(pending_.data(), pending_.data() + at, pos_ - at);
      pos_ -= at;
    }
    DoRead();
  }

  void OnReadError(const boost::system::error_code& ec) {
    const bool stopping = stopping_ || clock_.stopping.load();
    if (!stopping && !got_close_) st_.Fail(&StreamCounts::closed_early, "read: " + ec.message());
    if (!open_ && !stopping) st_.counts.handshake_failed = 1;
    Cut();
  }

  void OnFrame(const WsFrame& frame, TimePoint now) {
    const std::string_view payload = frame.payload;
    if (frame.opcode == kWsPing) {
      Send(MaskedFrame(kWsPong, payload.substr(0, 125)));
    } else if (frame.opcode == kWsClose) {
      got_close_ = true;
      if (!close_sent_) {
        close_sent_ = true;
        Send(MaskedFrame(kWsClose, payload.substr(0, 2)));
      }
    } else if (frame.opcode == kWsPong) {
      // nothing to do
    } else if (frame.fin && frame.opcode != 0x0 && message_.empty()) {
      OnMessage(payload, now);
    } else {  // a fragmented message (the server does not send them, but the protocol allows)
      message_.append(payload);
      if (frame.fin) {
        OnMessage(message_, now);
        message_.clear();
      }
    }
  }

  void OnMessage(std::string_view json, TimePoint now) {
    RecordMessage(st_, clock_, json, now);
    if (loop_ && !stopping_ && !close_sent_ && TypeOf(json) == MessageType::kEnd) {
      Send(MaskedFrame(kWsText, R"({"t":"ctrl","cmd":"seek","pos":0})"));
      Send(MaskedFrame(kWsText, R"({"t":"ctrl","cmd":"play"})"));
    }
  }

  void Fail(std::string why) {
    if (!open_) st_.counts.handshake_failed = 1;
    if (st_.error.empty()) st_.error = std::move(why);
    Cut();
  }

  static constexpr size_t kChunk = 64 * 1024;

  WriteQueue outbox_;
  std::vector<char> pending_;  // [0, pos_) read and not yet parsed
  size_t pos_ = 0;
  std::string message_;
  bool open_ = false, stopping_ = false, close_sent_ = false, got_close_ = false;
};

// SSE over a plain socket: the server sends a header without a length, then events until it
// closes (no chunked encoding). With `loop`, a stream the server closed after its `end` is
// requested again (from window 0), as the WebSocket streams seek back.
class SseStream final : public PlainStream, public std::enable_shared_from_this<SseStream> {
 public:
  SseStream(net::io_context& ioc, tcp::endpoint endpoint, const std::string& host,
            const std::string& target, StreamStats& stats, const RunClock& clock, bool loop)
      : PlainStream(ioc, endpoint, SseRequest(host, target), stats, clock, loop) {}

  void Start() override {
    if (st_.connect_start == TimePoint{}) st_.connect_start = SteadyClock::now();
    socket_.async_connect(
        endpoint_,
        [self = shared_from_this()](const boost::system::error_code& ec) { self->OnConnect(ec); });
  }

  void Stop() override {
    stopped_ = true;
    Cut();
  }

 private:
  void OnConnect(const boost::system::error_code& ec) {
    if (ec) return st_.Fail(&StreamCounts::connect_failed, "connect: " + ec.message());
    net::async_write(socket_, net::buffer(request_),
                     [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                       if (ec) {
                         return self->st_.Fail(&StreamCounts::handshake_failed,
                                               "request: " + ec.message());
                       }
                       self->DoRead();
                     });
  }

  void DoRead() {
    socket_.async_read_some(net::buffer(chunk_),
                            [self = shared_from_this()](const boost::system::error_code& ec,
                                                        size_t n) { self->OnRead(ec, n); });
  }

  void OnRead(const boost::system::error_code& ec, size_t bytes) {
    const TimePoint now = SteadyClock::now();
    if (ec) {
      const bool stopping = stopped_ || clock_.stopping.load();
      if (!stopping && !got_end_) {
        st_.Fail(&StreamCounts::closed_early, "read: " + ec.message());
      } else if (!stopping && loop_) {
        Restart();
      }
      return;
    }
    pending_.append(chunk_.data(), bytes);
    size_t pos = 0;
    if (!header_done_) {
      // No cap on the header's length here: the server's is a few lines.
      const ResponseHead head = ParseResponseHead(pending_);
      if (head.result != ResponseHead::kHead) return DoRead();
      if (!head.status.starts_with("HTTP/1.1 200")) {
        st_.Fail(&StreamCounts::handshake_failed, "status: " + std::string(head.status));
        return Stop();
      }
      header_done_ = true;
      pos = head.size;
    }
    // Events end with a blank line; the JSON is on the `data: ` line.
    pos += ParseSseEvents(std::string_view(pending_).substr(pos), [&](std::string_view json) {
      RecordMessage(st_, clock_, json, now);
      if (TypeOf(json) == MessageType::kEnd) got_end_ = true;
    });
    pending_.erase(0, pos);
    DoRead();
  }

  void Restart() {
    boost::system::error_code ignored;
    socket_.close(ignored);
    socket_ = tcp::socket(socket_.get_executor());
    pending_.clear();
    header_done_ = got_end_ = false;
    Start();
  }

  std::string pending_;
  std::array<char, 16384> chunk_{};
  bool header_done_ = false, stopped_ = false, got_end_ = false;
};

}  // namespace

std::shared_ptr<Stream> MakeStream(StreamClient client, net::io_context& ioc,
                                   tcp::endpoint endpoint, std::string host, std::string target,
                                   StreamStats& stats, const RunClock& clock, bool loop) {
  switch (client) {
    case StreamClient::kSse:
      return std::make_shared<SseStream>(ioc, endpoint, std::move(host), std::move(target), stats,
                                         clock, loop);
    case StreamClient::kBeastWs:
      return std::make_shared<BeastWsStream>(ioc, endpoint, std::move(host), std::move(target),
                                             stats, clock);
    case StreamClient::kRawWs:
      break;
  }
  return std::make_shared<RawWsStream>(ioc, endpoint, std::move(host), std::move(target), stats,
                                       clock, loop);
}

void WriteQueue::Send(std::shared_ptr<void> owner, std::string bytes) {
  queue_.push_back(std::move(bytes));
  if (queue_.size() == 1) WriteNext(std::move(owner));
}

void WriteQueue::WriteNext(std::shared_ptr<void> owner) {
  net::async_write(socket_, net::buffer(queue_.front()),
                   [this, owner](const boost::system::error_code& ec, size_t) mutable {
                     queue_.pop_front();
                     if (!ec && !queue_.empty()) return WriteNext(std::move(owner));
                     if (on_drained_) on_drained_(ec);
                   });
}

IoThreads::IoThreads(size_t count) {
  for (size_t t = 0; t < count; ++t) contexts_.push_back(std::make_unique<net::io_context>(1));
  for (auto& c : contexts_) guards_.push_back(net::make_work_guard(*c));
  for (auto& c : contexts_) runners_.emplace_back([&ctx = *c] { ctx.run(); });
}

void IoThreads::Finish(std::chrono::seconds grace) {
  guards_.clear();
  const TimePoint give_up = SteadyClock::now() + grace;
  for (auto& c : contexts_) {
    while (!c->stopped() && SteadyClock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    c->stop();
  }
  for (auto& r : runners_) {
    if (r.joinable()) r.join();
  }
}

std::vector<std::shared_ptr<Stream>> OpenStreams(IoThreads& io, size_t contexts, size_t n,
                                                 double ramp, TimePoint start,
                                                 const MakeStreamFn& make) {
  std::vector<std::shared_ptr<Stream>> streams(n);
  for (size_t k = 0; k < n; ++k) {
    if (ramp > 0) std::this_thread::sleep_until(start + Seconds(static_cast<double>(k) / ramp));
    net::io_context& ctx = io.at(k % contexts);
    streams[k] = make(ctx, k);
    net::post(ctx, [s = streams[k]] { s->Start(); });
  }
  return streams;
}

void StopStreams(std::vector<std::shared_ptr<Stream>>& streams, IoThreads& io, size_t contexts) {
  for (size_t k = 0; k < streams.size(); ++k) {
    net::post(io.at(k % contexts), [s = streams[k]] { s->Stop(); });
  }
  streams.clear();
}

FirstFrame FetchFirstFrame(net::io_context& ioc, tcp::endpoint endpoint, const std::string& host,
                           const std::string& target) {
  FirstFrame times;
  websocket::stream<tcp::socket> ws(ioc);
  times.start = SteadyClock::now();
  ws.next_layer().connect(endpoint);
  ws.next_layer().set_option(tcp::no_delay(true));
  times.connected = SteadyClock::now();
  ws.handshake(host, target);
  times.handshaken = SteadyClock::now();
  beast::flat_buffer buffer;
  // A bounded wait: the first message of a playing stream is its first frame.
  for (int k = 0; k < 100; ++k) {
    buffer.clear();
    ws.read(buffer);
    const auto data = buffer.cdata();
    const std::string_view msg(static_cast<const char*>(data.data()), data.size());
    const MessageType type = TypeOf(msg);
    if (type == MessageType::kFrame) {
      times.framed = SteadyClock::now();
      times.frame = msg;
      boost::system::error_code ignored;
      ws.close(websocket::close_code::normal, ignored);
      return times;
    }
    if (type == MessageType::kError) throw std::runtime_error(std::string(msg));
  }
  throw std::runtime_error("no frame in 100 messages");
}

struct HttpClient::Connection {
  explicit Connection(net::io_context& ioc) : stream(ioc) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
};

HttpClient::HttpClient(net::io_context& ioc, tcp::endpoint endpoint, std::string host)
    : ioc_(ioc), endpoint_(endpoint), host_(std::move(host)) {}

HttpClient::~HttpClient() = default;

HttpClient::Response HttpClient::Send(Method method, const std::string& target, std::string body) {
  if (!connection_) {
    auto connection = std::make_unique<Connection>(ioc_);
    connection->stream.connect(endpoint_);
    connection->stream.socket().set_option(tcp::no_delay(true));
    connection_ = std::move(connection);
  }
  http::request<http::string_body> req{method == Method::kPost ? http::verb::post : http::verb::get,
                                       target, 11};
  req.set(http::field::host, host_);
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = std::move(body);
  }
  req.prepare_payload();
  beast::tcp_stream& stream = connection_->stream;
  stream.expires_after(std::chrono::seconds(30));
  http::write(stream, req);
  http::response<http::string_body> res;
  http::read(stream, connection_->buffer, res);
  if (!res.keep_alive()) {
    boost::system::error_code ignored;
    stream.socket().close(ignored);
    connection_.reset();
  }
  return {res.result_int(), std::move(res.body())};
}

}  // namespace tapedeck::loadgen
