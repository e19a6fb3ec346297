// Strategy scripts: the contract's bindings, the sandbox's refusals and the budgets. Each escape
// test asserts what the script could do if the protection were missing (a global reachable, a
// patch that leaks, a run that never ends), so removing the protection fails it.
#include "strategies/script.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "strategies/indicators.h"
#include "strategy_test_util.h"

namespace tapedeck::strategies {
namespace {

using testutil::Ohlc;

Ohlc Walk(size_t n, uint64_t seed) { return testutil::RandomWalk(n, seed, 100.0, 1.0); }

struct ScriptRun {
  Result<engine::RunResult> result;
  struct Output {
    std::vector<engine::LogEntry> logs;  // the run's (none when it failed)
  } output;
};

ScriptRun RunScript(const std::string& source, const Params& params = {}, size_t bars = 50,
                    const ScriptBudgets& budgets = {}) {
  auto strategy = MakeScriptStrategy(source, "test.lua", params, budgets);
  if (!strategy.ok()) return {strategy.take_error(), {}};
  const market::Series series = testutil::ToSeries(Walk(bars, 7));
  auto result = engine::Run(std::span<const market::Series>(&series, 1), **strategy, {});
  ScriptRun::Output output;
  if (result.ok()) output.logs = result->logs;
  return {std::move(result), std::move(output)};
}

// The run's logs as one string per record.
std::vector<std::string> Logs(const ScriptRun& run) {
  std::vector<std::string> out;
  for (const auto& l : run.output.logs) out.push_back(l.msg);
  return out;
}

// A script that logs `expr` once, at the first bar.
std::string LogOnce(const std::string& expr) {
  return "function on_bar(bar) if bar.index == 0 then log(" + expr + ") end end\n";
}

std::string LogOf(const std::string& expr) {
  ScriptRun run = RunScript(LogOnce(expr));
  EXPECT_TRUE(run.result.ok()) << run.result.error().ToString();
  return run.output.logs.empty() ? "<none>" : run.output.logs[0].msg;
}

// ---- Compile ----

TEST(CompileScript, ReadsPlainAndTableParams) {
  auto info = CompileScript(
      "params = { slow = 30, k = 1.5, fast = {default=10, min=1, max=500, int=true, desc='the "
      "fast'} }\n"
      "function on_bar(bar) end\n",
      "s.lua");
  ASSERT_TRUE(info.ok()) << info.error().ToString();
  ASSERT_EQ(info->params.size(), 3u);
  EXPECT_EQ(info->params[0].name, "fast");
  EXPECT_EQ(info->params[0].kind, ParamSpec::Kind::kInt);
  EXPECT_EQ(info->params[0].default_value, 10);
  EXPECT_EQ(info->params[0].min, 1);
  EXPECT_EQ(info->params[0].max, 500);
  EXPECT_EQ(info->params[0].description, "the fast");
  EXPECT_EQ(info->params[1].name, "k");
  EXPECT_EQ(info->params[1].kind, ParamSpec::Kind::kNumber);
  EXPECT_EQ(info->params[2].name, "slow");
  EXPECT_EQ(info->params[2].kind, ParamSpec::Kind::kInt);
  EXPECT_FALSE(info->has_init);
}

TEST(CompileScript, SyntaxErrorGivesItsLine) {
  auto info = CompileScript("params = {}\n\nfunction on_bar(bar)\n  local x = = 1\nend\n", "s.lua");
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().code, ErrorCode::kValidation);
  EXPECT_EQ(info.error().details.at("line"), "4");
  EXPECT_EQ(info.error().details.at("cause"), "syntax");
}

TEST(CompileScript, BadParamIsNamed) {
  auto info = CompileScript("params = { n = {min=1} }\nfunction on_bar(bar) end\n", "s.lua");
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().code, ErrorCode::kValidation);
  EXPECT_EQ(info.error().details.at("param"), "n");
  EXPECT_EQ(info.error().details.at("cause"), "params");
  auto out =
      CompileScript("params = { n = {default=0, min=1, max=3} }\nfunction on_bar(b) end", "s.lua");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().details.at("param"), "n");
}

TEST(CompileScript, RequiresOnBar) {
  auto info = CompileScript("params = {}\n", "s.lua");
  ASSERT_FALSE(info.ok());
  EXPECT_NE(info.error().msg.find("on_bar"), std::string::npos);
}

