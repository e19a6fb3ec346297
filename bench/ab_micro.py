#!/usr/bin/env python3
"""A/B of two builds of one Google Benchmark binary, alternating them so that a noisy machine
skews both alike.

    bench/ab_micro.py BASE_BINARY NEW_BINARY FILTER ROUNDS

Each round runs both binaries (base first in even rounds, new first in odd ones) with
--benchmark_repetitions=5 and prints, per benchmark, the median of each round: CPU time, or
items/s where the benchmark counts items. Runs at niceness -10 when allowed (root)."""
import json
import os
import subprocess
import sys


def run(binary, flt):
    cmd = [binary, f"--benchmark_filter={flt}", "--benchmark_repetitions=5",
           "--benchmark_report_aggregates_only=true", "--benchmark_format=json"]
    if os.geteuid() == 0:
        cmd = ["nice", "-n", "-10"] + cmd
    return json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    base, new, flt, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    medians = {"base": {}, "new": {}}
    units = {}
    for r in range(rounds):
        order = (("base", base), ("new", new)) if r % 2 == 0 else (("new", new), ("base", base))
        for tag, binary in order:
            for bm in run(binary, flt)["benchmarks"]:
                if bm.get("aggregate_name") != "median":
                    continue
                name = bm["run_name"]
                items = "items_per_second" in bm
                units[name] = "items/s" if items else bm["time_unit"]
                value = bm["items_per_second"] if items else bm["cpu_time"]
                medians[tag].setdefault(name, []).append(value)
    print("| benchmark | unit | base, per round | new, per round |")
    print("|---|---|---|---|")
    for name, values in medians["base"].items():
        fmt = lambda vs: " / ".join(f"{v:.4g}" for v in vs)
        print(f"| {name} | {units[name]} | {fmt(values)} | {fmt(medians['new'].get(name, []))} |")


if __name__ == "__main__":
    main()
