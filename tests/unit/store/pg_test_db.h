// The store tests' PostgreSQL: one throwaway cluster per test binary (started by the first test
// that asks for it, stopped at exit) and a fresh, empty database per test on it.
//
// REQUIRES: TAPEDECK_SOURCE_DIR defined for the including source (see pg_cluster.h).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>

#include "pg_cluster.h"
#include "store/pg_db.h"

namespace tapedeck::store::testing {

inline PgCluster& SharedPgCluster() {
  static PgCluster cluster;
  return cluster;
}

// The URL of a new database on the shared cluster; empty (a failure recorded) when the cluster
// could not start.
inline std::string FreshPgDatabase() {
  PgCluster& pg = SharedPgCluster();
  EXPECT_TRUE(pg.ok()) << pg.error();
  if (!pg.ok()) return "";
  static std::atomic<int> next{0};
  const std::string name = "t" + std::to_string(::getpid()) + "_" + std::to_string(next++);
  Result<std::unique_ptr<internal::pg::Conn>> conn = internal::pg::Conn::Open(pg.url());
  EXPECT_TRUE(conn.ok()) << conn.error().ToString();
  if (!conn.ok()) return "";
  Status made = (*conn)->Exec("CREATE DATABASE " + name);
  EXPECT_TRUE(made.ok()) << made.error().ToString();
  if (!made.ok()) return "";
  return pg.url().substr(0, pg.url().rfind('/') + 1) + name;
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
