// The server's counters and gauges, exposed at /metrics in the Prometheus text format (0.0.4).
//
// Thread-safety: every method may be called from any thread. Counters on the streaming path are
// relaxed atomics (a few nanoseconds per frame); per-route request counts take a mutex, once per
// HTTP request.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tapedeck::server {

enum class ConnectionKind { kHttp, kWebSocket, kSse };
std::string_view ToString(ConnectionKind kind);  // "http", "ws", "sse"

class Metrics {
 public:
  // Appends more metric families to the /metrics text (e.g. the REST side's runs by status). Use
  // AppendGauge/AppendCounter below to keep the format right.
  using Collector = std::function<void(std::string& out)>;

  // Upper bounds, in seconds, of the request latency histogram's buckets (+Inf is implied).
  static constexpr std::array<double, 12> kLatencyBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5};

  void ConnectionOpened(ConnectionKind kind);
  void ConnectionClosed(ConnectionKind kind);
  // A connection that changes kind (an HTTP connection upgraded to a stream).
  void ConnectionChanged(ConnectionKind from, ConnectionKind to);
  int64_t Connections(ConnectionKind kind) const;

  void FramesSent(uint64_t n) { frames_sent_.fetch_add(n, std::memory_order_relaxed); }
  void FramesCoalesced(uint64_t n) { frames_coalesced_.fetch_add(n, std::memory_order_relaxed); }
  void FramesLagMerged(uint64_t n) { frames_lag_merged_.fetch_add(n, std::memory_order_relaxed); }
  void BytesSent(uint64_t n) { bytes_sent_.fetch_add(n, std::memory_order_relaxed); }
  void ConnectionRejected() { connections_rejected_.fetch_add(1, std::memory_order_relaxed); }

  // One HTTP request answered. `route` is the route's pattern ("/backtests/{id}"), never the raw
  // path, so the number of series stays bounded.
  void RequestDone(std::string_view route, int status, std::chrono::nanoseconds latency);

  void AddCollector(Collector collector);

  // The whole exposition text.
  std::string Render() const;

 private:
  std::array<std::atomic<int64_t>, 3> connections_{};
  std::atomic<uint64_t> frames_sent_{0}, frames_coalesced_{0}, frames_lag_merged_{0}, bytes_sent_{0};
  std::atomic<uint64_t> connections_rejected_{0};
  std::array<std::atomic<uint64_t>, kLatencyBuckets.size() + 1> latency_counts_{};  // +Inf last
  std::atomic<uint64_t> latency_sum_ns_{0};

  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;  // GUARDED_BY(mu_)
  std::vector<Collector> collectors_;                          // GUARDED_BY(mu_)
};

// Appends "# HELP", "# TYPE" and one sample per label set: {{"status","done"}} -> name{status="done"}.
void AppendFamily(std::string& out, std::string_view name, std::string_view type,
                  std::string_view help,
                  const std::vector<std::pair<std::vector<std::pair<std::string, std::string>>,
                                              double>>& samples);
void AppendGauge(std::string& out, std::string_view name, std::string_view help, double value);
void AppendCounter(std::string& out, std::string_view name, std::string_view help, double value);
// Appends a histogram: `counts[i]` observations fell at or under `bounds[i]` (and above the bound
// before), counts[bounds.size()] above the last bound (+Inf); not cumulative, as kept. `sum`: of
// every observation.
void AppendHistogram(std::string& out, std::string_view name, std::string_view help,
                     std::span<const double> bounds, std::span<const uint64_t> counts, double sum);

}  // namespace tapedeck::server
