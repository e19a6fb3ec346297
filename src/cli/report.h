// The backtest report, as text for people and as one JSON object for programs.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "market/market.h"
#include "strategies/strategies.h"

namespace tapedeck::cli {

struct ReportInput {
  const std::string& strategy;
  const strategies::Params& params;      // as given; defaults are filled in from the schema
  const std::string& source;             // the data's file(s), for people
  std::span<const market::Series> data;  // one series per symbol, the run's order; not empty
  const engine::RunConfig& config;
  const engine::RunResult& result;
  // The parameter schema when the strategy is a script (not a built-in found by name).
  const std::vector<strategies::ParamSpec>* schema = nullptr;
};

// With more than one symbol the text ends with the trades of each symbol (count, won, P&L).
std::string ReportText(const ReportInput& in);
// One object with at least bars, fills, trades, final_equity, total_return, max_drawdown, sharpe;
// `symbol` is the first symbol, `symbols` all of them and `by_symbol` the trades of each:
// {"SYM": {"trades": n, "wins": n, "pnl": x}}.
std::string ReportJson(const ReportInput& in);

}  // namespace tapedeck::cli