TEST(CompileScript, TopLevelRuntimeErrorGivesItsLine) {
  auto info = CompileScript("local a = 1\nlocal b = nil + a\nfunction on_bar(bar) end\n", "s.lua");
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().details.at("line"), "2");
}

TEST(CompileScript, RefusesBinaryChunks) {
  // The first bytes of a precompiled chunk (LUA_SIGNATURE): refused before its body is read.
  auto info = CompileScript(std::string("\x1bLua\x54\x00", 6) + "junk", "s.lua");
  ASSERT_FALSE(info.ok());
  EXPECT_NE(info.error().details.at("msg").find("binary"), std::string::npos)
      << info.error().details.at("msg");
}

// ---- Params ----

TEST(MakeScriptStrategy, ValidatesParamsLikeTheBuiltins) {
  const std::string src =
      "params = { n = {default=3, min=1, max=10, int=true}, k = 0.5 }\nfunction on_bar(b) end\n";
  for (const auto& [params, name] : std::vector<std::pair<Params, std::string>>{
           {{{"zzz", 1}}, "zzz"}, {{{"n", 2.5}}, "n"}, {{{"n", 11}}, "n"}, {{{"n", 0}}, "n"}}) {
    auto s = MakeScriptStrategy(src, "s.lua", params);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, ErrorCode::kValidation);
    EXPECT_EQ(s.error().details.at("param"), name);
  }
  ScriptRun run = RunScript(
      "params = { n = {default=3, int=true}, k = 0.5 }\n"
      "function on_bar(b) if b.index == 0 then log(params.n, params.k, math.type(params.n)) end "
      "end\n",
      {{"n", 7}});
  ASSERT_TRUE(run.result.ok());
  EXPECT_EQ(Logs(run), std::vector<std::string>{"7 0.5 integer"});
}

// ---- Bindings ----

TEST(ScriptBindings, BarFields) {
  ScriptRun run = RunScript(
      "function on_bar(b)\n"
      "  if b.index == 1 or b.last then log(b.index, b.time, b.open, b.high, b.low, b.close,"
      " b.volume, b.last) end\n"
      "end\n",
      {}, 3);
  ASSERT_TRUE(run.result.ok()) << run.result.error().ToString();
  const Ohlc bars = Walk(3, 7);
  auto fmt = [](double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.14g", v);
    return std::string(buf);
  };
  auto line = [&](size_t i, const char* last) {
    return std::to_string(i) + " " + std::to_string(1'577'836'800 + 86'400 * i) + " " +
           fmt(bars.open[i]) + " " + fmt(bars.high[i]) + " " + fmt(bars.low[i]) + " " +
           fmt(bars.close[i]) + " 1000.0 " + last;
  };
  EXPECT_EQ(Logs(run), (std::vector<std::string>{line(1, "false"), line(2, "true")}));
}

TEST(ScriptBindings, BuySellPositionCashEquity) {
  ScriptRun run = RunScript(
      "function on_bar(b)\n"
      "  if b.index == 0 then log(cash(), equity(), position(), buy(10)) end\n"
      "  if b.index == 1 then log(position(), cash() < 100000, sell(4)) end\n"
      "  if b.index == 2 then log(position(), close_position()) end\n"
      "  if b.index == 3 then log(position(), close_position()) end\n"
      "end\n");
  ASSERT_TRUE(run.result.ok()) << run.result.error().ToString();
  EXPECT_EQ(Logs(run), (std::vector<std::string>{"100000.0 100000.0 0.0 1", "10.0 true 2", "6.0 3",
                                                 "0.0 nil"}));
  EXPECT_EQ(testutil::Fills(*run.result).size(), 3u);
}

TEST(ScriptBindings, OrderTypesAndCancel) {
  ScriptRun run = RunScript(
      "function on_bar(b)\n"
      "  if b.index == 0 then\n"
      "    local l = buy(1, {type='limit', limit=1})\n"
      "    local s = sell(nil, {type='stop', stop=0.5})\n"
      "    local sl = buy(2, {type='stop_limit', stop=1e9, limit=2e9, symbol='TEST'})\n"
      "    log(l, s, sl, cancel(l), cancel(l), cancel(sl))\n"
      "  end\n"
      "end\n");
  ASSERT_TRUE(run.result.ok()) << run.result.error().ToString();
  EXPECT_EQ(Logs(run), std::vector<std::string>{"1 2 3 true false true"});
  size_t submitted = 0, cancelled = 0;
  for (const auto& e : run.result->events) {
    submitted += e.status == engine::OrderStatus::kSubmitted;
    cancelled += e.status == engine::OrderStatus::kCancelled;
  }
  EXPECT_EQ(submitted, 3u);
  EXPECT_EQ(cancelled, 2u);
}

