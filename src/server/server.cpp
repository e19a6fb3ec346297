#include "server/server.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <csignal>
#include <thread>
#include <vector>

#include "server/connection.h"
#include "server/http_session.h"
#include "server/server_routes.h"

namespace tapedeck::server {
namespace {

// How often a stopping server checks whether its connections are gone.
constexpr std::chrono::milliseconds kDrainPoll{20};

// A refusal written straight to a connection that gets no session (limits, shutdown). The socket
// is fresh, so the few bytes fit in its send buffer: one non-blocking write, no wait.
void Refuse(tcp::socket& socket, const Error& error) {
  const std::string body = ErrorJson(error);
  const int status = HttpStatus(error.code);
  const std::string reason = status == 429 ? "Too Many Requests" : "Service Unavailable";
  const std::string response = "HTTP/1.1 " + std::to_string(status) + " " + reason +
                               "\r\nContent-Type: application/json\r\nContent-Length: " +
                               std::to_string(body.size()) +
                               "\r\nConnection: close\r\nRetry-After: 1\r\n\r\n" + body;
  boost::system::error_code ignored;
  socket.non_blocking(true, ignored);
  socket.write_some(net::buffer(response), ignored);
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

}  // namespace

struct Server::Impl {
  Impl(Settings settings, Router router, std::shared_ptr<RunSource> runs,
       std::shared_ptr<Metrics> metrics)
      : shared(std::move(settings), std::move(router), std::move(runs),
               metrics ? std::move(metrics) : std::make_shared<Metrics>()),
        ioc(std::max(1, shared.settings.threads)),
        acceptor(net::make_strand(ioc)),
        signals(ioc),
        drain_timer(ioc) {
    // One lane per I/O thread: its strand runs its streams, its pacer wakes them.
    const int lanes = shared.settings.threads > 0
                          ? shared.settings.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    for (int k = 0; k < lanes; ++k) {
      pacers.push_back(std::make_unique<Pacer>(net::make_strand(ioc)));
      shared.pacers.push_back(pacers.back().get());
    }
    AddServerRoutes(shared);
  }

  void DoAccept() {
    // Each connection gets its own strand: its handlers never run concurrently.
    acceptor.async_accept(net::make_strand(ioc), [this](const boost::system::error_code& ec,
                                                        tcp::socket socket) {
      OnAccept(ec, std::move(socket));
    });
  }

  void OnAccept(const boost::system::error_code& ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
    if (ec) {
      // EMFILE and friends: keep accepting (the next attempt may succeed once a socket closes),
      // but do not spin.
      Log("accept failed: %s", ec.message().c_str());
      auto timer = std::make_shared<net::steady_timer>(ioc, std::chrono::milliseconds(50));
      timer->async_wait([this, timer](const boost::system::error_code& e) {
        if (!e && acceptor.is_open()) DoAccept();
      });
      return;
    }
    boost::system::error_code peer_ec;
    const auto peer = socket.remote_endpoint(peer_ec);
    std::string address = peer_ec ? "?" : peer.address().to_string();
    auto slot = shared.registry.Admit(address);
    if (!slot) {
      shared.metrics->ConnectionRejected();
      Refuse(socket, slot.error());
    } else {
      std::make_shared<HttpSession>(std::move(socket), shared, std::move(*slot))->Start();
    }
    DoAccept();
  }

  void BeginStop() {
    if (stopping.exchange(true)) return;
    net::post(acceptor.get_executor(), [this] {
      boost::system::error_code ignored;
      acceptor.close(ignored);
    });
    signals.cancel();
    shared.registry.ShutdownAll();
    deadline = std::chrono::steady_clock::now() + shared.settings.shutdown_timeout;
    net::post(ioc, [this] { Drain(); });
  }

  // Waits for the connections to finish, up to the shutdown timeout, then stops the loop.
  void Drain() {
    if (shared.registry.size() == 0 || std::chrono::steady_clock::now() >= deadline) {
      if (shared.registry.size() != 0) {
        Log("shutdown timeout: cutting %zu connection(s)", shared.registry.size());
      }
      ioc.stop();
      return;
    }
    drain_timer.expires_after(kDrainPoll);
    drain_timer.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) Drain();
    });
  }

  Shared shared;
  net::io_context ioc;
  tcp::acceptor acceptor;
  net::signal_set signals;
  net::steady_timer drain_timer;
  std::vector<std::unique_ptr<Pacer>> pacers;  // after ioc: their timers go first
  std::atomic<bool> stopping{false};
  std::chrono::steady_clock::time_point deadline;
  uint16_t port = 0;
};

Server::Server(Settings settings, Router router, std::shared_ptr<RunSource> runs,
               std::shared_ptr<Metrics> metrics)
    : impl_(std::make_unique<Impl>(std::move(settings), std::move(router), std::move(runs),
                                   std::move(metrics))) {}

Server::~Server() = default;

Status Server::Listen() {
  const Settings& s = impl_->shared.settings;
  auto access = Access::Create(s.auth_tokens, s.ticket_ttl, s.ticket_key);
  if (!access) return access.error();
  impl_->shared.access = std::move(*access);
  impl_->shared.router.SetAccess(impl_->shared.access);
  boost::system::error_code ec;
  const auto address = net::ip::make_address(s.host, ec);
  if (ec) {
    return MakeError(ErrorCode::kValidation, "not an IP address: '" + s.host + "'",
                     {{"field", "host"}});
  }
  const tcp::endpoint endpoint(address, s.port);
  auto& acceptor = impl_->acceptor;
  const auto fail = [&](std::string_view what) -> Status {
    return MakeError(ErrorCode::kUnavailable,
                     std::string(what) + " " + s.host + ":" + std::to_string(s.port) + ": " +
                         ec.message(),
                     {{"field", "port"}, {"port", std::to_string(s.port)}});
  };
  acceptor.open(endpoint.protocol(), ec);
  if (ec) return fail("cannot open a socket for");
  acceptor.set_option(net::socket_base::reuse_address(true), ec);
  acceptor.bind(endpoint, ec);
  if (ec) return fail("cannot bind");
  acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return fail("cannot listen on");
  impl_->port = acceptor.local_endpoint(ec).port();
  const std::string missing = impl_->shared.static_files.MissingVendorMessage();
  if (!missing.empty()) Log("%s", missing.c_str());
  return Ok();
}

uint16_t Server::port() const { return impl_->port; }

void Server::Run(bool handle_signals) {
  Impl& impl = *impl_;
  if (handle_signals) {
    impl.signals.add(SIGINT);
    impl.signals.add(SIGTERM);
    impl.signals.async_wait([&impl](const boost::system::error_code& ec, int) {
      if (!ec) impl.BeginStop();
    });
  }
  net::post(impl.acceptor.get_executor(), [&impl] { impl.DoAccept(); });
  // The pending accept keeps every thread's run() going until Drain stops the loop.
  std::vector<std::thread> threads;
  const int count = impl.shared.settings.threads > 0
                        ? impl.shared.settings.threads
                        : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i < count; ++i) {
    threads.emplace_back([&impl] { impl.ioc.run(); });
  }
  impl.ioc.run();
  for (auto& t : threads) t.join();
}

void Server::Stop() { impl_->BeginStop(); }

Metrics& Server::metrics() { return *impl_->shared.metrics; }

const Settings& Server::settings() const { return impl_->shared.settings; }

const Router& Server::router() const { return impl_->shared.router; }

}  // namespace tapedeck::server
