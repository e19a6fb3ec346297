// Schema step 3's conversion: the row-per-event and row-per-trade tables of v1/v2 into packed
// blobs. The only code that still reads the old layout.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/packing.h"
#include "store/schema.h"

namespace tapedeck::store::internal {
namespace {

std::optional<engine::Side> ParseSide(std::string_view s) {
  if (s == "buy") return engine::Side::kBuy;
  if (s == "sell") return engine::Side::kSell;
  return std::nullopt;
}

std::optional<engine::OrderType> ParseOrderType(std::string_view s) {
  for (auto t : {engine::OrderType::kMarket, engine::OrderType::kLimit, engine::OrderType::kStop,
                 engine::OrderType::kStopLimit}) {
    if (engine::ToString(t) == s) return t;
  }
  return std::nullopt;
}

std::optional<engine::OrderStatus> ParseOrderStatus(std::string_view s) {
  for (auto t : {engine::OrderStatus::kSubmitted, engine::OrderStatus::kFilled,
                 engine::OrderStatus::kCancelled, engine::OrderStatus::kRejected}) {
    if (engine::ToString(t) == s) return t;
  }
  return std::nullopt;
}

Error BadRow(const Db& db, int64_t run, const char* what) {
  return MakeError(ErrorCode::kIo,
                   "the store holds damaged data: run " + std::to_string(run) + " has " + what,
                   {{"path", db.path()}});
}

Result<std::vector<engine::OrderEvent>> ReadEventRows(Db& db, int64_t run) {
  TD_ASSIGN_OR_RETURN(
      Stmt & s, db.Prepare("SELECT order_id, ts_us, bar, symbol, side, type, status, qty, px, "
                           "commission, reason FROM run_events WHERE run = ?1 ORDER BY seq"));
  s.Bind(1, run);
  std::vector<engine::OrderEvent> out;
  for (;;) {
    TD_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    engine::OrderEvent e;
    e.id = s.Int(0);
    e.ts = FromMicros(s.Int(1));
    e.bar = static_cast<size_t>(s.Int(2));
    e.symbol = static_cast<engine::SymbolId>(s.Int(3));
    const auto side = ParseSide(s.Text(4));
    const auto type = ParseOrderType(s.Text(5));
    const auto status = ParseOrderStatus(s.Text(6));
    if (!side || !type || !status) return BadRow(db, run, "an order event with a bad enum");
    e.side = *side;
    e.type = *type;
    e.status = *status;
    if (!s.IsNull(7)) e.qty = s.Double(7);
    e.px = s.Double(8);
    e.commission = s.Double(9);
    e.reason = s.Text(10);
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::vector<engine::Trade>> ReadTradeRows(Db& db, int64_t run) {
  TD_ASSIGN_OR_RETURN(
      Stmt & s, db.Prepare("SELECT symbol, side, entry_us, exit_us, entry_bar, exit_bar, qty, "
                           "entry_px, exit_px, pnl, ret, open FROM run_trades WHERE run = ?1 "
                           "ORDER BY seq"));
  s.Bind(1, run);
  std::vector<engine::Trade> out;
  for (;;) {
    TD_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    engine::Trade t;
    t.symbol = static_cast<engine::SymbolId>(s.Int(0));
    const std::optional<engine::Side> side = ParseSide(s.Text(1));
    if (!side) return BadRow(db, run, "a trade with a bad side");
    t.side = *side;
    t.entry_time = FromMicros(s.Int(2));
    t.exit_time = FromMicros(s.Int(3));
    t.entry_bar = static_cast<size_t>(s.Int(4));
    t.exit_bar = static_cast<size_t>(s.Int(5));
    t.qty = s.Double(6);
    t.entry_px = s.Double(7);
    t.exit_px = s.Double(8);
    t.pnl = s.Double(9);
    t.ret = s.Double(10);
    t.open = s.Int(11) != 0;
    out.push_back(t);
  }
  return out;
}

}  // namespace

Status PackRunRowsV3(Db& db) {
  // Every done run has a run_stats row; only done runs have events or trades.
  std::vector<int64_t> runs;
  {
    TD_ASSIGN_OR_RETURN(Stmt & s, db.Prepare("SELECT run FROM run_stats ORDER BY run"));
    for (;;) {
      TD_ASSIGN_OR_RETURN(const bool row, s.Step());
      if (!row) break;
      runs.push_back(s.Int(0));
    }
  }
  for (const int64_t run : runs) {
    TD_ASSIGN_OR_RETURN(const std::vector<engine::OrderEvent> events, ReadEventRows(db, run));
    TD_ASSIGN_OR_RETURN(const std::vector<engine::Trade> trades, ReadTradeRows(db, run));
    TD_TRY(InsertPackedRows(db, PackedTables::kStep3, run, PackEvents(events), PackTrades(trades)));
  }
  return Ok();
}

}  // namespace tapedeck::store::internal
