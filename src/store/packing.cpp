#include "store/packing.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "common/json_writer.h"

namespace tapedeck::store::internal {
namespace {

static_assert(std::endian::native == std::endian::little,
              "records are written little-endian as in memory");

template <typename T>
void Put(std::byte* at, T v) {
  std::memcpy(at, &v, sizeof v);
}

template <typename T>
T Get(const std::byte* at) {
  T v;
  std::memcpy(&v, at, sizeof v);
  return v;
}

Error Damaged(std::string what) { return MakeError(ErrorCode::kIo, std::move(what)); }

Error WrongLength(const char* what, size_t bytes, size_t count, size_t record) {
  return Damaged(std::string(what) + " blob holds " + std::to_string(bytes) + " bytes, not " +
                 std::to_string(count) + " records of " + std::to_string(record));
}

}  // namespace

PackedEvents PackEvents(std::span<const engine::OrderEvent> events) {
  PackedEvents out;
  out.records.resize(events.size() * kEventRecordBytes);
  std::byte* p = out.records.data();
  for (const engine::OrderEvent& e : events) {
    Put<int64_t>(p + 0, e.id);
    Put<int64_t>(p + 8, ToMicros(e.ts));
    Put<uint64_t>(p + 16, e.bar);
    Put<double>(p + 24, e.qty.value_or(0.0));
    Put<double>(p + 32, e.px);
    Put<double>(p + 40, e.commission);
    Put<uint32_t>(p + 48, e.symbol);
    Put<uint8_t>(p + 52, static_cast<uint8_t>(e.side));
    Put<uint8_t>(p + 53, static_cast<uint8_t>(e.type));
    Put<uint8_t>(p + 54, static_cast<uint8_t>(e.status));
    Put<uint8_t>(p + 55, e.qty ? 1 : 0);
    Put<uint32_t>(p + 56, static_cast<uint32_t>(e.reason.size()));
    Put<uint32_t>(p + 60, 0);
    out.reasons += e.reason;
    p += kEventRecordBytes;
  }
  return out;
}

std::vector<std::byte> PackTrades(std::span<const engine::Trade> trades) {
  std::vector<std::byte> out(trades.size() * kTradeRecordBytes);
  std::byte* p = out.data();
  for (const engine::Trade& t : trades) {
    Put<int64_t>(p + 0, ToMicros(t.entry_time));
    Put<int64_t>(p + 8, ToMicros(t.exit_time));
    Put<uint64_t>(p + 16, t.entry_bar);
    Put<uint64_t>(p + 24, t.exit_bar);
    Put<double>(p + 32, t.qty);
    Put<double>(p + 40, t.entry_px);
    Put<double>(p + 48, t.exit_px);
    Put<double>(p + 56, t.pnl);
    Put<double>(p + 64, t.ret);
    Put<uint32_t>(p + 72, t.symbol);
    Put<uint8_t>(p + 76, static_cast<uint8_t>(t.side));
    Put<uint8_t>(p + 77, t.open ? 1 : 0);
    Put<uint16_t>(p + 78, 0);
    p += kTradeRecordBytes;
  }
  return out;
}

Result<std::vector<engine::OrderEvent>> UnpackEvents(std::span<const std::byte> records,
                                                     std::string_view reasons, size_t count) {
  if (IsCompactEvents(records)) return UnpackEventsCompact(records, reasons, count);
  if (records.size() / kEventRecordBytes != count || records.size() % kEventRecordBytes != 0) {
    return WrongLength("the order events", records.size(), count, kEventRecordBytes);
  }
  std::vector<engine::OrderEvent> out(count);
  size_t reason_at = 0;
  const std::byte* p = records.data();
  for (size_t i = 0; i < count; ++i, p += kEventRecordBytes) {
    engine::OrderEvent& e = out[i];
    const auto side = Get<uint8_t>(p + 52);
    const auto type = Get<uint8_t>(p + 53);
    const auto status = Get<uint8_t>(p + 54);
    const auto flags = Get<uint8_t>(p + 55);
    if (side > static_cast<uint8_t>(engine::Side::kSell) ||
        type > static_cast<uint8_t>(engine::OrderType::kStopLimit) ||
        status > static_cast<uint8_t>(engine::OrderStatus::kRejected) || flags > 1) {
      return Damaged("order event " + std::to_string(i) + " has a bad side, type or status");
    }
    const auto reason_len = Get<uint32_t>(p + 56);
    if (reason_len > reasons.size() - reason_at) {
      return Damaged("order event " + std::to_string(i) + "'s reason runs past the reasons blob");
    }
    e.id = Get<int64_t>(p + 0);
    e.ts = FromMicros(Get<int64_t>(p + 8));
    e.bar = static_cast<size_t>(Get<uint64_t>(p + 16));
    if (flags & 1) e.qty = Get<double>(p + 24);
    e.px = Get<double>(p + 32);
    e.commission = Get<double>(p + 40);
    e.symbol = Get<uint32_t>(p + 48);
    e.side = static_cast<engine::Side>(side);
    e.type = static_cast<engine::OrderType>(type);
    e.status = static_cast<engine::OrderStatus>(status);
    e.reason.assign(reasons.substr(reason_at, reason_len));
    reason_at += reason_len;
  }
  if (reason_at != reasons.size()) {
    return Damaged("the reasons blob holds " + std::to_string(reasons.size() - reason_at) +
                   " bytes that no order event claims");
  }
  return out;
}

Result<std::vector<engine::Trade>> UnpackTrades(std::span<const std::byte> records, size_t count) {
  if (IsCompactTrades(records)) return UnpackTradesCompact(records, count);
  if (records.size() / kTradeRecordBytes != count || records.size() % kTradeRecordBytes != 0) {
    return WrongLength("the trades", records.size(), count, kTradeRecordBytes);
  }
  std::vector<engine::Trade> out(count);
  const std::byte* p = records.data();
  for (size_t i = 0; i < count; ++i, p += kTradeRecordBytes) {
    engine::Trade& t = out[i];
    const auto side = Get<uint8_t>(p + 76);
    const auto open = Get<uint8_t>(p + 77);
    if (side > static_cast<uint8_t>(engine::Side::kSell) || open > 1) {
      return Damaged("trade " + std::to_string(i) + " has a bad side or open flag");
    }
    t.entry_time = FromMicros(Get<int64_t>(p + 0));
    t.exit_time = FromMicros(Get<int64_t>(p + 8));
    t.entry_bar = static_cast<size_t>(Get<uint64_t>(p + 16));
    t.exit_bar = static_cast<size_t>(Get<uint64_t>(p + 24));
    t.qty = Get<double>(p + 32);
    t.entry_px = Get<double>(p + 40);
    t.exit_px = Get<double>(p + 48);
    t.pnl = Get<double>(p + 56);
    t.ret = Get<double>(p + 64);
    t.symbol = Get<uint32_t>(p + 72);
    t.side = static_cast<engine::Side>(side);
    t.open = open != 0;
  }
  return out;
}

Result<PackedResult> PackResult(const engine::RunResult& result) {
  TD_ASSIGN_OR_RETURN(PackedResult packed, PackSeries(result));
  PackedResult records = PackRecords(result);
  records.times = std::move(packed.times);
  records.equity = std::move(packed.equity);
  return records;
}

Result<PackedResult> PackSeries(const engine::RunResult& result) {
  if (result.times.size() != result.equity.size()) {
    return MakeError(ErrorCode::kValidation, "times and equity differ in length",
                     {{"field", "equity"},
                      {"times", std::to_string(result.times.size())},
                      {"equity", std::to_string(result.equity.size())}});
  }
  PackedResult packed;
  packed.times = PackTimes(result.times);
  packed.equity = PackEquity(result.equity);
  return packed;
}

PackedResult PackRecords(const engine::RunResult& result) {
  PackedResult packed;
  packed.events = PackEventsCompact(result.events);
  packed.trades = PackTradesCompact(result.trades);
  packed.has_plots = !result.plots.empty() || !result.logs.empty();
  if (packed.has_plots) {
    JsonWriter w;
    w.BeginArray();
    for (const engine::PlotSeries& p : result.plots) {
      w.BeginObject().Key("name").String(p.name).Key("pane").String(engine::ToString(p.pane));
      w.EndObject();
    }
    w.EndArray();
    packed.plots_decl = w.Take();
    packed.plots = PackPlots(result.plots);
    packed.logs = PackLogs(result.logs);
  }
  return packed;
}

std::vector<std::byte> PackPlots(std::span<const engine::PlotSeries> plots) {
  std::vector<std::byte> out;
  for (const engine::PlotSeries& p : plots) {
    const std::vector<double>& v = p.values;
    const std::string_view derivation =
        std::string_view(p.derivation).substr(0, kMaxDerivationBytes);
    size_t first = 0, end = derivation.empty() ? v.size() : 0;
    while (first < end && !std::isfinite(v[first])) ++first;
    while (end > first && !std::isfinite(v[end - 1])) --end;
    const size_t at = out.size();
    const size_t texts = p.name.size() + derivation.size();
    out.resize(at + kPlotHeaderBytes + texts + (end - first) * sizeof(double));
    std::byte* q = out.data() + at;
    Put<uint32_t>(q + 0, static_cast<uint32_t>(p.name.size()));
    Put<uint8_t>(q + 4, static_cast<uint8_t>(p.pane));
    Put<uint8_t>(q + 5, static_cast<uint8_t>(derivation.size()));
    Put<uint16_t>(q + 6, 0);
    Put<uint64_t>(q + 8, first);
    Put<uint64_t>(q + 16, end - first);
    std::memcpy(q + kPlotHeaderBytes, p.name.data(), p.name.size());
    std::memcpy(q + kPlotHeaderBytes + p.name.size(), derivation.data(), derivation.size());
    if (end > first) {
      std::memcpy(q + kPlotHeaderBytes + texts, v.data() + first, (end - first) * sizeof(double));
    }
  }
  return out;
}

PackedLogs PackLogs(std::span<const engine::LogEntry> logs) {
  PackedLogs out;
  out.records.resize(logs.size() * kLogRecordBytes);
  std::byte* p = out.records.data();
  for (const engine::LogEntry& l : logs) {
    Put<int64_t>(p + 0, ToMicros(l.ts));
    Put<uint64_t>(p + 8, l.bar);
    Put<uint32_t>(p + 16, static_cast<uint32_t>(l.msg.size()));
    Put<uint32_t>(p + 20, 0);
    out.text += l.msg;
    p += kLogRecordBytes;
  }
  return out;
}

Result<std::vector<engine::PlotSeries>> UnpackPlots(std::span<const std::byte> blob, size_t count,
                                                    size_t bars) {
  std::vector<engine::PlotSeries> out;
  out.reserve(count);
  size_t at = 0;
  for (size_t i = 0; i < count; ++i) {
    if (blob.size() - at < kPlotHeaderBytes) return Damaged("plots blob ends inside a header");
    const std::byte* q = blob.data() + at;
    const auto name_len = Get<uint32_t>(q + 0);
    const auto pane = Get<uint8_t>(q + 4);
    const size_t derivation_len = Get<uint8_t>(q + 5);
    const auto first = Get<uint64_t>(q + 8);
    const auto n = Get<uint64_t>(q + 16);
    if (pane > static_cast<uint8_t>(engine::PlotPane::kOwn)) {
      return Damaged("plot series " + std::to_string(i) + " has pane " + std::to_string(pane));
    }
    if (first > bars || n > bars - first || (derivation_len > 0 && (first | n) != 0)) {
      return Damaged("plot series " + std::to_string(i) + " runs past the run's bars");
    }
    const size_t rest = blob.size() - at - kPlotHeaderBytes;
    if (name_len > rest || derivation_len > rest - name_len ||
        n > (rest - name_len - derivation_len) / sizeof(double)) {
      return Damaged("plots blob ends inside series " + std::to_string(i));
    }
    const auto* text = reinterpret_cast<const char*>(q + kPlotHeaderBytes);
    engine::PlotSeries p;
    p.name.assign(text, name_len);
    p.pane = static_cast<engine::PlotPane>(pane);
    if (derivation_len > 0) {
      p.derivation.assign(text + name_len, derivation_len);  // no values: it is derived
    } else {
      p.values.assign(bars, NAN);
    }
    if (n > 0) {
      std::memcpy(p.values.data() + first, q + kPlotHeaderBytes + name_len, n * sizeof(double));
    }
    out.push_back(std::move(p));
    at += kPlotHeaderBytes + name_len + derivation_len + n * sizeof(double);
  }
  if (at != blob.size()) return Damaged("plots blob holds bytes past its last series");
  return out;
}

Result<std::vector<engine::LogEntry>> UnpackLogs(std::span<const std::byte> records,
                                                 std::string_view text, size_t count) {
  if (records.size() != count * kLogRecordBytes) {
    return WrongLength("logs", records.size(), count, kLogRecordBytes);
  }
  std::vector<engine::LogEntry> out;
  out.reserve(count);
  size_t at = 0;
  for (const std::byte* p = records.data(); p != records.data() + records.size();
       p += kLogRecordBytes) {
    engine::LogEntry l;
    l.ts = FromMicros(Get<int64_t>(p + 0));
    l.bar = Get<uint64_t>(p + 8);
    const auto len = Get<uint32_t>(p + 16);
    if (len > text.size() - at) return Damaged("log messages do not add up");
    l.msg.assign(text.substr(at, len));
    at += len;
    out.push_back(std::move(l));
  }
  if (at != text.size()) return Damaged("log messages do not add up");
  return out;
}

}  // namespace tapedeck::store::internal

