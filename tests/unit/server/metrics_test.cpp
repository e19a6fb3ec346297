#include "server/metrics.h"

#include <gtest/gtest.h>

#include <sstream>
#include <thread>

namespace tapedeck::server {
namespace {

bool Contains(const std::string& text, const std::string& line) {
  return text.find(line) != std::string::npos;
}

TEST(MetricsTest, RendersConnectionsByKind) {
  Metrics m;
  m.ConnectionOpened(ConnectionKind::kWebSocket);
  m.ConnectionOpened(ConnectionKind::kWebSocket);
  m.ConnectionOpened(ConnectionKind::kSse);
  m.ConnectionClosed(ConnectionKind::kWebSocket);
  const std::string text = m.Render();
  EXPECT_TRUE(Contains(text, "# TYPE tapedeck_connections gauge\n"));
  EXPECT_TRUE(Contains(text, "tapedeck_connections{kind=\"http\"} 0\n"));
  EXPECT_TRUE(Contains(text, "tapedeck_connections{kind=\"ws\"} 1\n"));
  EXPECT_TRUE(Contains(text, "tapedeck_connections{kind=\"sse\"} 1\n"));
}

TEST(MetricsTest, RendersCounters) {
  Metrics m;
  m.FramesSent(3);
  m.FramesCoalesced(2);
  m.BytesSent(1000);
  const std::string text = m.Render();
  EXPECT_TRUE(Contains(text, "# TYPE tapedeck_frames_sent_total counter\ntapedeck_frames_sent_total 3\n"));
  EXPECT_TRUE(Contains(text, "tapedeck_frames_coalesced_total 2\n"));
  EXPECT_TRUE(Contains(text, "tapedeck_bytes_sent_total 1000\n"));
}

TEST(MetricsTest, RequestsByRouteAndStatusAndCumulativeHistogram) {
  Metrics m;
  m.RequestDone("/backtests/{id}", 200, std::chrono::microseconds(300));
  m.RequestDone("/backtests/{id}", 200, std::chrono::milliseconds(3));
  m.RequestDone("/backtests/{id}", 404, std::chrono::seconds(20));
  const std::string text = m.Render();
  EXPECT_TRUE(Contains(text, "tapedeck_http_requests_total{route=\"/backtests/{id}\",status=\"200\"} 2\n"));
  EXPECT_TRUE(Contains(text, "tapedeck_http_requests_total{route=\"/backtests/{id}\",status=\"404\"} 1\n"));
  EXPECT_TRUE(Contains(text, "# TYPE tapedeck_http_request_duration_seconds histogram\n"));
  EXPECT_TRUE(Contains(text, "tapedeck_http_request_duration_seconds_bucket{le=\"0.0005\"} 1\n"));
  EXPECT_TRUE(Contains(text, "tapedeck_http_request_duration_seconds_bucket{le=\"0.005\"} 2\n"));
  EXPECT_TRUE(Contains(text, "tapedeck_http_request_duration_seconds_bucket{le=\"5\"} 2\n"));
  EXPECT_TRUE(Contains(text, "tapedeck_http_request_duration_seconds_bucket{le=\"+Inf\"} 3\n"));
  EXPECT_TRUE(Contains(text, "tapedeck_http_request_duration_seconds_count 3\n"));
  EXPECT_TRUE(Contains(text, "tapedeck_http_request_duration_seconds_sum 20.0033\n"));
}

TEST(MetricsTest, EveryLineIsACommentOrASample) {
  Metrics m;
  m.RequestDone("a\"b\\c", 200, std::chrono::milliseconds(1));
  m.AddCollector([](std::string& out) {
    AppendFamily(out, "tapedeck_runs", "gauge", "Runs by status.",
                 {{{{"status", "done"}}, 4}, {{{"status", "queued"}}, 1}});
  });
  const std::string text = m.Render();
  EXPECT_TRUE(Contains(text, "route=\"a\\\"b\\\\c\""));
  EXPECT_TRUE(Contains(text, "tapedeck_runs{status=\"done\"} 4\n"));
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) continue;
    const size_t space = line.rfind(' ');
    ASSERT_NE(space, std::string::npos) << line;
    EXPECT_TRUE(line.starts_with("tapedeck_")) << line;
    const std::string value = line.substr(space + 1);
    EXPECT_NO_THROW((void)std::stod(value)) << line;
  }
  EXPECT_EQ(text.back(), '\n');
}

TEST(MetricsTest, CountsFromManyThreads) {
  Metrics m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&m] {
      for (int i = 0; i < 1000; ++i) {
        m.FramesSent(1);
        m.RequestDone("/x", 200, std::chrono::microseconds(1));
      }
    });
  }
  for (auto& t : threads) t.join();
  const std::string text = m.Render();
  EXPECT_TRUE(Contains(text, "tapedeck_frames_sent_total 4000\n"));
  EXPECT_TRUE(Contains(text, "tapedeck_http_requests_total{route=\"/x\",status=\"200\"} 4000\n"));
}

}  // namespace
}  // namespace tapedeck::server
