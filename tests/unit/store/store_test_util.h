// Helpers shared by the store's tests: a temporary directory per test, a hand-built RunResult,
// and (for sources given TAPEDECK_SOURCE_DIR, tests/CMakeLists.txt) a store on either backend.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>

#include "engine/engine.h"
#include "store/sqlite_db.h"
#include "store/store.h"
#ifdef TAPEDECK_SOURCE_DIR
#include "pg_test_db.h"
#endif

namespace tapedeck::store::testing {

// A fresh directory under the system's temp dir, removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tapedeck-store-XXXXXX").string();
    const char* made = ::mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline engine::RunResult MakeResult(size_t bars, size_t round_trips) {
  using engine::OrderEvent;
  using engine::OrderStatus;
  using engine::OrderType;
  using engine::Side;
  engine::RunResult r;
  r.symbols = {"BTCUSDT", "ETH \"quoted\" \\ sym"};
  const Timestamp t0 = FromMicros(1'672'531'200'000'000);
  for (size_t i = 0; i < bars; ++i) {
    r.times.push_back(t0 + std::chrono::minutes(i));
    r.equity.push_back(100'000.0 + std::sin(static_cast<double>(i) * 0.01) * 1234.5678901234567);
  }
  engine::OrderId id = 1;
  for (size_t k = 0; k < round_trips && bars > 0; ++k) {
    const size_t bar = (k * 7) % bars;
    OrderEvent sub;
    sub.id = id;
    sub.ts = r.times[bar];
    sub.bar = bar;
    sub.symbol = static_cast<engine::SymbolId>(k % 2);
    sub.side = k % 2 ? Side::kSell : Side::kBuy;
    sub.type = static_cast<OrderType>(k % 4);
    sub.status = OrderStatus::kSubmitted;
    sub.qty = k % 3 == 0 ? std::nullopt : std::optional<double>(0.1 * static_cast<double>(k + 1));
    r.events.push_back(sub);
    OrderEvent fill = sub;
    fill.status = k % 5 == 4 ? OrderStatus::kRejected : OrderStatus::kFilled;
    if (fill.status == OrderStatus::kFilled) {
      fill.qty = 1.0 / 3.0 + static_cast<double>(k);
      fill.px = 16'500.123456789 + static_cast<double>(k);
      fill.commission = 0.0123456789;
    } else {
      fill.reason = "insufficient cash: needs 1e6, has 12.5";
    }
    r.events.push_back(fill);
    ++id;
  }
  for (size_t k = 0; k < round_trips / 2 && bars > 1; ++k) {
    engine::Trade t;
    t.symbol = static_cast<engine::SymbolId>(k % 2);
    t.side = k % 2 ? Side::kSell : Side::kBuy;
    t.entry_bar = k % bars;
    t.exit_bar = (k + 1) % bars;
    t.entry_time = r.times[t.entry_bar];
    t.exit_time = r.times[t.exit_bar];
    t.qty = 2.5 + static_cast<double>(k);
    t.entry_px = 100.1;
    t.exit_px = 101.7 - static_cast<double>(k) * 0.3;
    t.pnl = (t.exit_px - t.entry_px) * t.qty - 0.02;
    t.ret = t.pnl / (t.entry_px * t.qty);
    t.open = k + 1 == round_trips / 2;
    r.trades.push_back(t);
  }
  engine::Stats& s = r.stats;
  s.bars = bars;
  s.fills = round_trips;
  s.trades = r.trades.size();
  s.start_equity = 100'000;
  s.final_equity = r.equity.empty() ? 100'000 : r.equity.back();
  s.total_return = s.final_equity / s.start_equity - 1;
  s.cagr = 0.123456789012345;
  s.volatility = 0.2;
  s.sharpe = 1.5;
  s.sortino = -2.25;
  s.calmar = 0.7;
  s.max_drawdown = 0.15;
  s.max_drawdown_duration = std::chrono::hours(240) + Micros{7};
  s.win_rate = 0.55;
  s.profit_factor = std::numeric_limits<double>::infinity();
  s.expectancy = 12.0;
  s.exposure = 0.4;
  s.buy_and_hold_return = 0.3;
  s.periods_per_year = 525'600;
  return r;
}

// Doubles equal bit for bit, NaN included.
inline bool SameDouble(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof a) == 0;
}

inline void ExpectSameStats(const engine::Stats& a, const engine::Stats& b) {
  EXPECT_EQ(a.bars, b.bars);
  EXPECT_EQ(a.fills, b.fills);
  EXPECT_EQ(a.trades, b.trades);
  for (auto [x, y] : {std::pair{a.start_equity, b.start_equity},
                      {a.final_equity, b.final_equity},
                      {a.total_return, b.total_return},
                      {a.cagr, b.cagr},
                      {a.volatility, b.volatility},
                      {a.sharpe, b.sharpe},
                      {a.sortino, b.sortino},
                      {a.calmar, b.calmar},
                      {a.max_drawdown, b.max_drawdown},
                      {a.win_rate, b.win_rate},
                      {a.profit_factor, b.profit_factor},
                      {a.expectancy, b.expectancy},
                      {a.exposure, b.exposure},
                      {a.buy_and_hold_return, b.buy_and_hold_return},
                      {a.periods_per_year, b.periods_per_year}}) {
    EXPECT_TRUE(SameDouble(x, y)) << x << " vs " << y;
  }
  EXPECT_EQ(a.max_drawdown_duration, b.max_drawdown_duration);
}

inline void ExpectSameTrades(const std::vector<engine::Trade>& a,
                             const std::vector<engine::Trade>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(a[i].symbol, b[i].symbol);
    EXPECT_EQ(a[i].side, b[i].side);
    EXPECT_EQ(a[i].entry_time, b[i].entry_time);
    EXPECT_EQ(a[i].exit_time, b[i].exit_time);
    EXPECT_EQ(a[i].entry_bar, b[i].entry_bar);
    EXPECT_EQ(a[i].exit_bar, b[i].exit_bar);
    EXPECT_TRUE(SameDouble(a[i].qty, b[i].qty));
    EXPECT_TRUE(SameDouble(a[i].entry_px, b[i].entry_px));
    EXPECT_TRUE(SameDouble(a[i].exit_px, b[i].exit_px));
    EXPECT_TRUE(SameDouble(a[i].pnl, b[i].pnl));
    EXPECT_TRUE(SameDouble(a[i].ret, b[i].ret));
    EXPECT_EQ(a[i].open, b[i].open);
  }
}

inline void ExpectSameResult(const engine::RunResult& a, const engine::RunResult& b) {
  EXPECT_EQ(a.symbols, b.symbols);
  EXPECT_EQ(a.times, b.times);
  ASSERT_EQ(a.equity.size(), b.equity.size());
  for (size_t i = 0; i < a.equity.size(); ++i) {
    ASSERT_TRUE(SameDouble(a.equity[i], b.equity[i])) << i;
  }
  ASSERT_EQ(a.events.size(), b.events.size());
  for (size_t i = 0; i < a.events.size(); ++i) {
    SCOPED_TRACE(i);
    const engine::OrderEvent& x = a.events[i];
    const engine::OrderEvent& y = b.events[i];
    EXPECT_EQ(x.id, y.id);
    EXPECT_EQ(x.ts, y.ts);
    EXPECT_EQ(x.bar, y.bar);
    EXPECT_EQ(x.symbol, y.symbol);
    EXPECT_EQ(x.side, y.side);
    EXPECT_EQ(x.type, y.type);
    EXPECT_EQ(x.status, y.status);
    EXPECT_EQ(x.qty.has_value(), y.qty.has_value());
    if (x.qty && y.qty) {
      EXPECT_TRUE(SameDouble(*x.qty, *y.qty));
    }
    EXPECT_TRUE(SameDouble(x.px, y.px)) << x.px << " vs " << y.px;
    EXPECT_TRUE(SameDouble(x.commission, y.commission));
    EXPECT_EQ(x.reason, y.reason);
  }
  ExpectSameTrades(a.trades, b.trades);
  ExpectSameStats(a.stats, b.stats);
}

// The two Store implementations a parameterised test runs on; named in the test's name.
enum class Backend { kSqlite, kPostgres };

inline std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

#ifdef TAPEDECK_SOURCE_DIR

// One test's store on a backend: a database file in a fresh directory, or a fresh database on
// the test binary's PostgreSQL cluster (pg_test_db.h). Open() opens that same store each time,
// as a process restarted on it (or another process beside it) would.
class BackendStore {
 public:
  explicit BackendStore(Backend backend) : backend_(backend) {}

