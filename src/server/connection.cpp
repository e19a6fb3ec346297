#include "server/connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/websocket/error.hpp>

namespace tapedeck::server {
namespace {

// Unsent bytes the kernel may hold per socket beyond the one write in flight: a few frames. Above
// it a write does not complete, which is what tells the playback session to coalesce.
constexpr int kNotSentLowWater = 16 * 1024;

}  // namespace

ConnectionSlot& ConnectionSlot::operator=(ConnectionSlot&& other) noexcept {
  if (this != &other) {
    if (registry_) registry_->Release(address_);
    registry_ = std::exchange(other.registry_, nullptr);
    address_ = std::move(other.address_);
  }
  return *this;
}

ConnectionSlot::~ConnectionSlot() {
  if (registry_) registry_->Release(address_);
}

Result<ConnectionSlot> Registry::Admit(const std::string& address) {
  std::lock_guard lock(mu_);
  if (stopping_) {
    return MakeError(ErrorCode::kUnavailable, "the server is shutting down");
  }
  if (admitted_ >= settings_.max_connections) {
    return MakeError(ErrorCode::kUnavailable, "too many connections",
                     {{"limit", std::to_string(settings_.max_connections)}});
  }
  size_t& mine = per_address_[address];
  if (mine >= settings_.max_connections_per_address) {
    return MakeError(ErrorCode::kRateLimited, "too many connections from this address",
                     {{"limit", std::to_string(settings_.max_connections_per_address)}});
  }
  ++mine;
  ++admitted_;
  return ConnectionSlot(this, address);
}

void Registry::Release(const std::string& address) {
  std::lock_guard lock(mu_);
  --admitted_;
  const auto it = per_address_.find(address);
  if (it != per_address_.end() && --it->second == 0) per_address_.erase(it);
}

void Registry::Add(Connection* connection, std::weak_ptr<Connection> handle) {
  std::lock_guard lock(mu_);
  live_[connection] = std::move(handle);
}

void Registry::Remove(Connection* connection) {
  std::lock_guard lock(mu_);
  live_.erase(connection);
}

void Registry::ShutdownAll() {
  std::vector<std::shared_ptr<Connection>> live;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (const auto& [ptr, handle] : live_) {
      if (auto connection = handle.lock()) live.push_back(std::move(connection));
    }
  }
  for (const auto& connection : live) connection->Shutdown();
}

size_t Registry::size() const {
  std::lock_guard lock(mu_);
  return live_.size();
}

bool IsNormalEnd(const boost::system::error_code& ec) {
  namespace beast = boost::beast;
  return ec == net::error::operation_aborted || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == net::error::not_connected || ec == net::error::bad_descriptor ||
         ec == beast::error::timeout || ec == beast::http::error::end_of_stream ||
         ec == beast::websocket::error::closed;
}

void LimitSendBuffer(tcp::socket& socket) {
  const int fd = socket.native_handle();
  int lowat = kNotSentLowWater;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat));
  // No Nagle: frames are small and due now; delaying them by an ACK round trip is jank.
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
}

tcp::socket MoveToExecutor(tcp::socket socket, const net::any_io_executor& executor) {
  boost::system::error_code ec;
  const auto protocol = socket.local_endpoint(ec).protocol();
  const auto fd = socket.release(ec);
  tcp::socket moved(executor);
  if (!ec) moved.assign(protocol, fd, ec);
  return moved;
}

}  // namespace tapedeck::server
