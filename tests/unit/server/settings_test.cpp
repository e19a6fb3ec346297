#include "server/settings.h"

#include <gtest/gtest.h>

#include <vector>

namespace tapedeck::server {
namespace {

Result<Settings> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), {"tapedeck", "serve"});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return ParseServeArgs(static_cast<int>(argv.size()), argv.data());
}

TEST(SettingsTest, DefaultsAreTheDesignsValues) {
  auto s = Parse({});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->host, "127.0.0.1");
  EXPECT_EQ(s->port, 8080);
  EXPECT_GE(s->threads, 1);
  EXPECT_EQ(s->heartbeat_interval, std::chrono::seconds(5));
  EXPECT_EQ(s->ping_interval, std::chrono::seconds(5));
  EXPECT_EQ(s->idle_timeout, std::chrono::seconds(30));
  EXPECT_EQ(s->max_ws_message, 4096u);
  EXPECT_EQ(s->body_limit, 64u << 20);
}

TEST(SettingsTest, ParsesEveryKindOfValue) {
  auto s = Parse({"--host", "0.0.0.0", "--port=0", "--threads", "3", "--db", "x.db",
                  "--web-root", "w", "--allow-origin", "http://a.example:3000/",
                  "--allow-origin=https://b.example", "--heartbeat", "250ms",
                  "--ping-interval", "1s", "--idle-timeout", "1.5", "--write-timeout", "2m",
                  "--max-ws-message", "8K", "--body-limit", "1M", "--control-rate", "5",
                  "--synthetic-run", "demo:1000:7:1h:500ms", "--synthetic-run", "b:10"});
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(s->host, "0.0.0.0");
  EXPECT_EQ(s->port, 0);
  EXPECT_EQ(s->threads, 3);
  EXPECT_EQ(s->db_path, "x.db");
  EXPECT_EQ(s->web_root, "w");
  EXPECT_EQ(s->allow_origins, (std::vector<std::string>{"http://a.example:3000",
                                                        "https://b.example"}));
  EXPECT_EQ(s->heartbeat_interval, std::chrono::milliseconds(250));
  EXPECT_EQ(s->ping_interval, std::chrono::seconds(1));
  EXPECT_EQ(s->idle_timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(s->write_timeout, std::chrono::minutes(2));
  EXPECT_EQ(s->max_ws_message, 8192u);
  EXPECT_EQ(s->body_limit, 1u << 20);
  EXPECT_EQ(s->control_rate, 5);
  ASSERT_EQ(s->synthetic_runs.size(), 2u);
  EXPECT_EQ(s->synthetic_runs[0].id, "demo");
  EXPECT_EQ(s->synthetic_runs[0].bars, 1000u);
  EXPECT_EQ(s->synthetic_runs[0].seed, 7u);
  EXPECT_EQ(s->synthetic_runs[0].interval, "1h");
  EXPECT_EQ(s->synthetic_runs[0].ready_after, std::chrono::milliseconds(500));
  EXPECT_EQ(s->synthetic_runs[1].seed, 1u);
}

TEST(SettingsTest, BadInputNamesTheOption) {
  const std::vector<std::vector<std::string>> bad = {
      {"--nope", "1"}, {"--port"}, {"--port", "70000"}, {"--port", "x"},
      {"--heartbeat", "-1s"}, {"--heartbeat", "0"}, {"--idle-timeout", "soon"},
      {"--max-ws-message", "0"}, {"--control-rate", "0"}, {"--synthetic-run", "x"},
      {"--threads", "0"}, {"stray"}};
  for (const auto& args : bad) {
    auto s = Parse(args);
    ASSERT_FALSE(s.ok()) << args[0];
    EXPECT_EQ(s.error().code, ErrorCode::kValidation);
    EXPECT_TRUE(s.error().details.count("field")) << args[0];
  }
  auto s = Parse({"--port", "x"});
  EXPECT_EQ(s.error().details.at("field"), "port");
}

TEST(SettingsTest, DurationsAndSizes) {
  EXPECT_EQ(ParseDuration("5s"), std::chrono::seconds(5));
  EXPECT_EQ(ParseDuration("100ms"), std::chrono::milliseconds(100));
  EXPECT_EQ(ParseDuration("0.25"), std::chrono::milliseconds(250));
  EXPECT_EQ(ParseDuration("1m"), std::chrono::minutes(1));
  EXPECT_EQ(ParseDuration(""), std::nullopt);
  EXPECT_EQ(ParseDuration("s"), std::nullopt);
  EXPECT_EQ(ParseDuration("1h"), std::nullopt);
  EXPECT_EQ(ParseByteSize("4096"), 4096u);
  EXPECT_EQ(ParseByteSize("4k"), 4096u);
  EXPECT_EQ(ParseByteSize("64M"), 64u << 20);
  EXPECT_EQ(ParseByteSize("1G"), 1u << 30);
  EXPECT_EQ(ParseByteSize("1.5M"), std::nullopt);
  EXPECT_EQ(ParseByteSize("M"), std::nullopt);
}

}  // namespace
}  // namespace tapedeck::server
