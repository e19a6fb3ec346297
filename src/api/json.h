// JSON shapes of the REST resources, and parsing of request bodies.
#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/json_writer.h"
#include "engine/engine.h"
#include "store/store.h"
#include "strategies/strategies.h"

namespace tapedeck::api {

void WriteDataset(JsonWriter& w, const store::DatasetInfo& d);
void WriteStats(JsonWriter& w, const engine::Stats& s);
// The statistics as keys of the object being written (no braces): the CLI's --json report puts
// them at its top level, the REST API under "stats". It is engine::WriteStatsFields, which sweeps'
// trials use too.
void WriteStatsFields(JsonWriter& w, const engine::Stats& s);
// A parameter schema as an array of {name, type, default, min, max, description}.
void WriteParamSpecs(JsonWriter& w, const std::vector<strategies::ParamSpec>& params);
// A built-in as an object {name, kind: "builtin", description, params}.
void WriteBuiltinStrategy(JsonWriter& w, const strategies::StrategyInfo& s);
// A script version's fields (no braces): name, kind "script", version, sha256, params, created.
void WriteScriptFields(JsonWriter& w, const store::ScriptVersion& v);
// Every built-in strategy with its parameter schema, then `scripts` (the latest version of each)
// (GET /strategies, `tapedeck strategies --json`).
void WriteStrategies(JsonWriter& w, const std::vector<store::ScriptVersion>& scripts = {});
// "error": {msg, cause, line?, bar_time?} (a key and its object, inside the run's object).
void WriteRunError(JsonWriter& w, const store::RunError& e);
// A run's or a sweep's request fields (no braces): dataset, datasets, symbols, strategy
// (+ strategy_version, strategy_sha256), cash, commission, fixed_fee, slippage, allow_short,
// from, to.
void WriteSpecFields(JsonWriter& w, const store::RunSpec& spec);
void WriteRun(JsonWriter& w, const store::RunInfo& run);
void WriteTrade(JsonWriter& w, const engine::Trade& t, const std::vector<std::string>& symbols);

// The CSV forms of trades and equity (header line first).
std::string TradesCsv(const std::vector<engine::Trade>& trades,
                      const std::vector<std::string>& symbols);
std::string EquityCsv(const engine::RunResult& result);

// A strategy's parameters as stored ({"fast":10,...}) -> Params. VALIDATION naming `params`.
Result<strategies::Params> ParseParams(std::string_view json);

// Resolves and checks a script run of POST /backtests: `script` is the inline source, or nullopt
// for `spec.strategy` naming a stored script ("name" or "name@N"). Fills the spec's strategy
// fields (strategy, strategy_version, strategy_sha256, script_source) and, when `schema` is not
// null, the script's parameter schema; or returns the error (VALIDATION naming the field).
using ScriptCheck = std::function<Status(
    store::RunSpec& spec, const std::optional<std::string>& script,
    const strategies::Params& params, std::vector<strategies::ParamSpec>* schema)>;

// How many datasets (symbols) one run may read.
inline constexpr size_t kMaxRunDatasets = 16;

// POST /backtests body -> a RunSpec with validated fields. VALIDATION with details `field` naming
// the first bad one: not JSON / not an object (`body`), unknown field, wrong type, out of range,
// an unknown strategy. `strategy` (a name) or `script` (a source) — exactly one; a script or a
// name that is not a built-in's goes to `check_script` (without one: VALIDATION). `dataset` (a
// name) or `datasets` (1..kMaxRunDatasets distinct names) — exactly one; spec.datasets gets the
// list (just `dataset` for the former) and spec.dataset its first. The datasets' existence and
// distinct symbols are checked by the caller.
Result<store::RunSpec> ParseBacktestRequest(std::string_view body,
                                            const ScriptCheck& check_script = {});

// ---- Shared by POST /backtests and POST /sweeps ----

// VALIDATION "<field> <what>" with details `field`.
Error FieldError(const std::string& field, const std::string& what);

// The body as a JSON object, or VALIDATION with field `body`.
Result<boost::json::object> ParseBodyObject(std::string_view body);

// Whether `key` is one of the fields every run request has (datasets, strategy or script, costs,
// shorting, period); `params` is not one: its meaning differs between a run and a sweep.
bool IsRunField(std::string_view key);

struct RunFields {
  store::RunSpec spec;                // without params_json and request_json
  std::optional<std::string> script;  // an inline script's source
};
// Those fields of `o`, validated as ParseBacktestRequest says (unknown keys are the caller's).
// The strategy is named but not checked.
Result<RunFields> ParseRunFields(const boost::json::object& o);

// A strategy's error (strategies::Make: an unknown name, a bad parameter) as a request body's:
// VALIDATION naming `params.X` or `strategy`.
Error StrategyFieldError(Error e);

}  // namespace tapedeck::api
