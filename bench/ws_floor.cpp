// ws_floor: the floor of WebSocket fan-out on this machine, to measure `tapedeck serve` against.
//
// A minimal server of ours, no framework: one thread, plain epoll, non-blocking sockets. It
// accepts WebSocket upgrades (any GET with a Sec-WebSocket-Key; the path is ignored) and, 30 times
// a second on an absolute schedule, encodes one text frame and writes those same bytes to every
// open connection: what a broadcast costs when nothing else is done per frame. The frame looks
// like a playback frame to bench/loadgen (`{"t":"frame",...,"i":K,"n":N,...,"dropped":D}`, K the
// tick) and is padded to --size bytes of JSON (default 247; bench/fanout.sh passes the mean size of
// the frames tapedeck sends for the run it plays, so that both write as many bytes).
//
// A connection whose previous frame is not all written yet when the next tick comes skips that
// tick (the rest of the old frame goes on when the socket can take it; `dropped` counts the
// skipped ticks, as tapedeck's coalescing would): one frame in flight per connection, as in
// tapedeck. A close frame from the client is answered with a close frame, then the socket is
// closed; anything else the client sends after the upgrade is read and ignored.
//
//   ws_floor [--port P] [--size BYTES]
// Prints "listening on http://127.0.0.1:PORT" (port 0: any free one) and runs until SIGTERM or
// SIGINT. Only 127.0.0.1 is bound.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <boost/beast/websocket/detail/hybi13.hpp>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

// What the floor keeps per connection: the socket, the handshake's bytes until its blank line,
// and the unwritten end of the frame in flight (a copy: the next tick re-encodes the shared one).
struct Conn {
  int fd = -1;
  bool open = false;     // upgraded
  bool closing = false;  // a close frame answered: closes once written
  std::string in;        // the request head; after the upgrade, what is read of a client frame
  std::string out;       // bytes not yet written
  size_t out_at = 0;
  uint64_t dropped = 0;
};

constexpr uint64_t kListenTag = ~0ull, kTimerTag = ~0ull - 1;

std::string_view HeaderValue(std::string_view head, std::string_view name) {
  size_t at = 0;
  while ((at = head.find("\r\n", at)) != std::string_view::npos) {
    at += 2;
    const auto colon = head.find(':', at);
    if (colon == std::string_view::npos) break;
    const std::string_view key = head.substr(at, colon - at);
    if (key.size() == name.size() && strncasecmp(key.data(), name.data(), name.size()) == 0) {
      size_t from = colon + 1;
      while (from < head.size() && head[from] == ' ') ++from;
      return head.substr(from, head.find("\r\n", from) - from);
    }
  }
  return {};
}

// An unmasked text frame of `payload` (RFC 6455 5.2), header and payload in one string.
void EncodeWsFrame(std::string_view payload, std::string& out) {
  out.clear();
  out += static_cast<char>(0x81);
  if (payload.size() < 126) {
    out += static_cast<char>(payload.size());
  } else {
    out += static_cast<char>(126);
    out += static_cast<char>(payload.size() >> 8);
    out += static_cast<char>(payload.size() & 0xff);
  }
  out.append(payload);
}

// The JSON of tick `k`, padded to `size` bytes with the "pad" field.
void EncodePayload(uint64_t k, size_t size, std::string& json) {
  char head[128];
  const int n = std::snprintf(head, sizeof head,
                              "{\"t\":\"frame\",\"ts\":\"2024-01-01T00:00:00Z\",\"i\":%llu,"
                              "\"n\":1000000000,\"pad\":\"",
                              static_cast<unsigned long long>(k));
  constexpr std::string_view kTail = "\",\"equity\":10000,\"dropped\":0}";
  json.assign(head, static_cast<size_t>(n));
  const size_t fixed = json.size() + kTail.size();
  if (size > fixed) json.append(size - fixed, 'x');
  json.append(kTail);
}

