// The Lua runtime behind strategy scripts: the sandbox, the budgets and the bindings.
//
// Debian's liblua5.4 is built as C: a Lua error is a longjmp, which skips C++ destructors. So:
//  - C++ calls into Lua only through lua_pcall of a C function of this file (Protected*), and
//    outside those calls uses only API functions that cannot raise (no allocation, no metamethod):
//    lua_rawgeti, lua_to* on values of the right type, lua_type, lua_settop;
//  - every function Lua calls (bindings, hook) holds only trivially destructible locals while it
//    may raise, and touches C++ containers only after its last Lua call that can raise.
#include "strategies/script.h"

#include <algorithm>
#include <cfloat>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <new>
#include <utility>

#include "engine/context.h"
#include "strategies/indicators.h"
#include "strategies/script_sandbox.h"

extern "C" {
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
}

namespace tapedeck::strategies {
namespace {

using sandbox::Clock;
using sandbox::CurrentLine;

constexpr int kHookEvery = 1000;        // instructions between two hook calls
constexpr int kWallCheckEvery = 16;     // hook calls between two clock reads
constexpr size_t kRecordOverhead = 64;  // bytes charged per plot series/log record besides its text
constexpr size_t kMaxPlots = 64;        // series a script may declare
constexpr size_t kMaxPlotName = 64;     // bytes of a series' name

// Small blocks (up to kPoolMax bytes, in 16-byte classes) for the Lua heap: a fresh bar (userdata)
// per bar and the like are freed and made again every bar, and a free list per class serves them
// without malloc's bookkeeping. Slabs are kept until the state is closed (Release), so the memory
// budget is charged per slab, not per block: a block freed into one class's list cannot serve
// another class, and charging live blocks only would let a script hold many times its budget by
// filling and freeing one class after another. Trivially destructible.
constexpr size_t kPoolClass = 16;
constexpr size_t kPoolMax = 256;
constexpr size_t kSlabBytes = 64u << 10;

struct SmallPool {
  void* free_list[kPoolMax / kPoolClass] = {};
  char* cur = nullptr;  // the unused rest of the newest slab
  char* end = nullptr;
  void* slabs = nullptr;  // each slab's first word points to the previous slab

  static size_t Class(size_t n) { return (n - 1) / kPoolClass; }
  static bool Small(size_t n) { return n <= kPoolMax; }
  static size_t ClassBytes(size_t n) { return (Class(n) + 1) * kPoolClass; }

  // Whether Get(n) would have to allocate a new slab.
  bool NeedsSlab(size_t n) const {
    return free_list[Class(n)] == nullptr && static_cast<size_t>(end - cur) < ClassBytes(n);
  }
  void* Get(size_t n) {
    const size_t c = Class(n);
    if (void* p = free_list[c]) {
      free_list[c] = *static_cast<void**>(p);
      return p;
    }
    const size_t size = ClassBytes(n);
    if (static_cast<size_t>(end - cur) < size) {
      char* slab = static_cast<char*>(std::malloc(kSlabBytes));
      if (slab == nullptr) return nullptr;
      *reinterpret_cast<void**>(slab) = slabs;
      slabs = slab;
      cur = slab + kPoolClass;  // the link, then 16-aligned blocks
      end = slab + kSlabBytes;
    }
    void* p = cur;
    cur += size;
    return p;
  }
  void Put(void* p, size_t n) {
    const size_t c = Class(n);
    *static_cast<void**>(p) = free_list[c];
    free_list[c] = p;
  }
  void Release() {
    while (slabs != nullptr) {
      void* prev = *static_cast<void**>(slabs);
      std::free(slabs);
      slabs = prev;
    }
  }
};

// The run's budgets (script_sandbox.h) and the heap's small blocks: what the allocator works with.
// Trivially destructible: the hook and the allocator run inside Lua's protected region.
struct Budget : sandbox::Budget {
  SmallPool pool;
};

// Lua's allocator. memory_used counts what the state holds from the system: its big blocks and
// its slabs (plus what Charge adds for C++-side buffers).
void* Alloc(void* ud, void* ptr, size_t osize, size_t nsize) {
  Budget* b = static_cast<Budget*>(ud);
  SmallPool& pool = b->pool;
  const size_t old = ptr != nullptr ? osize : 0;
  const bool old_small = ptr != nullptr && SmallPool::Small(old);
  if (nsize == 0) {
    if (old_small) {
      pool.Put(ptr, old);
    } else {
      std::free(ptr);
      b->memory_used -= old;
    }
    return nullptr;
  }
  const bool new_small = SmallPool::Small(nsize);
  if (old_small && new_small && SmallPool::Class(old) == SmallPool::Class(nsize)) {
    return ptr;  // the block already fits
  }
  // What this call takes from and gives back to the system.
  const size_t grow = new_small ? (pool.NeedsSlab(nsize) ? kSlabBytes : 0) : nsize;
  const size_t shrink = ptr != nullptr && !old_small ? old : 0;
  // Once any budget is gone, nothing grows any more: the script is being unwound.
  if (grow > shrink && (b->cause != nullptr || b->memory_used - shrink + grow > b->memory_limit)) {
    if (b->cause == nullptr) {
      b->cause = "memory";
      if (b->current != nullptr) b->cause_line = CurrentLine(b->current);
    }
    return nullptr;
  }
  // A big block is filled by C code between two instructions: it costs instructions too.
  if (nsize >= old + sandbox::kChargedBlock && !sandbox::ChargeBlock(b, nsize - old)) {
    if (b->current != nullptr) b->cause_line = CurrentLine(b->current);
    return nullptr;
  }
  void* p = nullptr;
  if (new_small || old_small) {
    p = new_small ? pool.Get(nsize) : std::malloc(nsize);
    if (p == nullptr) return nullptr;
    if (ptr != nullptr) {
      std::memcpy(p, ptr, std::min(old, nsize));
      if (old_small) {
        pool.Put(ptr, old);
      } else {
        std::free(ptr);
      }
    }
  } else {
    p = std::realloc(ptr, nsize);
    if (p == nullptr) return nullptr;
  }
  b->memory_used = b->memory_used - shrink + grow;
  return p;
}

// Per-state data, found through the state's extra space (every thread gets a copy of it).
struct Sandbox;
Sandbox* Self(lua_State* L) { return *static_cast<Sandbox**>(lua_getextraspace(L)); }

struct Sandbox {
  lua_State* L = nullptr;
  Budget budget;
  engine::Context* ctx = nullptr;  // set during init() and on_bar()
  int init_ref = LUA_NOREF;
  int on_bar_ref = LUA_NOREF;
  int schema_ref = LUA_NOREF;
  // The bars (OpenBars): their metatable's address and registry reference, and the interned field
  // names' addresses in kBarKeys' order.
  const void* bar_meta = nullptr;
  int bar_meta_ref = LUA_NOREF;
  const void* bar_keys[8] = {};

