#include "server/static_files.h"

#include <algorithm>
#include <boost/url/parse.hpp>
#include <chrono>
#include <map>
#include <vector>

namespace tapedeck::server {
namespace {

namespace fs = std::filesystem;

Error NotFound(std::string_view path) {
  return MakeError(ErrorCode::kNotFound, "no such file", {{"path", std::string(path)}});
}

// A decoded segment that could step out of its directory or name something the UI never links
// to. Checked after decoding, so "%2e%2e" and "%2F" are caught like ".." and "/".
bool IsUnsafeSegment(const std::string& segment) {
  if (segment.empty() || segment.front() == '.') return true;
  return segment.find_first_of(std::string_view("/\\\0:", 4)) != std::string::npos;
}

bool IsWithin(const fs::path& path, const fs::path& root) {
  const auto [root_end, path_it] =
      std::mismatch(root.begin(), root.end(), path.begin(), path.end());
  return root_end == root.end();
}

// npm packages the UI loads, served from the install beside the root rather than copied into it:
// `/vendor/lightweight-charts/F` is `<root>/../node_modules/lightweight-charts/dist/F`. Each mount
// exposes only the directory the page loads from, under the same rules as the root. Looked up per
// request, so an `npm ci` after the server started is picked up.
struct VendorMount {
  std::string_view name;  // the segment after /vendor/
  std::string_view dir;   // under node_modules; its first segment is the npm package
};
constexpr VendorMount kVendorMounts[] = {
    {"lightweight-charts", "lightweight-charts/dist"},
    {"codemirror", "codemirror/lib"},
    {"codemirror-lua", "codemirror/mode/lua"},
};

}  // namespace

StaticFiles::StaticFiles(const std::string& root) {
  if (root.empty()) return;
  std::error_code ec;
  fs::path canonical = fs::canonical(root, ec);
  if (!ec && fs::is_directory(canonical, ec)) root_ = std::move(canonical);
}

// The single-page UI's own routes: the browser asks for them on a reload or a shared link.
// `/runs/{id}` (the player), `/editor`, `/editor/{name}` (the strategy editor), `/compare` (two
// runs in lockstep), `/sweeps`, `/sweeps/{id}` (sweeps).
bool IsUiPage(const std::vector<std::string>& segments) {
  if (segments.empty() || (segments.size() == 1 && segments[0].empty())) return true;
  const auto one_name_under = [&](std::string_view top, bool bare_too) {
    if (segments[0] != top) return false;
    if (segments.size() == 1) return bare_too;
    return segments.size() == 2 || (segments.size() == 3 && segments[2].empty());
  };
  const bool compare = segments[0] == "compare" &&
                       (segments.size() == 1 || (segments.size() == 2 && segments[1].empty()));
  return compare || one_name_under("runs", false) || one_name_under("editor", true) ||
         one_name_under("sweeps", true);
}

Result<StaticFile> StaticFiles::Resolve(std::string_view target) const {
  const auto url = boost::urls::parse_origin_form(target);
  if (!url) return NotFound(target);
  if (root_.empty()) return NotFound(url->encoded_path());

  std::vector<std::string> segments;
  for (const auto segment : url->segments()) segments.push_back(segment);
  const bool ui_route = IsUiPage(segments);
  fs::path base = root_;
  size_t first = 0;
  if (segments.size() >= 3 && segments[0] == "vendor") {
    for (const auto& mount : kVendorMounts) {
      if (segments[1] != mount.name) continue;
      std::error_code ec;
      base = fs::canonical(root_.parent_path() / "node_modules" / mount.dir, ec);
      if (ec) return NotFound(url->encoded_path());
      first = 2;
      break;
    }
  }
  fs::path path = base;
  if (ui_route) {
    path /= "index.html";
  } else {
    for (size_t i = first; i < segments.size(); ++i) {
      // A trailing slash ("/docs/") names the directory's index.
      if (i + 1 == segments.size() && segments[i].empty()) break;
      if (IsUnsafeSegment(segments[i])) return NotFound(url->encoded_path());
      path /= segments[i];
    }
  }

  std::error_code ec;
  if (fs::is_directory(path, ec)) path /= "index.html";
  // Canonicalising resolves every symlink, so a link inside the root that points out of it is
  // caught here, by where it really leads.
  const fs::path real = fs::canonical(path, ec);
  if (ec || !IsWithin(real, base) || !fs::is_regular_file(real, ec)) {
    return NotFound(url->encoded_path());
  }
  StaticFile file;
  file.size = fs::file_size(real, ec);
  if (ec) return NotFound(url->encoded_path());
  const auto mtime = fs::last_write_time(real, ec);
  const auto ticks = ec ? 0 : mtime.time_since_epoch().count();
  file.etag = "\"" + std::to_string(file.size) + "-" + std::to_string(ticks) + "\"";
  file.content_type = ContentTypeFor(real);
  file.path = real;
  return file;
}

std::vector<std::string> StaticFiles::MissingVendorPackages() const {
  std::vector<std::string> missing;
  if (root_.empty()) return missing;
  for (const auto& mount : kVendorMounts) {
    std::error_code ec;
    if (fs::is_directory(root_.parent_path() / "node_modules" / mount.dir, ec)) continue;
    const std::string package(mount.dir.substr(0, mount.dir.find('/')));
    if (std::find(missing.begin(), missing.end(), package) == missing.end()) {
      missing.push_back(package);
    }
  }
  return missing;
}

std::string StaticFiles::MissingVendorMessage() const {
  const auto missing = MissingVendorPackages();
  if (missing.empty()) return {};
  std::string names;
  for (const auto& name : missing) names += (names.empty() ? "" : ", ") + name;
  const fs::path tree = root_.parent_path();
  std::string message = "the web UI's libraries are missing (" + names + " not found in " +
                        (tree / "node_modules").string() +
                        "): the page will load but cannot draw charts or edit strategies. ";
  std::error_code ec;
  if (fs::is_regular_file(tree / "package.json", ec)) {
    message += "Install them with `npm ci` in " + tree.string() +
               " (or run scripts/bootstrap.sh), then reload the page";
  } else {
    // A web root copied out of its source tree: npm has nothing to install from here.
    message += tree.string() +
               " has no package.json: serve the web/ of a tapedeck source tree (--web-root) "
               "after `npm ci` there (or scripts/bootstrap.sh)";
  }
  return message;
}

std::string_view ContentTypeFor(const fs::path& path) {
  static const std::map<std::string, std::string_view, std::less<>> kTypes = {
      {".html", "text/html; charset=utf-8"},
      {".htm", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".webp", "image/webp"},
      {".ico", "image/x-icon"},
      {".txt", "text/plain; charset=utf-8"},
      {".csv", "text/csv; charset=utf-8"},
      {".woff", "font/woff"},
      {".woff2", "font/woff2"},
      {".wasm", "application/wasm"},
  };
  std::string ext = path.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto it = kTypes.find(ext);
  return it == kTypes.end() ? std::string_view("application/octet-stream") : it->second;
}

std::string DefaultWebRoot() {
  std::error_code ec;
  if (fs::is_directory("web", ec)) return "web";
  // An installed binary (the .deb: /usr/bin/tapedeck) finds its files in
  // <prefix>/share/tapedeck/web, with the npm libraries in <prefix>/share/tapedeck/node_modules.
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path installed = exe.parent_path().parent_path() / "share/tapedeck/web";
    if (fs::is_directory(installed, ec)) return installed.string();
  }
  return std::string(TAPEDECK_SOURCE_DIR) + "/web";
}

}  // namespace tapedeck::server
