// Fuzzes the static-file path resolution of the web UI (server::StaticFiles::Resolve) over a
// scratch tree built to tempt it: a hidden file, a file and a directory beside the root reached
// through symlinks, a sibling directory whose name extends the root's, and the vendored
// node_modules package with a file outside its served dist/.
//
// Input: the request target.
//
// Invariants: whatever the target, a resolved file is a regular file inside the root or inside
// the vendored dist directory, never one of the planted files outside them and never a hidden
// one; its content type is ContentTypeFor its path; anything else is NOT_FOUND with a message.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "server/static_files.h"

namespace tapedeck::server {
namespace {

namespace fs = std::filesystem;

struct Tree {
  fs::path base, root, dist;
  std::vector<fs::path> forbidden;  // canonical paths that must never be served
  std::unique_ptr<StaticFiles> files;
};

Tree* tree = nullptr;

void Write(const fs::path& path, std::string_view text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

void RemoveTree() {
  if (tree) fs::remove_all(tree->base);
}

bool Within(const fs::path& path, const fs::path& dir) {
  const auto [dir_end, path_it] = std::mismatch(dir.begin(), dir.end(), path.begin(), path.end());
  return dir_end == dir.end();
}

}  // namespace
}  // namespace tapedeck::server

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  using namespace tapedeck::server;
  std::string dir = (fs::temp_directory_path() / "tapedeck_static_fuzz.XXXXXX").string();
  if (!mkdtemp(dir.data())) std::abort();
  tree = new Tree;
  tree->base = fs::canonical(dir);
  const fs::path& b = tree->base;
  Write(b / "web" / "index.html", "<html>");
  Write(b / "web" / "app.js", "js");
  Write(b / "web" / "assets" / "style.css", "css");
  Write(b / "web" / "docs" / "index.html", "docs");
  Write(b / "web" / ".secret", "hidden");
  Write(b / "web" / ".git" / "config", "hidden");
  Write(b / "outside.txt", "outside");
  Write(b / "webx" / "sibling.txt", "a sibling whose name extends the root's");
  Write(b / "secret" / "key.txt", "outside, through a directory link");
  Write(b / "node_modules" / "lightweight-charts" / "dist" / "lib.js", "vendored");
  Write(b / "node_modules" / "lightweight-charts" / "package.json", "not served");
  fs::create_symlink(b / "outside.txt", b / "web" / "link.txt");
  fs::create_symlink(b / "secret", b / "web" / "linkdir");
  fs::create_symlink("../webx/sibling.txt", b / "web" / "relative.txt");
  fs::create_symlink(b / "web" / "app.js", b / "web" / "inner.js");
  tree->root = fs::canonical(b / "web");
  tree->dist = fs::canonical(b / "node_modules" / "lightweight-charts" / "dist");
  for (const char* p : {"outside.txt", "webx/sibling.txt", "secret/key.txt", "web/.secret",
                        "web/.git/config", "node_modules/lightweight-charts/package.json"}) {
    tree->forbidden.push_back(fs::canonical(b / p));
  }
  tree->files = std::make_unique<StaticFiles>(tree->root.string());
  std::atexit(RemoveTree);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tapedeck::server;
  using tapedeck::ErrorCode;
  const std::string_view target(reinterpret_cast<const char*>(data), size);
  const auto file = tree->files->Resolve(target);
  if (!file.ok()) {
    tapedeck::fuzz::CheckError(file.error(), ErrorCode::kNotFound);
    return 0;
  }
  const fs::path& path = file->path;
  const bool in_root = Within(path, tree->root), in_dist = Within(path, tree->dist);
  FUZZ_CHECK(in_root || in_dist);
  for (const fs::path& bad : tree->forbidden) FUZZ_CHECK(path != bad);
  for (const fs::path& part : path.lexically_relative(in_root ? tree->root : tree->dist)) {
    FUZZ_CHECK(!part.string().starts_with("."));
  }
  std::error_code ec;
  FUZZ_CHECK(fs::is_regular_file(path, ec));
  FUZZ_CHECK(fs::canonical(path, ec) == path);
  FUZZ_CHECK(file->size == fs::file_size(path, ec));
  FUZZ_CHECK(file->content_type == ContentTypeFor(path));
  return 0;
}
