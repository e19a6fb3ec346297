// Strategy scripts: ago(n[, symbol]), symbols() and the bar. Each check runs inside the
// script against values the test computed from the series it built (no look-ahead: a symbol's bars
// are known only up to its latest bar at or before the current time); the script ends the run with
// error("checked N") so the test also sees that every check ran.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "strategies/script.h"
#include "strategy_test_util.h"

namespace tapedeck::strategies {
namespace {

const Timestamp kT0 = FromMicros(1'577'836'800'000'000);  // 2020-01-01T00:00:00Z

// n daily bars of `symbol` from kT0 + first days, one every `every` days, closes 100 + k * step.
market::Series Daily(const std::string& symbol, size_t n, int first, int every, double step) {
  std::vector<Timestamp> t;
  std::vector<double> o, h, l, c, v;
  for (size_t k = 0; k < n; ++k) {
    t.push_back(kT0 + std::chrono::days(first + every * static_cast<int>(k)));
    const double close = 100 + step * static_cast<double>(k);
    o.push_back(close - 0.25);
    h.push_back(close + 1);
    l.push_back(close - 1);
    c.push_back(close);
    v.push_back(1000 + static_cast<double>(k));
  }
  return market::Series::FromColumns(symbol, t, o, h, l, c, v);
}

// A Lua array literal of a series' column.
std::string LuaArray(std::span<const double> xs) {
  std::string out = "{";
  char buf[64];
  for (double x : xs) {
    std::snprintf(buf, sizeof buf, "%.17g,", x);
    out += buf;
  }
  return out + "}";
}

std::string LuaTimes(std::span<const Timestamp> ts) {
  std::string out = "{";
  for (Timestamp t : ts) out += std::to_string(ToMicros(t) / 1'000'000) + ",";
  return out + "}";
}

Result<engine::RunResult> Run(const std::string& source, const std::vector<market::Series>& data) {
  auto strategy = MakeScriptStrategy(source, "t.lua", {});
  if (!strategy.ok()) return strategy.take_error();
  return engine::Run(data, **strategy, {});
}

std::string RunError(const std::string& source, const std::vector<market::Series>& data) {
  auto r = Run(source, data);
  if (r.ok()) return "<ok>";
  return r.error().msg;
}

// ---- ago ----

TEST(ScriptAgo, GivesPastBarsOfEachSymbolAndNothingLater) {
  // A: a bar every day. B: a bar every third day from day 1, so at day i B's latest bar is bar
  // (i - 1) / 3 and it has none at day 0; its next bar is never visible before its day.
  const std::vector<market::Series> data = {Daily("A", 40, 0, 1, 1.0), Daily("B", 13, 1, 3, -2.0)};
  const std::string src =
      "local AC, AT = " + LuaArray(data[0].close()) + ", " + LuaTimes(data[0].times()) +
      "\n"
      "local BC, BO, BV, BT = " +
      LuaArray(data[1].close()) + ", " + LuaArray(data[1].open()) + ", " +
      LuaArray(data[1].volume()) + ", " + LuaTimes(data[1].times()) +
      "\n"
      "local checks = 0\n"
      "local function check(ok, what) if not ok then error(what) end checks = checks + 1 end\n"
      "function on_bar(bar)\n"
      "  local i = bar.index\n"
      "  local now = ago(0)\n"
      "  check(now.time == bar.time and now.open == bar.open and now.high == bar.high and\n"
      "        now.low == bar.low and now.close == bar.close and now.volume == bar.volume, "
      "'ago(0)')\n"
      "  check(now ~= bar, 'ago gives its own table')\n"
      "  for n = 0, 5 do\n"
      "    local r = ago(n)\n"
      "    if n > i then check(r == nil, 'A nil ' .. n)\n"
      "    else check(r.close == AC[i - n + 1] and r.time == AT[i - n + 1], 'A ' .. n) end\n"
      "    check(ago(n, 'A') == nil or ago(n, 'A').close == r.close, 'A by name')\n"
      "  end\n"
      "  local seen = i >= 1 and (i - 1) // 3 + 1 or 0\n"
      "  for n = 0, 4 do\n"
      "    local r = ago(n, 'B')\n"
      "    if n >= seen then check(r == nil, 'B nil ' .. n)\n"
      "    else\n"
      "      local k = seen - n\n"
      "      check(r.close == BC[k] and r.open == BO[k] and r.volume == BV[k] and r.time == BT[k]\n"
      "            and r.time <= bar.time, 'B ' .. n .. ' at ' .. i)\n"
      "    end\n"
      "  end\n"
      "  if bar.last then error('checked ' .. checks) end\n"
      "end\n";
  // 40 bars: 1 + 1 + 6 * 2 + 5 = 19 checks each.
  EXPECT_NE(RunError(src, data).find("checked 760"), std::string::npos) << RunError(src, data);
}

TEST(ScriptAgo, NilInInitAndBeyondTheFirstBar) {
  const std::vector<market::Series> data = {Daily("A", 3, 0, 1, 1.0)};
  const std::string src =
      "local in_init\n"
      "function init() in_init = ago(0) end\n"
      "function on_bar(bar)\n"
      "  if bar.index == 0 then\n"
      "    error(tostring(in_init) .. ' ' .. tostring(ago(1)) .. ' ' .. tostring(ago(1000000)) ..\n"
      "          ' ' .. tostring(ago(math.maxinteger)) .. ' ' .. ago(0).close .. ' ' .. "
      "ago(0.0).close)\n"
      "  end\n"
      "end\n";
  EXPECT_NE(RunError(src, data).find("nil nil nil nil 100.0 100.0"), std::string::npos)
      << RunError(src, data);
}

TEST(ScriptAgo, BadArgumentsFailTheRun) {
  const std::vector<market::Series> data = {Daily("A", 5, 0, 1, 1.0)};
  for (const char* call : {"ago(-1)", "ago(1.5)", "ago('1')", "ago()", "ago(nil, 'A')"}) {
    const std::string err = RunError(std::string("function on_bar(bar) ") + call + " end", data);
    EXPECT_NE(err.find("ago: n must be a non-negative integer"), std::string::npos)
        << call << ": " << err;
  }
  const std::string err = RunError("function on_bar(bar) ago(0, 'NOPE') end", data);
  EXPECT_NE(err.find("unknown symbol 'NOPE'"), std::string::npos) << err;
}

TEST(ScriptAgo, NotAtTheTopLevel) {
  for (const char* call : {"ago(0)", "symbols()"}) {
    auto info = CompileScript(std::string(call) + "\nfunction on_bar(bar) end\n", "s.lua");
    ASSERT_FALSE(info.ok()) << call;
    EXPECT_NE(info.error().msg.find("only available in init() and on_bar()"), std::string::npos)
        << info.error().msg;
    EXPECT_EQ(info.error().details.at("line"), "1");
  }
}

// ---- symbols ----

TEST(ScriptSymbols, NamesTheRunsSymbolsInOrder) {
  const std::vector<market::Series> data = {Daily("SPY", 5, 0, 1, 1.0), Daily("TLT", 5, 0, 1, 1.0)};
  const std::string src =
      "local in_init\n"
      "function init() in_init = table.concat(symbols(), ',') end\n"
      "function on_bar(bar)\n"
      "  local s = symbols()\n"
      "  s[1] = 'changed'  -- a fresh table each call\n"
      "  if bar.last then error(in_init .. ' ' .. #s .. ' ' .. table.concat(symbols(), ',')) end\n"
      "end\n";
  EXPECT_NE(RunError(src, data).find("SPY,TLT 2 SPY,TLT"), std::string::npos)
      << RunError(src, data);
}

// ---- the bar ----

TEST(ScriptBar, AFreshBarTheScriptMayKeep) {
  const std::vector<market::Series> data = {Daily("A", 30, 0, 1, 1.0)};
  const std::string src =
      "local kept = {}\n"
      "function on_bar(bar)\n"
      "  kept[#kept + 1] = bar\n"
      "  if bar.last then\n"
      "    for i, b in ipairs(kept) do\n"
      "      if b.index ~= i - 1 or b.close ~= 100 + (i - 1) or b.last ~= (i == #kept) then\n"
      "        error('bar ' .. i .. ' changed')\n"
      "      end\n"
      "      if i > 1 and b == kept[i - 1] then error('same bar') end\n"
      "    end\n"
      "    local names = {}\n"
      "    for k, v in pairs(kept[1]) do names[#names + 1] = k .. '=' .. tostring(v) end\n"
      "    error('kept ' .. #kept .. ' fields ' .. table.concat(names, ','))\n"
      "  end\n"
      "end\n";
  const std::string err = RunError(src, data);
  EXPECT_NE(
      err.find("kept 30 fields time=" + std::to_string(ToMicros(data[0].times()[0]) / 1'000'000) +
               ",index=0,open=99.75,high=101.0,low=99.0,close=100.0,volume=1000.0,last=false"),
      std::string::npos)
      << err;
}

TEST(ScriptBar, ReadOnlyAndNamedInMessages) {
  const std::vector<market::Series> data = {Daily("A", 3, 0, 1, 1.0)};
  for (const char* body : {"bar.close = 1", "bar.mine = 1", "bar[1] = 1"}) {
    const std::string err = RunError(std::string("function on_bar(bar) ") + body + " end", data);
    EXPECT_NE(err.find("bar is read-only"), std::string::npos) << body << ": " << err;
  }
  const std::string src =
      "function on_bar(bar)\n"
      "  error(type(bar) .. ' ' .. tostring(bar.mine) .. ' ' .. tostring(bar[1]) .. ' ' ..\n"
      "        tostring(getmetatable(bar)) .. ' ' .. tostring(bar))\n"
      "end\n";
  const std::string err = RunError(src, data);
  EXPECT_NE(err.find("userdata nil nil false bar{time="), std::string::npos) << err;
  EXPECT_NE(err.find(", index=0, open=99.75, "), std::string::npos) << err;
  EXPECT_NE(err.find(", last=false}"), std::string::npos) << err;
  const std::string arith = RunError("function on_bar(bar) return bar + 1 end", data);
  EXPECT_NE(arith.find("attempt to perform arithmetic on a bar value"), std::string::npos) << arith;
}

// The metamethods are reachable as values only through pairs (its iterator); called with
// anything but a bar, each raises instead of reading the wrong memory.
TEST(ScriptBar, TheIteratorRefusesWhatIsNotABar) {
  const std::vector<market::Series> data = {Daily("A", 3, 0, 1, 1.0)};
  const std::string pre = "function on_bar(bar) local nxt = pairs(bar) ";
  for (const char* call : {"nxt({}, nil)", "nxt(1, nil)", "nxt(ta.sma(2), nil)",
                           "nxt(symbols(), nil)", "nxt(nil)", "nxt()", "nxt(io, nil)"}) {
    const std::string err = RunError(pre + call + " end", data);
    EXPECT_NE(err.find("bar expected"), std::string::npos) << call << ": " << err;
  }
  const std::string bad = RunError(pre + "nxt(bar, 'nope') end", data);
  EXPECT_NE(bad.find("invalid key to 'next'"), std::string::npos) << bad;
  // A key of an ago() bar that it lacks is skipped: its fields are time and the prices.
  const std::string src =
      "function on_bar(bar)\n"
      "  local n = {}\n"
      "  for k in pairs(ago(0)) do n[#n + 1] = k end\n"
      "  error(table.concat(n, ',') .. ' ' .. tostring(ago(0).index) .. ' ' ..\n"
      "        tostring(ago(0).last))\n"
      "end\n";
  const std::string err = RunError(src, data);
  EXPECT_NE(err.find("time,open,high,low,close,volume nil nil"), std::string::npos) << err;
}

// Bars are Lua allocations: keeping every one is charged to the memory budget; dropping them
// lets the GC take them back.
TEST(ScriptBar, KeptBarsCountAgainstTheMemoryBudget) {
  const std::vector<market::Series> data = {Daily("A", 20'000, 0, 1, 0.001)};
  ScriptBudgets budgets;
  budgets.memory_bytes = 1u << 20;  // 20,000 bars of ~96 bytes each do not fit beside the rest
  auto run = [&](const char* src) {
    auto strategy = MakeScriptStrategy(src, "t.lua", {}, budgets);
    EXPECT_TRUE(strategy.ok());
    return engine::Run(data, **strategy, {});
  };
  auto kept = run("local kept = {}\nfunction on_bar(bar) kept[#kept + 1] = bar end\n");
  ASSERT_FALSE(kept.ok());
  EXPECT_EQ(kept.error().details.at("cause"), "memory") << kept.error().msg;
  EXPECT_TRUE(run("local last\nfunction on_bar(bar) last = bar end\n").ok());
}

TEST(ScriptBar, AtrTakesABarOrATable) {
  const std::vector<market::Series> data = {Daily("A", 6, 0, 1, 1.0)};
  const std::string src =
      "local a, b = ta.atr(2), ta.atr(2)\n"
      "function on_bar(bar)\n"
      "  local x, y = a(bar), b({high = bar.high, low = bar.low, close = bar.close})\n"
      "  if x ~= y then error('differ ' .. tostring(x) .. ' ' .. tostring(y)) end\n"
      "  if bar.last then error('same ' .. x) end\n"
      "end\n";
  EXPECT_NE(RunError(src, data).find("same 2.0"), std::string::npos) << RunError(src, data);
  for (const char* arg : {"1", "'bar'", "nil", "symbols"}) {
    const std::string err =
        RunError(std::string("local a = ta.atr(2)\nfunction on_bar(bar) a(") + arg + ") end", data);
    EXPECT_NE(err.find("bar expected"), std::string::npos) << arg << ": " << err;
  }
}

// ---- indicators ----

TEST(ScriptIndicators, FunctionsEachWithItsOwnState) {
  const std::vector<market::Series> data = {Daily("A", 3, 0, 1, 1.0)};
  const std::string src =
      "local a, b = ta.sma(2), ta.sma(2)\n"
      "function on_bar(bar)\n"
      "  local x, y, z = a(1), a(3), b(10)\n"
      "  error(type(a) .. ' ' .. tostring(x) .. ' ' .. y .. ' ' .. tostring(z) .. ' ' .. b(20) ..\n"
      "        ' ' .. tostring(getmetatable(a)))\n"
      "end\n";
  EXPECT_NE(RunError(src, data).find("function nil 2.0 nil 15.0 nil"), std::string::npos)
      << RunError(src, data);
  const std::string bad = RunError("local a = ta.sma(2)\nfunction on_bar(bar) a('x') end\n", data);
  EXPECT_NE(bad.find("number expected"), std::string::npos) << bad;
}

}  // namespace
}  // namespace tapedeck::strategies