  int error_line = 0;         // where the last runtime error was raised (message handler)
  bool syntax_error = false;  // the chunk did not compile
  char error_param[64] = {};  // the parameter a schema error is about
  size_t plots = 0;           // series declared through plot()
  size_t logs = 0;            // log() records charged (the engine keeps at most engine::kMaxLogs)

  ~Sandbox() {
    if (L != nullptr) lua_close(L);
    budget.pool.Release();
  }
};

Budget* GetBudget(lua_State* L) { return &Self(L)->budget; }

void Hook(lua_State* L, lua_Debug* /*ar*/) {
  Budget* b = GetBudget(L);
  if (b->cause == nullptr) {
    b->instructions += kHookEvery;
    lua_Debug ar;
    if (b->instructions > b->instruction_limit) {
      b->cause = "instructions";
    } else if (lua_getstack(L, sandbox::kMaxCallDepth, &ar) != 0) {
      b->cause = "recursion";
    } else if (b->cancel != nullptr && b->cancel->load(std::memory_order_relaxed)) {
      b->cause = "cancelled";
    } else if ((++b->hooks % kWallCheckEvery == 0 || b->memory_used >= sandbox::kBigState) &&
               Clock::now() > b->deadline) {
      b->cause = "wall_time";
    }
    if (b->cause != nullptr) b->cause_line = CurrentLine(L);
  }
  if (b->cause != nullptr) {
    // From now on every instruction of this thread fails, so a script's pcall or coroutine that
    // catches the error cannot go on: each error unwinds at least one level.
    lua_sethook(L, Hook, LUA_MASKCOUNT, 1);
    luaL_error(L, "%s budget exceeded", b->cause);
  }
}

// Records where a runtime error was raised; the message stays as it is.
int MessageHandler(lua_State* L) {
  Sandbox* sb = Self(L);
  sb->error_line = CurrentLine(L);
  return 1;
}

// Charges `bytes` of C++-side memory (indicator buffers, records) to the memory budget, raising
// when over.
void Charge(lua_State* L, size_t bytes) {
  Budget* b = GetBudget(L);
  if (b->cause == nullptr && b->memory_used + bytes > b->memory_limit) {
    b->cause = "memory";
    b->cause_line = CurrentLine(L);
  }
  if (b->cause != nullptr) luaL_error(L, "%s budget exceeded", b->cause);
  b->memory_used += bytes;
}

// ---- Bindings ------------------------------------------------------------------------------

engine::Context* RequireContext(lua_State* L, const char* fn) {
  Sandbox* sb = Self(L);
  if (sb->ctx == nullptr) luaL_error(L, "%s() is only available in init() and on_bar()", fn);
  return sb->ctx;
}

// The symbol named by the string at `idx` (nil or none: symbol 0).
engine::SymbolId SymbolArg(lua_State* L, engine::Context* ctx, int idx) {
  if (lua_isnoneornil(L, idx)) return 0;
  const char* name = luaL_checkstring(L, idx);
  for (size_t s = 0; s < ctx->symbol_count(); ++s) {
    if (ctx->symbol(static_cast<engine::SymbolId>(s)) == name) {
      return static_cast<engine::SymbolId>(s);
    }
  }
  luaL_error(L, "unknown symbol '%s'", name);
  return 0;
}

double OptField(lua_State* L, int table, const char* key, const char* fn) {
  lua_getfield(L, table, key);
  double v = 0;
  if (!lua_isnil(L, -1)) {
    int isnum = 0;
    v = lua_tonumberx(L, -1, &isnum);
    if (isnum == 0) luaL_error(L, "%s: opts.%s must be a number", fn, key);
  }
  lua_pop(L, 1);
  return v;
}

int PlaceOrder(lua_State* L, engine::Side side, const char* fn) {
  engine::Context* ctx = RequireContext(L, fn);
  engine::OrderRequest req;
  req.side = side;
  int opts = 0;
  if (lua_istable(L, 1)) {
    opts = 1;
  } else {
    if (!lua_isnoneornil(L, 1)) req.qty = luaL_checknumber(L, 1);
    if (lua_istable(L, 2)) {
      opts = 2;
    } else if (!lua_isnoneornil(L, 2)) {
      luaL_error(L, "%s: opts must be a table", fn);
    }
  }
  if (opts != 0) {
    lua_getfield(L, opts, "type");
    if (!lua_isnil(L, -1)) {
      const char* type = lua_tostring(L, -1);
      if (type == nullptr) luaL_error(L, "%s: opts.type must be a string", fn);
      if (std::strcmp(type, "market") == 0) {
        req.type = engine::OrderType::kMarket;
      } else if (std::strcmp(type, "limit") == 0) {
        req.type = engine::OrderType::kLimit;
      } else if (std::strcmp(type, "stop") == 0) {
        req.type = engine::OrderType::kStop;
      } else if (std::strcmp(type, "stop_limit") == 0) {
        req.type = engine::OrderType::kStopLimit;
      } else {
        luaL_error(L, "%s: opts.type must be \"limit\", \"stop\" or \"stop_limit\", got \"%s\"", fn,
                   type);
      }
    }
    lua_pop(L, 1);
    req.limit = OptField(L, opts, "limit", fn);
    req.stop = OptField(L, opts, "stop", fn);
    const bool needs_limit =
        req.type == engine::OrderType::kLimit || req.type == engine::OrderType::kStopLimit;
    const bool needs_stop =
        req.type == engine::OrderType::kStop || req.type == engine::OrderType::kStopLimit;
    if (needs_limit && req.limit == 0) luaL_error(L, "%s: this order type needs opts.limit", fn);
    if (needs_stop && req.stop == 0) luaL_error(L, "%s: this order type needs opts.stop", fn);
    lua_getfield(L, opts, "symbol");
    req.symbol = SymbolArg(L, ctx, -1);
    lua_pop(L, 1);
  }
  lua_pushinteger(L, static_cast<lua_Integer>(ctx->Order(req)));
  return 1;
}

int LuaBuy(lua_State* L) { return PlaceOrder(L, engine::Side::kBuy, "buy"); }
int LuaSell(lua_State* L) { return PlaceOrder(L, engine::Side::kSell, "sell"); }

int LuaClosePosition(lua_State* L) {
  engine::Context* ctx = RequireContext(L, "close_position");
  const engine::OrderId id = ctx->Close(SymbolArg(L, ctx, 1));
  if (id == 0) {
    lua_pushnil(L);
  } else {
    lua_pushinteger(L, static_cast<lua_Integer>(id));
  }
  return 1;
}

int LuaCancel(lua_State* L) {
  engine::Context* ctx = RequireContext(L, "cancel");
  lua_pushboolean(L, ctx->Cancel(static_cast<engine::OrderId>(luaL_checkinteger(L, 1))) ? 1 : 0);
  return 1;
}

int LuaPosition(lua_State* L) {
  engine::Context* ctx = RequireContext(L, "position");
  lua_pushnumber(L, ctx->position(SymbolArg(L, ctx, 1)));
  return 1;
}

int LuaCash(lua_State* L) {
  lua_pushnumber(L, RequireContext(L, "cash")->cash());
  return 1;
}

int LuaEquity(lua_State* L) {
  lua_pushnumber(L, RequireContext(L, "equity")->equity());
  return 1;
}

// Unix seconds of t, rounded down (a bar's `time`).
lua_Integer UnixSeconds(Timestamp t) {
  const int64_t us = ToMicros(t);
  return static_cast<lua_Integer>(us >= 0 ? us / 1'000'000 : -((-us + 999'999) / 1'000'000));
}

// ---- The bar ------------------------------------------------------------------------------
//
// The `bar` on_bar receives and the values ago() returns: a small read-only userdata holding the
// bar's values, made per bar (no __gc, so the GC frees it like a string). Its fields are read by
// one C __index comparing the key's address with the interned keys' (short strings are interned:
// equal text is the same string), so a bar costs one allocation instead of a table with eight
// keys set. A bar the script keeps keeps its values: they are copied into it, nothing points
// back into the run. Every metamethod checks its first argument is a bar by its metatable's
// address (Sandbox::bar_meta), so a script calling one directly with something else gets an error.

constexpr const char* kBarKeys[] = {"time", "index", "open",   "high",
                                    "low",  "close", "volume", "last"};
constexpr int kBarFields = static_cast<int>(std::size(kBarKeys));
enum BarKey { kKeyTime, kKeyIndex, kKeyOpen, kKeyVolume = 6, kKeyLast };

enum BarHas : uint8_t { kHasIndex = 1, kHasOhlcv = 2, kHasLast = 4 };

struct BarData {
  lua_Integer time;  // Unix seconds
  lua_Integer index;
  double ohlcv[5];
  uint8_t has;  // BarHas bits: which fields are there (ago's bars have no index or last)
  bool last;
};

// The bar at idx, nullptr when the value there is not one. Raises nothing.
const BarData* ToBar(lua_State* L, int idx) {
  // Only a bar has this metatable (no script can reach it, and other values' metatables are
  // other tables), so a match means a full userdata of BarData's layout.
  if (lua_getmetatable(L, idx) == 0) return nullptr;
  const bool ours = lua_topointer(L, -1) == Self(L)->bar_meta;
  lua_pop(L, 1);
  return ours ? static_cast<const BarData*>(lua_touserdata(L, idx)) : nullptr;
}

const BarData& CheckBar(lua_State* L, int idx) {
  const BarData* bar = ToBar(L, idx);
  if (bar == nullptr) {
    luaL_typeerror(L, idx, "bar");
    std::abort();  // not reached: luaL_typeerror does not return
  }
  return *bar;
}

// The field named by the key at idx, kBarFields when it names none. One API call: a string's
// lua_topointer is the string object, and a short string's object is the interned one; any other
// value's is another object or NULL. Raises nothing.
int BarKeyOf(lua_State* L, int idx) {
  const void* key = lua_topointer(L, idx);
  const void* const* keys = Self(L)->bar_keys;
  for (int k = 0; k < kBarFields; ++k) {
    if (key == keys[k]) return k;
  }
  return kBarFields;
}

// Pushes field k of bar and returns true, or pushes nothing and returns false when the bar has
// no such field.
bool PushBarField(lua_State* L, const BarData& bar, int k) {
  switch (k) {
    case kKeyTime:
      lua_pushinteger(L, bar.time);
      return true;
    case kKeyIndex:
      if ((bar.has & kHasIndex) == 0) return false;
      lua_pushinteger(L, bar.index);
      return true;
    case kKeyLast:
      if ((bar.has & kHasLast) == 0) return false;
      lua_pushboolean(L, bar.last ? 1 : 0);
      return true;
    default:
      if (k < kKeyOpen || k > kKeyVolume || (bar.has & kHasOhlcv) == 0) return false;
      lua_pushnumber(L, bar.ohlcv[k - kKeyOpen]);
      return true;
  }
}

// __index: the hot path, so ToBar's check inline and without its pop (the metatable stays below
// the result, which is what a C function returns).
int BarIndex(lua_State* L) {
  if (lua_getmetatable(L, 1) == 0 || lua_topointer(L, -1) != Self(L)->bar_meta) {
    luaL_typeerror(L, 1, "bar");
  }
  const auto& bar = *static_cast<const BarData*>(lua_touserdata(L, 1));
  if (!PushBarField(L, bar, BarKeyOf(L, 2))) lua_pushnil(L);
  return 1;
}

int BarNewIndex(lua_State* L) { return luaL_error(L, "bar is read-only"); }

// next(bar, key) of __pairs: the fields in kBarKeys' order.
int BarNext(lua_State* L) {
  const BarData& bar = CheckBar(L, 1);
  int k = 0;
  if (!lua_isnoneornil(L, 2)) {
    k = BarKeyOf(L, 2);
    if (k == kBarFields) luaL_error(L, "invalid key to 'next'");
    ++k;
  }
  for (; k < kBarFields; ++k) {
    lua_pushstring(L, kBarKeys[k]);
    if (PushBarField(L, bar, k)) return 2;
    lua_pop(L, 1);
  }
  lua_pushnil(L);
  return 1;
}

int BarPairs(lua_State* L) {
  CheckBar(L, 1);
  lua_pushcfunction(L, BarNext);
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

// "bar{time=1704067200, index=0, open=100.0, ...}"
int BarToString(lua_State* L) {
  const BarData& bar = CheckBar(L, 1);
  luaL_Buffer buf;
  luaL_buffinit(L, &buf);
  luaL_addstring(&buf, "bar{");
  bool first = true;
  for (int k = 0; k < kBarFields; ++k) {
    if (!PushBarField(L, bar, k)) continue;
    const int value = lua_gettop(L);
    lua_pushfstring(L, "%s%s=", first ? "" : ", ", kBarKeys[k]);
    luaL_addvalue(&buf);
    luaL_tolstring(L, value, nullptr);
    luaL_addvalue(&buf);
    lua_remove(L, value);
    first = false;
  }
  luaL_addchar(&buf, '}');
  luaL_pushresult(&buf);
  return 1;
}

// Makes the bars' metatable and interns their keys (both kept in the registry for the state's
// life), recording their addresses in the sandbox. Called once, in the setup.
void OpenBars(lua_State* L) {
  Sandbox* sb = Self(L);
  lua_createtable(L, kBarFields, 7);
  static const luaL_Reg kMeta[] = {{"__index", BarIndex},
                                   {"__newindex", BarNewIndex},
                                   {"__pairs", BarPairs},
                                   {"__tostring", BarToString},
                                   {nullptr, nullptr}};
  luaL_setfuncs(L, kMeta, 0);
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_pushliteral(L, "bar");
  lua_setfield(L, -2, "__name");
  for (int k = 0; k < kBarFields; ++k) {
    lua_pushstring(L, kBarKeys[k]);
    sb->bar_keys[k] = lua_topointer(L, -1);
    lua_rawseti(L, -2, k + 1);  // keeps the interned key alive
  }
  sb->bar_meta = lua_topointer(L, -1);
  sb->bar_meta_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

// Pushes a new bar (fields unset: the caller fills them).
BarData* NewBar(lua_State* L) {
  auto* bar = static_cast<BarData*>(lua_newuserdatauv(L, sizeof(BarData), 0));
  lua_rawgeti(L, LUA_REGISTRYINDEX, Self(L)->bar_meta_ref);
  lua_setmetatable(L, -2);
  return bar;
}

// ago(n[, symbol]): a bar (see "The bar") with time, open, high, low, close, volume of the symbol's
// bar n bars before its latest one at or before now (n = 0: that latest bar), nil when it has
// fewer than n + 1 bars. Only bars up to Context::bar_index are read: nothing later exists for the
// script.
int LuaAgo(lua_State* L) {
  engine::Context* ctx = RequireContext(L, "ago");
  int isint = 0;
  const lua_Integer n = lua_type(L, 1) == LUA_TNUMBER ? lua_tointegerx(L, 1, &isint) : -1;
  if (isint == 0 || n < 0) {
    luaL_error(L, "ago: n must be a non-negative integer, got %s", luaL_tolstring(L, 1, nullptr));
  }
  const engine::SymbolId s = SymbolArg(L, ctx, 2);
  if (static_cast<uint64_t>(n) >= ctx->bars_seen(s)) {
    lua_pushnil(L);
    return 1;
  }
  const market::Bar b = ctx->series(s).bar(ctx->bar_index(s) - static_cast<size_t>(n));
  BarData* bar = NewBar(L);
  bar->time = UnixSeconds(b.time);
  bar->index = 0;
  bar->ohlcv[0] = b.open;
  bar->ohlcv[1] = b.high;
  bar->ohlcv[2] = b.low;
  bar->ohlcv[3] = b.close;
  bar->ohlcv[4] = b.volume;
  bar->has = kHasOhlcv;
  bar->last = false;
  return 1;
}

// symbols(): the run's symbol names in order (the first is the one `bar` describes).
int LuaSymbols(lua_State* L) {
  engine::Context* ctx = RequireContext(L, "symbols");
  const size_t n = ctx->symbol_count();
  lua_createtable(L, static_cast<int>(n), 0);
  for (size_t i = 0; i < n; ++i) {
    const std::string& name = ctx->symbol(static_cast<engine::SymbolId>(i));
    lua_pushlstring(L, name.data(), name.size());
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  return 1;
}

// plot(name, value[, {pane="price"|"own"}]): value (a number, or nil for none) at this bar of the
// series `name`, declared on its first call (the pane of that call stays). Upvalue 1 caches name ->
// id, so a call per bar is a table lookup and a store; the series' per-bar array is charged to the
// memory budget when declared.
int LuaPlot(lua_State* L) {
  engine::Context* ctx = RequireContext(L, "plot");
  luaL_checktype(L, 1, LUA_TSTRING);
  const double value = lua_isnoneornil(L, 2) ? NAN : luaL_checknumber(L, 2);
  const bool has_opts = !lua_isnoneornil(L, 3);
  engine::PlotPane pane = engine::PlotPane::kPrice;
  if (has_opts) {
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_getfield(L, 3, "pane");
    if (!lua_isnil(L, -1)) {
      const char* p = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : nullptr;
      if (p != nullptr && std::strcmp(p, "own") == 0) {
        pane = engine::PlotPane::kOwn;
      } else if (p == nullptr || std::strcmp(p, "price") != 0) {
        luaL_error(L, "plot: pane must be \"price\" or \"own\", not %s",
                   luaL_tolstring(L, -1, nullptr));
      }
    }
    lua_pop(L, 1);
  }
  lua_pushvalue(L, 1);
  if (lua_rawget(L, lua_upvalueindex(1)) == LUA_TNUMBER) {
    ctx->Plot(static_cast<engine::PlotId>(lua_tointeger(L, -1)), value);
    return 0;
  }
  lua_pop(L, 1);
  size_t len = 0;
  const char* name = lua_tolstring(L, 1, &len);
  if (len == 0 || len > kMaxPlotName) {
    luaL_error(L, "plot: a series' name must be 1 to %d bytes long",
               static_cast<int>(kMaxPlotName));
  }
  Sandbox* sb = Self(L);
  if (sb->plots >= kMaxPlots) {
    luaL_error(L, "plot: at most %d series per script", static_cast<int>(kMaxPlots));
  }
  Charge(L, ctx->bar_count() * sizeof(double) + len + kRecordOverhead);
  ++sb->plots;
  // DeclarePlot's allocations are done (and owned by the run) when it returns, so the Lua error
  // rawset may raise (memory) unwinds nothing of C++'s; the run fails then anyway.
  const engine::PlotId id = ctx->DeclarePlot(std::string_view(name, len), pane);
  ctx->Plot(id, value);
  lua_pushvalue(L, 1);
  lua_pushinteger(L, static_cast<lua_Integer>(id));
  lua_rawset(L, lua_upvalueindex(1));
  return 0;
}

// log(...): its arguments as tostring() would show them, separated by spaces, recorded at this
// bar. print() is the same.
int LuaLog(lua_State* L) {
  engine::Context* ctx = RequireContext(L, "log");
  const int n = lua_gettop(L);
  luaL_Buffer buf;
  luaL_buffinit(L, &buf);
  for (int i = 1; i <= n; ++i) {
    if (i > 1) luaL_addchar(&buf, ' ');
    luaL_tolstring(L, i, nullptr);
    luaL_addvalue(&buf);
  }
  luaL_pushresult(&buf);
  size_t len = 0;
  const char* msg = lua_tolstring(L, -1, &len);
  Sandbox* sb = Self(L);
  // What the engine keeps is charged; past its bound a message is only counted.
  if (sb->logs < engine::kMaxLogs) Charge(L, std::min(len, engine::kMaxLogBytes) + kRecordOverhead);
  // No Lua call below this line.
  ++sb->logs;
  ctx->Log(std::string_view(msg, len));
  return 0;
}

// ---- Indicators ----------------------------------------------------------------------------

// Reads a period argument: an integer in [1, 10^7].
size_t PeriodArg(lua_State* L, int idx) {
  const lua_Integer n = luaL_checkinteger(L, idx);
  if (n < 1 || n > 10'000'000) luaL_error(L, "period must be in [1, 10000000], got %d", (int)n);
  return static_cast<size_t>(n);
}

// An indicator in a userdata: T constructed in place, destroyed by __gc, its buffer bytes
// charged to the memory budget while it lives. The script gets a C closure holding the userdata as
// its only upvalue: a call reaches the indicator with no type check (nothing else holds that
// closure, and without the debug library no script can reach an upvalue) and no metamethod.
template <typename T>
struct Boxed {
  T ind;
  size_t charged;
};

template <typename T>
int IndicatorGc(lua_State* L) {
  auto* box = static_cast<Boxed<T>*>(lua_touserdata(L, 1));
  GetBudget(L)->memory_used -= box->charged;
  box->~Boxed<T>();
  return 0;
}

// The indicator of the running closure.
template <typename T>
T& Upvalue(lua_State* L) {
  return static_cast<Boxed<T>*>(lua_touserdata(L, lua_upvalueindex(1)))->ind;
}

// Argument `idx` as a number: the common case (a float) without luaL_checknumber's call.
double NumberArg(lua_State* L, int idx) {
  int isnum = 0;
  const double v = lua_tonumberx(L, idx, &isnum);
  if (isnum == 0) return luaL_checknumber(L, idx);  // raises the usual "number expected"
  return v;
}

// Pushes a new indicator of type T made from `args` (already checked): the closure `call` over a
// userdata with metatable `meta` (__gc only).
template <typename T, typename... A>
int PushIndicator(lua_State* L, const char* meta, lua_CFunction call, size_t charge, A... args) {
  Charge(L, charge);
  void* mem = lua_newuserdatauv(L, sizeof(Boxed<T>), 0);
  if (luaL_newmetatable(L, meta) != 0) {
    lua_pushcfunction(L, IndicatorGc<T>);
    lua_setfield(L, -2, "__gc");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
  }
  // The buffer is allocated by the constructor; from setmetatable on, __gc owns the object.
  new (mem) Boxed<T>{T(args...), charge};
  lua_setmetatable(L, -2);
  lua_pushcclosure(L, call, 1);
  return 1;
}

void PushValue(lua_State* L, bool ready, double v) {
  if (ready) {
    lua_pushnumber(L, v);
  } else {
    lua_pushnil(L);
  }
}

template <typename T>
constexpr const char* kMeta = "";
template <>
constexpr const char* kMeta<Sma> = "tapedeck.sma";
template <>
constexpr const char* kMeta<Ema> = "tapedeck.ema";
template <>
constexpr const char* kMeta<Rsi> = "tapedeck.rsi";
template <>
constexpr const char* kMeta<RollingStdDev> = "tapedeck.stdev";
template <>
constexpr const char* kMeta<RollingMax> = "tapedeck.highest";
template <>
constexpr const char* kMeta<RollingMin> = "tapedeck.lowest";
template <>
constexpr const char* kMeta<Macd> = "tapedeck.macd";
template <>
constexpr const char* kMeta<Atr> = "tapedeck.atr";

// ind(x) of a one-value indicator.
template <typename T>
int CallSimple(lua_State* L) {
  T& ind = Upvalue<T>(L);
  ind.Update(NumberArg(L, 1));
  PushValue(L, ind.ready(), ind.value());
  return 1;
}

int CallMacd(lua_State* L) {
  Macd& ind = Upvalue<Macd>(L);
  ind.Update(NumberArg(L, 1));
  if (!ind.ready()) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushnumber(L, ind.value());
  lua_pushnumber(L, ind.signal());
  lua_pushnumber(L, ind.histogram());
  return 3;
}

template <typename T>
int NewSimple(lua_State* L) {
  const size_t n = PeriodArg(L, 1);
  return PushIndicator<T>(L, kMeta<T>, CallSimple<T>, n * 2 * sizeof(double) + 64, n);
}

// Field `key` of the table at index 1 (a bar of the script's own making).
double BarField(lua_State* L, const char* key) {
  lua_getfield(L, 1, key);
  int isnum = 0;
  const double v = lua_tonumberx(L, -1, &isnum);
  if (isnum == 0) luaL_error(L, "atr: bar.%s must be a number", key);
  lua_pop(L, 1);
  return v;
}

// atr(bar): a bar, or a table with high, low and close.
int CallAtr(lua_State* L) {
  Atr& ind = Upvalue<Atr>(L);
  if (const BarData* bar = ToBar(L, 1)) {
    if ((bar->has & kHasOhlcv) == 0) luaL_error(L, "atr: the bar has no prices yet");
    ind.Update(bar->ohlcv[1], bar->ohlcv[2], bar->ohlcv[3]);
  } else {
    if (!lua_istable(L, 1)) luaL_typeerror(L, 1, "bar");
    const double high = BarField(L, "high");
    const double low = BarField(L, "low");
    const double close = BarField(L, "close");
    ind.Update(high, low, close);
  }
  PushValue(L, ind.ready(), ind.value());
  return 1;
}

int NewAtr(lua_State* L) {
  return PushIndicator<Atr>(L, kMeta<Atr>, CallAtr, 256, PeriodArg(L, 1));
}

int NewMacd(lua_State* L) {
  const size_t fast = PeriodArg(L, 1);
  const size_t slow = PeriodArg(L, 2);
  const size_t signal = PeriodArg(L, 3);
  return PushIndicator<Macd>(L, kMeta<Macd>, CallMacd, 256, fast, slow, signal);
}

// ---- Setup ---------------------------------------------------------------------------------

struct SetupArgs {
  const char* source;
  size_t size;
  const char* chunk_name;
  uint64_t seed;
};

void SetGlobalFn(lua_State* L, const char* name, lua_CFunction fn) {
  lua_pushcfunction(L, fn);
  lua_setglobal(L, name);
}

// Opens the allowed libraries (script_sandbox.h) and binds the strategy functions.
void OpenSandbox(lua_State* L, uint64_t seed) {
  sandbox::OpenLibraries(L, GetBudget(L), seed);
  SetGlobalFn(L, "print", LuaLog);
  SetGlobalFn(L, "buy", LuaBuy);
  SetGlobalFn(L, "sell", LuaSell);
  SetGlobalFn(L, "close_position", LuaClosePosition);
  SetGlobalFn(L, "cancel", LuaCancel);
  SetGlobalFn(L, "position", LuaPosition);
  SetGlobalFn(L, "cash", LuaCash);
  SetGlobalFn(L, "equity", LuaEquity);
  SetGlobalFn(L, "ago", LuaAgo);
  SetGlobalFn(L, "symbols", LuaSymbols);
  lua_newtable(L);  // plot()'s name -> id cache
  lua_pushcclosure(L, LuaPlot, 1);
  lua_setglobal(L, "plot");
  SetGlobalFn(L, "log", LuaLog);
  static const luaL_Reg kTa[] = {{"sma", NewSimple<Sma>},
                                 {"ema", NewSimple<Ema>},
                                 {"rsi", NewSimple<Rsi>},
                                 {"stdev", NewSimple<RollingStdDev>},
                                 {"highest", NewSimple<RollingMax>},
                                 {"lowest", NewSimple<RollingMin>},
                                 {"atr", NewAtr},
                                 {"macd", NewMacd},
                                 {nullptr, nullptr}};
  luaL_newlib(L, kTa);
  lua_setglobal(L, "ta");
}

// Raises a schema error about parameter `name`.
[[noreturn]] void ParamError(lua_State* L, const char* name, const char* what) {
  Sandbox* sb = Self(L);
  std::strncpy(sb->error_param, name, sizeof(sb->error_param) - 1);
  luaL_error(L, "params.%s: %s", name, what);
  std::abort();  // not reached: luaL_error does not return
}

// Reads field `key` of the table at `spec` as a number into *out; false when absent.
bool SpecNumber(lua_State* L, int spec, const char* key, const char* name, double* out) {
  lua_getfield(L, spec, key);
  const bool present = !lua_isnil(L, -1);
  if (present) {
    if (lua_type(L, -1) != LUA_TNUMBER) ParamError(L, name, "min, max and default must be numbers");
    *out = lua_tonumber(L, -1);
    if (!std::isfinite(*out)) ParamError(L, name, "min, max and default must be finite");
  }
  lua_pop(L, 1);
  return present;
}

// Turns the global `params` into the schema: an array of {name, is_int, default, min, max, desc}
// (integer keys, so C++ reads it without raising), referenced from the registry.
int BuildSchema(lua_State* L) {
  lua_newtable(L);
  const int schema = lua_gettop(L);
  lua_getglobal(L, "params");
  const int params = lua_gettop(L);
  if (!lua_isnil(L, params) && !lua_istable(L, params)) {
    luaL_error(L, "params must be a table of name = default or name = {default=, ...}");
  }
  lua_Integer count = 0;
  if (lua_istable(L, params)) {
    lua_pushnil(L);
    while (lua_next(L, params) != 0) {
      if (lua_type(L, -2) != LUA_TSTRING) luaL_error(L, "params: every key must be a name");
      const char* name = lua_tostring(L, -2);
      const int value = lua_gettop(L);
      double def = 0, lo = -DBL_MAX, hi = DBL_MAX;
      bool is_int = false;
      lua_pushliteral(L, "");  // desc
      if (lua_type(L, value) == LUA_TNUMBER) {
        def = lua_tonumber(L, value);
        is_int = lua_isinteger(L, value) != 0;
        if (!std::isfinite(def)) ParamError(L, name, "the default must be finite");
      } else if (lua_istable(L, value)) {
        if (!SpecNumber(L, value, "default", name, &def)) ParamError(L, name, "default is missing");
        SpecNumber(L, value, "min", name, &lo);
        SpecNumber(L, value, "max", name, &hi);
        lua_getfield(L, value, "int");
        if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
          ParamError(L, name, "int must be a boolean");
        is_int = lua_toboolean(L, -1) != 0;
        lua_pop(L, 1);
        lua_getfield(L, value, "desc");
        if (!lua_isnil(L, -1)) {
          if (lua_type(L, -1) != LUA_TSTRING) ParamError(L, name, "desc must be a string");
          lua_replace(L, value + 1);
        } else {
          lua_pop(L, 1);
        }
      } else {
        ParamError(L, name, "must be a number or a table {default=, min=, max=, int=, desc=}");
      }
      if (lo > hi) ParamError(L, name, "min is above max");
      if (def < lo || def > hi) ParamError(L, name, "the default is outside [min, max]");
      if (is_int && def != std::floor(def)) ParamError(L, name, "the default is not an integer");
      lua_createtable(L, 6, 0);
      lua_pushvalue(L, -4);  // the key
      lua_rawseti(L, -2, 1);
      lua_pushboolean(L, is_int ? 1 : 0);
      lua_rawseti(L, -2, 2);
      lua_pushnumber(L, def);
      lua_rawseti(L, -2, 3);
      lua_pushnumber(L, lo);
      lua_rawseti(L, -2, 4);
      lua_pushnumber(L, hi);
      lua_rawseti(L, -2, 5);
      lua_pushvalue(L, value + 1);
      lua_rawseti(L, -2, 6);
      lua_rawseti(L, schema, ++count);
      lua_settop(L, value - 1);  // keep the key for lua_next
    }
  }
  lua_settop(L, schema);
  return luaL_ref(L, LUA_REGISTRYINDEX);
}

void PushOnBarClosure(lua_State* L);

int ProtectedSetup(lua_State* L) {
  const auto* args = static_cast<const SetupArgs*>(lua_touserdata(L, 1));
  Sandbox* sb = Self(L);
  OpenSandbox(L, args->seed);
  OpenBars(L);
  // Text only: a binary chunk could break the VM's invariants.
  if (luaL_loadbufferx(L, args->source, args->size, args->chunk_name, "t") != LUA_OK) {
    sb->syntax_error = true;
    return lua_error(L);
  }
  lua_call(L, 0, 0);
  sb->schema_ref = BuildSchema(L);
  lua_getglobal(L, "on_bar");
  if (!lua_isfunction(L, -1)) luaL_error(L, "the script defines no function on_bar(bar)");
  PushOnBarClosure(L);
  sb->on_bar_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_getglobal(L, "init");
  if (lua_isfunction(L, -1)) {
    sb->init_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  } else if (!lua_isnil(L, -1)) {
    luaL_error(L, "init must be a function");
  }
  return 0;
}

struct ParamValue {
  const char* name;
  double value;
  bool is_int;
};
struct ParamValues {
  const ParamValue* values;
  size_t count;
};

int ProtectedSetParams(lua_State* L) {
  const auto* args = static_cast<const ParamValues*>(lua_touserdata(L, 1));
  lua_pushglobaltable(L);
  lua_pushliteral(L, "params");
  lua_createtable(L, 0, static_cast<int>(args->count));
  for (size_t i = 0; i < args->count; ++i) {
    const ParamValue& p = args->values[i];
    if (p.is_int) {
      lua_pushinteger(L, static_cast<lua_Integer>(p.value));
    } else {
      lua_pushnumber(L, p.value);
    }
    lua_setfield(L, -2, p.name);
  }
  lua_rawset(L, -3);
  return 0;
}

int ProtectedInit(lua_State* L) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, Self(L)->init_ref);
  lua_call(L, 0, 0);
  return 0;
}

// on_bar(bar) with a bar of the current bar (see "The bar" above): the closure CallOnBar enters
// every bar; upvalue 1 is the script's on_bar.
int OnBarClosure(lua_State* L) {
  const engine::Context& c = *Self(L)->ctx;
  lua_pushvalue(L, lua_upvalueindex(1));
  BarData* bar = NewBar(L);
  bar->time = UnixSeconds(c.time());
  bar->index = static_cast<lua_Integer>(c.index());
  bar->has = kHasIndex | kHasLast;
  bar->last = c.is_last_bar();
  if (c.bars_seen(0) > 0) {
    bar->ohlcv[0] = c.open(0);
    bar->ohlcv[1] = c.high(0);
    bar->ohlcv[2] = c.low(0);
    bar->ohlcv[3] = c.close(0);
    bar->ohlcv[4] = c.volume(0);
    bar->has |= kHasOhlcv;
  }
  lua_call(L, 1, 0);
  return 0;
}

// Replaces the on_bar function on top of the stack by the closure OnBarClosure over it.
void PushOnBarClosure(lua_State* L) { lua_pushcclosure(L, OnBarClosure, 1); }

// The sandbox of one compile or run, and the way into it.
class Runner {
 public:
  Runner(std::string_view chunk_name, const ScriptBudgets& budgets) : name_(chunk_name) {
    sb_.budget.memory_limit = budgets.memory_bytes;
    sb_.budget.instruction_limit = budgets.instructions;
    sb_.budget.cancel = budgets.cancel;
    sb_.budget.deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(budgets.wall_seconds));
  }

  // Compiles and runs the top level. Errors: VALIDATION.
  Status Open(std::string_view source, uint64_t seed) {
    sb_.L = lua_newstate(Alloc, &sb_.budget);
    if (sb_.L == nullptr) {
      return MakeError(ErrorCode::kValidation, "the script's memory budget is too small",
                       {{"cause", "memory"}});
    }
    *static_cast<Sandbox**>(lua_getextraspace(sb_.L)) = &sb_;
    lua_sethook(sb_.L, Hook, LUA_MASKCOUNT, kHookEvery);
    lua_gc(sb_.L, LUA_GCGEN, 0, 0);
    const std::string chunk = "=" + name_;
    SetupArgs args{source.data(), source.size(), chunk.c_str(), seed};
    if (!Call(ProtectedSetup, &args)) return Failure(ErrorCode::kValidation, nullptr);
    return Ok();
  }

  // Reads the schema built by Open. Raises nothing.
  std::vector<ParamSpec> Schema() {
    lua_State* L = sb_.L;
    std::vector<ParamSpec> specs;
    lua_rawgeti(L, LUA_REGISTRYINDEX, sb_.schema_ref);
    const lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L, -1));
    for (lua_Integer i = 1; i <= n; ++i) {
      lua_rawgeti(L, -1, i);
      ParamSpec spec;
      lua_rawgeti(L, -1, 1);
      spec.name = lua_tostring(L, -1);
      lua_rawgeti(L, -2, 2);
      spec.kind = lua_toboolean(L, -1) != 0 ? ParamSpec::Kind::kInt : ParamSpec::Kind::kNumber;
      lua_rawgeti(L, -3, 3);
      spec.default_value = lua_tonumber(L, -1);
      lua_rawgeti(L, -4, 4);
      spec.min = lua_tonumber(L, -1);
      lua_rawgeti(L, -5, 5);
      spec.max = lua_tonumber(L, -1);
      lua_rawgeti(L, -6, 6);
      spec.description = lua_tostring(L, -1);
      lua_pop(L, 7);
      specs.push_back(std::move(spec));
    }
    lua_pop(L, 1);
    std::sort(specs.begin(), specs.end(),
              [](const ParamSpec& a, const ParamSpec& b) { return a.name < b.name; });
    return specs;
  }

  bool has_init() const { return sb_.init_ref != LUA_NOREF; }

  Status SetParams(const std::vector<ParamSpec>& specs, const Params& values) {
    std::vector<ParamValue> pv;
    pv.reserve(specs.size());
    for (const ParamSpec& s : specs) {
      pv.push_back(ParamValue{s.name.c_str(), values.at(s.name), s.kind == ParamSpec::Kind::kInt});
    }
    ParamValues args{pv.data(), pv.size()};
    if (!Call(ProtectedSetParams, &args)) return Failure(ErrorCode::kValidation, nullptr);
    return Ok();
  }

  // init() or on_bar(bar) with ctx; on failure, the error (RUN_FAILED).
  Status Init(engine::Context& ctx) { return Enter(ctx, ProtectedInit); }
  Status OnBar(engine::Context& ctx) {
    sb_.ctx = &ctx;
    const bool ok = CallOnBar();
    sb_.ctx = nullptr;
    if (ok) return Ok();
    return Failure(ErrorCode::kRunFailed, &ctx);
  }

 private:
  Status Enter(engine::Context& ctx, lua_CFunction fn) {
    sb_.ctx = &ctx;
    const bool ok = Call(fn, nullptr);
    sb_.ctx = nullptr;
    if (ok) return Ok();
    return Failure(ErrorCode::kRunFailed, &ctx);
  }

  // Calls fn(arg) in protected mode with the message handler. Pushes only values that need no
  // allocation (within the LUA_MINSTACK slots every C call has).
  bool Call(lua_CFunction fn, void* arg) {
    lua_State* L = sb_.L;
    on_bar_slots_ = false;
    sb_.budget.current = L;
    sb_.error_line = 0;
    lua_settop(L, 0);
    lua_pushcfunction(L, MessageHandler);
    lua_pushcfunction(L, fn);
    lua_pushlightuserdata(L, arg);
    const int status = lua_pcall(L, 1, 0, 1);
    if (status == LUA_OK && sb_.budget.cause == nullptr) {
      lua_settop(L, 0);
      return true;
    }
    // A budget error the script caught (pcall, a coroutine) still fails the run.
    if (status == LUA_OK) lua_settop(L, 0);
    status_ = status == LUA_OK ? LUA_ERRRUN : status;
    return false;
  }

  // Calls the on_bar closure in protected mode. The message handler and the closure stay at stack
  // slots 1 and 2 from one bar to the next (set up again after anything else used the stack), so
  // a bar costs one push and one lua_pcall; nothing here allocates.
  bool CallOnBar() {
    lua_State* L = sb_.L;
    sb_.budget.current = L;
    sb_.error_line = 0;
    if (!on_bar_slots_) {
      lua_settop(L, 0);
      lua_pushcfunction(L, MessageHandler);
      lua_rawgeti(L, LUA_REGISTRYINDEX, sb_.on_bar_ref);
      on_bar_slots_ = true;
    }
    lua_pushvalue(L, 2);
    const int status = lua_pcall(L, 0, 0, 1);
    if (status == LUA_OK && sb_.budget.cause == nullptr) return true;
    on_bar_slots_ = false;
    if (status == LUA_OK) lua_settop(L, 0);
    status_ = status == LUA_OK ? LUA_ERRRUN : status;
    return false;
  }

  // The error of the failed Call, the message still on the stack.
  Error Failure(ErrorCode code, const engine::Context* ctx) {
    lua_State* L = sb_.L;
    std::string lua_msg;
    if (lua_type(L, -1) == LUA_TSTRING) {
      size_t len = 0;
      const char* s = lua_tolstring(L, -1, &len);
      lua_msg.assign(s, len);
    } else {
      lua_msg = std::string("(error object is a ") + luaL_typename(L, -1) + " value)";
    }
    lua_settop(L, 0);
    const Budget& b = sb_.budget;
    std::string cause = b.cause != nullptr ? b.cause : "error";
    int line = b.cause != nullptr ? b.cause_line : sb_.error_line;
    // Lua's own stack limits stop some recursions before the depth check does: the same cause.
    const bool overflow = b.cause == nullptr && !sb_.syntax_error &&
                          (lua_msg.ends_with("stack overflow") ||
                           lua_msg.find("stack overflow (") != std::string::npos);
    if (overflow) cause = "recursion";
    // A syntax error's line is only in its message: "name:LINE: ...".
    const std::string prefix = name_ + ":";
    if (line == 0 && lua_msg.starts_with(prefix)) {
      line = std::atoi(lua_msg.c_str() + prefix.size());
    }
    // Lua's "name:LINE: " prefix is said once, by `where` below.
    if (lua_msg.starts_with(prefix)) {
      const size_t digits = lua_msg.find_first_not_of("0123456789", prefix.size());
      if (digits != prefix.size() && digits != std::string::npos &&
          lua_msg.compare(digits, 2, ": ") == 0) {
        lua_msg.erase(0, digits + 2);
      }
    }
    std::string msg;
    if (cause == "recursion") {
      msg = "recursion too deep (more than " + std::to_string(sandbox::kMaxCallDepth) +
            " nested calls): give the recursive function a case that returns without calling "
            "itself, or use a loop";
    } else if (cause == "cancelled") {
      msg = "the run was cancelled";
    } else if (b.cause != nullptr) {
      msg = cause + " budget exceeded";
      if (cause == "instructions") msg += " (" + std::to_string(b.instruction_limit) + ")";
      if (cause == "memory") msg += " (" + std::to_string(b.memory_limit) + " bytes)";
      if (b.cause_detail[0] != '\0') msg += std::string(": ") + b.cause_detail;
    } else {
      msg = lua_msg;
    }
    std::map<std::string, std::string> details{
        {"cause", cause}, {"msg", b.cause != nullptr || overflow ? msg : lua_msg}};
    std::string where;
    if (line > 0) {
      details["line"] = std::to_string(line);
      where = name_ + ":" + std::to_string(line);
    } else {
      where = name_;
    }
    if (ctx != nullptr) {
      details["time"] = FormatIso(ctx->time());
      where += " at bar " + FormatIso(ctx->time());
    }
    if (sb_.error_param[0] != '\0') {
      details["param"] = sb_.error_param;
      details["cause"] = "params";
    }
    if (sb_.syntax_error) details["cause"] = "syntax";
    if (b.cause == nullptr && status_ == LUA_ERRMEM) details["cause"] = "memory";
    return MakeError(code, "script " + where + ": " + msg, std::move(details));
  }

  std::string name_;
  Sandbox sb_;
  int status_ = LUA_OK;
  bool on_bar_slots_ = false;  // the stack holds CallOnBar's handler and closure
};

class ScriptStrategyImpl final : public ScriptStrategy {
 public:
  ScriptStrategyImpl(std::unique_ptr<Runner> runner, ScriptInfo info)
      : runner_(std::move(runner)), info_(std::move(info)) {}

  const ScriptInfo& info() const override { return info_; }

  void OnStart(engine::Context& ctx) override {
    if (!runner_->has_init()) return;
    Status s = runner_->Init(ctx);
    if (!s.ok()) Fail(ctx, s.take_error());
  }

  void OnBar(engine::Context& ctx) override {
    if (failed_) return;
    Status s = runner_->OnBar(ctx);
    if (!s.ok()) Fail(ctx, s.take_error());
  }

 private:
  void Fail(engine::Context& ctx, Error error) {
    failed_ = true;
    ctx.Fail(std::move(error));
  }

  std::unique_ptr<Runner> runner_;
  ScriptInfo info_;
  bool failed_ = false;
};

}  // namespace

Result<ScriptInfo> CompileScript(std::string_view source, std::string_view chunk_name,
                                 const ScriptBudgets& budgets) {
  Runner runner(chunk_name, budgets);
  if (Status s = runner.Open(source, budgets.seed); !s.ok()) return s.take_error();
  ScriptInfo info;
  info.params = runner.Schema();
  info.has_init = runner.has_init();
  return info;
}

Result<std::unique_ptr<ScriptStrategy>> MakeScriptStrategy(std::string_view source,
                                                           std::string_view chunk_name,
                                                           const Params& params,
                                                           const ScriptBudgets& budgets) {
  auto runner = std::make_unique<Runner>(chunk_name, budgets);
  if (Status s = runner->Open(source, budgets.seed); !s.ok()) return s.take_error();
  ScriptInfo info{runner->Schema(), runner->has_init()};
  Result<Params> resolved = ResolveParams(info.params, params, "this script");
  if (!resolved.ok()) return resolved.take_error();
  if (Status s = runner->SetParams(info.params, *resolved); !s.ok()) return s.take_error();
  return std::unique_ptr<ScriptStrategy>(
      std::make_unique<ScriptStrategyImpl>(std::move(runner), std::move(info)));
}

}  // namespace tapedeck::strategies
