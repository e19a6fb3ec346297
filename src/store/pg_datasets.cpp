// PgStore: datasets. A dataset is one row of `datasets`: its metadata and, in `series`, the whole
// series file (market::SeriesFileBytes), so that every node reads the same bars.
#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/pg_common.h"
#include "store/pg_store.h"

namespace tapedeck::store::internal {
namespace {

constexpr size_t kMaxNameBytes = 200;
// Parsed bars kept per process (48 bytes a bar: a year of minutes is 25 MB).
constexpr size_t kMaxCachedBarBytes = size_t{1} << 30;

Error DatasetNotFound(std::string_view name) {
  return MakeError(ErrorCode::kNotFound, "no dataset has this name",
                   {{"dataset", std::string(name)}});
}

Error DatasetExists(std::string_view name) {
  return MakeError(ErrorCode::kConflict, "a dataset of this name exists",
                   {{"dataset", std::string(name)}});
}

size_t BarBytes(const market::Series& s) { return s.size() * (sizeof(Timestamp) + 5 * 8); }

#define TD_PG_DATASET_COLUMNS "name, symbol, bars, from_us, to_us, created_us"
// The row's version for the cache: the inserting transaction's id (xid has no binary integer
// form of its own; through text it reads as a bigint).
#define TD_PG_ROW_XMIN "xmin::text::bigint"

DatasetInfo ReadDataset(const pg::Rows& rows, int r) {
  DatasetInfo d;
  d.name = rows.Text(r, 0);
  d.symbol = rows.Text(r, 1);
  d.bars = static_cast<size_t>(rows.Int(r, 2));
  d.from = FromMicros(rows.Int(r, 3));
  d.to = FromMicros(rows.Int(r, 4));
  d.created = FromMicros(rows.Int(r, 5));
  return d;
}

}  // namespace

void PgStore::CacheBars(std::string_view name, int64_t xmin, int64_t created_us,
                        market::Series bars) {
  std::lock_guard lock(bars_mu_);
  auto it = bars_.find(name);
  if (it == bars_.end()) {
    it = bars_.emplace(std::string(name), CachedBars{}).first;
  } else {
    bars_bytes_ -= BarBytes(it->second.bars);
  }
  bars_bytes_ += BarBytes(bars);
  it->second = CachedBars{xmin, created_us, std::move(bars), ++bars_tick_};
  while (bars_bytes_ > kMaxCachedBarBytes && bars_.size() > 1) {
    auto oldest = bars_.end();
    for (auto e = bars_.begin(); e != bars_.end(); ++e) {
      if (e != it && (oldest == bars_.end() || e->second.used < oldest->second.used)) oldest = e;
    }
    bars_bytes_ -= BarBytes(oldest->second.bars);
    bars_.erase(oldest);
  }
}

Result<DatasetInfo> PgStore::PutDataset(std::string_view name, const market::Series& bars) {
  if (name.empty() || name.size() > kMaxNameBytes) {
    return MakeError(ErrorCode::kValidation, "a dataset name must be 1 to 200 bytes",
                     {{"field", "name"}});
  }
  if (bars.empty()) {
    return MakeError(ErrorCode::kValidation, "a dataset needs at least one bar",
                     {{"field", "bars"}, {"dataset", std::string(name)}});
  }
  TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
  // Checked early so a duplicate costs no copy of the bars; the INSERT below still decides a race.
  {
    TD_ASSIGN_OR_RETURN(pg::Rows & rows, conn->Query("SELECT 1 FROM datasets WHERE name = $1",
                                                     pg::Params().Add(name)));
    if (rows.size() > 0) return DatasetExists(name);
  }
  TD_ASSIGN_OR_RETURN(const std::vector<std::byte>& file, market::SeriesFileBytes(bars));
  DatasetInfo info;
  info.name = std::string(name);
  info.symbol = bars.symbol();
  info.bars = bars.size();
  info.from = bars.times().front();
  info.to = bars.times().back();
  info.created = Now();
  // One statement, so its own transaction: the row and its bars are there together or not at all.
  TD_ASSIGN_OR_RETURN(pg::Rows & rows,
                      conn->Query("INSERT INTO datasets(" TD_PG_DATASET_COLUMNS
                                  ", series) VALUES($1, $2, $3, $4, $5, $6, $7) "
                                  "ON CONFLICT(name) DO NOTHING RETURNING " TD_PG_ROW_XMIN,
                                  pg::Params()
                                      .Add(name)
                                      .Add(std::string_view(info.symbol))
                                      .Add(static_cast<int64_t>(info.bars))
                                      .Add(ToMicros(info.from))
                                      .Add(ToMicros(info.to))
                                      .Add(ToMicros(info.created))
                                      .AddBytes(file)));
  if (rows.size() == 0) return DatasetExists(name);
  // These very bars are what the row holds: the first LoadBars need not fetch and check them.
  CacheBars(name, rows.Int(0, 0), ToMicros(info.created), bars);
  return info;
}

Result<DatasetInfo> PgStore::GetDataset(std::string_view name) {
  TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
  TD_ASSIGN_OR_RETURN(pg::Rows & rows,
                      conn->Query("SELECT " TD_PG_DATASET_COLUMNS " FROM datasets WHERE name = $1",
                                  pg::Params().Add(name)));
  if (rows.size() == 0) return DatasetNotFound(name);
  return ReadDataset(rows, 0);
}

Result<std::vector<DatasetInfo>> PgStore::ListDatasets() {
  TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
  // COLLATE "C": by bytes, as SQLite orders text, whatever the database's locale.
  TD_ASSIGN_OR_RETURN(pg::Rows & rows, conn->Query("SELECT " TD_PG_DATASET_COLUMNS
                                                   " FROM datasets ORDER BY name COLLATE \"C\""));
  std::vector<DatasetInfo> out;
  out.reserve(static_cast<size_t>(rows.size()));
  for (int r = 0; r < rows.size(); ++r) out.push_back(ReadDataset(rows, r));
  return out;
}

Result<market::Series> PgStore::LoadBars(std::string_view name) {
  TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
  int64_t xmin = 0, created_us = 0;
  {
    TD_ASSIGN_OR_RETURN(pg::Rows & rows,
                        conn->Query("SELECT " TD_PG_ROW_XMIN ", created_us FROM datasets "
                                    "WHERE name = $1",
                                    pg::Params().Add(name)));
    if (rows.size() == 0) return DatasetNotFound(name);
    xmin = rows.Int(0, 0);
    created_us = rows.Int(0, 1);
  }
  {
    std::lock_guard lock(bars_mu_);
    auto it = bars_.find(name);
    if (it != bars_.end() && it->second.xmin == xmin && it->second.created_us == created_us) {
      it->second.used = ++bars_tick_;
      return it->second.bars;
    }
  }
  TD_ASSIGN_OR_RETURN(pg::Rows & rows,
                      conn->Query("SELECT " TD_PG_ROW_XMIN ", created_us, series FROM datasets "
                                  "WHERE name = $1",
                                  pg::Params().Add(name)));
  if (rows.size() == 0) return DatasetNotFound(name);  // deleted a moment ago
  // Stands for the path in errors: where the bytes came from.
  const std::string source = conn->server() + "/datasets/" + std::string(name);
  // The Series keeps the result and reads the columns where libpq put them (binary values are
  // 8-byte aligned): no copy of 25 MB.
  const auto result = std::make_shared<const pg::Rows>(std::move(rows));
  TD_ASSIGN_OR_RETURN(market::Series & bars,
                      market::ReadSeriesBytes(result->Bytes(0, 2), result, source));
  CacheBars(name, result->Int(0, 0), result->Int(0, 1), bars);
  return bars;
}

Result<market::Series> PgStore::LoadBarsBetween(std::string_view name, Timestamp from,
                                                Timestamp to) {
  int64_t xmin = 0, created_us = 0;
  bool compressed = false;
  size_t total_bytes = 0;
  int64_t first_us = 0, last_us = 0;  // the dataset's first and last bar times
  std::vector<std::byte> prefix;
  {
    TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
    TD_ASSIGN_OR_RETURN(
        pg::Rows & rows,
        conn->Query(
            "SELECT " TD_PG_ROW_XMIN ", created_us, octet_length(series), "
            "pg_column_compression(series) IS NOT NULL, substring(series from 1 for $2::int), "
            "from_us, to_us FROM datasets WHERE name = $1",
            pg::Params().Add(name).Add(static_cast<int64_t>(market::kSeriesFileMaxPrefix))));
    if (rows.size() == 0) return DatasetNotFound(name);
    xmin = rows.Int(0, 0);
    created_us = rows.Int(0, 1);
    total_bytes = static_cast<size_t>(rows.Int(0, 2));
    compressed = rows.Int(0, 3) != 0;
    const std::span<const std::byte> bytes = rows.Bytes(0, 4);
    prefix.assign(bytes.begin(), bytes.end());
    first_us = rows.Int(0, 5);
    last_us = rows.Int(0, 6);
  }
  {
    std::lock_guard lock(bars_mu_);
    auto it = bars_.find(name);
    if (it != bars_.end() && it->second.xmin == xmin && it->second.created_us == created_us) {
      it->second.used = ++bars_tick_;
      return it->second.bars.Slice(from, to);
    }
  }
  // A compressed value (a dataset stored before schema v2) is fetched whole on the server for
  // any piece of it: one read of the whole is cheaper than several pieces.
  if (compressed) {
    TD_ASSIGN_OR_RETURN(const market::Series& bars, LoadBars(name));
    return bars.Slice(from, to);
  }
  TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
  const std::string source = conn->server() + "/datasets/" + std::string(name);
  TD_ASSIGN_OR_RETURN(const market::SeriesFileLayout& layout,
                      market::ReadSeriesFileLayout(prefix, total_bytes, source));
  // The values of bars [first, first + count) of `column`, from the same row (created_us tells a
  // dataset put again under the name since).
  const auto read_column = [&](size_t column, size_t first,
                               size_t count) -> Result<std::vector<int64_t>> {
    TD_ASSIGN_OR_RETURN(
        pg::Rows & got,
        conn->Query("SELECT substring(series from $2::int for $3::int) FROM datasets "
                    "WHERE name = $1 AND created_us = $4",
                    pg::Params()
                        .Add(name)
                        .Add(static_cast<int64_t>(layout.Offset(column, first)) + 1)
                        .Add(static_cast<int64_t>(count * 8))
                        .Add(created_us)));
    if (got.size() == 0) return DatasetNotFound(name);
    const std::span<const std::byte> bytes = got.Bytes(0, 0);
    if (bytes.size() != count * 8) {
      return MakeError(ErrorCode::kIo, "series '" + source + "' is shorter than its header says",
                       {{"path", source}});
    }
    std::vector<int64_t> out(count);
    if (count > 0) std::memcpy(out.data(), bytes.data(), bytes.size());
    return out;
  };
  // The first bar at or after `t` in the times column, by pieces: each guessed by interpolation
  // between the times known around the answer (one piece for evenly spaced bars).
  const auto lower_bound = [&](Timestamp t) -> Result<size_t> {
    constexpr size_t kPiece = 1024;
    const int64_t want = ToMicros(t);
    if (layout.count == 0 || want <= first_us) return size_t{0};
    if (want > last_us) return layout.count;
    size_t lo = 0, hi = layout.count;         // the answer lies in [lo, hi]
    int64_t t_lo = first_us, t_hi = last_us;  // about the times at lo and hi - 1
    for (;;) {
      size_t a = lo;
      if (hi - lo > kPiece) {
        const double f =
            t_hi > t_lo
                ? std::clamp(static_cast<double>(want - t_lo) / static_cast<double>(t_hi - t_lo),
                             0.0, 1.0)
                : 0.0;
        const auto guess = lo + static_cast<size_t>(f * static_cast<double>(hi - 1 - lo));
        a = std::clamp(guess, lo + kPiece / 2, hi - kPiece / 2) - kPiece / 2;
      }
      const size_t b = std::min(hi, a + kPiece);
      TD_ASSIGN_OR_RETURN(const std::vector<int64_t>& v, read_column(0, a, b - a));
      const auto at = static_cast<size_t>(std::lower_bound(v.begin(), v.end(), want) - v.begin());
      if (at == 0 && a > lo) {
        hi = a;
        t_hi = v.front();
      } else if (at == v.size() && b < hi) {
        lo = b;
        t_lo = v.back();
      } else {
        return a + at;
      }
    }
  };
  TD_ASSIGN_OR_RETURN(const size_t first, lower_bound(from));
  TD_ASSIGN_OR_RETURN(size_t end, lower_bound(to));
  end = std::max(first, end);
  const size_t n = end - first;
  // The six columns' pieces in one round trip.
  std::vector<std::vector<int64_t>> columns(6, std::vector<int64_t>(n));
  if (n > 0) {
    pg::Params p;
    p.Add(name).Add(created_us).Add(static_cast<int64_t>(n * 8));
    for (size_t c = 0; c < 6; ++c) p.Add(static_cast<int64_t>(layout.Offset(c, first)) + 1);
    TD_ASSIGN_OR_RETURN(pg::Rows & got,
                        conn->Query("SELECT substring(series from $4::int for $3::int), "
                                    "substring(series from $5::int for $3::int), "
                                    "substring(series from $6::int for $3::int), "
                                    "substring(series from $7::int for $3::int), "
                                    "substring(series from $8::int for $3::int), "
                                    "substring(series from $9::int for $3::int) "
                                    "FROM datasets WHERE name = $1 AND created_us = $2",
                                    p));
    if (got.size() == 0) return DatasetNotFound(name);
    for (int c = 0; c < 6; ++c) {
      const std::span<const std::byte> bytes = got.Bytes(0, c);
      if (bytes.size() != n * 8) {
        return MakeError(ErrorCode::kIo, "series '" + source + "' is shorter than its header says",
                         {{"path", source}});
      }
      std::memcpy(columns[static_cast<size_t>(c)].data(), bytes.data(), bytes.size());
    }
  }
  std::vector<Timestamp> times(n);
  for (size_t i = 0; i < n; ++i) times[i] = FromMicros(columns[0][i]);
  const auto doubles = [&](size_t c) {
    std::vector<double> out(n);
    if (n > 0) std::memcpy(out.data(), columns[c].data(), n * sizeof(double));
    return out;
  };
  return market::Series::FromColumns(layout.symbol, std::move(times), doubles(1), doubles(2),
                                     doubles(3), doubles(4), doubles(5));
}

Status PgStore::DeleteDataset(std::string_view name) {
  TD_ASSIGN_OR_RETURN(Lease & conn, Borrow());
  TD_ASSIGN_OR_RETURN(const int64_t deleted,
                      conn->Run("DELETE FROM datasets WHERE name = $1", pg::Params().Add(name)));
  {
    std::lock_guard lock(bars_mu_);
    if (auto it = bars_.find(name); it != bars_.end()) {
      bars_bytes_ -= BarBytes(it->second.bars);
      bars_.erase(it);
    }
  }
  if (deleted == 0) return DatasetNotFound(name);
  return Ok();
}

}  // namespace tapedeck::store::internal
