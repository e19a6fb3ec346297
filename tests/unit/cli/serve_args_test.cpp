#include "cli/serve_args.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "cli/tokens_file.h"

namespace tapedeck::cli {
namespace {

Result<ServeOptions> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), {"tapedeck", "serve"});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return ParseServeArgs(static_cast<int>(argv.size()), argv.data());
}

TEST(ServeArgsTest, DefaultsAreTheDesignsValues) {
  auto s = Parse({});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->server.host, "127.0.0.1");
  EXPECT_EQ(s->server.port, 8080);
  EXPECT_GE(s->server.threads, 1);
  EXPECT_EQ(s->server.heartbeat_interval, std::chrono::seconds(5));
  EXPECT_EQ(s->server.ping_interval, std::chrono::seconds(5));
  EXPECT_EQ(s->server.idle_timeout, std::chrono::seconds(30));
  EXPECT_EQ(s->server.max_ws_message, 4096u);
  EXPECT_EQ(s->server.body_limit, 64u << 20);
  EXPECT_TRUE(s->server.auth_tokens.empty());
  EXPECT_EQ(s->server.ticket_ttl, std::chrono::seconds(60));
  EXPECT_EQ(s->api.max_queued_per_client, 16u);
  EXPECT_EQ(s->api.max_queued, 256u);
  EXPECT_EQ(s->api.max_sweep_trials, 100'000u);
  EXPECT_GE(s->api.workers, 1u);  // one per core, resolved by the parse
  EXPECT_EQ(s->api.store, "tapedeck.db");
  EXPECT_TRUE(s->server.ticket_key.empty());  // a random key per process
  EXPECT_EQ(s->api.max_upload_bytes, 64u << 20);
  EXPECT_TRUE(s->api.synthetic_runs.empty());
}

TEST(ServeArgsTest, WorkersAndTheUploadLimitGoToTheApi) {
  auto s = Parse({"--workers", "3", "--body-limit", "2M"});
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(s->api.workers, 3u);
  EXPECT_EQ(s->server.body_limit, 2u << 20);
  EXPECT_EQ(s->api.max_upload_bytes, 2u << 20);
}

TEST(ServeArgsTest, PacingPhasesAreTwoByDefaultAndOneToFour) {
  auto s = Parse({});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->server.pacing_phases, 2);
  s = Parse({"--pacing-phases", "1"});
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(s->server.pacing_phases, 1);
  for (const char* bad : {"0", "5", "-1", "two"}) {
    s = Parse({"--pacing-phases", bad});
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.error().details.at("field"), "pacing-phases") << bad;
  }
}

TEST(ServeArgsTest, SyntheticRunWithABadIntervalIsRefusedAtTheEdge) {
  auto s = Parse({"--synthetic-run", "demo:100:1:7q"});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().details.at("field"), "synthetic-run");
}

