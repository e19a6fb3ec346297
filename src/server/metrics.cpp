#include "server/metrics.h"

#include <charconv>

#include "common/json_writer.h"

namespace tapedeck::server {
namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

// Label values escape backslash, double quote and newline (exposition format 0.0.4).
void AppendLabelValue(std::string& out, std::string_view value) {
  for (const char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void AppendSample(std::string& out, std::string_view name, const Labels& labels, double value) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i) out += ',';
      out += labels[i].first;
      out += "=\"";
      AppendLabelValue(out, labels[i].second);
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  AppendJsonNumber(out, value);  // shortest form; integers print without a fraction
  out += '\n';
}

void AppendHeader(std::string& out, std::string_view name, std::string_view type,
                  std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

size_t Index(ConnectionKind kind) { return static_cast<size_t>(kind); }

}  // namespace

std::string_view ToString(ConnectionKind kind) {
  switch (kind) {
    case ConnectionKind::kHttp: return "http";
    case ConnectionKind::kWebSocket: return "ws";
    case ConnectionKind::kSse: return "sse";
  }
  return "http";
}

void Metrics::ConnectionOpened(ConnectionKind kind) {
  connections_[Index(kind)].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::ConnectionClosed(ConnectionKind kind) {
  connections_[Index(kind)].fetch_sub(1, std::memory_order_relaxed);
}

void Metrics::ConnectionChanged(ConnectionKind from, ConnectionKind to) {
  ConnectionOpened(to);
  ConnectionClosed(from);
}

int64_t Metrics::Connections(ConnectionKind kind) const {
  return connections_[Index(kind)].load(std::memory_order_relaxed);
}

void Metrics::RequestDone(std::string_view route, int status, std::chrono::nanoseconds latency) {
  const double seconds = std::chrono::duration<double>(latency).count();
  size_t bucket = 0;
  while (bucket < kLatencyBuckets.size() && seconds > kLatencyBuckets[bucket]) ++bucket;
  latency_counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  latency_sum_ns_.fetch_add(static_cast<uint64_t>(latency.count()), std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  ++requests_[{std::string(route), status}];
}

void Metrics::AddCollector(Collector collector) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collector));
}

std::string Metrics::Render() const {
  std::string out;
  out.reserve(4096);
  AppendFamily(out, "tapedeck_connections", "gauge", "Open connections by kind.",
               {{{{"kind", "http"}}, double(Connections(ConnectionKind::kHttp))},
                {{{"kind", "ws"}}, double(Connections(ConnectionKind::kWebSocket))},
                {{{"kind", "sse"}}, double(Connections(ConnectionKind::kSse))}});
  AppendCounter(out, "tapedeck_connections_rejected_total",
                "Connections refused because a connection limit was reached.",
                double(connections_rejected_.load(std::memory_order_relaxed)));
  AppendCounter(out, "tapedeck_frames_sent_total", "Playback frames written to clients.",
                double(frames_sent_.load(std::memory_order_relaxed)));
  AppendCounter(out, "tapedeck_frames_coalesced_total",
                "Playback frames merged into a waiting frame because the client was slow.",
                double(frames_coalesced_.load(std::memory_order_relaxed)));
  AppendCounter(out, "tapedeck_frames_lag_merged_total",
                "Playback windows merged into a later frame because the server itself was late.",
                double(frames_lag_merged_.load(std::memory_order_relaxed)));
  AppendCounter(out, "tapedeck_bytes_sent_total", "Bytes of playback messages written to clients.",
                double(bytes_sent_.load(std::memory_order_relaxed)));

  std::vector<Collector> collectors;
  {
    std::lock_guard lock(mu_);
    std::vector<std::pair<Labels, double>> samples;
    for (const auto& [key, n] : requests_) {
      samples.push_back({{{"route", key.first}, {"status", std::to_string(key.second)}}, double(n)});
    }
    AppendFamily(out, "tapedeck_http_requests_total", "counter",
                 "HTTP requests answered, by route pattern and status.", samples);
    collectors = collectors_;
  }

  std::array<uint64_t, kLatencyBuckets.size() + 1> counts{};
  for (size_t i = 0; i < counts.size(); ++i) {
    counts[i] = latency_counts_[i].load(std::memory_order_relaxed);
  }
  AppendHistogram(out, "tapedeck_http_request_duration_seconds",
                  "Time from a request's last byte to its response.", kLatencyBuckets, counts,
                  double(latency_sum_ns_.load(std::memory_order_relaxed)) / 1e9);

  for (const auto& collector : collectors) collector(out);
  return out;
}

void AppendFamily(std::string& out, std::string_view name, std::string_view type,
                  std::string_view help, const std::vector<std::pair<Labels, double>>& samples) {
  AppendHeader(out, name, type, help);
  for (const auto& [labels, value] : samples) AppendSample(out, name, labels, value);
}

void AppendHistogram(std::string& out, std::string_view name, std::string_view help,
                     std::span<const double> bounds, std::span<const uint64_t> counts, double sum) {
  AppendHeader(out, name, "histogram", help);
  uint64_t cumulative = 0;
  const std::string bucket_name = std::string(name) + "_bucket";
  for (size_t i = 0; i <= bounds.size(); ++i) {
    cumulative += i < counts.size() ? counts[i] : 0;
    std::string le;
    if (i < bounds.size()) {
      // Fixed notation, as Prometheus clients write `le`: "0.0005", not "5e-04".
      char text[32];
      const auto end =
          std::to_chars(text, text + sizeof(text), bounds[i], std::chars_format::fixed).ptr;
      le.assign(text, end);
    } else {
      le = "+Inf";
    }
    AppendSample(out, bucket_name, {{"le", le}}, double(cumulative));
  }
  AppendSample(out, std::string(name) + "_sum", {}, sum);
  AppendSample(out, std::string(name) + "_count", {}, double(cumulative));
}

void AppendGauge(std::string& out, std::string_view name, std::string_view help, double value) {
  AppendFamily(out, name, "gauge", help, {{{}, value}});
}

void AppendCounter(std::string& out, std::string_view name, std::string_view help, double value) {
  AppendFamily(out, name, "counter", help, {{{}, value}});
}

}  // namespace tapedeck::server
