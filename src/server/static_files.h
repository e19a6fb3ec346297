// Static files of the web UI, served from one root directory at `/`.
//
// A request path maps to a file under the root and never outside it: `.` and `..` segments (also
// percent-encoded), encoded slashes and backslashes, NUL, hidden files and symlinks that lead out
// of the root are all refused as NOT_FOUND, so a probe learns nothing about the rest of the disk.
// `/` and the UI's own routes (IsUiPage) serve the root's index.html.
//
// Thread-safety: const after construction; Resolve may run on any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace tapedeck::server {

struct StaticFile {
  std::filesystem::path path;  // canonical, inside the root
  std::string content_type;
  uint64_t size = 0;
  std::string etag;            // changes whenever size or modification time does
};

class StaticFiles {
 public:
  // An empty or missing root serves nothing (every Resolve is NOT_FOUND).
  explicit StaticFiles(const std::string& root);

  // The file for a request target (path and optional query, as received). NOT_FOUND otherwise.
  Result<StaticFile> Resolve(std::string_view target) const;

  const std::filesystem::path& root() const { return root_; }

  // The npm packages under /vendor/ whose build output is missing from `<root>/../node_modules`
  // (see static_files.cpp), by package name; empty when all are there or there is no root. Such a
  // page loads but cannot draw: its chart library answers 404.
  std::vector<std::string> MissingVendorPackages() const;

  // One line saying what MissingVendorPackages() lacks, where it was looked for and how to get it
  // (`npm ci` in the tree holding the root, or scripts/bootstrap.sh; when that tree has no
  // package.json, to serve a source tree's web/ instead); empty when nothing is missing. The
  // server prints it once at start.
  std::string MissingVendorMessage() const;

 private:
  std::filesystem::path root_;  // canonical; empty when there is none
};

// Whether a request path (its decoded segments, as boost::urls gives them: "/" is one empty
// segment) is one of the UI's own pages, answered with the root's index.html: `/`, `/runs/{id}`,
// `/editor[/{name}]`, `/compare`, `/sweeps[/{id}]`. `/sweeps` and `/sweeps/{id}` are REST routes
// too: the router sends a browser's navigation there (Accept: text/html) to the page instead
// (Router::SetPages).
bool IsUiPage(const std::vector<std::string>& segments);

// "text/html; charset=utf-8" for ".html", ...; "application/octet-stream" for the unknown.
std::string_view ContentTypeFor(const std::filesystem::path& path);

// The web root to use when none is configured: `web/` in the working directory if it exists, else
// an installed tree's `<binary>/../share/tapedeck/web` if it exists (the .deb's
// /usr/share/tapedeck/web), else the source tree's `web/`.
std::string DefaultWebRoot();

}  // namespace tapedeck::server
