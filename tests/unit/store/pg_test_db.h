// The database tests' PostgreSQL: a fresh, empty database per test, on the cluster a ctest run
// shares (tests/CMakeLists.txt's fixture `pg` starts it once and names its description in
// TAPEDECK_TEST_PG_FILE) or, for a test binary run by hand, on a cluster of the process's own
// (started by the first test that asks, stopped at exit). A test that stops or restarts its
// cluster uses OwnPgCluster(), never the shared one, which other processes are using.
//
// REQUIRES: TAPEDECK_SOURCE_DIR defined for the including source (see pg_cluster.h).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>

#include "pg_cluster.h"
#include "store/pg_db.h"

namespace tapedeck::store::testing {

// A cluster of this process's own, started on first use.
inline PgCluster& OwnPgCluster() {
  static PgCluster cluster;
  return cluster;
}

// The shared cluster's URL; empty (a failure recorded) when there is none and none could start.
inline std::string SharedPgUrl() {
  static const std::string url = [] {
    if (const char* file = std::getenv("TAPEDECK_TEST_PG_FILE"); file != nullptr && *file) {
      std::ifstream in(file);
      std::stringstream text;
      text << in.rdbuf();
      std::smatch m;
      const std::string json = text.str();
      if (std::regex_search(json, m, std::regex("\"url\": \"([^\"]*)\""))) return m[1].str();
    }
    return OwnPgCluster().ok() ? OwnPgCluster().url() : std::string();
  }();
  EXPECT_FALSE(url.empty()) << OwnPgCluster().error();
  return url;
}

// The URL of a new database on the cluster at `cluster_url` (default: the shared one); empty (a
// failure recorded) when that failed.
inline std::string FreshPgDatabase(const std::string& cluster_url = SharedPgUrl()) {
  if (cluster_url.empty()) return "";
  static std::atomic<int> next{0};
  const std::string name = "t" + std::to_string(::getpid()) + "_" + std::to_string(next++);
  Result<std::unique_ptr<internal::pg::Conn>> conn = internal::pg::Conn::Open(cluster_url);
  EXPECT_TRUE(conn.ok()) << conn.error().ToString();
  if (!conn.ok()) return "";
  Status made = (*conn)->Exec("CREATE DATABASE " + name);
  EXPECT_TRUE(made.ok()) << made.error().ToString();
  if (!made.ok()) return "";
  return cluster_url.substr(0, cluster_url.rfind('/') + 1) + name;
}

// One value of a query on the database at `url` (count(*) and the like); -1 on failure.
inline int64_t PgScalar(const std::string& url, const std::string& sql) {
  Result<std::unique_ptr<internal::pg::Conn>> conn = internal::pg::Conn::Open(url);
  EXPECT_TRUE(conn.ok()) << conn.error().ToString();
  if (!conn.ok()) return -1;
  Result<internal::pg::Rows> rows = (*conn)->Query(sql);
  EXPECT_TRUE(rows.ok()) << rows.error().ToString();
  return rows.ok() && rows->size() > 0 ? rows->Int(0, 0) : -1;
}

}  // namespace tapedeck::store::testing