TEST(ScriptBindings, BadOrderArgumentsFailTheRun) {
  for (const char* call : {"buy(1, {type='limit'})", "buy(1, {type='iceberg'})",
                           "sell(1, {symbol='NOPE'})", "buy('x')", "position('NOPE')"}) {
    ScriptRun run = RunScript(std::string("function on_bar(b)\n  ") + call + "\nend\n");
    ASSERT_FALSE(run.result.ok()) << call;
    EXPECT_EQ(run.result.error().code, ErrorCode::kRunFailed);
    EXPECT_EQ(run.result.error().details.at("line"), "2") << call;
    EXPECT_EQ(run.result.error().details.at("cause"), "error");
  }
}

TEST(ScriptBindings, OrdersOnlyInsideTheRun) {
  auto info = CompileScript("buy()\nfunction on_bar(b) end\n", "s.lua");
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().details.at("line"), "1");
}

TEST(ScriptBindings, IndicatorsGiveTheBuiltinsNumbers) {
  const size_t n = 60;
  ScriptRun run = RunScript(
      "local s, e, r, d, h, l, m = ta.sma(5), ta.ema(5), ta.rsi(5), ta.stdev(5), ta.highest(5),"
      " ta.lowest(5), ta.macd(3, 6, 4)\n"
      "local function f(x) if x == nil then return 'nil' end return string.format('%.17g', x) end\n"
      "function on_bar(b)\n"
      "  local ml, ms, mh = m(b.close)\n"
      "  log(f(s(b.close)), f(e(b.close)), f(r(b.close)), f(d(b.close)), f(h(b.close)),"
      " f(l(b.close)), f(ml), f(ms), f(mh))\n"
      "end\n",
      {}, n);
  ASSERT_TRUE(run.result.ok()) << run.result.error().ToString();
  const Ohlc bars = Walk(n, 7);
  Sma s(5);
  Ema e(5);
  Rsi r(5);
  RollingStdDev d(5);
  RollingMax h(5);
  RollingMin l(5);
  Macd m(3, 6, 4);
  auto f = [](bool ready, double v) {
    if (!ready) return std::string("nil");
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return std::string(buf);
  };
  ASSERT_EQ(run.output.logs.size(), n);
  for (size_t i = 0; i < n; ++i) {
    const double x = bars.close[i];
    s.Update(x);
    e.Update(x);
    r.Update(x);
    d.Update(x);
    h.Update(x);
    l.Update(x);
    m.Update(x);
    const std::string want = f(s.ready(), s.value()) + " " + f(e.ready(), e.value()) + " " +
                             f(r.ready(), r.value()) + " " + f(d.ready(), d.value()) + " " +
                             f(h.ready(), h.value()) + " " + f(l.ready(), l.value()) + " " +
                             f(m.ready(), m.value()) + " " + f(m.ready(), m.signal()) + " " +
                             f(m.ready(), m.histogram());
    EXPECT_EQ(run.output.logs[i].msg, want) << "bar " << i;
  }
}

TEST(ScriptBindings, AtrIsWildersAverageOfTrueRanges) {
  const size_t n = 40;
  ScriptRun run = RunScript(
      "local a = ta.atr(4)\n"
      "function on_bar(b)\n"
      "  local v = a(b)\n"
      "  log(v == nil and 'nil' or string.format('%.17g', v))\n"
      "end\n",
      {}, n);
  ASSERT_TRUE(run.result.ok()) << run.result.error().ToString();
  // An independent calculation: the true ranges first, then the seed mean and Wilder's smoothing.
  const Ohlc bars = Walk(n, 7);
  std::vector<double> tr;
  for (size_t i = 0; i < n; ++i) {
    double r = bars.high[i] - bars.low[i];
    if (i > 0) {
      r = std::max({r, std::abs(bars.high[i] - bars.close[i - 1]),
                    std::abs(bars.low[i] - bars.close[i - 1])});
    }
    tr.push_back(r);
  }
  ASSERT_EQ(run.output.logs.size(), n);
  double atr = 0;
  for (size_t i = 0; i < n; ++i) {
    if (i < 3) {
      EXPECT_EQ(run.output.logs[i].msg, "nil");
      continue;
    }
    atr = i == 3 ? (tr[0] + tr[1] + tr[2] + tr[3]) / 4 : (atr * 3 + tr[i]) / 4;
    EXPECT_NEAR(std::stod(run.output.logs[i].msg), atr, 1e-9 * atr) << "bar " << i;
  }
}

