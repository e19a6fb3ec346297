#!/usr/bin/env python3
"""Whole-process `tapedeck backtest --csv` against pandas read_csv + a vectorised numpy SMA crossover
doing the same work (issue 2), measured in one run on the same file.

usage: bench/compare_pandas.py [--bin build/tapedeck] [--bars 525600] [--repeat 5]

Reports, as medians over --repeat runs:
  tapedeck      wall time of the whole `tapedeck backtest --csv F --strategy sma_cross --json` process
  pandas        wall time of the whole `python3 -c <pandas script>` process (interpreter + imports)
  pandas-work   the time inside that process for read_csv + the crossover only (no start-up)
and checks that both computed the same final equity and fill count.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

PANDAS_SCRIPT = r"""
import sys, time, json
import numpy as np
import pandas as pd
t0 = time.perf_counter()
df = pd.read_csv(sys.argv[1])
o = df["open"].to_numpy(); c = df["close"].to_numpy()
fast, slow, cash, com, slip = 10, 30, 100000.0, 0.0001, 0.00005
n = len(c)
# pandas' rolling mean keeps a compensated running sum: a plain cumsum difference would drift by
# more than the 1e-10 tie tolerance on half a million bars.
a = df["close"].rolling(fast).mean().to_numpy()[slow - 1:]
b = df["close"].rolling(slow).mean().to_numpy()[slow - 1:]
want = np.zeros(n, dtype=bool)
want[slow - 1:] = (a - b) > 1e-10 * np.abs(b)
want[-1] = want[-2]  # no order on the last bar: hold whatever was wanted before
held = np.concatenate(([False], want[:-1]))  # orders at close t fill at open t+1
change = np.flatnonzero(held[1:] != held[:-1]) + 1
buys = change[held[change]]
sells = change[~held[change]]
pb = o[buys] * (1 + slip)
ps = o[sells] * (1 - slip)
k = len(sells)
ratio = np.prod(ps * (1 - com) / (pb[:k] * (1 + com)))
final = cash * ratio
if len(buys) > k:  # still long at the end: marked at the last close
    final = final / (pb[k] * (1 + com)) * c[-1]
t1 = time.perf_counter()
print(json.dumps({"work_s": t1 - t0, "final_equity": float(final), "fills": int(len(change))}))
"""


def timed(cmd):
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return time.perf_counter() - t0, out.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/tapedeck")
    ap.add_argument("--bars", type=int, default=525600)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--python", default="/usr/bin/python3",
                    help="the interpreter with Debian's python3-pandas and python3-numpy")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "minute.csv")
        subprocess.run([args.bin, "gen", "--bars", str(args.bars), "--seed", "42", "--interval",
                        "1m", "--out", path], check=True)
        size = os.path.getsize(path)
        td, pd_proc, pd_work = [], [], []
        td_report = pd_report = None
        for _ in range(args.repeat):  # interleaved, so both see the same machine noise
            t, out = timed([args.bin, "backtest", "--csv", path, "--strategy", "sma_cross",
                            "--commission", "0.0001", "--slippage", "0.00005", "--json"])
            td.append(t)
            td_report = json.loads(out)
            t, out = timed([args.python, "-c", PANDAS_SCRIPT, path])
            pd_proc.append(t)
            pd_report = json.loads(out)
            pd_work.append(pd_report["work_s"])
        med = statistics.median
        print(f"file: {args.bars} rows, {size / 1e6:.1f} MB")
        print(f"tapedeck (whole process)    {med(td) * 1000:8.1f} ms   "
              f"({size / 1e6 / med(td):.0f} MB/s end to end)")
        print(f"pandas   (whole process)    {med(pd_proc) * 1000:8.1f} ms")
        print(f"pandas   (read_csv + numpy) {med(pd_work) * 1000:8.1f} ms")
        print(f"speed-up vs pandas work only: {med(pd_work) / med(td):.1f}x; "
              f"vs whole process: {med(pd_proc) / med(td):.1f}x")
        same_fills = td_report["fills"] == pd_report["fills"]
        rel = abs(td_report["final_equity"] - pd_report["final_equity"]) / pd_report["final_equity"]
        print(f"same result: fills {td_report['fills']} vs {pd_report['fills']}, final equity "
              f"{td_report['final_equity']:.4f} vs {pd_report['final_equity']:.4f} (rel diff {rel:.1e})")
        if not same_fills or rel > 1e-6:
            print("MISMATCH between tapedeck and the pandas reference", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
