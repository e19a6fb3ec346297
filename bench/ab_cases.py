#!/usr/bin/env python3
"""A/B of two Google Benchmark binaries whose cases may differ in name, alternated.

    bench/ab_cases.py ROUNDS BASE_BINARY BASE_FILTER NEW_BINARY NEW_FILTER

Like bench/ab_micro.py (base first in even rounds, new first in odd ones, niceness -10 when
root), but each binary runs its own filter, and every repetition is kept: prints per case the
minimum and median ns per item (and M items/s) over all rounds. For a change that adds a case
(e.g. BM_RunBuiltinSmaCrossDerivedPlots) to set against the base's nearest one."""
import json
import os
import statistics
import subprocess
import sys


def run(binary, flt):
    cmd = [binary, f"--benchmark_filter={flt}", "--benchmark_repetitions=5",
           "--benchmark_format=json"]
    if os.geteuid() == 0:
        cmd = ["nice", "-n", "-10"] + cmd
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [bm for bm in json.loads(out)["benchmarks"] if bm.get("run_type") == "iteration"]


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    rounds = int(sys.argv[1])
    sides = [("base", sys.argv[2], sys.argv[3]), ("new", sys.argv[4], sys.argv[5])]
    got = {}
    for r in range(rounds):
        for tag, binary, flt in (sides if r % 2 == 0 else sides[::-1]):
            for bm in run(binary, flt):
                got.setdefault(f"{tag} {bm['run_name']}", []).append(1e9 / bm["items_per_second"])
    for name, v in sorted(got.items()):
        lo, mid = min(v), statistics.median(v)
        print(f"{name:50s} n={len(v):3d} min {lo:6.2f} median {mid:6.2f} ns/item "
              f"({1e3 / lo:.1f} / {1e3 / mid:.1f} M/s)")


if __name__ == "__main__":
    main()
