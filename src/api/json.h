// JSON shapes of the REST resources, and parsing of request bodies.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"
#include "common/json_writer.h"
#include "engine/engine.h"
#include "store/store.h"
#include "strategies/strategies.h"

namespace tapedeck::api {

void WriteDataset(JsonWriter& w, const store::DatasetInfo& d);
void WriteStats(JsonWriter& w, const engine::Stats& s);
// The statistics as keys of the object being written (no braces): the CLI's --json report puts
// them at its top level, the REST API under "stats".
void WriteStatsFields(JsonWriter& w, const engine::Stats& s);
// Every built-in strategy with its parameter schema (GET /strategies, `tapedeck strategies --json`).
void WriteStrategies(JsonWriter& w);
void WriteRun(JsonWriter& w, const store::RunInfo& run);
void WriteTrade(JsonWriter& w, const engine::Trade& t, const std::vector<std::string>& symbols);

// The CSV forms of trades and equity (header line first).
std::string TradesCsv(const std::vector<engine::Trade>& trades,
                      const std::vector<std::string>& symbols);
std::string EquityCsv(const engine::RunResult& result);

// A strategy's parameters as stored ({"fast":10,...}) -> Params. VALIDATION naming `params`.
Result<strategies::Params> ParseParams(std::string_view json);

// POST /backtests body -> a RunSpec with validated fields. VALIDATION with details `field` naming
// the first bad one: not JSON / not an object (`body`), unknown field, wrong type, out of range;
// NOT_FOUND for an unknown strategy. The dataset's existence is checked by the caller.
Result<store::RunSpec> ParseBacktestRequest(std::string_view body);

}  // namespace tapedeck::api