namespace tapedeck::store::internal {
namespace {

// Calls f(offset, field) for each field of `st` in the stats record's order.
template <typename StatsT, typename F>
void ForEachStatsField(StatsT& st, F&& f) {
  f(0, st.bars);
  f(8, st.fills);
  f(16, st.trades);
  f(24, st.start_equity);
  f(32, st.final_equity);
  f(40, st.total_return);
  f(48, st.cagr);
  f(56, st.volatility);
  f(64, st.sharpe);
  f(72, st.sortino);
  f(80, st.calmar);
  f(88, st.max_drawdown);
  f(96, st.max_drawdown_duration);
  f(104, st.win_rate);
  f(112, st.profit_factor);
  f(120, st.expectancy);
  f(128, st.exposure);
  f(136, st.buy_and_hold_return);
  f(144, st.periods_per_year);
}

void PutField(std::byte* at, size_t v) { Put<uint64_t>(at, v); }
void PutField(std::byte* at, double v) { Put<double>(at, v); }
void PutField(std::byte* at, Micros v) { Put<int64_t>(at, v.count()); }
void GetField(const std::byte* at, size_t& v) { v = static_cast<size_t>(Get<uint64_t>(at)); }
void GetField(const std::byte* at, double& v) { v = Get<double>(at); }
void GetField(const std::byte* at, Micros& v) { v = Micros{Get<int64_t>(at)}; }

}  // namespace

std::vector<std::byte> PackStats(const engine::Stats& stats) {
  std::vector<std::byte> out(kStatsRecordBytes);
  ForEachStatsField(stats,
                    [&out](size_t at, const auto& field) { PutField(out.data() + at, field); });
  return out;
}

Result<engine::Stats> UnpackStats(std::span<const std::byte> record) {
  if (record.size() != kStatsRecordBytes) {
    return WrongLength("the statistics", record.size(), 1, kStatsRecordBytes);
  }
  engine::Stats st;
  ForEachStatsField(st, [&record](size_t at, auto& field) { GetField(record.data() + at, field); });
  return st;
}

std::vector<std::byte> PackDailyReturns(std::span<const sweep::DailyReturn> returns) {
  std::vector<std::byte> out(returns.size() * kDailyReturnBytes);
  std::byte* p = out.data();
  for (const sweep::DailyReturn& r : returns) {
    Put<int32_t>(p + 0, static_cast<int32_t>(r.day));
    Put<double>(p + 4, r.ret);
    p += kDailyReturnBytes;
  }
  return out;
}

Result<std::vector<sweep::DailyReturn>> UnpackDailyReturns(std::span<const std::byte> records) {
  if (records.size() % kDailyReturnBytes != 0) {
    return WrongLength("the daily returns", records.size(), records.size() / kDailyReturnBytes,
                       kDailyReturnBytes);
  }
  std::vector<sweep::DailyReturn> out(records.size() / kDailyReturnBytes);
  const std::byte* p = records.data();
  for (sweep::DailyReturn& r : out) {
    r.day = Get<int32_t>(p + 0);
    r.ret = Get<double>(p + 4);
    p += kDailyReturnBytes;
  }
  return out;
}

}  // namespace tapedeck::store::internal
