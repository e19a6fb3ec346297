// Internal to the server module: what every connection of one Server shares, and the registry
// that lets shutdown reach every live connection. Not part of the public API.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "server/access.h"
#include "server/metrics.h"
#include "server/pacer.h"
#include "server/router.h"
#include "server/run_source.h"
#include "server/settings.h"
#include "server/static_files.h"

namespace tapedeck::server {

namespace net = boost::asio;
using tcp = net::ip::tcp;

// One line to stderr. Never called with tokens or request bodies.
template <typename... Args>
void Log(const char* format, Args... args) {
  std::fprintf(stderr, "tapedeck serve: ");
  if constexpr (sizeof...(Args) == 0) {
    std::fputs(format, stderr);
  } else {
    std::fprintf(stderr, format, args...);
  }
  std::fputc('\n', stderr);
}

// A live connection, as shutdown sees it.
class Connection {
 public:
  virtual ~Connection() = default;
  // Ends the connection gracefully: an idle HTTP connection closes, a request in flight is
  // answered first, a stream sends its end (SSE) or a close frame (WebSocket). May be called from
  // any thread; the connection moves onto its own strand.
  virtual void Shutdown() = 0;
};

class Registry;

// A connection's place in the limits: held for the connection's life, released on destruction.
class ConnectionSlot {
 public:
  ConnectionSlot() = default;
  ConnectionSlot(Registry* registry, std::string address)
      : registry_(registry), address_(std::move(address)) {}
  ConnectionSlot(ConnectionSlot&& other) noexcept { *this = std::move(other); }
  ConnectionSlot& operator=(ConnectionSlot&& other) noexcept;
  ~ConnectionSlot();
  const std::string& address() const { return address_; }

 private:
  Registry* registry_ = nullptr;
  std::string address_;
};

// What a stream handler takes over from the HTTP session a request came on.
struct TakenConnection {
  boost::beast::tcp_stream stream;
  ConnectionSlot slot;
  HttpRequest request;  // the request being answered, moved out of the session
};

// The HTTP session under a request, as a stream route's handler sees it (Request::takeover).
class Takeover {
 public:
  // Ends the HTTP session's part: it will neither read nor write again, and the handler's
  // response only labels the request in the metrics. The handler must not touch the Request
  // afterwards (its `http` is the moved request). Call at most once, on the connection's strand.
  virtual TakenConnection Take() = 0;
  // Whether Take was called.
  virtual bool taken() const = 0;

 protected:
  ~Takeover() = default;
};

// Live connections and the connection limits. Thread-safe.
class Registry {
 public:
  explicit Registry(const Settings& settings) : settings_(settings) {}

  // A slot for a new connection from `address`, or the error to refuse it with: UNAVAILABLE
  // past max_connections (or while stopping), RATE_LIMITED past max_connections_per_address.
  Result<ConnectionSlot> Admit(const std::string& address);

  void Add(Connection* connection, std::weak_ptr<Connection> handle);
  void Remove(Connection* connection);
  // Calls Shutdown on every live connection; new connections are refused from now on.
  void ShutdownAll();
  size_t size() const;
  bool stopping() const { return stopping_.load(); }

 private:
  friend class ConnectionSlot;
  void Release(const std::string& address);

  const Settings& settings_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> live_;  // GUARDED_BY(mu_)
  std::unordered_map<std::string, size_t> per_address_;             // GUARDED_BY(mu_)
  size_t admitted_ = 0;                                              // GUARDED_BY(mu_)
};

// Everything a connection needs from its server. Outlives every connection.
struct Shared {
  Settings settings;
  Router router;
  std::shared_ptr<RunSource> runs;
  std::shared_ptr<Metrics> metrics;
  StaticFiles static_files;
  Registry registry;
  std::shared_ptr<const Access> access;  // set by Server::Listen, before any connection
  // The I/O lanes' pacers (owned by the Server, which sets them before any connection): stream
  // connections are spread over them in turn.
  std::vector<Pacer*> pacers;
  std::atomic<size_t> next_lane{0};

  // The pacer of the next stream connection. REQUIRES: pacers is not empty.
  Pacer& NextPacer() { return *pacers[next_lane.fetch_add(1) % pacers.size()]; }

  Shared(Settings s, Router r, std::shared_ptr<RunSource> rs, std::shared_ptr<Metrics> m)
      : settings(std::move(s)),
        router(std::move(r)),
        runs(std::move(rs)),
        metrics(std::move(m)),
        static_files(settings.web_root.empty() ? DefaultWebRoot() : settings.web_root),
        registry(settings) {}
};

// True for the ends of a connection that are not errors worth a log line: the peer closed or
// reset, we cancelled, a timeout fired.
bool IsNormalEnd(const boost::system::error_code& ec);

// Keeps what the kernel holds unsent per socket small, so a client that reads slowly shows up as
// a write that does not complete (which drives coalescing) instead of minutes of stale frames
// queued in the kernel.
void LimitSendBuffer(tcp::socket& socket);

// The same connection, its handlers now run by `executor` (a stream moving onto its lane).
// REQUIRES: no operation pending on `socket`.
tcp::socket MoveToExecutor(tcp::socket socket, const net::any_io_executor& executor);

}  // namespace tapedeck::server