TEST(ScriptBindings, PlotAndLogAreRecordedPerBar) {
  ScriptRun run = RunScript(
      "function on_bar(b)\n"
      "  if b.index < 2 then plot('x', b.index == 0 and 1.5 or nil); log('at', b.index) end\n"
      "  if b.index == 2 then print('p', nil, true) end\n"
      "end\n");
  ASSERT_TRUE(run.result.ok());
  ASSERT_EQ(run.result->plots.size(), 1u);
  const engine::PlotSeries& x = run.result->plots[0];
  EXPECT_EQ(x.name, "x");
  EXPECT_EQ(x.pane, engine::PlotPane::kPrice);
  ASSERT_EQ(x.values.size(), run.result->times.size());
  EXPECT_EQ(x.values[0], 1.5);
  for (size_t i = 1; i < x.values.size(); ++i) EXPECT_TRUE(std::isnan(x.values[i])) << i;
  EXPECT_EQ(Logs(run), (std::vector<std::string>{"at 0", "at 1", "p nil true"}));
  EXPECT_EQ(run.output.logs[1].ts, run.result->times[1]);
  EXPECT_EQ(run.output.logs[2].bar, 2u);
}

TEST(ScriptBindings, InitRunsOnceBeforeTheFirstBar) {
  ScriptRun run = RunScript(
      "local seen = 0\nfunction init() log('init', seen, params.a) end\n"
      "params = {a = 2}\nfunction on_bar(b) seen = seen + 1 if b.last then log(seen) end end\n");
  ASSERT_TRUE(run.result.ok());
  EXPECT_EQ(Logs(run), (std::vector<std::string>{"init 0 2", "50"}));
}

TEST(ScriptBindings, ErrorFailsTheRunWithLineAndBarTime) {
  ScriptRun run =
      RunScript("function on_bar(b)\n  if b.index == 3 then\n    error('boom')\n  end\nend\n");
  ASSERT_FALSE(run.result.ok());
  EXPECT_EQ(run.result.error().code, ErrorCode::kRunFailed);
  EXPECT_EQ(run.result.error().details.at("line"), "3");
  EXPECT_EQ(run.result.error().details.at("time"), "2020-01-04T00:00:00Z");
  EXPECT_NE(run.result.error().msg.find("boom"), std::string::npos);
  EXPECT_NE(run.result.error().msg.find("2020-01-04T00:00:00Z"), std::string::npos);
}

TEST(ScriptBindings, RandomIsSeededFromTheRun) {
  const std::string src = LogOnce("math.random(1, 1000000), math.random()");
  ScriptRun a = RunScript(src), b = RunScript(src);
  ScriptBudgets other;
  other.seed = 99;
  ScriptRun c = RunScript(src, {}, 50, other);
  EXPECT_EQ(Logs(a), Logs(b));
  EXPECT_NE(Logs(a), Logs(c));
}

// ---- Sandbox ----

TEST(ScriptSandbox, DangerousGlobalsAreAbsent) {
  for (const char* name : {"io", "os", "debug", "package", "require", "load", "loadstring",
                           "dofile", "loadfile", "string.dump", "math.randomseed", "_ENV.io",
                           "_G.os", "_ENV._G.debug", "rawget(_G, 'load')"}) {
    EXPECT_EQ(LogOf(std::string("type(") + name + ")"), "nil") << name;
  }
  // What is there stays usable.
  EXPECT_EQ(LogOf("type(string.format), type(table.concat), type(math.floor), type(utf8.char)"),
            "function function function function");
}

TEST(ScriptSandbox, CollectGarbageOnlyCounts) {
  EXPECT_EQ(LogOf("type(collectgarbage('count'))"), "number");
  ScriptRun run = RunScript("function on_bar(b) collectgarbage('collect') end");
  EXPECT_FALSE(run.result.ok());
}

TEST(ScriptSandbox, StringMetatableIsUnreachable) {
  EXPECT_EQ(LogOf("getmetatable('')"), "false");
  ScriptRun run = RunScript("function on_bar(b) setmetatable('', {}) end");
  EXPECT_FALSE(run.result.ok());
}

