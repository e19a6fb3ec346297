#!/usr/bin/env python3
r"""Scale-out against single-process SQLite, measured in the same run on the same data.

usage: /usr/bin/python3 bench/scale_out_bench.py --bin build/tapedeck [--bars 525600]
           [--repeat 5] [--autogroup-nice -20] [--pg-conf 'NAME = VALUE']... [--pg-only]
           [--json-out F]
e.g. (docs/perf.md, "Scale-out"):
  scripts/build.sh --target tapedeck
  /usr/bin/python3 bench/scale_out_bench.py --bin build/tapedeck --autogroup-nice -20

Figures:
  post_to_done   POST /backtests -> done for sma_cross (defaults) over one year of one-minute bars
                 (`BIN gen --bars 525600 --seed 42 --interval 1m`), client-side, polling GET every
                 2 ms as bench/post_to_done.py does: (a) `tapedeck serve --store sqlite:...
                 --workers 1`; (b) `tapedeck serve --store postgresql://...` (executes nothing)
                 + one `tapedeck worker --workers 1`, on a PostgreSQL cluster of the bench's own
                 (tests/integration/pgcluster.py). --repeat + 1 runs each; the first (which also
                 loads the dataset's bars) is left out of the median. Also the server's own
                 created -> finished.
  first_frame    a WebSocket's first frame (connect -> first frame message, speed 60) for a run
                 the node has never played: (a) SQLite: the server restarted on its store before
                 each measurement (the tape read from SQLite); (b) PostgreSQL: a second node that
                 served nothing of these runs before, one run each (the tape read from
                 PostgreSQL: the dataset's series and the run's result). For the year of
                 one-minute runs above, for sma_cross runs over a year of hourly bars (8,760),
                 and a second play of the first (the tape cached).

--autogroup-nice N: every process (servers, worker, PostgreSQL's postmaster and its backends) is
in a session of its own; this sets each session's autogroup nice value (root), as
bench/sweep_bench.py does, so that a shared machine's other sessions weigh less.

Only 127.0.0.1 is contacted. Prints readable lines and one JSON line per figure.
"""
import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

RESULTS = []
AUTOGROUP_NICE = [None]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def emit(figure, **kv):
    kv = {"figure": figure, **kv, "loadavg": loadavg()}
    RESULTS.append(kv)
    print(json.dumps(kv), flush=True)


def set_autogroup(pid):
    """The session's autogroup nice value (see bench/sweep_bench.py's set_autogroup)."""
    if AUTOGROUP_NICE[0] is None or pid is None:
        return
    with open(f"/proc/{pid}/autogroup", "w") as f:
        f.write(str(AUTOGROUP_NICE[0]))


def parse_iso(s):
    from datetime import datetime, timezone
    s = s.rstrip("Z")
    if "." in s:
        head, frac = s.split(".")
        s, fmt = f"{head}.{(frac + '000000')[:6]}", "%Y-%m-%dT%H:%M:%S.%f"
    else:
        fmt = "%Y-%m-%dT%H:%M:%S"
    return datetime.strptime(s, fmt).replace(tzinfo=timezone.utc).timestamp()


def post_to_done(json_call, spec):
    """(client ms, server created->finished ms, run) for one POST /backtests -> done."""
    t0 = time.perf_counter()
    status, out = json_call("POST", "/backtests", spec)
    assert status == 202, (status, out)
    while True:
        status, run = json_call("GET", f"/backtests/{out['id']}", None)
        if status == 200 and run["status"] in ("done", "failed"):
            break
        time.sleep(0.002)
    ms = (time.perf_counter() - t0) * 1000
    assert run["status"] == "done", run
    server_ms = (parse_iso(run["finished"]) - parse_iso(run["created"])) * 1000
    return ms, server_ms, run


def first_frame_ms(port, run_id):
    """Connect -> first frame of a WebSocket playback at speed 60, in ms."""
    import websockets

    async def go():
        t0 = time.perf_counter()
        async with websockets.connect(f"ws://127.0.0.1:{port}/backtests/{run_id}/ws?speed=60",
                                      open_timeout=30, max_queue=None) as ws:
            while True:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if msg["t"] == "frame":
                    return (time.perf_counter() - t0) * 1000
                if msg["t"] == "err":
                    raise RuntimeError(msg)
    return asyncio.run(go())


class SqliteServer:
    """`tapedeck serve --store sqlite:DB --workers 1 --port 0`, restartable on the same store."""

    def __init__(self, binary, workdir):
        self.binary, self.dir = binary, workdir
        self.child = None

    def start(self):
        from scale_out import Child
        self.child = Child("sqlite-serve", [
            self.binary, "serve", "--host", "127.0.0.1", "--port", "0", "--store",
            f"sqlite:{os.path.join(self.dir, 'tapedeck.db')}", "--workers", "1",
            "--web-root", self.dir], self.dir)
        set_autogroup(self.child.pid)
        self.port = int(self.child.wait_line(r"listening on http://[^:]+:(\d+)").group(1))
        return self

    def stop(self):
        if self.child:
            self.child.stop()
            self.child = None

    def json(self, method, path, body):
        from scale_out import http_request
        headers = {}
        if isinstance(body, dict):
            body, headers = json.dumps(body).encode(), {"Content-Type": "application/json"}
        elif body is not None:
            headers = {"Content-Type": "text/csv"}
        status, _, raw = http_request(self.port, method, path, body, headers, timeout=120)
        return status, (json.loads(raw) if raw else None)


