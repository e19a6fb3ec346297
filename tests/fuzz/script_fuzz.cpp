// Fuzzes strategy scripts: the loader (CompileScript) and a run (MakeScriptStrategy +
// engine::Run over two small series) with small budgets.
//
// Input: the whole input is the script's source (random bytes, or Lua text the dictionary's
// tokens and the seed corpus steer the mutations towards).
//
// Invariants: nothing crashes, leaks or trips ASan/UBSan; every call ends (libFuzzer's -timeout:
// a script the budgets do not stop is a finding); a refused script is VALIDATION and a failed run
// RUN_FAILED, each with a message and one of the documented causes, a run's error naming the
// bar's time; compiling the same source twice gives the same answer and cause (no state survives
// a sandbox).
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "strategies/script.h"
#include "unit/strategies/strategy_test_util.h"

namespace tapedeck::strategies {
namespace {

ScriptBudgets Budgets() {
  ScriptBudgets b;
  b.instructions = 300'000;
  b.memory_bytes = 4u << 20;
  b.wall_seconds = 5;  // far above what 300 000 instructions take, even under ASan
  return b;
}

const std::vector<market::Series>& Data() {
  static const std::vector<market::Series> data = [] {
    std::vector<double> closes;
    for (int i = 0; i < 24; ++i) closes.push_back(100 + (i * 37 % 11) - 5);
    market::Series a = testutil::ToSeries(testutil::FromCloses(closes));
    // A second symbol, every other bar only: ago() and the symbol arguments see uneven data.
    std::vector<market::Bar> bars;
    for (size_t i = 0; i < a.size(); i += 2) {
      market::Bar bar = a.bar(i);
      bar.open *= 2;
      bar.high *= 2;
      bar.low *= 2;
      bar.close *= 2;
      bars.push_back(bar);
    }
    market::Series b = market::Series::FromBars("OTHER", bars);
    return std::vector<market::Series>{std::move(a), std::move(b)};
  }();
  return data;
}

void CheckCause(const Error& e, const std::set<std::string>& causes) {
  FUZZ_CHECK(!e.msg.empty());
  const auto it = e.details.find("cause");
  FUZZ_CHECK(it != e.details.end());
  FUZZ_CHECK(causes.count(it->second) == 1);
  const auto line = e.details.find("line");
  if (line != e.details.end()) FUZZ_CHECK(std::stoi(line->second) > 0);
}

const std::set<std::string> kCompileCauses = {"syntax", "error",     "params",   "instructions",
                                              "memory", "wall_time", "recursion"};
const std::set<std::string> kRunCauses = {"error", "instructions", "memory", "wall_time",
                                          "recursion"};

}  // namespace
}  // namespace tapedeck::strategies

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tapedeck;
  using namespace tapedeck::strategies;
  const std::string_view source(reinterpret_cast<const char*>(data), size);
  const ScriptBudgets budgets = Budgets();

  auto info = CompileScript(source, "fuzz.lua", budgets);
  auto again = CompileScript(source, "fuzz.lua", budgets);
  FUZZ_CHECK(info.ok() == again.ok());
  if (!info.ok()) {
    fuzz::CheckError(info.error(), ErrorCode::kValidation);
    CheckCause(info.error(), kCompileCauses);
    // The same cause; not always the same message: each state seeds its string hashes afresh,
    // so pairs() (and the params table's check) may meet two bad entries in either order.
    if (info.error().details.at("cause") != "wall_time") {
      FUZZ_CHECK(info.error().details.at("cause") == again.error().details.at("cause"));
    }
    return 0;
  }
  FUZZ_CHECK(info->params.size() == again->params.size());

  auto strategy = MakeScriptStrategy(source, "fuzz.lua", {}, budgets);
  if (!strategy.ok()) {
    // The defaults always resolve; only a budget can differ from the compile (wall time).
    fuzz::CheckError(strategy.error(), ErrorCode::kValidation);
    CheckCause(strategy.error(), kCompileCauses);
    return 0;
  }
  const auto& series = Data();
  auto result =
      engine::Run(std::span<const market::Series>(series.data(), series.size()), **strategy, {});
  if (!result.ok()) {
    const Error& e = result.error();
    FUZZ_CHECK(e.code == ErrorCode::kRunFailed);
    CheckCause(e, kRunCauses);
    FUZZ_CHECK(e.details.count("time") == 1);
    FUZZ_CHECK(e.msg.find(e.details.at("time")) != std::string::npos);
  }
  return 0;
}