TEST(ScriptSandbox, PatchesDoNotLeakToTheNextRun) {
  // A run that patches everything it can reach...
  ScriptRun patch = RunScript(
      "string.upper = function() return 'patched' end\n"
      "local mt = getmetatable('')\n"
      "if type(mt) == 'table' then mt.__index = function() return function() return 'patched' end "
      "end end\n"
      "math.floor = nil\nleaked = 1\n"
      "function on_bar(b) end\n");
  ASSERT_TRUE(patch.result.ok());
  // ...and the next one sees none of it.
  EXPECT_EQ(LogOf("('a'):upper(), string.upper('b'), type(math.floor), type(leaked)"),
            "A B function nil");
}

TEST(ScriptSandbox, TwoRunsShareNoState) {
  const std::string src =
      "counter = (counter or 0)\nfunction on_bar(b) counter = counter + 1 "
      "if b.last then log(counter) end end\n";
  ScriptRun a = RunScript(src), b = RunScript(src);
  EXPECT_EQ(Logs(a), std::vector<std::string>{"50"});
  EXPECT_EQ(Logs(b), std::vector<std::string>{"50"});
}

// ---- Budgets ----

void ExpectBudget(const ScriptRun& run, const std::string& cause, const std::string& line,
                  const std::string& time = "2020-01-01T00:00:00Z") {
  ASSERT_FALSE(run.result.ok()) << "the run should fail on " << cause;
  const Error& e = run.result.error();
  EXPECT_EQ(e.code, ErrorCode::kRunFailed);
  EXPECT_EQ(e.details.at("cause"), cause) << e.ToString();
  EXPECT_EQ(e.details.at("line"), line) << e.ToString();
  EXPECT_EQ(e.details.at("time"), time) << e.ToString();
  EXPECT_NE(e.msg.find(cause), std::string::npos) << e.msg;
  EXPECT_NE(e.msg.find(time), std::string::npos) << e.msg;
}

ScriptBudgets Small() {
  ScriptBudgets b;
  b.instructions = 5'000'000;
  b.memory_bytes = 8u << 20;
  return b;
}

TEST(ScriptBudget, InfiniteLoop) {
  ExpectBudget(RunScript("function on_bar(b)\n  while true do end\nend\n", {}, 50, Small()),
               "instructions", "2");
}

TEST(ScriptBudget, InfiniteLoopInsidePcall) {
  ExpectBudget(RunScript("function on_bar(b)\n  while true do\n    pcall(function()\n"
                         "      while true do end\n    end)\n  end\nend\n",
                         {}, 50, Small()),
               "instructions", "4");
}

TEST(ScriptBudget, InfiniteLoopInsideCoroutine) {
  ExpectBudget(
      RunScript("function on_bar(b)\n  local co = coroutine.create(function()\n"
                "    while true do end\n  end)\n  while true do coroutine.resume(co) end\nend\n",
                {}, 50, Small()),
      "instructions", "3");
}

TEST(ScriptBudget, CaughtBudgetErrorStillFails) {
  ExpectBudget(RunScript("function on_bar(b)\n  pcall(function() while true do end end)\nend\n", {},
                         50, Small()),
               "instructions", "2");
}

TEST(ScriptBudget, InstructionsCountOverTheWholeRun) {
  // 20 000 instructions a bar is fine alone; over 1000 bars it exhausts a 5M budget at some bar.
  ScriptRun run =
      RunScript("function on_bar(b)\n  for i = 1, 5000 do end\nend\n", {}, 1000, Small());
  ASSERT_FALSE(run.result.ok());
  EXPECT_EQ(run.result.error().details.at("cause"), "instructions");
  EXPECT_NE(run.result.error().details.at("time"), "2020-01-01T00:00:00Z");
}

TEST(ScriptBudget, UnboundedRecursion) {
  ScriptRun run = RunScript(
      "local function f(n)\n  return f(n + 1) + 1\nend\n"
      "function on_bar(b)\n  f(1)\nend\n",
      {}, 50, Small());
  ASSERT_FALSE(run.result.ok());
  const Error& e = run.result.error();
  // The depth limit, whatever the memory budget (script_sandbox_test.cpp has the other ways).
  EXPECT_EQ(e.details.at("cause"), "recursion") << e.ToString();
  EXPECT_EQ(e.details.at("line"), "2") << e.ToString();
  EXPECT_EQ(e.details.at("time"), "2020-01-01T00:00:00Z");
}

TEST(ScriptBudget, StringRepMemoryBomb) {
  ExpectBudget(
      RunScript("function on_bar(b)\n  local s = string.rep('x', 1 << 30)\nend\n", {}, 50, Small()),
      "memory", "2");
}