def measure_sqlite(binary, csv, small_csv, spec, repeat, workdir):
    s = SqliteServer(binary, workdir).start()
    try:
        for name, data in (("y1m", csv), ("y1h", small_csv)):
            status, out = s.json("POST", f"/datasets?name={name}&symbol=Y", data)
            assert status == 201, out
        rows = [post_to_done(s.json, spec) for _ in range(repeat + 1)]
        small = [post_to_done(s.json, {**spec, "dataset": "y1h"})[2] for _ in range(repeat)]
    finally:
        s.stop()
    frames = {"year_of_minutes": [], "year_of_hours": [], "cached": []}
    for run, small_run in zip([r[2] for r in rows[1:]], small):
        s.start()  # restarted before each: nothing cached
        try:
            frames["year_of_minutes"].append(first_frame_ms(s.port, run["id"]))
            frames["cached"].append(first_frame_ms(s.port, run["id"]))
            frames["year_of_hours"].append(first_frame_ms(s.port, small_run["id"]))
        finally:
            s.stop()
    return rows, frames


def measure_pg(binary, csv, small_csv, spec, repeat, pg_conf):
    import scale_out
    scale_out.BIN = binary
    with scale_out.Deployment(nodes=2, workers=1, worker_threads=1, lease="10s",
                              proxy=False, pg_conf=pg_conf) as d:
        for child in d.nodes + d.workers:
            set_autogroup(child.pid)
        set_autogroup(d.pg.postmaster_pid)
        node, fresh = d.nodes
        for name, data in (("y1m", csv), ("y1h", small_csv)):
            status, out = d.json("POST", f"/datasets?name={name}&symbol=Y", data,
                                 {"Content-Type": "text/csv"}, timeout=120, port=node.port)
            assert status == 201, out

        def call(method, path, body):
            return d.json(method, path, body, timeout=120, port=node.port)
        rows = [post_to_done(call, spec) for _ in range(repeat + 1)]
        small = [post_to_done(call, {**spec, "dataset": "y1h"})[2] for _ in range(repeat)]
        # Node 2 has played nothing: each run's tape comes from PostgreSQL on its first play.
        frames = {"year_of_minutes": [], "year_of_hours": [], "cached": []}
        for run, small_run in zip([r[2] for r in rows[1:]], small):
            frames["year_of_minutes"].append(first_frame_ms(fresh.port, run["id"]))
            frames["cached"].append(first_frame_ms(fresh.port, run["id"]))
            frames["year_of_hours"].append(first_frame_ms(fresh.port, small_run["id"]))
        return rows, frames


def summary(name, rows, frames):
    client = [round(r[0], 1) for r in rows]
    server = [round(r[1], 1) for r in rows]
    med = statistics.median(client[1:])
    log(f"{name}: POST->done ms {client} (median of 2nd.. {med:.0f}); server created->finished "
        f"{server}")
    emit(f"post_to_done_{name}", client_ms=client, server_ms=server, median_ms=med,
         fills=rows[-1][2]["stats"]["fills"])
    for tape, ms in frames.items():
        ms = [round(f, 1) for f in ms]
        log(f"{name}: first frame, {tape}: ms {ms} (median {statistics.median(ms):.0f})")
        emit(f"first_frame_{name}_{tape}", ms=ms, median_ms=statistics.median(ms), max_ms=max(ms))
    return med


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--bars", type=int, default=525_600)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--autogroup-nice", type=int)
    ap.add_argument("--pg-conf", action="append", default=[],
                    help="a postgresql.conf line for the bench's cluster (repeatable), e.g. "
                         "'default_toast_compression = lz4'")
    ap.add_argument("--not-durable", action="store_true",
                    help="keep the test clusters' fsync/synchronous_commit/full_page_writes off "
                         "(by default the bench turns them on: SQLite's end of a run is a durable "
                         "commit, so PostgreSQL's must be too for a fair ratio)")
    ap.add_argument("--pg-only", action="store_true", help="skip the SQLite side")
    ap.add_argument("--json-out")
    args = ap.parse_args()
    AUTOGROUP_NICE[0] = args.autogroup_nice
    if not args.not_durable:
        # Later lines of postgresql.conf win over pgcluster.py's test settings.
        args.pg_conf = ["fsync = on", "synchronous_commit = on", "full_page_writes = on",
                        *args.pg_conf]
    binary = os.path.abspath(args.bin)
    work = tempfile.mkdtemp(prefix="tapedeck-scale-bench-")
    try:
        csv_path = os.path.join(work, "m.csv")
        subprocess.run([binary, "gen", "--bars", str(args.bars), "--seed", "42", "--interval",
                        "1m", "--out", csv_path], check=True, capture_output=True)
        with open(csv_path, "rb") as f:
            csv = f.read()
        small_csv = subprocess.run([binary, "gen", "--bars", "8760", "--seed", "42", "--interval",
                                    "1h"], check=True, capture_output=True).stdout
        spec = {"dataset": "y1m", "strategy": "sma_cross"}
        log(f"{args.bars} one-minute bars; load average {loadavg()}")
        if not args.pg_only:
            sq_rows, sq_frames = measure_sqlite(binary, csv, small_csv, spec, args.repeat, work)
            sq = summary("sqlite", sq_rows, sq_frames)
        if args.pg_conf:
            log(f"PostgreSQL settings: {args.pg_conf}")
        pg_rows, pg_frames = measure_pg(binary, csv, small_csv, spec, args.repeat, args.pg_conf)
        pg = summary("postgresql", pg_rows, pg_frames)
        if not args.pg_only:
            same = sq_rows[-1][2]["stats"] == pg_rows[-1][2]["stats"]
            log(f"PostgreSQL / SQLite POST->done: {pg / sq:.2f}x (target <= 2x); "
                f"same statistics: {same}")
            emit("ratio", pg_over_sqlite=round(pg / sq, 3), same_stats=same,
                 pg_conf=args.pg_conf)
        if args.json_out:
            with open(args.json_out, "w") as f:
                json.dump(RESULTS, f, indent=1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
