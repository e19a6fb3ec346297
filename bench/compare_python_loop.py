#!/usr/bin/env python3
"""Whole-process `tapedeck backtest --csv F --script examples/strategies/sma_cross.lua` against a
pure-Python per-bar loop of the same strategy written the way backtesting.py and backtrader run one:
a Strategy class whose next() is called once per bar, reading the current bar from an object the
framework fills in, with its own rolling SMA and its own broker (market orders fill at the next
bar's open, all cash in / whole position out). Both are measured in one run, on the same file.

usage: bench/compare_python_loop.py [--bin build/tapedeck] [--bars 525600] [--repeat 5] [--csv F]
                                     [--no-verify]

Reports, as medians over --repeat runs (alternated), wall and CPU (user + system) time:
  tapedeck-script   wall time of `tapedeck backtest --csv F --script sma_cross.lua --json`
  tapedeck-builtin  the same with --strategy sma_cross (the built-in)
  python            wall time of `python3 -c <loop>` (interpreter start-up and CSV parsing included)
  python-loop       the time inside that process for the per-bar loop only
Checks that the Python loop and tapedeck agree: fill count, trade count, final equity, and (unless
--no-verify) the whole trade list, read from a `tapedeck serve` started for the check (GET
/backtests/{id}/trades of the built-in sma_cross, whose fills the script's equal — the summaries of
the two timed tapedeck runs are compared too).
"""
import argparse
import json
import math
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PY_LOOP = r'''
import csv, json, sys, time
from collections import deque
t_start = time.perf_counter()


class Bar:
    __slots__ = ("time", "index", "open", "high", "low", "close", "volume", "last")


class Sma:
    """tapedeck's Sma (strategies/indicators.h) operation for operation: a rolling sum re-summed
    every n updates, so the means are the same doubles."""

    def __init__(self, n):
        self.n, self.buf, self.head, self.count, self.sum = n, [0.0] * n, 0, 0, 0.0

    def __call__(self, x):
        if self.count >= self.n:
            self.sum -= self.buf[self.head]
        self.buf[self.head] = x
        self.sum += x
        if self.count < self.n:
            self.count += 1
        self.head += 1
        if self.head == self.n:
            self.head = 0
            s = 0.0
            for v in self.buf:
                s += v
            self.sum = s
        return self.sum / self.n if self.count >= self.n else None


class Broker:
    """Market orders placed at a bar's close fill at the next bar's open: a buy spends all cash,
    a sell closes the whole position (no costs: tapedeck backtest's defaults)."""

    def __init__(self, cash):
        self.cash, self.position, self.pending = cash, 0.0, []
        self.fills, self.trades, self.entry = [], [], None

    def buy(self):
        self.pending.append("buy")

    def sell(self):
        self.pending.append("sell")

    def execute(self, bar):
        for side in self.pending:
            px = bar.open
            if side == "buy":
                qty = self.cash / px
                self.cash -= px * qty
                self.position += qty
                self.entry = (bar.time, px, qty)
            else:
                qty = self.position
                self.cash += px * qty
                self.position = 0.0
                t0, px0, q0 = self.entry
                self.trades.append((t0, bar.time, q0, px0, px))
                self.entry = None
            self.fills.append((bar.index, side, px, qty))
        self.pending.clear()


class Strategy:
    def __init__(self, broker):
        self.broker = broker

    @property
    def position(self):
        return self.broker.position

    def buy(self):
        self.broker.buy()

    def sell(self):
        self.broker.sell()


class SmaCross(Strategy):
    fast, slow = 10, 30

    def init(self):
        self.f, self.s = Sma(self.fast), Sma(self.slow)

    def next(self, bar):
        f, s = self.f(bar.close), self.s(bar.close)
        if s is None or bar.last:
            return
        long = f - s > 1e-10 * abs(s)
        if long and self.position <= 0:
            self.buy()
        elif not long and self.position > 0:
            self.sell()


def run(rows):
    broker = Broker(100000.0)
    strategy = SmaCross(broker)
    strategy.init()
    equity = []
    n = len(rows)
    for i, r in enumerate(rows):
        bar = Bar()  # a fresh bar each call, as a script's
        bar.time, bar.index = r[0], i
        bar.open, bar.high, bar.low, bar.close, bar.volume = r[1], r[2], r[3], r[4], r[5]
        bar.last = i + 1 == n
        broker.execute(bar)
        strategy.next(bar)
        equity.append(broker.cash + broker.position * bar.close)
    return broker, equity


with open(sys.argv[1], newline="") as f:
    reader = csv.reader(f)
    next(reader)
    rows = [(r[0], float(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5])) for r in reader]
t0 = time.perf_counter()
broker, equity = run(rows)
t1 = time.perf_counter()
trades = list(broker.trades)
if broker.entry is not None:  # still long at the end: an open trade
    t, px, q = broker.entry
    trades.append((t, None, q, px, None))
print(json.dumps({"loop_s": t1 - t0, "fills": len(broker.fills), "trades": trades,
                  "final_equity": equity[-1]}))
'''


