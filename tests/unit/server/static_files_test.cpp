#include "server/static_files.h"

#include <gtest/gtest.h>

#include <fstream>

namespace tapedeck::server {
namespace {

namespace fs = std::filesystem;

class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ =
        fs::temp_directory_path() /
        ("tapedeck_static_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
         "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    fs::create_directories(base_ / "web" / "assets");
    fs::create_directories(base_ / "web" / "docs");
    Write(base_ / "web" / "index.html", "<html>");
    Write(base_ / "web" / "assets" / "app.js", "js");
    Write(base_ / "web" / "docs" / "index.html", "docs");
    Write(base_ / "web" / ".secret", "hidden");
    Write(base_ / "outside.txt", "secret");
    fs::create_symlink(base_ / "outside.txt", base_ / "web" / "link.txt");
    fs::create_symlink(base_ / "web" / "assets" / "app.js", base_ / "web" / "inner.js");
  }
  void TearDown() override { fs::remove_all(base_); }

  static void Write(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

  fs::path base_;
};

TEST_F(StaticFilesTest, ServesFilesWithTheirContentType) {
  const StaticFiles files((base_ / "web").string());
  auto file = files.Resolve("/assets/app.js?v=3");
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->path.filename(), "app.js");
  EXPECT_EQ(file->content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(file->size, 2u);
  EXPECT_FALSE(file->etag.empty());
}

TEST_F(StaticFilesTest, RootAndRunRoutesServeIndex) {
  const StaticFiles files((base_ / "web").string());
  for (const char* target :
       {"/", "/runs/abc", "/runs/abc/", "/runs/a%20b?speed=60", "/editor", "/editor/",
        "/editor/my_sma", "/editor/my_sma/", "/compare?a=x&b=y", "/compare/", "/sweeps",
        "/sweeps/", "/sweeps/abc", "/sweeps/abc/"}) {
    auto file = files.Resolve(target);
    ASSERT_TRUE(file.ok()) << target;
    EXPECT_EQ(file->path, fs::canonical(base_ / "web" / "index.html")) << target;
    EXPECT_EQ(file->content_type, "text/html; charset=utf-8");
  }
  for (const char* target : {"/runs", "/editor/a/b", "/runs/a/b", "/compare/x", "/sweeps/a/trials"}) {
    EXPECT_FALSE(files.Resolve(target).ok()) << target;
  }
  auto docs = files.Resolve("/docs/");
  ASSERT_TRUE(docs.ok());
  EXPECT_EQ(docs->path, fs::canonical(base_ / "web" / "docs" / "index.html"));
}

TEST_F(StaticFilesTest, RefusesEveryWayOut) {
  const StaticFiles files((base_ / "web").string());
  for (const char* target :
       {"/../outside.txt", "/assets/../../outside.txt", "/%2e%2e/outside.txt",
        "/%2E%2E/outside.txt", "/assets/%2e%2e%2f%2e%2e%2foutside.txt", "/..%2foutside.txt",
        "/assets%2f..%2f..%2foutside.txt", "/..%5coutside.txt", "/link.txt", "/.secret",
        "/nope.html", "/assets/app.js%00.html", "//etc/passwd", "/assets//app.js"}) {
    auto file = files.Resolve(target);
    EXPECT_FALSE(file.ok()) << target;
    if (!file.ok()) {
      EXPECT_EQ(file.error().code, ErrorCode::kNotFound) << target;
    }
  }
}

TEST_F(StaticFilesTest, SymlinkInsideTheRootIsServed) {
  const StaticFiles files((base_ / "web").string());
  auto file = files.Resolve("/inner.js");
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->path, fs::canonical(base_ / "web" / "assets" / "app.js"));
}

TEST_F(StaticFilesTest, VendorMountServesOnlyThePackagesDist) {
  const fs::path dist = base_ / "node_modules" / "lightweight-charts" / "dist";
  fs::create_directories(dist);
  Write(dist / "lw.mjs", "export {}");
  Write(base_ / "node_modules" / "lightweight-charts" / "package.json", "{}");
  Write(base_ / "node_modules" / "other.js", "other");
  fs::create_symlink(base_ / "outside.txt", dist / "out.txt");
  const StaticFiles files((base_ / "web").string());

  auto file = files.Resolve("/vendor/lightweight-charts/lw.mjs?v=5");
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->path, fs::canonical(dist / "lw.mjs"));
  EXPECT_EQ(file->content_type, "text/javascript; charset=utf-8");

  for (const char* target :
       {"/vendor/lightweight-charts/../package.json",
        "/vendor/lightweight-charts/%2e%2e/package.json",
        "/vendor/lightweight-charts/..%2fpackage.json",
        "/vendor/lightweight-charts/%2e%2e%2f%2e%2e%2fother.js",
        "/vendor/lightweight-charts/out.txt", "/vendor/lightweight-charts/",
        "/vendor/lightweight-charts", "/vendor/other.js", "/vendor/other/lw.mjs",
        "/vendor/%2e%2e/other.js", "/node_modules/lightweight-charts/dist/lw.mjs",
        "/../node_modules/other.js"}) {
    auto refused = files.Resolve(target);
    EXPECT_FALSE(refused.ok()) << target;
    if (!refused.ok()) {
      EXPECT_EQ(refused.error().code, ErrorCode::kNotFound) << target;
    }
  }
}

