// docs/api/openapi.yaml against the routes: the test fails when a route is added, removed or
// renamed without the description following, or the other way round.
#include "api/api_docs.h"

#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "api/api.h"
#include "server/server.h"
#include "store/store.h"

namespace tapedeck::api {
namespace {

namespace http = server::http;

// (METHOD, path pattern), as "GET /backtests/{id}".
using Operation = std::string;

struct Described {
  std::set<Operation> application;  // the REST application's (Resources, the API docs included)
  std::set<Operation> server;       // marked `x-registered-by: server`: the server's own
};

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// The operations of an OpenAPI document whose `paths` are written in block style, as ours is: a
// path is a line "  /pattern:", an operation a line "    method:" under it, and a server's route
// carries "      x-registered-by: server". Not a YAML parser: a document written otherwise
// yields fewer operations, and the comparison below fails.
Described ParseOperations(std::string_view yaml) {
  static const std::set<std::string_view> kMethods = {"get",     "put",  "post",  "delete",
                                                      "options", "head", "patch", "trace"};
  Described out;
  bool in_paths = false;
  std::string path;
  std::string operation;
  bool server_marked = false;
  auto finish = [&] {
    if (!operation.empty()) (server_marked ? out.server : out.application).insert(operation);
    operation.clear();
    server_marked = false;
  };
  size_t start = 0;
  while (start < yaml.size()) {
    size_t end = yaml.find('\n', start);
    if (end == std::string_view::npos) end = yaml.size();
    std::string_view line = yaml.substr(start, end - start);
    start = end + 1;
    if (!line.empty() && line[0] != ' ' && line[0] != '#') {
      finish();
      in_paths = line == "paths:";
      continue;
    }
    if (!in_paths) continue;
    if (line.starts_with("  /") && line.ends_with(":")) {
      finish();
      path = std::string(line.substr(2, line.size() - 3));
    } else if (line.starts_with("    ") && line.size() > 5 && line[4] != ' ' &&
               line.ends_with(":") && kMethods.count(line.substr(4, line.size() - 5))) {
      finish();
      operation = Upper(line.substr(4, line.size() - 5)) + " " + path;
    } else if (line == "      x-registered-by: server") {
      server_marked = true;
    }
  }
  finish();
  return out;
}

class ApiDocsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tapedeck-apidocs-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto store = store::OpenSqliteStore((dir_ / "t.db").string());
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    store_ = std::move(*store);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(ApiDocsTest, OpenApiOperationsAreTheServersRoutes) {
  // Registered as `tapedeck serve` does: the application's routes (api::Service), then the
  // server's own (/healthz, /metrics, the ticket, the streams, /playback), which server::Server
  // adds to the router it is given.
  Resources resources(*store_, Options{});
  server::Router app_router;
  resources.RegisterRoutes(app_router);
  std::set<Operation> application;
  for (const auto& route : app_router.Routes()) {
    application.insert(Upper(std::string(http::to_string(route.method))) + " " + route.pattern);
  }
  const server::Server server(server::Settings{}, std::move(app_router), nullptr);
  std::set<Operation> all;
  for (const auto& route : server.router().Routes()) {
    all.insert(Upper(std::string(http::to_string(route.method))) + " " + route.pattern);
  }

  const Described described = ParseOperations(OpenApiYaml());
  std::set<Operation> documented = described.application;
  documented.insert(described.server.begin(), described.server.end());
  EXPECT_EQ(all, documented) << "docs/api/openapi.yaml and the server's routes differ";
  EXPECT_EQ(application, described.application)
      << "an operation marked x-registered-by: server is registered by src/api, or the other way";
  EXPECT_GE(described.server.size(), 5u);
}

TEST(ApiDocs, ParsesTheOperationsOfABlockStyleDocument) {
  const Described d = ParseOperations(
      "openapi: 3.1.0\n"
      "paths:\n"
      "  /a/{id}:\n"
      "    parameters:\n"
      "      - {$ref: x}\n"
      "    get:\n"
      "      responses: {}\n"
      "    delete:\n"
      "      x-registered-by: server\n"
      "  /b:\n"
      "    post:\n"
      "      summary: get:\n"
      "components:\n"
      "  schemas:\n"
      "    get:\n");
  EXPECT_EQ(d.application, (std::set<Operation>{"GET /a/{id}", "POST /b"}));
  EXPECT_EQ(d.server, (std::set<Operation>{"DELETE /a/{id}"}));
}

TEST(ApiDocs, TheDocumentsAreCompiledIn) {
  EXPECT_TRUE(OpenApiYaml().starts_with("openapi: 3.1."));
  EXPECT_TRUE(AsyncApiYaml().starts_with("asyncapi: 3.0.0"));
}

}  // namespace
}  // namespace tapedeck::api
