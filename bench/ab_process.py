#!/usr/bin/env python3
"""Whole-process A/B: runs two commands alternately N times each (stdout discarded) and prints the
minimum and median wall time of each, with the load average before and after, so that a noisy
machine skews both alike.

    bench/ab_process.py N COMMAND_A... -- COMMAND_B...

e.g. bench/ab_process.py 40 /tmp/main/tapedeck backtest --csv F --strategy sma_cross --json \\
         -- build/tapedeck backtest --csv F --strategy sma_cross --json"""
import os
import statistics
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 5 or "--" not in sys.argv[2:]:
        print(__doc__, file=sys.stderr)
        return 2
    n = int(sys.argv[1])
    rest = sys.argv[2:]
    i = rest.index("--")
    cmds = [rest[:i], rest[i + 1:]]
    print("load before", open("/proc/loadavg").read().strip())
    times = [[], []]
    for _ in range(n):
        for k, cmd in enumerate(cmds):
            t0 = time.perf_counter()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
            times[k].append((time.perf_counter() - t0) * 1000)
    for k, cmd in enumerate(cmds):
        print(f"{'AB'[k]}: min {min(times[k]):7.1f} ms  median {statistics.median(times[k]):7.1f} ms"
              f"  ({cmd[0]})")
    print("load after ", open("/proc/loadavg").read().strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