TEST(ServeArgsTest, ParsesFromTheGivenArgument) {
  // `tapedeck --port 9000`: no command, the options start at argv[1].
  std::vector<std::string> args = {"tapedeck", "--port", "9000"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  auto s = ParseServeArgs(static_cast<int>(argv.size()), argv.data(), 1);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(s->server.port, 9000);
}

TEST(ServeArgsTest, ParsesEveryKindOfValue) {
  auto s = Parse({"--host", "0.0.0.0", "--port=0", "--threads", "3", "--db", "x.db",
                  "--web-root", "w", "--allow-origin", "http://a.example:3000/",
                  "--allow-origin=https://b.example", "--heartbeat", "250ms",
                  "--ping-interval", "1s", "--idle-timeout", "1.5", "--write-timeout", "2m",
                  "--max-ws-message", "8K", "--body-limit", "1M", "--control-rate", "5",
                  "--synthetic-run", "demo:1000:7:1h:500ms", "--synthetic-run", "b:10"});
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(s->server.host, "0.0.0.0");
  EXPECT_EQ(s->server.port, 0);
  EXPECT_EQ(s->server.threads, 3);
  EXPECT_EQ(s->api.store, "sqlite:x.db");
  EXPECT_EQ(s->server.web_root, "w");
  EXPECT_EQ(s->server.allow_origins, (std::vector<std::string>{"http://a.example:3000",
                                                        "https://b.example"}));
  EXPECT_EQ(s->server.heartbeat_interval, std::chrono::milliseconds(250));
  EXPECT_EQ(s->server.ping_interval, std::chrono::seconds(1));
  EXPECT_EQ(s->server.idle_timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(s->server.write_timeout, std::chrono::minutes(2));
  EXPECT_EQ(s->server.max_ws_message, 8192u);
  EXPECT_EQ(s->server.body_limit, 1u << 20);
  EXPECT_EQ(s->server.control_rate, 5);
  ASSERT_EQ(s->api.synthetic_runs.size(), 2u);
  EXPECT_EQ(s->api.synthetic_runs[0].id, "demo");
  EXPECT_EQ(s->api.synthetic_runs[0].bars, 1000u);
  EXPECT_EQ(s->api.synthetic_runs[0].seed, 7u);
  EXPECT_EQ(s->api.synthetic_runs[0].interval, "1h");
  EXPECT_EQ(s->api.synthetic_runs[0].ready_after, std::chrono::milliseconds(500));
  EXPECT_EQ(s->api.synthetic_runs[1].seed, 1u);
}

TEST(ServeArgsTest, BadInputNamesTheOption) {
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

TEST(ServeArgsTest, StoreTakesAnySpecAndDbIsItsSqliteSynonym) {
  for (const std::string spec :
       {"sqlite:/var/lib/t.db", "t.db", "postgresql://td@db/td", "postgres://td@db:5433/td"}) {
    auto s = Parse({"--store", spec});
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    EXPECT_EQ(s->api.store, spec);
  }
  auto s = Parse({"--db=/tmp/x.db"});
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(s->api.store, "sqlite:/tmp/x.db");
}

TEST(ServeArgsTest, DbAndStoreTogetherIsRefused) {
  auto s = Parse({"--db", "x.db", "--store", "sqlite:y.db"});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kValidation);
  EXPECT_EQ(s.error().details.at("field"), "db");
  EXPECT_NE(s.error().msg.find("--store"), std::string::npos) << s.error().msg;
}

TEST(ServeArgsTest, WorkersDefaultToNoneOnPostgresAndToOnePerCoreOnSqlite) {
  auto pg = Parse({"--store", "postgresql://td@db/td"});
  ASSERT_TRUE(pg.ok()) << pg.error().ToString();
  EXPECT_EQ(pg->api.workers, 0u);  // a stateless node: workers execute
  auto pg_workers = Parse({"--store", "postgresql://td@db/td", "--workers", "2"});
  ASSERT_TRUE(pg_workers.ok());
  EXPECT_EQ(pg_workers->api.workers, 2u);
  auto pg_zero = Parse({"--store", "postgresql://td@db/td", "--workers", "0"});
  ASSERT_TRUE(pg_zero.ok());
  EXPECT_EQ(pg_zero->api.workers, 0u);
  auto sqlite = Parse({"--store", "sqlite:t.db"});
  ASSERT_TRUE(sqlite.ok());
  EXPECT_GE(sqlite->api.workers, 1u);
  // With SQLite nothing else would execute the runs.
  auto none = Parse({"--workers", "0"});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().details.at("field"), "workers");
}

// A file in a fresh temp dir with `mode`; removed with the dir when the test ends.
class TokensFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("tapedeck-tokens-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& text, mode_t mode = 0600,
                    const std::string& name = "tokens") {
    const auto path = (dir_ / name).string();
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
    return path;
  }

  std::filesystem::path dir_;
};

TEST(ServeArgsTest, AuthTokensQueueLimitsAndTicketTtl) {
  auto s = Parse({"--auth-token", "first-token-0123456789", "--auth-token=second/Token+0123==",
                  "--ticket-ttl", "750ms", "--max-queued", "40", "--max-queued-per-client", "3",
                  "--max-sweep-trials", "5000"});
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(s->server.auth_tokens,
            (std::vector<std::string>{"first-token-0123456789", "second/Token+0123=="}));
  EXPECT_EQ(s->server.ticket_ttl, std::chrono::milliseconds(750));
  EXPECT_EQ(s->api.max_queued, 40u);
  EXPECT_EQ(s->api.max_queued_per_client, 3u);
  EXPECT_EQ(s->api.max_sweep_trials, 5000u);
}

TEST(ServeArgsTest, BadTokensAndLimitsAreRefusedWithoutEchoingTheToken) {
  for (const char* token : {"short-token", "has space in it 0123", "bad=pad=0123456789",
                            "ümlaut-token-0123456789", ""}) {
    auto s = Parse({"--auth-token", token});
    ASSERT_FALSE(s.ok()) << token;
    EXPECT_EQ(s.error().details.at("field"), "auth-token");
    if (*token) {
      EXPECT_EQ(s.error().ToString().find(token), std::string::npos) << token;
    }
  }
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--ticket-ttl", "0"}, {"--max-queued", "0"}, {"--max-queued-per-client", "-1"}}) {
    auto s = Parse(args);
    ASSERT_FALSE(s.ok()) << args[0];
    EXPECT_EQ(s.error().code, ErrorCode::kValidation);
  }
}

TEST_F(TokensFileTest, ReadsOneTokenALineSkippingCommentsAndBlanks) {
  const auto path = Write(
      "# the desk's tokens\n\n  alice-0123456789abcdef  \n"
      "#bob-0123456789abcdef\nbob-token-0123456789\r\n");
  auto s = Parse({"--auth-token", "cli-token-0123456789", "--tokens-file", path});
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(s->tokens_file, path);
  EXPECT_EQ(s->server.auth_tokens,
            (std::vector<std::string>{"cli-token-0123456789", "alice-0123456789abcdef",
                                      "bob-token-0123456789"}));
  EXPECT_TRUE(LoadTokensFile(Write("carol-0123456789abcdef\n", 0640)).ok());
}

