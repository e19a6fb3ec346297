// The sandbox of strategy scripts on a shared server: what a hostile script cannot reach, and the
// work Lua's C libraries do between two instruction hooks, which the sandbox charges to the
// instruction budget before it is done. Each test would fail without its protection: the escape
// would succeed (a file appears, a global is there), or the run would not end (the C library loops
// without the hook firing, so no budget could stop it).
#include "strategies/script_sandbox.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "strategies/script.h"
#include "strategy_test_util.h"

namespace tapedeck::strategies {
namespace {

namespace fs = std::filesystem;

struct ScriptRun {
  Result<engine::RunResult> result;
  struct {
    std::vector<engine::LogEntry> logs;  // the run's (none when it failed)
  } output;
};

ScriptRun RunScript(const std::string& source, const ScriptBudgets& budgets = {},
                    size_t bars = 20) {
  auto strategy = MakeScriptStrategy(source, "test.lua", {}, budgets);
  if (!strategy.ok()) return {strategy.take_error(), {}};
  std::vector<double> closes;
  for (size_t i = 0; i < bars; ++i) closes.push_back(100 + static_cast<double>(i % 7));
  const market::Series series = testutil::ToSeries(testutil::FromCloses(closes));
  ScriptRun run{engine::Run(std::span<const market::Series>(&series, 1), **strategy, {}), {}};
  if (run.result.ok()) run.output.logs = run.result->logs;
  return run;
}

ScriptBudgets Small() {
  ScriptBudgets b;
  b.instructions = 5'000'000;
  b.memory_bytes = 8u << 20;
  return b;
}

// A script whose on_bar runs `body` (from line 2) at the first bar.
std::string OnFirstBar(const std::string& body) {
  return "function on_bar(b)\n" + body + "\nend\n";
}

// The run failed on `cause` at `line` of the first bar, and says so in its message; `what` (when
// given) is named in the message too.
void ExpectFailure(const ScriptRun& run, const std::string& cause, const std::string& line,
                   const std::string& what = "") {
  ASSERT_FALSE(run.result.ok()) << "the run should fail on " << cause;
  const Error& e = run.result.error();
  EXPECT_EQ(e.code, ErrorCode::kRunFailed);
  EXPECT_EQ(e.details.at("cause"), cause) << e.ToString();
  EXPECT_EQ(e.details.at("line"), line) << e.ToString();
  EXPECT_EQ(e.details.at("time"), "2020-01-01T00:00:00Z") << e.ToString();
  EXPECT_NE(e.msg.find("test.lua:" + line + " at bar 2020-01-01T00:00:00Z"), std::string::npos)
      << e.msg;
  if (!what.empty()) {
    EXPECT_NE(e.msg.find(what), std::string::npos) << e.msg;
  }
}

void ExpectInstructionsRefused(const ScriptRun& run, const std::string& line,
                               const std::string& function) {
  ExpectFailure(run, "instructions", line, "instructions budget exceeded");
  if (!run.result.ok()) {
    EXPECT_NE(run.result.error().msg.find(function + " would need"), std::string::npos)
        << run.result.error().msg;
  }
}

// ---- Work inside the C libraries -----------------------------------------------------------

TEST(ScriptCWork, BacktrackingPatternIsRefusedBeforeItRuns) {
  // Each 'a-' multiplies the matcher's backtracking by the subject's length: about 20000^9 steps.
  ExpectInstructionsRefused(RunScript(OnFirstBar("  local s = string.rep('a', 20000)\n"
                                                 "  string.find(s, string.rep('a-', 8) .. 'b')")),
                            "3", "string.find");
  ExpectInstructionsRefused(RunScript(OnFirstBar("  local s = string.rep('a', 20000)\n"
                                                 "  for x in s:gmatch('a-a-a-a-a-a-b') do end")),
                            "3", "string.gmatch");
  ExpectInstructionsRefused(RunScript(OnFirstBar("  local s = string.rep('a', 20000)\n"
                                                 "  s:gsub('a*a*a*a*a*a*b', 'x')")),
                            "3", "string.gsub");
  ExpectInstructionsRefused(
      RunScript(OnFirstBar("  local s = string.rep('a', 20000)\n"
                           "  pcall(string.match, s, '(a*)(a*)(a*)(a*)(a*)(a*)%1b')")),
      "3", "string.match");
  // A number is a pattern too ('e+' backtracks), and a very long pattern has no bound.
  ExpectInstructionsRefused(
      RunScript(OnFirstBar("  local s = string.rep('1e', 30000) .. string.rep('e', 30000)\n"
                           "  s:gsub(1e+20, '')")),
      "3", "string.gsub");
  ExpectInstructionsRefused(RunScript(OnFirstBar("  ('x'):find(string.rep('%a', 5000))")), "2",
                            "string.find");
}

TEST(ScriptCWork, EmptyRepLoopIsRefused) {
  // string.rep loops n times even when every copy is empty.
  ExpectInstructionsRefused(RunScript(OnFirstBar("  local s = string.rep('', math.maxinteger)")),
                            "2", "string.rep");
  ExpectInstructionsRefused(
      RunScript(OnFirstBar("  local s = ('x'):sub(2):rep(math.maxinteger, '')")), "2",
      "string.rep");
}

TEST(ScriptCWork, TableLoopsAreRefused) {
  ExpectInstructionsRefused(RunScript(OnFirstBar("  table.move({}, 1, math.maxinteger, 1)")), "2",
                            "table.move");
  // An __index that is a C function gives every index a value without running an instruction.
  ExpectInstructionsRefused(
      RunScript(OnFirstBar("  local t = setmetatable({}, {__index = table.concat})\n"
                           "  table.concat(t, '', 1, math.maxinteger)")),
      "3", "table.concat");
  // A __len that is a C function makes #t anything.
  const std::string huge_len =
      "  local t = {}\n  t[t] = math.maxinteger - 1\n  setmetatable(t, {__len = rawget})\n";
  ExpectInstructionsRefused(RunScript(OnFirstBar(huge_len + "  table.insert(t, 1, 0)")), "5",
                            "table.insert");
  ExpectInstructionsRefused(RunScript(OnFirstBar(huge_len + "  table.remove(t, 1)")), "5",
                            "table.remove");
  ExpectInstructionsRefused(
      RunScript(OnFirstBar("  local t = {}\n  t[t] = 2000000000\n"
                           "  setmetatable(t, {__len = rawget, __index = rawlen})\n"
                           "  table.sort(t)")),
      "5", "table.sort");
}

TEST(ScriptCWork, LinearWorkOnABigStringIsCharged) {
  // Each call walks 4 MiB in one VM instruction: uncharged, 40M instructions would be hours of
  // such calls; charged, the budget runs out after a few.
  ScriptBudgets b = Small();
  b.instructions = 40'000'000;
  b.memory_bytes = 64u << 20;
  for (const char* call :
       {"s:find('b', 1, true)", "s:find('aab', 1, true)", "s:upper()", "s:find('b')", "utf8.len(s)",
        "s:byte(1, 100000)", "s:reverse()", "s:match('^a*$')", "s:sub(2)", "rawequal(s, s:sub(1))",
        "string.format('%q', s)", "tonumber(s)"}) {
    ExpectFailure(RunScript(OnFirstBar("  local s = string.rep('a', 4 << 20)\n"
                                       "  while true do local x = " +
                                       std::string(call) + " end"),
                            b),
                  "instructions", "3", "instructions budget exceeded");
  }
}

TEST(ScriptCWork, Utf8CodesStepsAreCharged) {
  // One step of utf8.codes' iterator skips every continuation byte after its position: called
  // again and again from the same place, each call walks 4 MiB.
  ScriptBudgets b = Small();
  b.instructions = 40'000'000;
  b.memory_bytes = 64u << 20;
  ExpectInstructionsRefused(RunScript(OnFirstBar("  local s = 'a' .. string.rep('\\x80', 4 << 20)\n"
                                                 "  local step = utf8.codes('a')\n"
                                                 "  while true do pcall(step, s, 1) end"),
                                      b),
                            "4", "utf8.codes");
}

TEST(ScriptCWork, BigBlocksAreCharged) {
  // A concatenation copies both strings in one instruction; so does gsub building its result from a
  // function's return values. Each 8 MiB block costs 512K instructions: the budget runs out after
  // some, where uncharged it would take hours of copying.
  ScriptBudgets b = Small();
  b.instructions = 10'000'000;
  b.memory_bytes = 64u << 20;
  for (const char* work :
       {"local x = s .. s", "local x = ('ab'):gsub('.', function() return s end)",
        "local x = string.format('%s%s', s, s)"}) {
    ExpectFailure(RunScript(OnFirstBar("  local s = string.rep('a', 4 << 20)\n"
                                       "  while true do " +
                                       std::string(work) + " end"),
                            b),
                  "instructions", "3", "instructions budget exceeded");
  }
}

TEST(ScriptCWork, ChargedWorkReadsTheWallClock) {
  // With no wall time at all, the first clock reading fails the run. The script runs few VM
  // instructions (the hook reads the clock only every 16 000): only the charged work reads it.
  ScriptBudgets b;
  b.wall_seconds = 0;
  ExpectFailure(RunScript(OnFirstBar("  local s = string.rep('a', 100000)\n"
                                     "  for i = 1, 100 do s:upper() end\n  error('not stopped')"),
                          b),
                "wall_time", "2", "wall_time budget exceeded");
}

TEST(ScriptCWork, OrdinaryStringWorkFitsASmallBudget) {
  // What strategies do with strings stays cheap: the estimates are not the worst pattern's (a
  // quadratic estimate for '%s+' on these 30 000 bytes would be about 10^9 a call).
  ScriptBudgets ordinary = Small();
  ordinary.instructions = 100'000'000;
  ScriptRun run = RunScript(
      "local csv = string.rep('12.5,13.25,abc,', 2000)\n"
      "function on_bar(b)\n"
      "  local n = 0\n"
      "  for field in csv:gmatch('[^,]+') do n = n + 1 end\n"
      "  local squeezed = csv:gsub('%s+', ' ')\n"
      "  local first = csv:match('^(%d+)')\n"
      "  local at = csv:find('abc', 1, true)\n"
      "  local x = string.format('%s %d %.2f', first, n, b.close) .. csv:sub(1, 10):upper()\n"
      "  local t = {}\n  for i = 1, 100 do t[i] = 100 - i end\n  table.sort(t)\n"
      "  if b.last then log(n, first, at, #squeezed, t[1]) end\n"
      "end\n",
      ordinary, 20);
  ASSERT_TRUE(run.result.ok()) << run.result.error().ToString();
  ASSERT_EQ(run.output.logs.size(), 1u);
  EXPECT_EQ(run.output.logs[0].msg, "6000 12 12 30000 0");
}

TEST(ScriptCWork, PatternEstimates) {
  using sandbox::PatternFindCost;
  using sandbox::PatternGlobalCost;
  const double n = 10000;
  // Linear: a class run, an anchored capture, a literal, a lazy tail.
  EXPECT_LT(PatternFindCost("%d+", 3, n), 10 * n);
  EXPECT_LT(PatternFindCost("^(%d+)", 6, n), 10 * n);
  EXPECT_LT(PatternFindCost("abc", 3, n), 10 * n);
  EXPECT_LT(PatternGlobalCost("%s+", 3, n, 1e18), 10 * n);
  EXPECT_LT(PatternGlobalCost("[^,]+", 5, n, 1e18), 20 * n);
  // Quantifiers over disjoint classes backtrack only where the runs meet.
  EXPECT_LT(PatternFindCost("^(%d+)%s*(%a+)", 14, n), 50 * n);
  EXPECT_LT(PatternFindCost("(%d+)%s*(%a+)", 13, n), 20 * n * n);
  EXPECT_LT(PatternFindCost("^[%w_]+=[^;]*;", 14, n), 50 * n);
  // Backtracking: quadratic and worse.
  EXPECT_GT(PatternFindCost("a*a*a*b", 7, n), n * n * n);
  EXPECT_GT(PatternFindCost("^%d*%d*x", 8, n), n * n);
  EXPECT_GT(PatternFindCost("a.*b", 4, n), n * n);
  EXPECT_GT(PatternFindCost("a-a-b", 5, n), n * n * n);
  EXPECT_GT(PatternFindCost("%b()x", 5, n), n * n);
}

// ---- Recursion -----------------------------------------------------------------------------

TEST(ScriptRecursion, EveryUnboundedRecursionHasOneCause) {
  for (const std::string& script : {
           // Lua calls, small frames, which the memory budget would stop only much later.
           std::string("local function f(n)\n  return f(n + 1) + 1\nend\n"),
           // Big frames: Lua's own stack limit comes first.
           std::string("local function f(n)\n  local a, b, c, d, e, f1, g, h, i, j, k, l, m, o, p, "
                       "q, r, s, t, u, v, w, x, y, z = n, n, n, n, n, n, n, n, n, n, n, n, n, n, "
                       "n, n, n, n, n, n, n, n, n, n, n return f(n + 1) + a end\n\n"),
           // Through a metamethod: C calls, Lua's C stack limit.
           std::string("local t = setmetatable({}, {__index = function(t, k)\n  return t[k + 1] "
                       "end})\nlocal function f(n) return t[n] end\n"),
       }) {
    ScriptRun run = RunScript(script + "function on_bar(b)\n  f(1)\nend\n", Small());
    ASSERT_FALSE(run.result.ok()) << script;
    const Error& e = run.result.error();
    EXPECT_EQ(e.details.at("cause"), "recursion") << e.ToString();
    EXPECT_EQ(e.details.at("line"), "2") << e.ToString();
    EXPECT_EQ(e.details.at("time"), "2020-01-01T00:00:00Z");
    EXPECT_NE(e.msg.find("recursion too deep"), std::string::npos) << e.msg;
    EXPECT_NE(e.msg.find("or use a loop"), std::string::npos) << e.msg;
  }
}

TEST(ScriptRecursion, CaughtRecursionStillFailsTheRun) {
  ScriptRun run = RunScript(
      "local function f(n) return f(n + 1) + 1 end\n"
      "function on_bar(b)\n  pcall(f, 1)\nend\n",
      Small());
  ASSERT_FALSE(run.result.ok());
  EXPECT_EQ(run.result.error().details.at("cause"), "recursion");
}

TEST(ScriptRecursion, DeepButBoundedRecursionRuns) {
  ScriptRun run = RunScript(
      "local function depth(n) if n == 0 then return 0 end return 1 + depth(n - 1) end\n"
      "function on_bar(b) if b.last then log(depth(4000)) end end\n",
      Small());
  ASSERT_TRUE(run.result.ok()) << run.result.error().ToString();
  EXPECT_EQ(run.output.logs.at(0).msg, "4000");
}

// ---- Escapes -------------------------------------------------------------------------------

// The names of the files in dir.
std::vector<std::string> Files(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  return out;
}

// The threads of this process, and the children of all of them.
size_t ThreadCount() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/task")) ++n;
  return n;
}
std::string Children() {
  std::string all;
  for (const auto& e : fs::directory_iterator("/proc/self/task")) {
    std::ifstream in(e.path() / "children");
    std::string line;
    std::getline(in, line);
    all += line;
  }
  return all;
}

TEST(ScriptEscape, NoFileIsTouchedAndNoProcessStarted) {
  const fs::path dir =
      fs::temp_directory_path() / ("tapedeck_sandbox_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "secret.txt") << "secret\n";
  const fs::path old = fs::current_path();
  fs::current_path(dir);
  const size_t threads = ThreadCount();
  const std::string children = Children();
  // Every attempt runs in a pcall: with the protection gone it would succeed and leave a trace
  // (a file written, a child started) or log what it read.
  const char* attempts[] = {
      "io.open('written.txt', 'w'):write('x')",
      "io.output('written.txt'); io.write('x')",
      "log(io.open('secret.txt'):read('a'))",
      "log(io.lines('secret.txt')())",
      "io.popen('touch popen.txt')",
      "os.execute('touch executed.txt')",
      "os.remove('secret.txt')",
      "os.rename('secret.txt', 'moved.txt')",
      "log(os.getenv('HOME'))",
      "log(os.tmpname())",
      "require('io').open('written.txt', 'w'):write('x')",
      "package.loadlib('libc.so.6', 'system')('touch loadlib.txt')",
      "dofile('secret.txt')",
      "loadfile('secret.txt')()",
      "load('io.open(\"written.txt\", \"w\")')()",
      "loadstring('return 1')()",
      "debug.getregistry()._LOADED.io.open('written.txt', 'w')",
      "log(debug.getinfo(1).source)",
      "string.dump(on_bar)",
      "_G.io.open('written.txt', 'w')",
      "_ENV['os'].execute('touch executed.txt')",
      "rawget(_G, 'io').open('written.txt', 'w')",
      "getmetatable('').__index.dump(on_bar)",
      "collectgarbage('stop')",
      "coroutine.wrap(function() os.execute('touch co.txt') end)()",
  };
  for (const char* attempt : attempts) {
    const std::string src = std::string("function on_bar(b)\n  if b.index == 0 then\n") +
                            "    local ok, err = pcall(function() " + attempt +
                            " end)\n    log(ok)\n  end\nend\n";
    ScriptRun run = RunScript(src);
    ASSERT_TRUE(run.result.ok()) << attempt << ": " << run.result.error().ToString();
    EXPECT_EQ(run.output.logs.size(), 1u) << attempt;
    if (!run.output.logs.empty()) {
      EXPECT_EQ(run.output.logs[0].msg, "false") << attempt;
    }
  }
  EXPECT_EQ(Files(dir), std::vector<std::string>{"secret.txt"});
  EXPECT_EQ(ThreadCount(), threads);
  EXPECT_EQ(Children(), children);
  fs::current_path(old);
  fs::remove_all(dir);
}

TEST(ScriptEscape, CollectGarbageCanOnlyCount) {
  for (const char* opt : {"collect", "stop", "restart", "step", "incremental", "generational",
                          "isrunning", "setpause", "setstepmul"}) {
    ScriptRun run = RunScript(OnFirstBar(std::string("  collectgarbage('") + opt + "')"));
    ASSERT_FALSE(run.result.ok()) << opt;
    EXPECT_NE(run.result.error().msg.find("only \"count\""), std::string::npos) << opt;
  }
  ScriptRun run = RunScript(OnFirstBar("  log(collectgarbage('count') > 0, collectgarbage() > 0)"));
  ASSERT_TRUE(run.result.ok());
  EXPECT_EQ(run.output.logs.at(0).msg, "true true");
}

TEST(ScriptEscape, EnvAndMetatableTricksReachNothing) {
  // Each expression would give a function that reaches outside if the library were reachable.
  for (const char* expr : {
           "(function() local _ENV = setmetatable({}, {__index = _G}) return io end)()",
           "select(2, pcall(getmetatable, 'x')) and getmetatable('x').__index",
           "rawget(string, 'dump')",
           "('x').dump",
           "setmetatable({}, {__index = _G}).load",
           "coroutine.running and _G.package",
       }) {
    ScriptRun run = RunScript(OnFirstBar(std::string("  log(type(") + expr + "))"));
    ASSERT_TRUE(run.result.ok()) << expr << ": " << run.result.error().ToString();
    EXPECT_NE(run.output.logs.at(0).msg, "function") << expr;
    EXPECT_NE(run.output.logs.at(0).msg, "table") << expr;
  }
  // The strings' metatable can be neither read nor replaced.
  for (const char* attempt : {"getmetatable('').__index = {}", "setmetatable('', {})",
                              "rawset(getmetatable(''), '__index', {})"}) {
    ScriptRun run = RunScript(OnFirstBar(std::string("  ") + attempt));
    EXPECT_FALSE(run.result.ok()) << attempt;
  }
}

TEST(ScriptRepeatable, PairsVisitsKeysInTheSameOrderInEveryRun) {
  // Lua's own pairs follows hash order, seeded afresh for every state: with 200 string keys two
  // states practically never agree. The sandbox's pairs is sorted: numbers, strings, booleans.
  const std::string script = OnFirstBar(
      "  if b.index > 0 then return end\n"
      "  local t = {[true] = 1, [false] = 1, [2.5] = 1, [-3] = 1, [10] = 1, ab = 1, a = 1, b = 1}\n"
      "  for i = 1, 200 do t['k' .. i] = i end\n"
      "  t.k7 = nil\n"
      "  local seen = {}\n"
      "  for k, v in pairs(t) do\n"
      "    if k == 'a' then t.b = nil end  -- removed while iterating: not visited\n"
      "    seen[#seen + 1] = tostring(k)\n"
      "  end\n"
      "  log(table.concat(seen, ' '))");
  const ScriptRun first = RunScript(script);
  ASSERT_TRUE(first.result.ok()) << first.result.error().ToString();
  ASSERT_EQ(first.output.logs.size(), 1u);
  const std::string& order = first.output.logs[0].msg;
  EXPECT_TRUE(order.starts_with("-3 2.5 10 a ab k1 k10 k100 k101 ")) << order;
  EXPECT_TRUE(order.ends_with(" k98 k99 false true")) << order;
  EXPECT_EQ(order.find(" b "), std::string::npos) << order;
  EXPECT_EQ(order.find(" k7 "), std::string::npos) << order;
  for (int run = 0; run < 5; ++run) {
    const ScriptRun again = RunScript(script);
    ASSERT_TRUE(again.result.ok());
    EXPECT_EQ(again.output.logs.at(0).msg, order);
  }
  // __pairs is honoured (the bar's fields, in their documented order).
  const ScriptRun bar =
      RunScript(OnFirstBar("  if b.index > 0 then return end\n"
                           "  local names = {}\n"
                           "  for k in pairs(b) do names[#names + 1] = k end\n"
                           "  log(table.concat(names, ' '))"));
  ASSERT_TRUE(bar.result.ok()) << bar.result.error().ToString();
  EXPECT_EQ(bar.output.logs.at(0).msg, "time index open high low close volume last");
}

TEST(ScriptEscape, InterleavedRunsSeeOnlyTheirOwnState) {
  // Two strategies alive at once, one run after the other: neither sees the other's globals,
  // patches or indicator state.
  const std::string a =
      "function on_bar(b) string.upper = nil; shared = 'a'; if b.last then log(type(other)) end "
      "end\n";
  const std::string b =
      "other = 1\nfunction on_bar(b) if b.last then log(shared, type(string.upper)) end end\n";
  auto sa = MakeScriptStrategy(a, "a.lua", {});
  auto sb = MakeScriptStrategy(b, "b.lua", {});
  ASSERT_TRUE(sa.ok() && sb.ok());
  const market::Series series = testutil::ToSeries(testutil::FromCloses({1, 2, 3}));
  auto ra = engine::Run(std::span<const market::Series>(&series, 1), **sa, {});
  auto rb = engine::Run(std::span<const market::Series>(&series, 1), **sb, {});
  ASSERT_TRUE(ra.ok() && rb.ok());
  ASSERT_FALSE(ra->logs.empty());
  ASSERT_FALSE(rb->logs.empty());
  EXPECT_EQ(ra->logs.back().msg, "nil");
  EXPECT_EQ(rb->logs.back().msg, "nil function");
}

// ---- Memory ------------------------------------------------------------------------------

TEST(ScriptMemory, DoublingStringIsStoppedByTheMemoryBudget) {
  ExpectFailure(RunScript(OnFirstBar("  local s = 'x'\n  while true do s = s .. s end"), Small()),
                "memory", "3", "memory budget exceeded");
}

TEST(ScriptMemory, SmallBlocksFreedIntoOneSizeStillCountAgainstTheBudget) {
  // Each round holds about 6 MiB of small strings of one size, then drops them. The heap keeps
  // freed small blocks for blocks of their own size, so round after round of new sizes holds more
  // and more memory from the system although little is live: the budget counts it (without that,
  // these rounds finish holding about 80 MiB under a 32 MiB budget).
  ScriptBudgets budgets;
  budgets.instructions = 1'000'000'000;
  budgets.memory_bytes = 32u << 20;
  const std::string rounds =
      "  for len = 1, 224, 16 do\n"
      "    local t = {}\n"
      "    for i = 1, 6 * 2^20 // (len + 40) do t[i] = string.rep('x', len) .. i end\n"
      "  end";
  ExpectFailure(RunScript(OnFirstBar(rounds), budgets, 1), "memory", "4", "memory budget exceeded");
  // The same work in one size reuses its blocks and fits.
  const std::string one_size =
      "  for round = 1, 14 do\n"
      "    local t = {}\n"
      "    for i = 1, 6 * 2^20 // 56 do t[i] = string.rep('x', 16) .. i end\n"
      "  end";
  const ScriptRun run = RunScript(OnFirstBar(one_size), budgets, 1);
  EXPECT_TRUE(run.result.ok()) << run.result.error().ToString();
}

TEST(ScriptMemory, BigConcatIsStoppedByTheMemoryBudget) {
  ScriptBudgets big = Small();
  big.instructions = 100'000'000;
  ExpectFailure(
      RunScript(
          OnFirstBar("  local t = {}\n  for i = 1, 40 do t[i] = string.rep('x', 1 << 17) end\n"
                     "  local s = table.concat(t, '', 1, 40)"),
          big),
      "memory", "4", "memory budget exceeded");
}

}  // namespace
}  // namespace tapedeck::strategies
