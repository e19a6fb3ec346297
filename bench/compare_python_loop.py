#!/usr/bin/env python3
"""Whole-process `tapedeck backtest --csv F --script examples/strategies/sma_cross.lua` against two
pure-Python per-bar loops of the same strategy (backtrader and backtesting.py cannot be installed
here: no PyPI), both measured in one run, on the same file:

  python     a lean loop: a Strategy class whose next() is called once per bar with a fresh bar
             object, its own rolling SMA and a minimal broker (market orders fill at the next bar's
             open, all cash in / whole position out). The least a per-bar Python framework does.
  python-bt  the same strategy in backtrader's structure (no more): a data feed of line buffers
             (array('d') each, forwarded every bar, read as line[0] / line[-1]), indicator objects
             with their own output line and next() per bar, the strategy's next() only once the
             indicators' minimum period is reached, Order objects submitted to a broker that
             executes them at the next bar's open and calls notify_order (submitted, accepted,
             completed) and notify_trade (opened, closed), and an analyzer recording the account's
             value every bar. Not modelled (so this is lighter than backtrader): the CSV feed's date
             parsing, observers (cerebro's default stdstats), the line-binding metaclasses,
             commission schemes, order validity checks.

usage: bench/compare_python_loop.py [--bin build/tapedeck] [--bars 525600] [--repeat 5] [--csv F]
                                     [--no-verify]

Reports, as medians over --repeat runs (alternated), wall and CPU (user + system) time:
  tapedeck-script   wall time of `tapedeck backtest --csv F --script sma_cross.lua --json`
  tapedeck-builtin  the same with --strategy sma_cross (the built-in)
  python            wall time of `python3 -c <lean loop>` (interpreter start-up and CSV parsing
                    included; both Python programs read the CSV the same way)
  python-bt         the same for the backtrader-structured loop
  *-loop            the time inside each Python process for the per-bar loop only
Checks that each Python loop and tapedeck agree: fill count, trade count, final equity, and (unless
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


PY_BT = r'''
import csv, json, sys, time
from array import array
t_start = time.perf_counter()
NAN = float("nan")


class LineBuffer:
    """backtrader's LineBuffer (unbounded mode): an array('d') and the index of the current bar;
    forward() opens the next slot, line[0] is the current value, line[-1] the one before."""

    __slots__ = ("array", "idx")

    def __init__(self):
        self.array, self.idx = array("d"), -1

    def forward(self, value=NAN):
        self.array.append(value)
        self.idx += 1

    def __getitem__(self, ago):
        return self.array[self.idx + ago]

    def __setitem__(self, ago, value):
        self.array[self.idx + ago] = value

    def __len__(self):
        return self.idx + 1


class ObjectLineBuffer(LineBuffer):
    """A line of objects (the bar times as the CSV gives them: backtrader keeps a float here)."""

    __slots__ = ()

    def __init__(self):
        self.array, self.idx = [], -1

    def forward(self, value=None):
        self.array.append(value)
        self.idx += 1


class DataFeed:
    """A data feed: one line buffer per field, each bar loaded by forwarding them all."""

    def __init__(self, rows):
        self.rows, self.pos = rows, 0
        self.datetime = ObjectLineBuffer()
        self.open, self.high, self.low, self.close, self.volume = (LineBuffer() for _ in range(5))
        self.lines = (self.datetime, self.open, self.high, self.low, self.close, self.volume)

    def buflen(self):
        return len(self.rows)

    def __len__(self):
        return len(self.close)

    def load(self):
        if self.pos == len(self.rows):
            return False
        r = self.rows[self.pos]
        self.pos += 1
        for line, value in zip(self.lines, r):
            line.forward(value)
        return True


class Indicator:
    """An indicator: its own output line, next() per bar once its inputs exist, read as ind[0]."""

    def __init__(self, data):
        self.data, self.line = data, LineBuffer()

    def __getitem__(self, ago):
        return self.line[ago]

    def _next(self):
        self.line.forward()
        self.next()


class SMA(Indicator):
    """The mean of the last `period` closes, as tapedeck's Sma computes it (a rolling sum re-summed
    every period updates: the same doubles, so the same crossings). NaN while it warms up."""

    def __init__(self, data, period):
        super().__init__(data)
        self.period, self.buf, self.head, self.count, self.sum = period, [0.0] * period, 0, 0, 0.0

    def next(self):
        x = self.data[0]
        if self.count >= self.period:
            self.sum -= self.buf[self.head]
        self.buf[self.head] = x
        self.sum += x
        if self.count < self.period:
            self.count += 1
        self.head += 1
        if self.head == self.period:
            self.head = 0
            s = 0.0
            for v in self.buf:
                s += v
            self.sum = s
        if self.count >= self.period:
            self.line[0] = self.sum / self.period


class Order:
    Created, Submitted, Accepted, Completed = range(4)
    _ref = 0

    def __init__(self, data, size, isbuy):
        Order._ref += 1
        self.ref, self.data, self.size, self.isbuy = Order._ref, data, size, isbuy
        self.status, self.executed_price, self.executed_size, self.executed_dt = (
            Order.Created, None, 0.0, None)


class Position:
    __slots__ = ("size", "price")

    def __init__(self):
        self.size, self.price = 0.0, 0.0


class Trade:
    def __init__(self, data):
        self.data, self.size, self.price, self.isopen, self.isclosed = data, 0.0, 0.0, False, False
        self.dtopen = self.dtclose = None
        self.exit_price = None

    def update(self, order):
        if not self.isopen:
            self.isopen, self.size, self.price, self.dtopen = (
                True, order.executed_size, order.executed_price, order.executed_dt)
        else:
            self.isopen, self.isclosed, self.dtclose, self.exit_price = (
                False, True, order.executed_dt, order.executed_price)


class Broker:
    """Orders are submitted and accepted when placed and executed by next() at the next bar's open
    (market orders; a buy of size None spends all cash), each change notified to the strategy, the
    trade it opens or closes too."""

    def __init__(self, cash):
        self.cash, self.positions, self.pending, self.trades = cash, {}, [], {}
        self.owner = None

    def getposition(self, data):
        p = self.positions.get(data)
        if p is None:
            p = self.positions[data] = Position()
        return p

    def submit(self, order):
        order.status = Order.Submitted
        self.owner._notify_order(order)
        order.status = Order.Accepted
        self.owner._notify_order(order)
        self.pending.append(order)
        return order

    def getvalue(self):
        v = self.cash
        for data, p in self.positions.items():
            v += p.size * data.close[0]
        return v

    def next(self):
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        for order in pending:
            data = order.data
            px = data.open[0]
            pos = self.getposition(data)
            if order.isbuy:
                size = self.cash / px if order.size is None else order.size
                self.cash -= px * size
                pos.size += size
                pos.price = px
            else:
                size = pos.size if order.size is None else order.size
                self.cash += px * size
                pos.size -= size
            order.executed_price, order.executed_size, order.executed_dt = (
                px, size, data.datetime[0])
            order.status = Order.Completed
            self.owner._notify_order(order)
            trade = self.trades.get(data)
            if trade is None:
                trade = self.trades[data] = Trade(data)
            trade.update(order)
            self.owner._notify_trade(trade)
            if trade.isclosed:
                del self.trades[data]


class Analyzer:
    def __init__(self, strategy):
        self.strategy = strategy

    def _next(self):
        self.next()


class Equity(Analyzer):
    """The account's value at each bar's close (a TimeReturn-like analyzer)."""

    def __init__(self, strategy):
        super().__init__(strategy)
        self.values = []

    def next(self):
        self.values.append(self.strategy.broker.getvalue())


class Strategy:
    def __init__(self, data, broker):
        self.data, self.broker = data, broker
        self.datas = [data]
        broker.owner = self
        self._indicators, self.analyzers, self.orders, self.trades = [], [], [], []
        self.minperiod = 1

    def add_indicator(self, ind, minperiod):
        self._indicators.append(ind)
        self.minperiod = max(self.minperiod, minperiod)
        return ind

    @property
    def position(self):
        return self.broker.getposition(self.data)

    def buy(self, size=None):
        return self.broker.submit(Order(self.data, size, True))

    def sell(self, size=None):
        return self.broker.submit(Order(self.data, size, False))

    def close(self):
        return self.sell(self.position.size)

    def _notify_order(self, order):
        self.notify_order(order)

    def _notify_trade(self, trade):
        self.notify_trade(trade)

    def notify_order(self, order):
        pass

    def notify_trade(self, trade):
        pass

    def _next(self):
        for ind in self._indicators:
            ind._next()
        if len(self.data) >= self.minperiod:
            self.next()
        else:
            self.prenext()
        for a in self.analyzers:
            a._next()

    def prenext(self):
        pass


class SmaCross(Strategy):
    fast, slow = 10, 30

    def __init__(self, data, broker):
        super().__init__(data, broker)
        self.f = self.add_indicator(SMA(data.close, self.fast), self.fast)
        self.s = self.add_indicator(SMA(data.close, self.slow), self.slow)
        self.fills = 0

    def notify_order(self, order):
        if order.status == Order.Completed:
            self.fills += 1

    def notify_trade(self, trade):
        if trade.isclosed:
            self.trades.append((trade.dtopen, trade.dtclose, trade.size, trade.price,
                                trade.exit_price))

    def next(self):
        if len(self.data) == self.data.buflen():  # the last bar: no new orders
            return
        f, s = self.f[0], self.s[0]
        long = f - s > 1e-10 * abs(s)
        if long and self.position.size <= 0:
            self.buy()
        elif not long and self.position.size > 0:
            self.close()


def run(rows):
    """Cerebro's loop: per bar, load the data, let the broker execute, then the strategy (its
    indicators, next(), its analyzers)."""
    data = DataFeed(rows)
    broker = Broker(100000.0)
    strategy = SmaCross(data, broker)
    equity = Equity(strategy)
    strategy.analyzers.append(equity)
    while data.load():
        broker.next()
        strategy._next()
    return strategy, broker, equity


with open(sys.argv[1], newline="") as f:
    reader = csv.reader(f)
    next(reader)
    rows = [(r[0], float(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5])) for r in reader]
t0 = time.perf_counter()
strategy, broker, equity = run(rows)
t1 = time.perf_counter()
trades = list(strategy.trades)
for trade in broker.trades.values():  # still long at the end: an open trade
    trades.append((trade.dtopen, None, trade.size, trade.price, None))
print(json.dumps({"loop_s": t1 - t0, "fills": strategy.fills, "trades": trades,
                  "final_equity": equity.values[-1]}))
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
            "python-bt": [sys.executable, "-c", PY_BT, path],
        }
        times = {k: [] for k in cmds}
        cpu = {k: [] for k in cmds}
        loop = {"python": [], "python-bt": []}
        out = {}
        for _ in range(args.repeat):
            for k, cmd in cmds.items():
                t, c, out[k] = timed(cmd)
                times[k].append(t)
                cpu[k].append(c)
                if k in loop:
                    loop[k].append(json.loads(out[k])["loop_s"])
        script_run, builtin_run, py, py_bt = (json.loads(out[k]) for k in cmds)
        # The script and the built-in: the same summary (fills, trades, equity, every statistic).
        script_run.pop("strategy")
        builtin_run.pop("strategy")
        if script_run != builtin_run:
            sys.exit("MISMATCH: the script's summary differs from the built-in's")
        for name, run in (("python", py), ("python-bt", py_bt)):
            if run["fills"] != script_run["fills"] or len(run["trades"]) != script_run["trades"]:
                sys.exit(f"MISMATCH: {name} {run['fills']} fills / {len(run['trades'])} trades, "
                         f"tapedeck {script_run['fills']} / {script_run['trades']}")
            if abs(run["final_equity"] - script_run["final_equity"]) > \
                    1e-9 * script_run["final_equity"]:
                sys.exit(f"MISMATCH: {name} final equity {run['final_equity']} vs "
                         f"{script_run['final_equity']}")
        if py["trades"] != py_bt["trades"]:
            sys.exit("MISMATCH: the two Python loops' trade lists differ")
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
            verified += f", the whole trade list of both loops ({len(theirs)} trades)"
        med = {k: statistics.median(v) for k, v in times.items()}
        mcpu = {k: statistics.median(v) for k, v in cpu.items()}
        bars = script_run["bars"]
        print(f"bars {bars}, {args.repeat} runs each, medians; agree on: {verified}")
        for k in cmds:
            print(f"  {k:17s} {med[k]:8.3f} s wall {mcpu[k]:8.3f} s CPU")
        for k, v in loop.items():
            lm = statistics.median(v)
            print(f"  {k + '-loop':17s} {lm:8.3f} s ({lm / bars * 1e9:.0f} ns/bar)")
        for k in loop:
            print(f"{k} / tapedeck-script: {med[k] / med['tapedeck-script']:.1f}x wall, "
                  f"{mcpu[k] / mcpu['tapedeck-script']:.1f}x CPU (whole processes); "
                  f"{k}-loop / tapedeck-script: "
                  f"{statistics.median(loop[k]) / med['tapedeck-script']:.1f}x")


if __name__ == "__main__":
    main()
