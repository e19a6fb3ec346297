#!/usr/bin/env python3
"""Alternates bench/post_to_done.py over several binaries, round after round, and summarises.

usage: /usr/bin/python3 bench/post_to_done_ab.py ROUNDS BIN [BIN...] [--runs N] [--csv PATH] [--json OUT]
Each round runs `post_to_done.py BIN CSV --runs N` (N = 11 by default) for every BIN in turn and
keeps runs 2..N of each invocation (the first also maps the dataset). Prints each invocation's
median client time with the 1-minute load average before it, then per binary: the median of the
invocations' medians, the medians over all kept runs of the client time and of every phase
(TAPEDECK_RUN_TIMINGS), the share of runs <= 20 ms, and against the first binary the median over
rounds of the paired difference of the invocations' medians with how many rounds were lower.
--json writes every kept run (with its round and load) for a later look.
"""
import json, os, re, statistics as st, subprocess, sys

args = sys.argv[1:]
def opt(name, default):
    if name in args:
        i = args.index(name)
        v = args[i + 1]
        del args[i:i + 2]
        return type(default)(v)
    return default
runs = opt("--runs", 11)
csv = opt("--csv", "/tmp/m.csv")
out_json = opt("--json", "")
rounds, bins = int(args[0]), args[1:]
here = os.path.dirname(os.path.abspath(__file__))
phases = ["start", "load", "prepare", "run", "pack", "write", "commit", "notify"]
keys = ["client", "POST", "server", "start", "run", "pack", "write", "commit", "notify", "rest"]
rows = {b: [] for b in bins}
meds = {b: [] for b in bins}

def load():
    return float(open("/proc/loadavg").read().split()[0])

for r in range(rounds):
    for b in bins:
        l0 = load()
        out = subprocess.run(["/usr/bin/python3", os.path.join(here, "post_to_done.py"), b, csv, "--runs", str(runs)],
                             capture_output=True, text=True).stdout
        got = []
        for line in out.splitlines():
            m = re.match(r"\s*client\s+([-0-9.]+) ms = POST\s+([-0-9.]+) \+ server\s+([-0-9.]+)", line)
            if not m:
                continue
            d = dict(zip(["client", "POST", "server"], map(float, m.groups())))
            for k in phases:
                d[k] = float(re.search(rf"{k} ([-0-9.]+)", line).group(1))
            d["rest"] = float(re.search(r"rest\s+([-0-9.]+)", line).group(1))
            d["round"], d["load"] = r, l0
            got.append(d)
        got = got[1:]
        if not got:
            sys.exit(f"{b}: no runs with timings in its output:\n{out}")
        rows[b] += got
        meds[b].append(st.median(x["client"] for x in got))
        print(f"round {r + 1} {b}: load {l0:.2f} median client {meds[b][-1]:.1f} ms", flush=True)

for b in bins:
    rr = rows[b]
    line = " ".join(f"{k} {st.median(x[k] for x in rr):.1f}" for k in keys)
    share = 100 * sum(x["client"] <= 20 for x in rr) / len(rr)
    print(f"{b}: median of invocations {st.median(meds[b]):.1f} ms; all runs: {line}; <= 20 ms {share:.0f} %")
    if b != bins[0]:
        diffs = [x - y for x, y in zip(meds[b], meds[bins[0]])]
        print(f"  paired against {bins[0]}: median {st.median(diffs):+.1f} ms, lower in {sum(d < 0 for d in diffs)}/{len(diffs)} rounds")
if out_json:
    json.dump({"rows": rows, "medians": meds}, open(out_json, "w"))
