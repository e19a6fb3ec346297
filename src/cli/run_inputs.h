// What `tapedeck backtest` and `tapedeck sweep` both take: the CSV files (one per symbol), the
// strategy (a built-in or a script file), the costs and the period; parsed from the same options
// and loaded the same way, so a sweep's trial and a backtest of the same parameters agree exactly.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cli/args.h"
#include "common/error.h"
#include "engine/engine.h"
#include "market/market.h"
#include "strategies/script.h"
#include "strategies/strategies.h"

namespace tapedeck::cli {

// The options RunInputs parses (for Args::Parse), and which of them repeat.
extern const std::set<std::string> kRunInputOptions;
extern const std::set<std::string> kRunInputRepeatable;  // csv, symbol

struct RunInputs {
  // One file per symbol, in order (the first is the one `bar` describes to a script, and the one
  // a built-in trades); symbols[i] names csvs[i]'s symbol (empty or absent: from its file name).
  std::vector<std::string> csvs;
  market::CsvFormat format = market::CsvFormat::kAuto;
  std::vector<std::string> symbols;
  std::string strategy;
  std::string script;  // a Lua strategy file instead of a built-in
  std::string script_source;
  strategies::ScriptBudgets budgets;
  engine::RunConfig config;
  std::optional<Timestamp> from, to;
};

// Reads the shared options from `args` (and the script file). Errors (usage errors: exit 2):
// VALIDATION naming the option (two files of one symbol too); a script file that cannot be read.
Result<RunInputs> ParseRunInputs(const Args& args);

// Imports every CSV (a progress bar each on a terminal), cut to [from, to). Errors: the import's
// (naming file, line and column), RANGE when a file has no bar in the period.
Result<std::vector<market::Series>> LoadRunInputs(const RunInputs& inputs);

// The strategy's display name: the built-in's, or the script file's name.
std::string StrategyName(const RunInputs& inputs);

// Builds the strategy with `params` (a script is compiled from inputs.script_source).
Result<std::unique_ptr<engine::Strategy>> MakeStrategy(const RunInputs& inputs,
                                                       const strategies::Params& params);

// The strategy's parameter schema (a script's is read by compiling it with its defaults).
Result<std::vector<strategies::ParamSpec>> StrategyParams(const RunInputs& inputs);

// Prints "tapedeck: MESSAGE" on stderr and returns `code`.
int Fail(const Error& error, int code = 1);

}  // namespace tapedeck::cli
