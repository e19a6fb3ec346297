// The libraries a strategy script may use, and what their C functions cost.
//
// Lua's count hook fires only between VM instructions, so work done inside a C library function
// (string.rep's copy loop, the pattern matcher's backtracking, table.move's loop, ...) is invisible
// to the instruction budget and to the wall clock read in the hook. OpenLibraries wraps every
// library function whose work grows with its arguments: before calling the original, the wrapper
// works out an upper bound of that work (in instructions, a VM instruction being the unit) and
// charges it to the run's instruction budget, reading the wall clock at least every
// kClockEvery charged instructions. Work that does not fit in what is left of the budget is
// refused before it starts, with a message naming the budget and the function. Pattern functions
// (string.find/match/gmatch/gsub, not plain) are charged a worst case computed from the subject's
// length and the pattern's items (each quantifier that can backtrack multiplies it by the length).
//
// Internal to strategies: script.cpp's runtime and this file share Budget.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

struct lua_State;  // lua.h's; declared here so that tests need not see Lua's headers

namespace tapedeck::strategies::sandbox {

using Clock = std::chrono::steady_clock;

// Deeper than this many nested Lua calls on one thread, a run fails with cause "recursion"
// (checked where the budgets are: in the count hook). Lua's own stack limits ("stack overflow",
// "C stack overflow") report the same cause.
constexpr int kMaxCallDepth = 5000;
// The wall clock is read at least every this many instructions charged for C work.
constexpr uint64_t kClockEvery = 16'000;
// From this much memory on, the hook reads the clock at every call, not every 16th: with big
// strings around, one instruction (comparing two of them) can take milliseconds.
constexpr size_t kBigState = 1u << 20;

// The run's budgets and what they have used. Trivially destructible: the hook, the allocator and
// the charges run inside Lua's protected region.
struct Budget {
  size_t memory_limit = 0;
  size_t memory_used = 0;
  uint64_t instruction_limit = 0;
  uint64_t instructions = 0;
  int hooks = 0;
  uint64_t charged_since_clock = 0;
  Clock::time_point deadline;
  const std::atomic<bool>* cancel = nullptr;  // ScriptBudgets::cancel
  // Sticky once set: "instructions", "memory", "wall_time", "recursion", "cancelled".
  const char* cause = nullptr;
  int cause_line = 0;
  char cause_detail[192] = {};   // what was refused, for the message ("" for the hook's causes)
  lua_State* current = nullptr;  // the thread C++ entered Lua with (for the allocator's line)
};

// The first Lua function's current line on L's stack, 0 when none. Reads only: safe inside the
// allocator and the hook.
int CurrentLine(lua_State* L);

// Charges `instructions` of C work (`what`: the function, for the message) to b; sets b->cause
// and raises a Lua error when the budget cannot pay for it or the wall clock has passed the
// deadline. Once a cause is set every further charge raises too.
void Charge(lua_State* L, Budget* b, double instructions, const char* what);

// A block of memory the script's state grows by this many bytes or more at once (a long string, a
// table's array) is charged an instruction per 16 bytes (memcpy's pace): C code fills it between
// two instructions (a concatenation, a library call's result, return values copied into a buffer).
constexpr size_t kChargedBlock = 4096;

// Charges a block of `bytes` (see kChargedBlock) from inside the allocator: raises nothing. False,
// with b->cause set, when the budget cannot pay for it or the wall clock has passed the deadline
// (the allocator then refuses the block, and the run fails on that cause).
bool ChargeBlock(Budget* b, size_t bytes);

// Opens base, string, table, math, utf8 and coroutine in L, without what could reach outside the
// run (load, loadstring, dofile, loadfile, require, warn, print, string.dump, math.randomseed;
// collectgarbage only counts; pairs visits keys in an order that is the same in every run:
// numbers, strings, booleans, then the rest), seeds math.random with `seed`, hides the strings' metatable
// (getmetatable("") is false) and wraps the costly C functions so they charge b. Raises on
// memory exhaustion: call it inside lua_pcall. print is left unset for the caller to bind.
void OpenLibraries(lua_State* L, Budget* b, uint64_t seed);

// The worst-case number of matcher steps of one string.find/match call (find: `anchored` when
// the pattern starts with '^', already stripped) on a subject of `n` bytes, and of a gsub/gmatch
// that matches up to `max_matches` times. Exposed for tests.
double PatternFindCost(const char* p, size_t plen, double n);
double PatternGlobalCost(const char* p, size_t plen, double n, double max_matches);

}  // namespace tapedeck::strategies::sandbox