  // Creates the PostgreSQL database (once); a failure is recorded and left for Open to report.
  void Init() {
    if (postgres() && url_.empty()) url_ = FreshPgDatabase();
  }

  bool postgres() const { return backend_ == Backend::kPostgres; }
  Backend backend() const { return backend_; }
  const TempDir& dir() const { return dir_; }
  const std::string& url() const { return url_; }  // PostgreSQL only

  Result<std::unique_ptr<Store>> Open(StoreOptions options = {}) {
    Init();
    if (!postgres()) return OpenSqliteStore(dir_.File("t.db"), std::move(options));
    if (url_.empty()) return MakeError(ErrorCode::kInternal, "no test database");
    return OpenPostgresStore(url_, std::move(options));
  }

  // One integer a query gives (count(*) and the like), read past the store; -1 on failure.
  int64_t Scalar(const std::string& sql) {
    if (postgres()) return PgScalar(url_, sql);
    Result<std::unique_ptr<internal::Db>> db =
        internal::Db::Open(dir_.File("t.db"), /*create=*/false, /*durable=*/false);
    EXPECT_TRUE(db.ok()) << db.error().ToString();
    if (!db.ok()) return -1;
    // The text outlives the Db, whose statement cache keys on its address.
    Result<internal::Stmt> s = (*db)->Prepare(sql.c_str());
    EXPECT_TRUE(s.ok()) << s.error().ToString();
    if (!s.ok()) return -1;
    Result<bool> row = s->Step();
    return row.ok() && *row ? s->Int(0) : -1;
  }
  int64_t CountRows(const std::string& table) { return Scalar("SELECT count(*) FROM " + table); }

 private:
  Backend backend_;
  TempDir dir_;
  std::string url_;
};

// Instantiates a TEST_P suite on both backends ("Backends/Fixture.Test/Sqlite", ".../Postgres").
#define TD_STORE_BACKENDS(fixture)                                                            \
  INSTANTIATE_TEST_SUITE_P(Backends, fixture,                                                 \
                           ::testing::Values(::tapedeck::store::testing::Backend::kSqlite,    \
                                             ::tapedeck::store::testing::Backend::kPostgres), \
                           ::tapedeck::store::testing::BackendName)

#endif  // TAPEDECK_SOURCE_DIR

}  // namespace tapedeck::store::testing