def timed(cmd):
    """(wall seconds, CPU seconds user + system, stdout) of one whole process."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), out.stdout


def server_trades(bin_path, csv_path):
    """The built-in sma_cross's trade list over csv_path from a real `tapedeck serve`."""
    d = tempfile.mkdtemp(prefix="tapedeck-bench-")
    proc = subprocess.Popen([bin_path, "serve", "--port", "0", "--db", os.path.join(d, "t.db")],
                            cwd=d, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        while port is None:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("server exited: " + proc.stderr.read())
            m = re.search(r"listening on http://[^:]+:(\d+)", line)
            port = int(m.group(1)) if m else None
        base = f"http://127.0.0.1:{port}"

        def call(method, path, body=None, ctype=None):
            req = urllib.request.Request(base + path, data=body, method=method,
                                         headers={"Content-Type": ctype} if ctype else {})
            with urllib.request.urlopen(req, timeout=120) as r:
                return json.loads(r.read())

        with open(csv_path, "rb") as f:
            call("POST", "/datasets?name=bench&symbol=SYN", f.read(), "text/csv")
        run = call("POST", "/backtests", json.dumps({"dataset": "bench", "strategy": "sma_cross"})
                   .encode(), "application/json")
        while call("GET", f"/backtests/{run['id']}")["status"] not in ("done", "failed"):
            time.sleep(0.1)
        return call("GET", f"/backtests/{run['id']}/trades")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(REPO, "build/tapedeck"))
    ap.add_argument("--bars", type=int, default=525600)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--csv")
    ap.add_argument("--no-verify", action="store_true")
    args = ap.parse_args()
    script = os.path.join(REPO, "examples/strategies/sma_cross.lua")
    with tempfile.TemporaryDirectory() as d:
        path = args.csv
        if path is None:
            path = os.path.join(d, "minutes.csv")
            subprocess.run([args.bin, "gen", "--bars", str(args.bars), "--seed", "1", "--out", path],
                           check=True, capture_output=True)
        cmds = {
            "tapedeck-script": [args.bin, "backtest", "--csv", path, "--script", script, "--json"],
            "tapedeck-builtin": [args.bin, "backtest", "--csv", path, "--strategy", "sma_cross",
                                 "--json"],
            "python": [sys.executable, "-c", PY_LOOP, path],
        }
        times = {k: [] for k in cmds}
        cpu = {k: [] for k in cmds}
        loop = []
        out = {}
        for _ in range(args.repeat):
            for k, cmd in cmds.items():
                t, c, out[k] = timed(cmd)
                times[k].append(t)
                cpu[k].append(c)
                if k == "python":
                    loop.append(json.loads(out[k])["loop_s"])
        script_run, builtin_run, py = (json.loads(out[k]) for k in cmds)
        # The script and the built-in: the same summary (fills, trades, equity, every statistic).
        script_run.pop("strategy")
        builtin_run.pop("strategy")
        if script_run != builtin_run:
            sys.exit("MISMATCH: the script's summary differs from the built-in's")
        if py["fills"] != script_run["fills"] or len(py["trades"]) != script_run["trades"]:
            sys.exit(f"MISMATCH: python {py['fills']} fills / {len(py['trades'])} trades, "
                     f"tapedeck {script_run['fills']} / {script_run['trades']}")
        if abs(py["final_equity"] - script_run["final_equity"]) > 1e-9 * script_run["final_equity"]:
            sys.exit(f"MISMATCH: final equity {py['final_equity']} vs {script_run['final_equity']}")
        verified = "fills, trades, final equity"
        if not args.no_verify:
            theirs = server_trades(args.bin, path)
            assert len(theirs) == len(py["trades"])
            for mine, t in zip(py["trades"], theirs):
                entry, exit_, qty, epx, xpx = mine
                # A trade's prices are quantity-weighted averages (sum px*qty / qty): equal to the
                # one fill's price to the last bits.
                ok = (t["entry_ts"] == entry and t["qty"] == qty
                      and math.isclose(t["entry_px"], epx, rel_tol=1e-12)
                      and (t["exit_ts"] == exit_ if exit_ else t["open"])
                      and (xpx is None or math.isclose(t["exit_px"], xpx, rel_tol=1e-12)))
                if not ok:
                    sys.exit(f"MISMATCH: trade {mine} vs {t}")
            verified += f", the whole trade list ({len(theirs)} trades)"
        med = {k: statistics.median(v) for k, v in times.items()}
        mcpu = {k: statistics.median(v) for k, v in cpu.items()}
        bars = script_run["bars"]
        print(f"bars {bars}, {args.repeat} runs each, medians; agree on: {verified}")
        for k in cmds:
            print(f"  {k:17s} {med[k]:8.3f} s wall {mcpu[k]:8.3f} s CPU")
        print(f"  {'python-loop':17s} {statistics.median(loop):8.3f} s "
              f"({statistics.median(loop) / bars * 1e9:.0f} ns/bar)")
        print(f"python / tapedeck-script: {med['python'] / med['tapedeck-script']:.1f}x wall, "
              f"{mcpu['python'] / mcpu['tapedeck-script']:.1f}x CPU (whole processes); "
              f"python-loop / tapedeck-script: {statistics.median(loop) / med['tapedeck-script']:.1f}x")


if __name__ == "__main__":
    main()