TEST(ScriptBudget, GrowingTable) {
  ExpectBudget(RunScript("local t = {}\nfunction on_bar(b)\n  while true do\n    t[#t + 1] = #t\n"
                         "  end\nend\n",
                         {}, 50, Small()),
               "memory", "4");
}

TEST(ScriptBudget, CaughtMemoryErrorStillFails) {
  ExpectBudget(
      RunScript("function on_bar(b)\n  pcall(string.rep, 'x', 1 << 30)\nend\n", {}, 50, Small()),
      "memory", "2");
}

TEST(ScriptBudget, IndicatorBuffersCount) {
  ExpectBudget(RunScript("function on_bar(b)\n  local x = ta.sma(9000000)\nend\n", {}, 50, Small()),
               "memory", "2");
}

TEST(ScriptBudget, WallTime) {
  ScriptBudgets b;
  b.wall_seconds = 0.05;
  ExpectBudget(RunScript("function on_bar(b)\n  while true do end\nend\n", {}, 50, b), "wall_time",
               "2");
}

TEST(ScriptBudget, CancelStopsALoopWithinABar) {
  // A bar that would loop for the whole wall budget (30 s): the cancel flag, set from another
  // thread after 50 ms, stops it at once, in that bar.
  std::atomic<bool> cancel{false};
  ScriptBudgets b;
  b.cancel = &cancel;
  std::thread canceller([&cancel] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    cancel = true;
  });
  const auto start = std::chrono::steady_clock::now();
  ScriptRun run = RunScript("function on_bar(b)\n  while true do end\nend\n", {}, 50, b);
  const auto took = std::chrono::steady_clock::now() - start;
  canceller.join();
  ASSERT_FALSE(run.result.ok());
  const Error& e = run.result.error();
  EXPECT_EQ(e.details.at("cause"), "cancelled") << e.ToString();
  EXPECT_EQ(e.details.at("line"), "2") << e.ToString();
  EXPECT_NE(e.msg.find("cancelled"), std::string::npos) << e.msg;
  EXPECT_LT(took, std::chrono::seconds(10));  // the wall budget (30 s) did not stop it
}

TEST(ScriptBudget, TopLevelLoopFailsTheCompile) {
  auto info = CompileScript("while true do end\nfunction on_bar(b) end\n", "s.lua", Small());
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().details.at("cause"), "instructions");
  EXPECT_EQ(info.error().details.at("line"), "1");
}

// ---- The example ----

TEST(ScriptExample, SmaCrossMatchesTheBuiltin) {
  const std::string src =
      "params = { fast = {default=10, min=1, max=10000, int=true}, slow = {default=30, min=2, "
      "max=10000, int=true} }\n"
      "local fast, slow\n"
      "function init() fast, slow = ta.sma(params.fast), ta.sma(params.slow) end\n"
      "function on_bar(bar)\n"
      "  local f, s = fast(bar.close), slow(bar.close)\n"
      "  if s == nil or bar.last then return end\n"
      "  local long = f - s > 1e-10 * math.abs(s)\n"
      "  if long and position() <= 0 then buy() elseif not long and position() > 0 then sell() "
      "end\n"
      "end\n";
  const Ohlc bars = Walk(3000, 11);
  const market::Series series = testutil::ToSeries(bars);
  for (const Params& p : {Params{}, Params{{"fast", 3}, {"slow", 7}}}) {
    auto script = MakeScriptStrategy(src, "sma_cross.lua", p);
    ASSERT_TRUE(script.ok()) << script.error().ToString();
    auto a = engine::Run(std::span<const market::Series>(&series, 1), **script, {});
    auto b = testutil::RunBuiltin("sma_cross", p, bars);
    ASSERT_TRUE(a.ok() && b.ok());
    const auto fa = testutil::Fills(*a), fb = testutil::Fills(*b);
    ASSERT_EQ(fa.size(), fb.size());
    ASSERT_GT(fa.size(), 10u);
    for (size_t i = 0; i < fa.size(); ++i) {
      EXPECT_EQ(fa[i].bar, fb[i].bar);
      EXPECT_EQ(fa[i].px, fb[i].px);
      EXPECT_EQ(fa[i].qty, fb[i].qty);
    }
    EXPECT_EQ(a->equity.back(), b->equity.back());
  }
}

}  // namespace
}  // namespace tapedeck::strategies