TEST_F(TokensFileTest, OpenToOthersEmptyMissingOrBadIsRefused) {
  const std::vector<std::pair<std::string, mode_t>> bad = {
      {"alice-0123456789abcdef\n", 0644},
      {"alice-0123456789abcdef\n", 0602},
      {"# only a comment\n\n", 0600},
      {"alice-0123456789abcdef\nsecret pass word 123\n", 0600}};
  for (const auto& [text, mode] : bad) {
    auto tokens = LoadTokensFile(Write(text, mode));
    ASSERT_FALSE(tokens.ok()) << text << " " << mode;
    EXPECT_EQ(tokens.error().code, ErrorCode::kValidation);
    EXPECT_EQ(tokens.error().details.at("field"), "tokens-file");
    EXPECT_EQ(tokens.error().ToString().find("alice"), std::string::npos);
    EXPECT_EQ(tokens.error().ToString().find("secret"), std::string::npos);
  }
  auto line = LoadTokensFile(Write("alice-0123456789abcdef\nsecret pass word 123\n"));
  EXPECT_EQ(line.error().details.at("line"), "2");
  EXPECT_FALSE(LoadTokensFile((dir_ / "absent").string()).ok());
  auto s = Parse({"--tokens-file", Write("x\n", 0644)});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().details.at("field"), "tokens-file");
}

TEST(ServeArgsTest, ScriptBudgetsReachTheApiOptions) {
  auto defaults = Parse({});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->api.script_budgets.instructions, strategies::ScriptBudgets{}.instructions);
  EXPECT_EQ(defaults->api.script_budgets.memory_bytes, strategies::ScriptBudgets{}.memory_bytes);
  auto s = Parse({"--script-instructions", "5000000", "--script-memory=16", "--script-seconds",
                  "2.5"});
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(s->api.script_budgets.instructions, 5'000'000u);
  EXPECT_EQ(s->api.script_budgets.memory_bytes, size_t{16} << 20);
  EXPECT_EQ(s->api.script_budgets.wall_seconds, 2.5);
  for (const auto& [option, value] : {std::pair{"--script-instructions", "999"},
                                      {"--script-instructions", "1e9"},
                                      {"--script-memory", "0"},
                                      {"--script-memory", "65537"},
                                      {"--script-memory", "1.5"},
                                      {"--script-seconds", "0"},
                                      {"--script-seconds", "nan"},
                                      {"--script-seconds", "86401"}}) {
    auto bad = Parse({option, value});
    ASSERT_FALSE(bad.ok()) << option << " " << value;
    EXPECT_EQ(bad.error().code, ErrorCode::kValidation);
    EXPECT_EQ(bad.error().details.at("option"), std::string(option).substr(2));
    EXPECT_NE(bad.error().msg.find("expected"), std::string::npos) << bad.error().msg;
  }
  EXPECT_FALSE(Parse({"--script-memory"}).ok());
  EXPECT_NE(ServeUsage().find("--script-memory MiB"), std::string_view::npos);
}

TEST(ServeArgsTest, DurationsAndSizes) {
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

TEST_F(TokensFileTest, TicketKeyFileIsReadTrimmedIntoTheServersKey) {
  const std::string key(40, 'q');
  auto s = Parse({"--ticket-key-file", Write("\n  " + key + "  \n\n")});
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(s->server.ticket_key, key);
  EXPECT_FALSE(s->ticket_key_file.empty());
}

TEST_F(TokensFileTest, BadTicketKeyFilesAreRefusedNamingTheFileAndWhy) {
  const std::string short_key(31, 'q');
  struct Case {
    std::string path;
    std::string why;
  };
  const std::vector<Case> cases = {
      {Write(short_key + "\n", 0600, "short"), "holds 31 byte(s)"},
      {Write("   \n", 0600, "blank"), "holds 0 byte(s)"},
      {Write(std::string(32, 'q'), 0644, "world"), "chmod o-rwx"},
      {(dir_ / "missing").string(), "No such file or directory"},
  };
  for (const Case& c : cases) {
    auto s = Parse({"--ticket-key-file", c.path});
    ASSERT_FALSE(s.ok()) << c.why;
    EXPECT_EQ(s.error().code, ErrorCode::kValidation);
    EXPECT_EQ(s.error().details.at("field"), "ticket-key-file");
    EXPECT_EQ(s.error().details.at("path"), c.path);
    EXPECT_NE(s.error().msg.find(c.path), std::string::npos) << s.error().msg;
    EXPECT_NE(s.error().msg.find(c.why), std::string::npos) << s.error().msg;
    EXPECT_EQ(s.error().ToString().find(short_key), std::string::npos);
  }
}

}  // namespace
}  // namespace tapedeck::cli