TEST_F(StaticFilesTest, EditorMountsServeOnlyItsLibraryAndLuaMode) {
  const fs::path cm = base_ / "node_modules" / "codemirror";
  fs::create_directories(cm / "lib");
  fs::create_directories(cm / "mode" / "lua");
  fs::create_directories(cm / "mode" / "python");
  Write(cm / "lib" / "codemirror.js", "/* cm */");
  Write(cm / "lib" / "codemirror.css", "/* css */");
  Write(cm / "mode" / "lua" / "lua.js", "/* lua */");
  Write(cm / "mode" / "python" / "python.js", "/* py */");
  Write(cm / "package.json", "{}");
  const StaticFiles files((base_ / "web").string());

  auto js = files.Resolve("/vendor/codemirror/codemirror.js");
  ASSERT_TRUE(js.ok());
  EXPECT_EQ(js->path, fs::canonical(cm / "lib" / "codemirror.js"));
  auto css = files.Resolve("/vendor/codemirror/codemirror.css");
  ASSERT_TRUE(css.ok());
  EXPECT_EQ(css->content_type, "text/css; charset=utf-8");
  auto lua = files.Resolve("/vendor/codemirror-lua/lua.js");
  ASSERT_TRUE(lua.ok());
  EXPECT_EQ(lua->path, fs::canonical(cm / "mode" / "lua" / "lua.js"));
  for (const char* target :
       {"/vendor/codemirror/../package.json", "/vendor/codemirror/..%2fmode/python/python.js",
        "/vendor/codemirror-lua/../python/python.js",
        "/vendor/codemirror-lua/%2e%2e/python/python.js", "/vendor/codemirror/package.json"}) {
    EXPECT_FALSE(files.Resolve(target).ok()) << target;
  }
}

TEST_F(StaticFilesTest, VendorMountWithoutNodeModulesIsNotFound) {
  const StaticFiles files((base_ / "web").string());
  EXPECT_FALSE(files.Resolve("/vendor/lightweight-charts/lw.mjs").ok());
}

TEST_F(StaticFilesTest, MissingChartLibraryIsNamedWithHowToGetIt) {
  const StaticFiles files((base_ / "web").string());
  // Each npm package once, though codemirror has two mounts.
  EXPECT_EQ(files.MissingVendorPackages(),
            (std::vector<std::string>{"lightweight-charts", "codemirror"}));
  const std::string message = files.MissingVendorMessage();
  EXPECT_NE(message.find("lightweight-charts"), std::string::npos) << message;
  EXPECT_NE(message.find((fs::canonical(base_) / "node_modules").string()), std::string::npos)
      << message;
  EXPECT_NE(message.find("npm ci"), std::string::npos) << message;
  EXPECT_NE(message.find("scripts/bootstrap.sh"), std::string::npos) << message;
  EXPECT_NE(message.find("has no package.json"), std::string::npos) << message;

  // In a source tree (package.json beside the root): npm ci there.
  Write(base_ / "package.json", "{}");
  const std::string in_tree = files.MissingVendorMessage();
  EXPECT_NE(in_tree.find("Install them with `npm ci` in " + fs::canonical(base_).string()),
            std::string::npos)
      << in_tree;
  EXPECT_EQ(in_tree.find("package.json"), std::string::npos) << in_tree;
}

TEST_F(StaticFilesTest, InstalledChartLibraryIsNotReported) {
  fs::create_directories(base_ / "node_modules" / "lightweight-charts" / "dist");
  const StaticFiles files((base_ / "web").string());
  EXPECT_EQ(files.MissingVendorPackages(), std::vector<std::string>{"codemirror"});
  fs::create_directories(base_ / "node_modules" / "codemirror" / "lib");
  fs::create_directories(base_ / "node_modules" / "codemirror" / "mode" / "lua");
  EXPECT_TRUE(files.MissingVendorPackages().empty());
  EXPECT_EQ(files.MissingVendorMessage(), "");
  // Without a root nothing is served, so nothing is missing either.
  EXPECT_EQ(StaticFiles("").MissingVendorMessage(), "");
}

TEST_F(StaticFilesTest, MissingRootServesNothing) {
  const StaticFiles files((base_ / "nope").string());
  EXPECT_FALSE(files.Resolve("/").ok());
  const StaticFiles none("");
  EXPECT_FALSE(none.Resolve("/").ok());
}

TEST(ContentTypeTest, KnownAndUnknownExtensions) {
  EXPECT_EQ(ContentTypeFor("a/b.CSS"), "text/css; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("x.svg"), "image/svg+xml");
  EXPECT_EQ(ContentTypeFor("x.json"), "application/json");
  EXPECT_EQ(ContentTypeFor("x"), "application/octet-stream");
}

}  // namespace
}  // namespace tapedeck::server
