"""Black-box tests of the tapedeck binary's command line: real processes, real files."""
import csv
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.request

BIN = os.environ.get("TAPEDECK_BIN", "build/tapedeck")
SRC = os.environ.get("TAPEDECK_SOURCE_DIR", ".")
SAMPLE = os.path.join(SRC, "node_modules/vega-datasets/data/sp500-2000.csv")


def run(*args, **kw):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=120, **kw)


def sma_cross_reference(rows, fast, slow, cash, commission, slippage):
    """An independent sma_cross (issue 2's pinned rules), naive means, for cross-checking."""
    opens = [r[0] for r in rows]
    closes = [r[1] for r in rows]
    qty = 0.0
    fills = 0
    pending = None
    for t in range(len(rows)):
        if pending == "buy":
            px = opens[t] * (1 + slippage)
            qty = cash / (px * (1 + commission))
            cash -= px * qty + commission * px * qty
            fills += 1
        elif pending == "sell":
            px = opens[t] * (1 - slippage)
            cash += px * qty - commission * px * qty
            qty = 0.0
            fills += 1
        pending = None
        if t >= slow - 1 and t != len(rows) - 1:
            a = sum(closes[t - fast + 1:t + 1]) / fast
            b = sum(closes[t - slow + 1:t + 1]) / slow
            want = a - b > 1e-10 * abs(b)
            if want and qty == 0:
                pending = "buy"
            elif not want and qty > 0:
                pending = "sell"
    return fills, cash + qty * closes[-1]


