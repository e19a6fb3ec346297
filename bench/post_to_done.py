#!/usr/bin/env python3
"""POST /backtests -> done, sma_cross over one year of one-minute bars, against a real server.

usage: /usr/bin/python3 bench/post_to_done.py BIN [CSV]
CSV defaults to /tmp/m.csv (make it with `BIN gen --bars 525600 --seed 42 --interval 1m --out /tmp/m.csv`).
Prints each run's wall time seen by the client and the median of all but the first (which also
loads the dataset's bars).
"""
import os, sys, time, json, statistics
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
os.environ["TAPEDECK_BIN"] = sys.argv[1]
import tdserver
s = tdserver.Server("--workers", "1").start()
try:
    csv = open(sys.argv[2] if len(sys.argv) > 2 else "/tmp/m.csv", "rb").read()
    st, d = s.json("POST", "/datasets?name=y1m&symbol=Y", csv)
    assert st == 201, d
    times = []
    for i in range(6):
        t0 = time.perf_counter()
        st, out = s.json("POST", "/backtests", json.dumps({"dataset": "y1m", "strategy": "sma_cross"}))
        while True:
            st, run = s.json("GET", f"/backtests/{out['id']}")
            if run["status"] in ("done", "failed"): break
            time.sleep(0.002)
        times.append((time.perf_counter() - t0) * 1000)
        assert run["status"] == "done", run
    print(sys.argv[1], "POST->done ms:", [round(t) for t in times], "median", round(statistics.median(times[1:])), "fills", run["stats"]["fills"])
finally:
    s.cleanup()
