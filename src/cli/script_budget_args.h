// The script budget options shared by `tapedeck serve`, `backtest` and `check`:
// --script-instructions N, --script-memory MiB, --script-seconds S.
#pragma once

#include <optional>
#include <string_view>

#include "common/error.h"
#include "strategies/script.h"

namespace tapedeck::cli {

// The options' names (without "--").
inline constexpr std::string_view kScriptBudgetOptions[] = {"script-instructions", "script-memory",
                                                            "script-seconds"};

// Their lines of a usage text.
inline constexpr std::string_view kScriptBudgetUsage =
    R"(  --script-instructions N      a strategy script's budget of Lua instructions per run
                               (default 2000000000; 1000 .. 1000000000000)
  --script-memory MiB          a script's memory budget per run, in MiB (default 64; 1 .. 65536)
  --script-seconds S           a script run's wall-time budget in seconds (default 30;
                               0.001 .. 86400)
)";

// Whether `option` (without "--") is one of kScriptBudgetOptions.
bool IsScriptBudgetOption(std::string_view option);

// Sets the budget `option` names from `value`. VALIDATION naming the option (details `option`,
// `got`) and its accepted range when the value is not a number in that range.
Status SetScriptBudget(std::string_view option, std::string_view value,
                       strategies::ScriptBudgets& budgets);

}  // namespace tapedeck::cli
