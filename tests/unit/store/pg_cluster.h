// A real, throwaway PostgreSQL cluster for the store's unit tests: the same steps as the Python
// tests' (tests/integration/pgcluster.py), run through that file's command line — initdb into a
// temp dir (as the `postgres` user when root), a free port on 127.0.0.1, a role and a database,
// pg_ctl start -w. Stopped and removed by the destructor.
//
// REQUIRES: TAPEDECK_SOURCE_DIR defined for the including source (tests/CMakeLists.txt), python3
// on PATH, and PostgreSQL 15's binaries (scripts/bootstrap.sh installs them).
#pragma once

#include <stdio.h>
#include <stdlib.h>

#include <regex>
#include <string>

namespace tapedeck::store::testing {

class PgCluster {
 public:
  // Starts a cluster; with a password, TCP logins must give it (scram-sha-256), else trust.
  explicit PgCluster(const std::string& password = "") {
    std::string out;
    const std::string cmd =
        Script() + " up" + (password.empty() ? "" : " --password " + Quote(password)) + " 2>&1";
    if (FILE* p = ::popen(cmd.c_str(), "r")) {
      char buf[4096];
      size_t n;
      while ((n = ::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
      const int rc = ::pclose(p);
      if (rc == 0) {
        dir_ = Field(out, "dir");
        url_ = Field(out, "url");
        url_with_password_ = Field(out, "url_with_password");
      }
    }
    if (dir_.empty() || url_.empty()) error_ = "pgcluster.py up failed: " + out;
  }
  ~PgCluster() {
    if (!dir_.empty()) (void)Cli("down");
  }
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  // postgresql://tapedeck@127.0.0.1:PORT/tapedeck
  const std::string& url() const { return url_; }
  // The same with the password (when there is one).
  const std::string& url_with_password() const { return url_with_password_; }

  // pg_ctl stop -m fast / start again on the same port and data / both. true on success.
  bool Stop() { return Cli("stop"); }
  bool Start() { return Cli("start"); }
  bool Restart() { return Cli("restart"); }

 private:
  static std::string Quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
  }
  static std::string Script() {
    return "python3 " + Quote(std::string(TAPEDECK_SOURCE_DIR) + "/tests/integration/pgcluster.py");
  }
  static std::string Field(const std::string& json, const std::string& key) {
    std::smatch m;
    if (std::regex_search(json, m, std::regex("\"" + key + "\": \"([^\"]*)\""))) return m[1];
    return {};
  }
  bool Cli(const std::string& verb) {
    return ::system((Script() + " " + verb + " " + Quote(dir_)).c_str()) == 0;
  }

  std::string dir_, url_, url_with_password_, error_;
};

}  // namespace tapedeck::store::testing
