#include "engine/stats_json.h"

#include <chrono>
#include <cstdint>

namespace tapedeck::engine {

void WriteStatsFields(JsonWriter& w, const Stats& s) {
  w.Key("bars").Int(static_cast<int64_t>(s.bars));
  w.Key("fills").Int(static_cast<int64_t>(s.fills));
  w.Key("trades").Int(static_cast<int64_t>(s.trades));
  w.Key("start_equity").Number(s.start_equity);
  w.Key("final_equity").Number(s.final_equity);
  w.Key("total_return").Number(s.total_return);
  w.Key("cagr").Number(s.cagr);
  w.Key("volatility").Number(s.volatility);
  w.Key("sharpe").Number(s.sharpe);
  w.Key("sortino").Number(s.sortino);
  w.Key("calmar").Number(s.calmar);
  w.Key("max_drawdown").Number(s.max_drawdown);
  w.Key("max_drawdown_duration_s")
      .Number(std::chrono::duration<double>(s.max_drawdown_duration).count());
  w.Key("win_rate").Number(s.win_rate);
  w.Key("profit_factor").Number(s.profit_factor);
  w.Key("expectancy").Number(s.expectancy);
  w.Key("exposure").Number(s.exposure);
  w.Key("buy_and_hold_return").Number(s.buy_and_hold_return);
}

}  // namespace tapedeck::engine
