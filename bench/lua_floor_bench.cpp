// The floor stock Lua 5.4 sets for a strategy script, whatever tapedeck does around it:
// examples/strategies/sma_cross.lua, unmodified, run over the same 525,600 closes script_bench
// uses, with bindings that do as little as the script's calls allow:
//   - `bar` is one table reused for every bar, its `close` and `last` overwritten in place (a field
//     read is then one VM instruction; tapedeck's bar is a fresh read-only value per bar);
//   - `ta.sma(n)` is a C closure over a ring buffer and a running sum;
//   - `plot`, `position`, `buy`, `sell` only read their arguments and set a number: no broker, no
//     orders, no stored series; `math.abs` is Lua's own;
//   - no sandbox, no memory budget, Lua's default allocator.
// Each case runs with and without a count hook set as tapedeck sets it (LUA_MASKCOUNT, every 1,000
// instructions): with any count hook, Lua 5.4 traps before every VM instruction, whatever the
// count. Compare with script_bench's BM_ScriptSmaCross in the same sitting: the gap is tapedeck's
// own cost; these figures are the interpreter's.
//
//   scripts/build.sh --target lua_floor_bench script_bench
//   build/bench/lua_floor_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// Run from the repository's root (the example is read from examples/strategies/, or from the file
// TAPEDECK_SCRIPT names).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <new>
#include <vector>

#include "market/market.h"

extern "C" {
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
}

namespace tapedeck {
namespace {

const std::vector<double>& Closes() {
  static const std::vector<double> closes = [] {
    const market::Series series = market::Generate(market::GenOptions{});
    return std::vector<double>(series.close().begin(), series.close().end());
  }();
  return closes;
}

std::string ReadExample() {
  const char* env = std::getenv("TAPEDECK_SCRIPT");
  const char* path = env != nullptr ? env : "examples/strategies/sma_cross.lua";
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "lua_floor_bench: cannot open %s (run from the repository's root)\n", path);
    std::exit(2);
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The example with its plot() calls removed: what the two plotted series cost the script.
std::string WithoutPlots(std::string source) {
  const std::string line = "plot(\"fast\", f); plot(\"slow\", s)";
  const size_t at = source.find(line);
  if (at == std::string::npos) {
    std::fprintf(stderr, "lua_floor_bench: the example's plot line is not where expected\n");
    std::exit(2);
  }
  source.replace(at, line.size(), "");
  return source;
}

struct Sma {
  std::vector<double> window;
  size_t next = 0, count = 0;
  double sum = 0;
};

int SmaCall(lua_State* L) {
  auto* s = static_cast<Sma*>(lua_touserdata(L, lua_upvalueindex(1)));
  const double v = lua_tonumber(L, 1);
  if (s->count == s->window.size()) {
    s->sum -= s->window[s->next];
  } else {
    ++s->count;
  }
  s->window[s->next] = v;
  s->sum += v;
  s->next = (s->next + 1) % s->window.size();
  if (s->count < s->window.size()) {
    lua_pushnil(L);
  } else {
    lua_pushnumber(L, s->sum / static_cast<double>(s->window.size()));
  }
  return 1;
}

int SmaGc(lua_State* L) {
  static_cast<Sma*>(lua_touserdata(L, 1))->~Sma();
  return 0;
}

int SmaNew(lua_State* L) {
  const lua_Integer n = luaL_checkinteger(L, 1);
  void* mem = lua_newuserdatauv(L, sizeof(Sma), 0);
  auto* s = new (mem) Sma;
  s->window.assign(static_cast<size_t>(n), 0.0);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, SmaGc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_pushcclosure(L, SmaCall, 1);
  return 1;
}

double g_position = 0;
double g_plotted = 0;
int Position(lua_State* L) {
  lua_pushnumber(L, g_position);
  return 1;
}
int Buy(lua_State*) {
  g_position = 1;
  return 0;
}
int Sell(lua_State*) {
  g_position = 0;
  return 0;
}
int Plot(lua_State* L) {
  size_t len = 0;
  (void)luaL_checklstring(L, 1, &len);
  g_plotted += lua_isnumber(L, 2) != 0 ? lua_tonumber(L, 2) : 0.0;
  return 0;
}

void CountHook(lua_State* L, lua_Debug*) {
  ++*static_cast<long*>(lua_getextraspace(L));
}

// Runs `source` over the closes once: returns the ns a bar of the loop (set-up excluded).
void RunFloor(benchmark::State& state, const std::string& source) {
  const bool hook = state.range(0) != 0;
  const std::vector<double>& closes = Closes();
  for (auto _ : state) {
    state.PauseTiming();
    lua_State* L = luaL_newstate();
    luaL_openlibs(L);
    *static_cast<long*>(lua_getextraspace(L)) = 0;
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, SmaNew);
    lua_setfield(L, -2, "sma");
    lua_setglobal(L, "ta");
    lua_register(L, "position", Position);
    lua_register(L, "buy", Buy);
    lua_register(L, "sell", Sell);
    lua_register(L, "plot", Plot);
    if (luaL_loadstring(L, source.c_str()) != LUA_OK || lua_pcall(L, 0, 0, 0) != LUA_OK) {
      state.SkipWithError(lua_tostring(L, -1));
      lua_close(L);
      return;
    }
    // params: the schema's defaults, as the run would see them.
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, 10);
    lua_setfield(L, -2, "fast");
    lua_pushinteger(L, 30);
    lua_setfield(L, -2, "slow");
    lua_setglobal(L, "params");
    if (lua_getglobal(L, "init") == LUA_TFUNCTION) {
      lua_call(L, 0, 0);
    } else {
      lua_pop(L, 1);
    }
    if (hook) lua_sethook(L, CountHook, LUA_MASKCOUNT, 1000);
    lua_getglobal(L, "on_bar");
    const int on_bar = lua_gettop(L);
    lua_createtable(L, 0, 8);
    const int bar = lua_gettop(L);
    g_position = 0;
    state.ResumeTiming();
    const size_t n = closes.size();
    for (size_t i = 0; i < n; ++i) {
      lua_pushnumber(L, closes[i]);
      lua_setfield(L, bar, "close");
      lua_pushboolean(L, i + 1 == n ? 1 : 0);
      lua_setfield(L, bar, "last");
      lua_pushvalue(L, on_bar);
      lua_pushvalue(L, bar);
      if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        state.SkipWithError(lua_tostring(L, -1));
        break;
      }
    }
    state.PauseTiming();
    lua_close(L);
    state.ResumeTiming();
  }
  state.counters["ns_per_bar"] = benchmark::Counter(
      static_cast<double>(closes.size()) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.SetItemsProcessed(static_cast<int64_t>(closes.size()) * state.iterations());
}

void BM_FloorSmaCrossLua(benchmark::State& state) { RunFloor(state, ReadExample()); }
void BM_FloorSmaCrossLuaNoPlots(benchmark::State& state) {
  RunFloor(state, WithoutPlots(ReadExample()));
}
void BM_FloorEmptyOnBar(benchmark::State& state) { RunFloor(state, "function on_bar(bar) end"); }

BENCHMARK(BM_FloorSmaCrossLua)->ArgName("hook")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FloorSmaCrossLuaNoPlots)->ArgName("hook")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FloorEmptyOnBar)->ArgName("hook")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tapedeck

BENCHMARK_MAIN();