class Floor {
 public:
  Floor(int listen_fd, size_t size) : listen_(listen_fd), size_(size) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    timer_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    itimerspec spec{};
    clock_gettime(CLOCK_MONOTONIC, &spec.it_value);
    spec.it_value.tv_nsec += 1000;  // first tick at once; then every 1/30 s from there
    if (spec.it_value.tv_nsec >= 1000000000) {
      spec.it_value.tv_sec += 1;
      spec.it_value.tv_nsec -= 1000000000;
    }
    spec.it_interval.tv_nsec = 33333333;
    timerfd_settime(timer_, TFD_TIMER_ABSTIME, &spec, nullptr);
    Watch(listen_, EPOLLIN, kListenTag);
    Watch(timer_, EPOLLIN, kTimerTag);
  }

  void Run() {
    std::vector<epoll_event> events(1024);
    while (!g_stop) {
      const int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), 200);
      for (int e = 0; e < n; ++e) {
        const uint64_t tag = events[e].data.u64;
        if (tag == kListenTag) {
          Accept();
        } else if (tag == kTimerTag) {
          uint64_t expirations = 0;
          if (read(timer_, &expirations, sizeof expirations) == sizeof expirations) Tick();
        } else {
          Conn& c = conns_[tag];
          if (c.fd < 0) continue;
          if (events[e].events & (EPOLLERR | EPOLLHUP)) {
            Close(c);
            continue;
          }
          if (events[e].events & EPOLLIN) OnReadable(c);
          if (c.fd >= 0 && (events[e].events & EPOLLOUT)) Flush(c);
        }
      }
    }
  }

 private:
  void Watch(int fd, uint32_t what, uint64_t tag) {
    epoll_event ev{};
    ev.events = what;
    ev.data.u64 = tag;
    epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
  }
  void Rewatch(Conn& c, uint32_t what) {
    epoll_event ev{};
    ev.events = what;
    ev.data.u64 = static_cast<uint64_t>(c.fd);
    epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
  }

  void Accept() {
    for (;;) {
      const int fd = accept4(listen_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN, or out of descriptors: the client sees it
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (static_cast<size_t>(fd) >= conns_.size()) conns_.resize(static_cast<size_t>(fd) + 1024);
      conns_[fd] = Conn{};
      conns_[fd].fd = fd;
      Watch(fd, EPOLLIN, static_cast<uint64_t>(fd));
    }
  }

  void Close(Conn& c) {
    close(c.fd);  // also leaves the epoll set
    if (c.open) --open_count_;
    c = Conn{};
  }

  void OnReadable(Conn& c) {
    char buf[4096];
    for (;;) {
      const ssize_t got = read(c.fd, buf, sizeof buf);
      if (got == 0) return Close(c);
      if (got < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return Close(c);
      }
      c.in.append(buf, static_cast<size_t>(got));
    }
    if (!c.open) {
      const auto end = c.in.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (c.in.size() > 16384) Close(c);
        return;
      }
      const std::string_view head(c.in.data(), end + 2);
      const std::string_view key = HeaderValue(head, "Sec-WebSocket-Key");
      if (!head.starts_with("GET ") || key.empty() ||
          key.size() > boost::beast::websocket::detail::sec_ws_key_type::static_capacity) {
        return Close(c);
      }
      boost::beast::websocket::detail::sec_ws_accept_type accept;
      boost::beast::websocket::detail::make_sec_ws_accept(
          accept, boost::beast::string_view(key.data(), key.size()));
      c.out =
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Accept: " +
          std::string(accept.data(), accept.size()) + "\r\n\r\n";
      c.out_at = 0;
      c.in.erase(0, end + 4);
      c.open = true;
      ++open_count_;
      Flush(c);
      if (c.fd < 0) return;
    }
    // Client frames (masked): only a close matters; the rest is skipped.
    while (c.in.size() >= 2) {
      const auto b0 = static_cast<uint8_t>(c.in[0]), b1 = static_cast<uint8_t>(c.in[1]);
      size_t len = b1 & 0x7f, at = 2;
      if (len == 126) {
        if (c.in.size() < 4) return;
        len = (static_cast<uint8_t>(c.in[2]) << 8) | static_cast<uint8_t>(c.in[3]);
        at = 4;
      } else if (len == 127) {
        return Close(c);  // nothing of ours sends that much
      }
      if (b1 & 0x80) at += 4;
      if (c.in.size() < at + len) return;
      c.in.erase(0, at + len);
      if ((b0 & 0x0f) == 0x8 && !c.closing) {
        c.closing = true;
        if (c.out_at == c.out.size()) {
          c.out.clear();
          c.out_at = 0;
        }
        c.out.append("\x88\x02\x03\xe8", 4);  // close 1000
        Flush(c);
        if (c.fd < 0) return;
      }
    }
  }

  // Writes what is pending; watches for writability while some is left.
  void Flush(Conn& c) {
    while (c.out_at < c.out.size()) {
      const ssize_t put =
          send(c.fd, c.out.data() + c.out_at, c.out.size() - c.out_at, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (put < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          Rewatch(c, EPOLLIN | EPOLLOUT);
          return;
        }
        return Close(c);
      }
      c.out_at += static_cast<size_t>(put);
    }
    if (c.closing) return Close(c);
    if (!c.out.empty()) Rewatch(c, EPOLLIN);
    c.out.clear();
    c.out_at = 0;
  }

  void Tick() {
    EncodePayload(tick_++, size_, payload_);
    EncodeWsFrame(payload_, frame_);
    for (Conn& c : conns_) {
      if (c.fd < 0 || !c.open || c.closing) continue;
      if (c.out_at < c.out.size()) {
        ++c.dropped;  // the previous frame is still going out: this one is merged away
        continue;
      }
      const ssize_t put = send(c.fd, frame_.data(), frame_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (put == static_cast<ssize_t>(frame_.size())) continue;
      if (put < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        Close(c);
        continue;
      }
      c.out.assign(frame_, put < 0 ? 0 : static_cast<size_t>(put));
      c.out_at = 0;
      Rewatch(c, EPOLLIN | EPOLLOUT);
    }
  }

  int listen_, ep_ = -1, timer_ = -1;
  size_t size_;
  uint64_t tick_ = 0;
  size_t open_count_ = 0;
  std::vector<Conn> conns_;  // by descriptor
  std::string payload_, frame_;
};

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  size_t size = 247;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--port" && i + 1 < argc) {
      port = std::atoi(argv[++i]);
    } else if (a == "--size" && i + 1 < argc) {
      size = static_cast<size_t>(std::atol(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: ws_floor [--port P] [--size BYTES]\n");
      return 2;
    }
  }
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);

  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 4096) != 0) {
    std::perror("ws_floor: bind/listen");
    return 1;
  }
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::printf("listening on http://127.0.0.1:%d\n", ntohs(addr.sin_port));
  std::fflush(stdout);
  Floor(fd, size).Run();
  std::printf("ws_floor stopped\n");
  return 0;
}
