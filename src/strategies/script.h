// Strategy scripts: user strategies written in Lua 5.4, run in a sandbox with budgets.
//
// The script contract (DESIGN.md, "Strategy scripts"):
//   params = { fast = 10, slow = 30 }   -- or { fast = {default=10, min=1, max=500, int=true,
//   desc="…"} } function init() end                 -- optional: once before the first bar function
//   on_bar(bar) end            -- required: at the close of every bar
// `bar` has time (Unix seconds, the bar's open time), index (0-based), open, high, low, close,
// volume (of the first symbol) and last (true on the last bar): a new read-only userdata each bar
// holding a copy of those values, so the script may keep it (a kept bar keeps its values); writing
// a field raises "bar is read-only", pairs() lists the fields, tostring() shows them. ago(n[,
// symbol]) gives the same kind of value with time, open, high, low, close, volume of the symbol's
// bar n bars before its latest one at or before now (nil when it has fewer than n + 1 bars; n a
// non-negative integer); symbols() the run's symbol names in order. The script trades with
// buy([qty][, opts]) / sell([qty][, opts]) (opts {type="limit"|"stop"|"stop_limit", limit=, stop=,
// symbol=}; they return the order id), close_position([symbol]) (the order id, nil when flat),
// cancel(id) (whether it was open); reads position([symbol]), cash(), equity(); builds indicators
// ta.sma(n), ta.ema(n), ta.rsi(n), ta.stdev(n), ta.highest(n), ta.lowest(n), ta.atr(n),
// ta.macd(f, s, sig) — the C++ indicators of strategies/indicators.h, so the same numbers as the
// built-ins — each a function called with the next value (atr: with the bar) and returning the
// current value, or nil while it warms up (macd returns line, signal, histogram); records
// plot(name, value[, {pane="price"|"own"}]) (nil: no value at this bar; a series is declared by
// its first call, whose pane stays; at most 64 series of 1-64-byte names, each charged 8 bytes per
// bar of the run to the memory budget) and log(...) at the bar (engine::kMaxLogs per run). Outside
// init and on_bar (at the top level) only ta.*, math and friends are available.
//
// Sandbox: every run gets a fresh lua_State with its own libraries: string (no string.dump),
// table, math (math.random seeded from ScriptBudgets::seed; no math.randomseed), utf8, coroutine
// and the safe base functions (no load, loadstring, dofile, loadfile, require, print goes to log,
// collectgarbage only "count"; getmetatable on a string gives false and its metatable cannot be
// reached). Binary chunks are refused. Budgets: instructions, memory and wall time per run; the
// libraries' C functions charge the instruction budget for their work before doing it, and work
// that cannot fit is refused (script_sandbox.h). A budget exceeded, recursion deeper than
// sandbox::kMaxCallDepth calls, a runtime error or error() fails the run (engine::Run returns the
// error) with a message naming the cause, the script line and the bar's time.
//
// Thread-safety: every function here may run on any thread; a ScriptStrategy is one run's.
#pragma once

#include <cstdint>
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/time.h"
#include "engine/engine.h"
#include "strategies/strategies.h"

namespace tapedeck::strategies {

struct ScriptBudgets {
  uint64_t instructions = 2'000'000'000;  // Lua VM instructions, whole run (top level included)
  size_t memory_bytes = 64u << 20;        // the Lua heap, indicator buffers included
  double wall_seconds = 30;               // from the sandbox's creation to the run's end
  uint64_t seed = 0;                      // math.random's seed
  // When set and becoming true, the run stops within about a thousand instructions (at the
  // budget's next check), failing with cause "cancelled": a script that spends seconds on few
  // bars is stopped as promptly as the engine stops between bars. Must outlive the strategy.
  const std::atomic<bool>* cancel = nullptr;
};

struct ScriptInfo {
  std::vector<ParamSpec> params;  // sorted by name
  bool has_init = false;
};

// A script bound to one run. Made by MakeScriptStrategy.
// Its plot() and log() calls go through engine::Context (DeclarePlot, Plot, Log): they come out in
// the run's engine::RunResult.
class ScriptStrategy : public engine::Strategy {
 public:
  ~ScriptStrategy() override = default;
  // The script's parameter schema and whether it has init(), as CompileScript gives them.
  virtual const ScriptInfo& info() const = 0;
};

// Compiles `source` in a sandbox, runs its top level once and reads its parameter schema.
// `chunk_name` names the script in messages (a file name). Errors: VALIDATION with details
// `line` (when known), `msg` and `cause` (syntax, error, params, instructions, memory, wall_time,
// recursion) — a syntax error, a binary chunk, an error or exhausted budget in the top level, a
// malformed `params` (details `param` naming it), no `on_bar` function.
Result<ScriptInfo> CompileScript(std::string_view source, std::string_view chunk_name,
                                 const ScriptBudgets& budgets = {});

// A strategy running `source` with `params` (missing ones take their defaults) in a fresh sandbox
// of its own: nothing is shared between runs. Errors: those of CompileScript; VALIDATION naming
// `param` for an unknown parameter, a non-integer value of an int parameter, a value out of
// [min, max]. A failure during the run (see the top) comes out of engine::Run as RUN_FAILED with
// details `cause` (error, instructions, memory, wall_time, recursion), `line` when known and
// `time`.
Result<std::unique_ptr<ScriptStrategy>> MakeScriptStrategy(std::string_view source,
                                                           std::string_view chunk_name,
                                                           const Params& params,
                                                           const ScriptBudgets& budgets = {});

}  // namespace tapedeck::strategies
