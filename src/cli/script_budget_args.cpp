#include "cli/script_budget_args.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>

namespace tapedeck::cli {
namespace {

std::optional<uint64_t> WholeNumber(std::string_view v) {
  uint64_t n = 0;
  const auto res = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || res.ec != std::errc() || res.ptr != v.data() + v.size()) return std::nullopt;
  return n;
}

std::optional<double> Number(std::string_view v) {
  double x = 0;
  const auto res = std::from_chars(v.data(), v.data() + v.size(), x);
  if (v.empty() || res.ec != std::errc() || res.ptr != v.data() + v.size() || !std::isfinite(x)) {
    return std::nullopt;
  }
  return x;
}

Error Bad(std::string_view option, std::string_view value, const char* expected) {
  return MakeError(ErrorCode::kValidation,
                   "bad value '" + std::string(value) + "' for '--" + std::string(option) +
                       "': expected " + expected,
                   {{"option", std::string(option)}, {"got", std::string(value)}});
}

}  // namespace

bool IsScriptBudgetOption(std::string_view option) {
  return std::find(std::begin(kScriptBudgetOptions), std::end(kScriptBudgetOptions), option) !=
         std::end(kScriptBudgetOptions);
}

Status SetScriptBudget(std::string_view option, std::string_view value,
                       strategies::ScriptBudgets& budgets) {
  if (option == "script-instructions") {
    const auto n = WholeNumber(value);
    if (!n || *n < 1000 || *n > 1'000'000'000'000ull) {
      return Bad(option, value, "a whole number of instructions from 1000 to 1000000000000");
    }
    budgets.instructions = *n;
    return Ok();
  }
  if (option == "script-memory") {
    const auto n = WholeNumber(value);
    if (!n || *n < 1 || *n > 65536)
      return Bad(option, value, "a whole number of MiB from 1 to 65536");
    budgets.memory_bytes = static_cast<size_t>(*n) << 20;
    return Ok();
  }
  if (option == "script-seconds") {
    const auto x = Number(value);
    if (!x || *x < 0.001 || *x > 86400) return Bad(option, value, "seconds from 0.001 to 86400");
    budgets.wall_seconds = *x;
    return Ok();
  }
  return MakeError(ErrorCode::kValidation, "unknown option '--" + std::string(option) + "'",
                   {{"option", std::string(option)}});
}

}  // namespace tapedeck::cli
