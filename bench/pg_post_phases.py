#!/usr/bin/env python3
r"""POST /backtests -> done through PostgreSQL, phase by phase (developers only).

usage: /usr/bin/python3 bench/pg_post_phases.py --bin build/tapedeck [--runs 7]
           [--statement-log] [--pg-conf 'NAME = VALUE']... [--keep DIR]
e.g. (docs/perf.md, "POST -> done through PostgreSQL"):
  /usr/bin/python3 bench/pg_post_phases.py --bin build/tapedeck
  /usr/bin/python3 bench/pg_post_phases.py --bin build/tapedeck --statement-log

One deployment (tests/integration/scale_out.py): a PostgreSQL cluster of its own with fsync,
synchronous_commit and full_page_writes on (as bench/scale_out_bench.py), one `serve` node and one
`tapedeck worker --workers 1`, both with TAPEDECK_RUN_TIMINGS set. It uploads a year of one-minute
bars (`BIN gen --bars 525600 --seed 42 --interval 1m`) and posts --runs `sma_cross` runs one after
the other, polling GET every 2 ms as scale_out_bench.py does. Prints each run's client time and
the POST's own round trip, then the medians (runs 2.. : the first also reads the bars into the
worker) of the worker's phases: queued -> claimed (the database's clock), claim, start, load, run,
pack, write, commit, finish.

--statement-log also logs every statement's duration in the cluster's log
(log_min_duration_statement = 0, parameters not logged: a run's blobs would fill the log) and
prints the medians of the statements on a run's path. It slows the cluster down: compare phases
with it on only against each other. --keep DIR copies the node's and worker's stderr and the
cluster's log there.

Only 127.0.0.1 is contacted.
"""
import argparse
import collections
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, HERE)

# Statements on a run's path, by how their text starts (the claim's starts with a newline). A POST
# is "WITH r AS" (the run and its job in one statement) since they are written in one
# transaction; before, "INSERT INTO runs" then "WITH i AS".
PATH_STATEMENTS = ("INSERT INTO runs", "WITH r AS", "WITH i AS", "UPDATE jobs SET state = 'running'",
                   "UPDATE runs SET status = 'running'", "INSERT INTO run_stats",
                   "INSERT INTO run_equity", "INSERT INTO run_events", "INSERT INTO run_trades",
                   "INSERT INTO run_plots", "INSERT INTO run_heads", "WITH done",
                   "DELETE FROM jobs", "COMMIT")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--statement-log", action="store_true")
    ap.add_argument("--pg-conf", action="append", default=[])
    ap.add_argument("--keep")
    args = ap.parse_args()
    os.environ["TAPEDECK_RUN_TIMINGS"] = "1"  # inherited by the node and the worker
    import scale_out
    from scale_out_bench import post_to_done
    scale_out.BIN = os.path.abspath(args.bin)
    conf = ["fsync = on", "synchronous_commit = on", "full_page_writes = on"]
    if args.statement_log:
        conf += ["log_min_duration_statement = 0", "log_line_prefix = '%m [%p] '",
                 "log_parameter_max_length = 0", "log_parameter_max_length_on_error = 0"]
    conf += args.pg_conf
    work = tempfile.mkdtemp(prefix="tapedeck-pg-phases-")
    try:
        csv = os.path.join(work, "m.csv")
        subprocess.run([scale_out.BIN, "gen", "--bars", "525600", "--seed", "42", "--interval",
                        "1m", "--out", csv], check=True, capture_output=True)
        with scale_out.Deployment(nodes=1, workers=1, worker_threads=1, lease="10s", proxy=False,
                                  pg_conf=conf) as d:
            node = d.nodes[0]
            with open(csv, "rb") as f:
                status, out = d.json("POST", "/datasets?name=y1m&symbol=Y", f.read(),
                                     {"Content-Type": "text/csv"}, timeout=120, port=node.port)
            assert status == 201, out

            def call(method, path, body):
                t = time.perf_counter()
                got = d.json(method, path, body, timeout=120, port=node.port)
                if method == "POST":
                    posts.append((time.perf_counter() - t) * 1000)
                return got
            posts, client = [], []
            for i in range(args.runs):
                ms, _, run = post_to_done(call, {"dataset": "y1m", "strategy": "sma_cross"})
                client.append(ms)
                print(f"run {i + 1} {run['id']}: POST -> done {ms:.1f} ms (POST {posts[-1]:.1f})",
                      flush=True)
            time.sleep(0.5)  # the worker prints after the job's finish
            with open(d.workers[0].err_path) as f:
                lines = [l for l in f if "tapedeck worker: run " in l]
            if args.keep:
                os.makedirs(args.keep, exist_ok=True)
                for c in d.nodes + d.workers:
                    shutil.copy(c.err_path, args.keep)
                shutil.copy(d.pg.log, args.keep)
            log_text = open(d.pg.log, errors="replace").read() if args.statement_log else ""
        rest = slice(1, None) if args.runs > 1 else slice(None)
        print(f"POST -> done: median {statistics.median(client[rest]):.1f} ms; POST's round "
              f"trip: median {statistics.median(posts[rest]):.1f} ms")
        phases = collections.defaultdict(list)
        for line in lines[rest]:
            for name, value in re.findall(r"(\w+) ([0-9.]+) ms", line):
                phases[name].append(float(value))
            split = re.search(r"pack ([0-9.]+), write ([0-9.]+), commit ([0-9.]+)", line)
            for name, value in zip(("pack", "write", "commit"), split.groups()):
                phases[name].append(float(value))
            phases["queued -> claimed"].append(float(re.search(r"claimed ([0-9.]+)", line)[1]))
        for name in ("queued -> claimed", "claim", "start", "load", "run", "pack", "write",
                     "commit", "notify", "total", "finish"):
            values = phases.get(name)
            if values:
                print(f"  worker {name:18s} median {statistics.median(values):7.2f} ms "
                      f"({min(values):.2f}-{max(values):.2f})")
        if args.statement_log:
            durations = collections.defaultdict(list)
            for m in re.finditer(r"duration: ([0-9.]+) ms  (?:execute [^:]+|statement): \s*(.*)",
                                 log_text):
                for start in PATH_STATEMENTS:
                    if m[2].startswith(start):
                        durations[start].append(float(m[1]))
            for start in PATH_STATEMENTS:
                values = durations.get(start)
                if values:
                    print(f"  server {start[:34]:34s} median {statistics.median(values):7.2f} ms "
                          f"(n {len(values)}, max {max(values):.2f})")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
