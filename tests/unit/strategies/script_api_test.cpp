// Strategy scripts: ago(n[, symbol]), symbols() and the bar table. Each check runs inside the
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

TEST(ScriptBar, AFreshTableTheScriptMayKeep) {
  const std::vector<market::Series> data = {Daily("A", 30, 0, 1, 1.0)};
  const std::string src =
      "local kept = {}\n"
      "function on_bar(bar)\n"
      "  bar.mine = bar.index  -- the script's own field: not seen on the next bar\n"
      "  kept[#kept + 1] = bar\n"
      "  if bar.last then\n"
      "    for i, b in ipairs(kept) do\n"
      "      if b.index ~= i - 1 or b.close ~= 100 + (i - 1) or b.mine ~= i - 1 then\n"
      "        error('bar ' .. i .. ' changed')\n"
      "      end\n"
      "      if i > 1 and b == kept[i - 1] then error('same table') end\n"
      "    end\n"
      "    local n = 0\n"
      "    for k in pairs(kept[1]) do n = n + 1 end\n"
      "    error('kept ' .. #kept .. ' fields ' .. n)\n"
      "  end\n"
      "end\n";
  // time, index, open, high, low, close, volume, last and the script's own `mine`.
  EXPECT_NE(RunError(src, data).find("kept 30 fields 9"), std::string::npos) << RunError(src, data);
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
