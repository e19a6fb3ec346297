#!/usr/bin/env python3
"""POST /backtests -> done, sma_cross over one year of one-minute bars, against a real server.

usage: /usr/bin/python3 bench/post_to_done.py BIN [CSV] [--runs N] [--poll MS]
CSV defaults to /tmp/m.csv (make it with `BIN gen --bars 525600 --seed 42 --interval 1m --out /tmp/m.csv`).
Prints each run's wall time seen by the client (POST sent -> a GET /backtests/{id} answered
`done`; the client polls every --poll ms, 2 by default) and the median of all but the first (which
also loads the dataset's bars). The server runs with TAPEDECK_RUN_TIMINGS=1, so with a binary that
has it each run's server-side phases (start, load, prepare, run, complete = pack + write + commit,
notify) are printed too, with the POST's own round trip (its durable insert of the run) and the
rest: what the client's polling and the HTTP round trips add.
"""
import os, sys, time, json, statistics, threading, re
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
args = [a for a in sys.argv[1:]]
def opt(name, default):
    if name in args:
        i = args.index(name)
        v = args[i + 1]
        del args[i:i + 2]
        return type(default)(v)
    return default
runs = opt("--runs", 6)
poll_ms = opt("--poll", 2.0)
os.environ["TAPEDECK_BIN"] = args[0]
os.environ["TAPEDECK_RUN_TIMINGS"] = "1"
import tdserver
s = tdserver.Server("--workers", "1").start()
timings = {}
def read_stderr(proc):
    for line in proc.stderr:
        m = re.match(r"tapedeck serve: run (\S+): (.*)", line)
        if m:
            timings[m.group(1)] = {k: float(v) for k, v in re.findall(r"(\w+) ([0-9.]+)", m.group(2))}
reader = threading.Thread(target=read_stderr, args=(s.proc,), daemon=True)
reader.start()
try:
    csv = open(args[1] if len(args) > 1 else "/tmp/m.csv", "rb").read()
    st, d = s.json("POST", "/datasets?name=y1m&symbol=Y", csv)
    assert st == 201, d
    times, rows = [], []
    for i in range(runs):
        t0 = time.perf_counter()
        st, out = s.json("POST", "/backtests", json.dumps({"dataset": "y1m", "strategy": "sma_cross"}))
        post_ms = (time.perf_counter() - t0) * 1000
        while True:
            st, run = s.json("GET", f"/backtests/{out['id']}")
            if run["status"] in ("done", "failed"): break
            time.sleep(poll_ms / 1000)
        times.append((time.perf_counter() - t0) * 1000)
        assert run["status"] == "done", run
        rows.append((out["id"], post_ms, times[-1]))
    time.sleep(0.1)  # the last run's timings line
    for rid, post_ms, total in rows:
        t = timings.get(rid)
        if t is None:
            print(f"  client {total:7.1f} ms (POST {post_ms:.1f})")
            continue
        server = t["total"]
        print(f"  client {total:7.1f} ms = POST {post_ms:5.1f} + server {server:6.1f} [start {t['start']:.1f}, load {t['load']:.1f}, "
              f"prepare {t['prepare']:.1f}, run {t['run']:.1f}, complete {t['complete']:.1f} (pack {t['pack']:.1f}, write {t['write']:.1f}, "
              f"commit {t['commit']:.1f}), notify {t['notify']:.1f}] + rest {total - post_ms - server:5.1f}")
    print(args[0], "POST->done ms:", [round(t) for t in times], "median", round(statistics.median(times[1:])), "fills", run["stats"]["fills"])
finally:
    s.cleanup()
