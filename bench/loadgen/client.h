// The client side of a playback: streams that read a run over WebSocket or SSE into a
// StreamStats, the io_context threads they run on, a blocking first-frame fetch, and a small
// HTTP client for the REST calls. Only loopback is contacted (the endpoint comes from
// LoopbackEndpoint).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "stats.h"

namespace tapedeck::loadgen {

namespace net = boost::asio;
using tcp = net::ip::tcp;

// ---- Streams ----------------------------------------------------------------------------------

// One playback stream. Every call, and every update of its StreamStats, happens on the
// io_context it was made with; the StreamStats and RunClock must outlive that io_context's run.
class Stream {
 public:
  virtual ~Stream() = default;
  // Connects and starts reading; post it onto the stream's io_context.
  virtual void Start() = 0;
  // Ends the stream (a WebSocket close handshake where one is open); on the stream's io_context.
  virtual void Stop() = 0;
};

enum class StreamClient {
  kRawWs,    // WebSocket on a plain socket, our own RFC 6455 reader (the default)
  kBeastWs,  // WebSocket through Beast's client (--ws-client beast)
  kSse,      // SSE on a plain socket
};

// A stream of `target` that records into `stats`. With `loop`, the stream starts the run again
// at its end (WS: seek 0 + play; SSE: a new request), so that it plays as long as the test
// needs. REQUIRES: !loop for kBeastWs.
std::shared_ptr<Stream> MakeStream(StreamClient client, net::io_context& ioc,
                                   tcp::endpoint endpoint, std::string host, std::string target,
                                   StreamStats& stats, const RunClock& clock, bool loop = false);

// Writes on a socket it does not own, one write at a time, in the order sent: bytes sent while a
// write is out wait their turn. On the socket's io_context only.
class WriteQueue {
 public:
  // Called when the queue is empty again after a write, or a write failed (`ec`); it may Send.
  using Drained = std::function<void(const boost::system::error_code& ec)>;

  explicit WriteQueue(tcp::socket& socket, Drained on_drained = {})
      : socket_(socket), on_drained_(std::move(on_drained)) {}

  // Queues `bytes`. `owner` (the socket's owner) is kept alive until the writes end.
  void Send(std::shared_ptr<void> owner, std::string bytes);
  bool empty() const { return queue_.empty(); }

 private:
  void WriteNext(std::shared_ptr<void> owner);

  tcp::socket& socket_;
  Drained on_drained_;
  std::deque<std::string> queue_;
};

// ---- Threads ----------------------------------------------------------------------------------

// `count` single-threaded io_contexts, each run by a thread of its own and kept running (work
// guards) until Finish. Not thread-safe itself; the io_contexts are.
class IoThreads {
 public:
  explicit IoThreads(size_t count);
  ~IoThreads() { Finish(std::chrono::seconds(0)); }
  IoThreads(const IoThreads&) = delete;
  IoThreads& operator=(const IoThreads&) = delete;

  net::io_context& at(size_t k) { return *contexts_[k]; }

  // Lets the io_contexts run out of work (closing handshakes get this grace), then stops what
  // is left and joins the threads. Idempotent.
  void Finish(std::chrono::seconds grace);

 private:
  std::vector<std::unique_ptr<net::io_context>> contexts_;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards_;
  std::vector<std::thread> runners_;
};

using MakeStreamFn = std::function<std::shared_ptr<Stream>(net::io_context& ioc, size_t k)>;

// Opens `n` streams made by make(ioc, k), the k-th on io_context k % `contexts` and, with a
// `ramp` > 0, at start + k / ramp seconds (this thread sleeps until then); all at once otherwise.
std::vector<std::shared_ptr<Stream>> OpenStreams(IoThreads& io, size_t contexts, size_t n,
                                                 double ramp, TimePoint start,
                                                 const MakeStreamFn& make);

// Posts Stop to each of `streams` on its io_context (as OpenStreams placed it) and lets go of
// them; they live on in their handlers until they end.
void StopStreams(std::vector<std::shared_ptr<Stream>>& streams, IoThreads& io, size_t contexts);

// ---- Blocking calls ---------------------------------------------------------------------------

// When each step of reaching a WebSocket's first frame ended.
struct FirstFrame {
  TimePoint start{}, connected{}, handshaken{}, framed{};
  std::string frame;  // its JSON
};

// Connects a WebSocket to `target`, reads until its first frame (at most 100 messages), and
// closes it. Throws std::exception on a failure, an `err` message (its JSON as the what()) or no
// frame in 100 messages.
FirstFrame FetchFirstFrame(net::io_context& ioc, tcp::endpoint endpoint, const std::string& host,
                           const std::string& target);

// Requests on one keep-alive connection, opened on the first request and again after the server
// closes it. Not thread-safe. Send throws std::exception on a network failure or a 30 s timeout.
class HttpClient {
 public:
  enum class Method { kGet, kPost };
  struct Response {
    unsigned status = 0;
    std::string body;
  };

  HttpClient(net::io_context& ioc, tcp::endpoint endpoint, std::string host);
  ~HttpClient();

  // `body`, when not empty, is sent as application/json.
  Response Send(Method method, const std::string& target, std::string body = {});

 private:
  struct Connection;
  net::io_context& ioc_;
  tcp::endpoint endpoint_;
  std::string host_;
  std::unique_ptr<Connection> connection_;
};

}  // namespace tapedeck::loadgen