class CliTest(unittest.TestCase):
    def test_sample_backtests_the_bundled_sample(self):
        r = run("sample")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("sma_cross", r.stdout)
        self.assertIn("bars", r.stdout)
        self.assertIn("5105", r.stdout)
        self.assertIn("max drawdown", r.stdout)

    def test_json_report_matches_an_independent_sma_cross(self):
        r = run("backtest", "--csv", SAMPLE, "--strategy", "sma_cross", "--param", "fast=10",
                "--param", "slow=30", "--commission", "0.001", "--slippage", "0.0005", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        report = json.loads(r.stdout)
        for key in ("bars", "fills", "trades", "final_equity", "total_return", "max_drawdown",
                    "sharpe"):
            self.assertIn(key, report)
        with open(SAMPLE) as f:
            rows = [(float(x["open"]), float(x["close"])) for x in csv.DictReader(f)]
        fills, final = sma_cross_reference(rows, 10, 30, 100000.0, 0.001, 0.0005)
        self.assertEqual(report["bars"], len(rows))
        self.assertEqual(report["fills"], fills)
        self.assertAlmostEqual(report["final_equity"], final, delta=1e-6 * final)
        self.assertAlmostEqual(report["total_return"], final / 100000.0 - 1, places=9)

    def test_gen_is_deterministic_and_backtestable(self):
        with tempfile.TemporaryDirectory() as d:
            a, b = os.path.join(d, "a.csv"), os.path.join(d, "b.csv")
            self.assertEqual(run("gen", "--bars", "5000", "--seed", "7", "--out", a).returncode, 0)
            self.assertEqual(run("gen", "--bars", "5000", "--seed", "7", "--out", b).returncode, 0)
            with open(a) as fa, open(b) as fb:
                self.assertEqual(fa.read(), fb.read())
            r = run("backtest", "--csv", a, "--strategy", "ema_cross", "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout)["bars"], 5000)

    def test_rotation_over_two_csvs_trades_both_and_reports_each(self):
        script = os.path.join(SRC, "examples/strategies/rotation.lua")
        with tempfile.TemporaryDirectory() as d:
            a, b = os.path.join(d, "alpha.csv"), os.path.join(d, "beta.csv")
            self.assertEqual(run("gen", "--bars", "3000", "--seed", "11", "--out", a).returncode, 0)
            self.assertEqual(run("gen", "--bars", "3000", "--seed", "12", "--out", b).returncode, 0)
            # Symbols from the file names.
            r = run("backtest", "--csv", a, "--csv", b, "--script", script, "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            report = json.loads(r.stdout)
            self.assertEqual(report["symbols"], ["ALPHA", "BETA"])
            self.assertEqual(report["symbol"], "ALPHA")
            by = report["by_symbol"]
            self.assertEqual(set(by), {"ALPHA", "BETA"})
            self.assertGreater(by["ALPHA"]["trades"], 0, by)
            self.assertGreater(by["BETA"]["trades"], 0, by)
            self.assertEqual(by["ALPHA"]["trades"] + by["BETA"]["trades"], report["trades"])
            # Named with --symbol, in order; the text report lists the trades of each.
            r = run("backtest", "--csv", a, "--symbol", "X", "--csv", b, "--symbol", "Y",
                    "--script", script)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("on X, Y", r.stdout)
            self.assertIn("trades per symbol", r.stdout)
            self.assertRegex(r.stdout, r"\n  X +%d trades, " % by["ALPHA"]["trades"])
            self.assertRegex(r.stdout, r"\n  Y +%d trades, " % by["BETA"]["trades"])
            # A built-in trades the first symbol only.
            r = run("backtest", "--csv", b, "--csv", a, "--strategy", "buy_and_hold", "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            by = json.loads(r.stdout)["by_symbol"]
            self.assertEqual((by["BETA"]["trades"], by["ALPHA"]["trades"]), (1, 0))
            # The same symbol twice, or more --symbol than --csv, is refused.
            r = run("backtest", "--csv", a, "--csv", a, "--strategy", "buy_and_hold")
            self.assertEqual(r.returncode, 2)
            self.assertIn("ALPHA", r.stderr)
            r = run("backtest", "--csv", a, "--symbol", "X", "--symbol", "Y",
                    "--strategy", "buy_and_hold")
            self.assertEqual(r.returncode, 2)
            self.assertIn("--symbol", r.stderr)

    def test_lua_sma_cross_matches_the_builtin(self):
        script = os.path.join(SRC, "examples/strategies/sma_cross.lua")
        with tempfile.TemporaryDirectory() as d:
            minutes = os.path.join(d, "minutes.csv")
            self.assertEqual(run("gen", "--bars", "20000", "--seed", "3", "--out", minutes).returncode, 0)
            for csv_path, params in ((SAMPLE, []), (SAMPLE, ["--param", "fast=5", "--param", "slow=20"]),
                                     (minutes, []), (minutes, ["--param", "fast=3", "--param", "slow=50"])):
                a = run("backtest", "--csv", csv_path, "--script", script, "--json", *params)
                b = run("backtest", "--csv", csv_path, "--strategy", "sma_cross", "--json", *params)
                self.assertEqual(a.returncode, 0, a.stderr)
                self.assertEqual(b.returncode, 0, b.stderr)
                ja, jb = json.loads(a.stdout), json.loads(b.stdout)
                self.assertEqual(ja.pop("strategy"), "sma_cross.lua")
                jb.pop("strategy")
                self.assertGreater(ja["fills"], 10)
                self.assertEqual(ja, jb)  # fills, trades, final equity and every statistic

    def test_check_prints_the_schema_or_file_line_msg(self):
        r = run("check", os.path.join(SRC, "examples/strategies/sma_cross.lua"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("--param fast=10", r.stdout)
        self.assertIn("--param slow=30", r.stdout)
        with tempfile.TemporaryDirectory() as d:
            bad = os.path.join(d, "bad.lua")
            with open(bad, "w") as f:
                f.write("params = {}\nfunction on_bar(bar)\n  local x = = 1\nend\n")
            r = run("check", bad)
            self.assertNotEqual(r.returncode, 0)
            self.assertTrue(r.stderr.startswith(bad + ":3: "), r.stderr)
            loop = os.path.join(d, "loop.lua")
            with open(loop, "w") as f:
                f.write("function on_bar(bar)\n  if bar.index == 2 then error('boom') end\nend\n")
            r = run("backtest", "--csv", SAMPLE, "--script", loop)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("RUN_FAILED", r.stderr)
            self.assertIn("loop.lua:2", r.stderr)
            self.assertIn("boom", r.stderr)

    def test_check_and_backtest_take_the_script_budgets(self):
        with tempfile.TemporaryDirectory() as d:
            heavy = os.path.join(d, "heavy.lua")
            with open(heavy, "w") as f:
                # A top level of about 3 million instructions, then a 20 MiB string at bar 0.
                f.write("params = {}\nlocal n = 0\nfor i = 1, 1000000 do n = n + i end\n"
                        "function on_bar(bar)\n"
                        "  if bar.index == 0 then local s = string.rep('x', 20 << 20) end\nend\n")
            self.assertEqual(run("check", heavy).returncode, 0)
            r = run("check", "--script-instructions", "100000", heavy)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertTrue(r.stderr.startswith(heavy + ":3: "), r.stderr)
            self.assertIn("instructions budget exceeded (100000)", r.stderr)
            self.assertEqual(run("check", "--script-instructions=5000000", heavy).returncode, 0)
            # The default 64 MiB holds a 20 MiB string; 8 MiB does not.
            r = run("backtest", "--csv", SAMPLE, "--script", heavy, "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            r = run("backtest", "--csv", SAMPLE, "--script", heavy, "--script-memory", "8")
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("heavy.lua:5 at bar 2000-01-03T00:00:00Z: memory budget exceeded "
                          f"({8 << 20} bytes)", r.stderr)
            loop = os.path.join(d, "loop.lua")
            with open(loop, "w") as f:
                f.write("function on_bar(bar)\n  while true do end\nend\n")
            started = time.monotonic()
            r = run("backtest", "--csv", SAMPLE, "--script", loop, "--script-seconds", "0.5")
            self.assertLess(time.monotonic() - started, 10)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("loop.lua:2", r.stderr)
            self.assertIn("budget exceeded", r.stderr)
            for args, option in [(["check", "--script-memory", "0", heavy], "--script-memory"),
                                 (["check", "--script-seconds", "soon", heavy], "--script-seconds"),
                                 (["check", "--script-instructions", "-5", heavy],
                                  "--script-instructions"),
                                 (["check", "--script-colour", "1", heavy], "--script-colour"),
                                 (["backtest", "--csv", SAMPLE, "--script", heavy,
                                   "--script-memory", "lots"], "--script-memory"),
                                 (["serve", "--script-instructions", "12"],
                                  "--script-instructions")]:
                r = run(*args)
                self.assertEqual(r.returncode, 2, (args, r.stderr))
                self.assertIn(option, r.stderr, args)
        r = run("serve", "--help")
        for option in ("--script-instructions N", "--script-memory MiB", "--script-seconds S"):
            self.assertIn(option, r.stdout)

    def test_bad_row_names_file_line_and_column_and_exits_nonzero(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "prices.csv")
            with open(path, "w") as f:
                f.write("time,open,high,low,close,volume\n")
                f.write("2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n")
                f.write("2024-01-01T00:01:00Z,1,abc,0.5,1.5,10\n")
            r = run("backtest", "--csv", path, "--strategy", "sma_cross")
            self.assertNotEqual(r.returncode, 0)
            self.assertEqual(r.stdout, "")
            self.assertIn("prices.csv:3:3", r.stderr)
            self.assertIn("VALIDATION", r.stderr)

    def test_usage_errors_name_what_was_wrong(self):
        r = run("backtest", "--csv", SAMPLE, "--strategy", "nope")
        self.assertEqual(r.returncode, 2)
        self.assertIn("nope", r.stderr)
        r = run("backtest", "--csv", SAMPLE, "--strategy", "sma_cross", "--param", "fast=50",
                "--param", "slow=20")
        self.assertEqual(r.returncode, 2)
        self.assertIn("fast", r.stderr)
        r = run("backtest", "--csv", SAMPLE, "--strategy", "sma_cross", "--cash", "lots")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--cash", r.stderr)
        r = run("backtest", "--bogus")
        self.assertEqual(r.returncode, 2)
        self.assertIn("bogus", r.stderr)
        r = run("backtest", "--csv", "/nonexistent/file.csv", "--strategy", "sma_cross")
        self.assertEqual(r.returncode, 1)
        self.assertIn("/nonexistent/file.csv", r.stderr)

    def test_strategies_lists_all_builtins_with_schemas(self):
        r = run("strategies", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        names = {s["name"] for s in json.loads(r.stdout)}
        self.assertEqual(names, {"sma_cross", "ema_cross", "rsi_reversion", "bollinger_breakout",
                                 "donchian_breakout", "macd", "buy_and_hold"})
        sma = next(s for s in json.loads(r.stdout) if s["name"] == "sma_cross")
        self.assertEqual({p["name"]: p["default"] for p in sma["params"]}, {"fast": 10, "slow": 30})


    def test_options_without_a_command_are_serves(self):
        """`tapedeck --port P` is `tapedeck serve --port P`; `tapedeck --help` stays the overview."""
        r = run("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("commands:", r.stdout)
        r = run("--port", "nope")
        self.assertEqual(r.returncode, 2)
        self.assertIn("tapedeck serve:", r.stderr)
        self.assertIn("port", r.stderr)
        with tempfile.TemporaryDirectory() as d:
            proc = subprocess.Popen([BIN, "--port", "0", "--db", os.path.join(d, "t.db"),
                                     "--synthetic-run", "demo:100"],
                                    cwd=d, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)
            try:
                line = proc.stdout.readline()
                m = re.search(r"listening on http://([^:]+):(\d+)", line)
                self.assertTrue(m, line + proc.stderr.read() if not line else line)
                with urllib.request.urlopen(f"http://127.0.0.1:{m.group(2)}/healthz",
                                            timeout=10) as resp:
                    self.assertEqual(resp.status, 200)
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.communicate(timeout=30)
            self.assertEqual(proc.returncode, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
