"""Scale-out with real processes on loopback: a PostgreSQL cluster of the test's own, 2 `tapedeck
serve --store postgresql://...` nodes behind HAProxy (docs/deploy/haproxy.cfg) and 2 `tapedeck
worker` processes (scale_out.Deployment), checked against the same work done by one
`tapedeck serve` on SQLite (tdserver.Server):

1. 300 runs (six built-in strategies, varied parameters and costs, two datasets) and a 1,000-trial
   sweep submitted through the proxy: every run's statistics and trades, every trial and the
   sweep's summary identical to SQLite's; both workers did part of the work.
2. A worker kill -9'd mid-sweep 5 times (each time one holding a batch of trials), a new worker
   started in its place: the sweep finishes with every trial stored exactly once and the results
   unchanged.
3. 100 SSE and 100 WebSocket clients play a run through the proxy while a node is kill -9'd: every
   SSE client resumes on the other node by Last-Event-ID at exactly the next window with bars,
   every WebSocket client reconnects with ?from= and sees every order event exactly once, in order.
4. PostgreSQL stopped for 10 s mid-sweep and started again: meanwhile requests are answered 503
   with Retry-After (no hang, no crash); the sweep finishes, nothing duplicated, results unchanged.

The counts are the required ones (300 runs, 1,000 trials, 5 kills, 100 + 100 streams, 10 s); the
data are small (hourly bars from `tapedeck gen`) so that the file runs in a few minutes on two
cores (~70-90 s here). PostgreSQL 15 and HAProxy come from scripts/bootstrap.sh; with either
missing the test fails, it does not skip.
"""
import asyncio
import json
import math
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import apischema  # noqa: E402
from scale_out import BIN, Deployment, StreamLog, find_program, sse_play, ws_play  # noqa: E402
from tdserver import Server  # noqa: E402

apischema.check_websocket_messages()

RUNS = 300
RUN_BARS = 2000          # hourly bars per dataset for the runs
SWEEP_BARS = 60000       # hourly bars for the sweeps: long enough to kill workers 5 times mid-sweep
SWEEP = {"dataset": "sw", "strategy": "sma_cross", "objective": "sharpe", "pbo_blocks": 8,
         # 10 x 100 = 1,000 trials, every fast < every slow
         "params": {"fast": {"from": 1, "to": 10, "step": 1},
                    "slow": {"from": 20, "to": 119, "step": 1}}}
SWEEP_TRIALS = 1000
STREAMS = 100            # of each kind
# Speed S plays S x 8,760 sim-seconds a wall second (60: a year in a minute): 300 hourly bars at
# speed 6 play in ~20 s, a frame every ~2 windows (~15 a second per stream).
STREAM_BARS = 300
STREAM_SPEED = 6
KILLS = 5
DB_DOWN_S = 10

# Six built-in strategies, parameters varied by the run's number; every tenth run pays costs.
STRATEGIES = [
    ("sma_cross", lambda k: {"fast": 2 + k % 9, "slow": 20 + k % 23}),
    ("ema_cross", lambda k: {"fast": 3 + k % 7, "slow": 15 + k % 19}),
    ("rsi_reversion", lambda k: {"period": 5 + k % 11, "lower": 25 + k % 10, "upper": 65 + k % 10}),
    ("bollinger_breakout", lambda k: {"period": 10 + k % 15, "k": 1 + (k % 5) / 4}),
    ("donchian_breakout", lambda k: {"entry": 10 + k % 17, "exit": 5 + k % 7}),
    ("macd", lambda k: {"fast": 5 + k % 6, "slow": 20 + k % 13, "signal": 4 + k % 5}),
]


def run_spec(i):
    name, params = STRATEGIES[i % len(STRATEGIES)]
    spec = {"dataset": "ra" if i % 2 == 0 else "rb", "strategy": name,
            "params": params(i // len(STRATEGIES))}
    if i % 10 == 0:
        spec.update({"commission": 0.001, "slippage": 0.0005, "fixed_fee": 1})
    return spec


def gen_csv(bars, seed, symbol):
    return subprocess.run([BIN, "gen", "--bars", str(bars), "--seed", str(seed), "--interval",
                           "1h", "--symbol", symbol], check=True, capture_output=True).stdout


DATA = {}  # name -> CSV bytes


def datasets():
    if not DATA:
        DATA["ra"] = gen_csv(RUN_BARS, 1, "RA")
        DATA["rb"] = gen_csv(RUN_BARS, 2, "RB")
        DATA["sw"] = gen_csv(SWEEP_BARS, 3, "SW")
        DATA["st"] = gen_csv(STREAM_BARS, 4, "ST")
    return DATA


SWEEP_VOLATILE = ("id", "created", "started", "finished")


def comparable_sweep(s):
    return {k: v for k, v in s.items() if k not in SWEEP_VOLATILE}


class Reference:
    """The same work by one `tapedeck serve` on SQLite (two workers), done once."""
    runs = None      # [run] in run_spec order
    trades = None    # [trades] in run_spec order
    sweep = None
    trials = None

    @classmethod
    def compute(cls):
        if cls.runs is not None:
            return cls
        s = Server("--max-queued-per-client", "100000", "--max-queued", "100000").start()
        try:
            for name in ("ra", "rb", "sw"):
                status, out = s.json("POST", f"/datasets?name={name}&symbol={name.upper()}",
                                     datasets()[name], {"Content-Type": "text/csv"})
                assert status == 201, out
            ids = []
            for i in range(RUNS):
                status, out = s.json("POST", "/backtests", json_body(run_spec(i)), JSON)
                assert status == 202, (status, out)
                ids.append(out["id"])
            status, out = s.json("POST", "/sweeps", json_body(SWEEP), JSON)
            assert status == 202, out
            sweep_id = out["id"]
            cls.runs = [s.wait_run(r, timeout=300) for r in ids]
            cls.trades = [s.json("GET", f"/backtests/{r}/trades")[1] for r in ids]
            deadline = time.monotonic() + 300
            while True:
                status, sw = s.json("GET", f"/sweeps/{sweep_id}")
                if sw["status"] in ("done", "failed") or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            cls.sweep = sw
            cls.trials = s.json("GET", f"/sweeps/{sweep_id}/trials?limit=0")[1]["trials"]
        finally:
            s.cleanup()
        assert all(r["status"] == "done" for r in cls.runs), "a reference run failed"
        assert cls.sweep["status"] == "done", cls.sweep
        assert len(cls.trials) == SWEEP_TRIALS
        return cls


def merged_frames(frames, ref):
    """How many of `frames` stand for more than one window of `ref` (the /frames history)."""
    with_bars = [f["i"] for f in ref]
    count, prev = 0, -1
    for f in frames:
        count += sum(1 for w in with_bars if prev < w <= f["i"]) > 1
        prev = f["i"]
    return count


def frames_as_merges(frames, ref):
    """Frames that are not the merge of the history's windows since the frame before them (first
    open, highest high, lowest low, last close, summed volume, the last time and equity, the
    orders in order): [] when each frame is its window, or the exact merge of those it covers."""
    by_i = {f["i"]: f for f in ref}
    wrong, prev = [], -1
    for f in frames:
        covered = [by_i[w] for w in sorted(by_i) if prev < w <= f["i"]]
        prev = f["i"]
        if not covered or covered[-1]["i"] != f["i"]:
            wrong.append((f["i"], "not a window with bars"))
            continue
        last = covered[-1]
        want = {"ts": last["ts"], "equity": last["equity"],
                "orders": [o for w in covered for o in w["orders"]]}
        got = {k: f[k] for k in want}
        ohlc_ok = set(f["ohlc"]) == set().union(*(w["ohlc"] for w in covered))
        for sym, bar in f["ohlc"].items():
            parts = [w["ohlc"][sym] for w in covered if sym in w["ohlc"]]
            ohlc_ok = ohlc_ok and parts and (
                bar["o"] == parts[0]["o"] and bar["c"] == parts[-1]["c"]
                and bar["h"] == max(p["h"] for p in parts)
                and bar["l"] == min(p["l"] for p in parts)
                and math.isclose(bar["v"], sum(p["v"] for p in parts), rel_tol=1e-12))
        if got != want or not ohlc_ok:
            wrong.append((f["i"], [w["i"] for w in covered]))
    return wrong


JSON = {"Content-Type": "application/json"}


def json_body(obj):
    return json.dumps(obj)


class ScaleOutTest(unittest.TestCase):
    maxDiff = 4000

    @classmethod
    def setUpClass(cls):
        find_program("haproxy")
        datasets()
        t0 = time.monotonic()
        cls.ref = Reference.compute()
        print(f"\nSQLite reference: {time.monotonic() - t0:.1f} s", file=sys.stderr)
        cls.d = Deployment(nodes=2, workers=2, worker_threads=1, lease="2s")
        cls.d.__enter__()
        cls.addClassCleanup(cls.d.close)  # should setUpClass fail past here
        for name in ("ra", "rb", "sw", "st"):
            cls.d.upload_dataset(name, datasets()[name], name.upper())

    @classmethod
    def tearDownClass(cls):
        # SIGTERM to every process: the nodes and workers alive at the end (those started in
        # place of the killed ones included) must exit 0, as an operator's stop expects (and
        # where the sanitizer builds report leaks).
        cls.d.close()
        codes = {name: code for name, code in cls.d.exit_codes.items() if name != "haproxy"}
        if any(code != 0 for code in codes.values()):
            raise AssertionError(f"exit codes after SIGTERM: {codes}")

    def fail_with_logs(self, msg):
        self.fail(f"{msg}\n{self.d.tails()}")

    def check_sweep_matches_reference(self, sweep_id, sweep):
        self.assertEqual(sweep["status"], "done", sweep)
        self.assertEqual(comparable_sweep(sweep), comparable_sweep(self.ref.sweep))
        trials = self.d.trials(sweep_id)
        self.assertEqual([t["index"] for t in trials], list(range(SWEEP_TRIALS)))
        self.assertEqual(trials, self.ref.trials)
        done, tasks, rows, distinct = self.d.sweep_counts(sweep_id)
        self.assertEqual((done, rows, distinct), (tasks, SWEEP_TRIALS, SWEEP_TRIALS),
                         "a trial stored twice, or missing, or counted twice")
        self.assertEqual(self.d.jobs_left(), 0, "jobs left in the queue")

    # ---- 1 --------------------------------------------------------------------------------

    def test_1_runs_and_sweep_match_sqlite_and_spread_over_both_workers(self):
        d = self.d
        cpu0 = [w.cpu_seconds() for w in d.workers]
        t0 = time.monotonic()
        ids = [d.submit_run(run_spec(i)) for i in range(RUNS)]
        sweep_id = d.submit_sweep(SWEEP)
        runs = d.wait_runs(ids)
        sweep = d.wait_sweep(sweep_id)
        elapsed = time.monotonic() - t0
        cpu = [w.cpu_seconds() - c for w, c in zip(d.workers, cpu0)]
        print(f"\n300 runs + 1,000 trials through the proxy: {elapsed:.1f} s; workers' CPU "
              f"{[round(c, 2) for c in cpu]} s", file=sys.stderr)
        for i, run_id in enumerate(ids):
            run, ref = runs[run_id], self.ref.runs[i]
            self.assertEqual(run["status"], "done", run)
            self.assertEqual(run["stats"], ref["stats"], f"run {i} {run_spec(i)}")
            self.assertEqual(run["params"], ref["params"])
            status, trades = d.json("GET", f"/backtests/{run_id}/trades")
            self.assertEqual(status, 200)
            self.assertEqual(trades, self.ref.trades[i], f"run {i}'s trades")
        self.check_sweep_matches_reference(sweep_id, sweep)
        # The work went to both workers: each spent CPU on it (an idle worker waits on
        # LISTEN with a 1 s poll: milliseconds), and each counted jobs in its /metrics.
        for w, c in zip(d.workers, cpu):
            self.assertGreater(c, 0.2, f"{w.name} did (almost) nothing: CPU {cpu}")
        counts = [jobs_finished(w) for w in d.workers]
        print(f"jobs finished by each worker (/metrics): {counts}", file=sys.stderr)
        for w, n in zip(d.workers, counts):
            self.assertIsNotNone(n, f"{w.name}'s /metrics has no tapedeck_job_latency_seconds")
            self.assertGreater(n, 0, f"{w.name}'s /metrics: no job finished")

    # ---- 2 --------------------------------------------------------------------------------

    def test_2_workers_killed_mid_sweep_every_trial_once(self):
        d = self.d
        sweep_id = d.submit_sweep(SWEEP)
        kills = []  # (job id, worker name, progress at the kill)
        deadline = time.monotonic() + 240
        while len(kills) < KILLS:
            if time.monotonic() > deadline:
                self.fail_with_logs(f"only {len(kills)} kills before the deadline")
            _, s = d.json("GET", f"/sweeps/{sweep_id}")
            if s["status"] != "running" and s["status"] != "queued":
                self.fail_with_logs(f"the sweep ended ({s['status']}) after {len(kills)} kills: "
                                    f"make it longer (SWEEP_BARS)")
            if s["progress"]["done"] == 0:  # mid-sweep: some trials stored already
                time.sleep(0.05)
                continue
            held = [(job, name) for job, kind, _, name in d.running_jobs() if kind == "batch"]
            victim = next(((job, name, d.worker_for(name)) for job, name in held
                           if d.worker_for(name) is not None), None)
            if victim is None:
                time.sleep(0.05)
                continue
            job, name, w = victim
            d.kill_worker(w.index)
            kills.append((job, name, s["progress"]["done"]))
            d.start_worker(w.index)
        print(f"\nkilled workers holding batches at trials done {[k[2] for k in kills]}",
              file=sys.stderr)
        sweep = d.wait_sweep(sweep_id)
        self.check_sweep_matches_reference(sweep_id, sweep)
        # The batches the dead held were taken over once their leases expired. (The workers'
        # own counters: the last kill's batch was claimed by a worker that is still alive.)
        expiries = [metric_sum(w, "tapedeck_job_lease_expiries_total") for w in d.workers]
        print(f"lease expiries claimed by the live workers: {expiries}", file=sys.stderr)
        self.assertGreaterEqual(sum(e or 0 for e in expiries), 1, expiries)

    # ---- 3 --------------------------------------------------------------------------------

    def test_3_node_killed_under_100_sse_and_100_ws_streams(self):
        d = self.d
        run_id = d.submit_run({"dataset": "st", "strategy": "sma_cross",
                               "params": {"fast": 2, "slow": 5}})
        self.assertEqual(d.wait_runs([run_id])[run_id]["status"], "done")
        status, ref = d.json("GET", f"/backtests/{run_id}/frames?speed={STREAM_SPEED}")
        self.assertEqual(status, 200)
        self.assertGreater(sum(len(f["orders"]) for f in ref), 20, "a run with orders to miss")

        sse = [StreamLog("sse") for _ in range(STREAMS)]
        ws = [StreamLog("ws") for _ in range(STREAMS)]

        async def play():
            tasks = [asyncio.ensure_future(sse_play(d.port, run_id, STREAM_SPEED, log))
                     for log in sse]
            tasks += [asyncio.ensure_future(ws_play(d.port, run_id, STREAM_SPEED, log))
                      for log in ws]
            # Every client has its first frames, then a node dies under them.
            t0 = time.monotonic()
            while sum(1 for log in sse + ws if log.frames) < 2 * STREAMS:
                if time.monotonic() - t0 > 30:
                    raise AssertionError("not every stream got a frame within 30 s")
                await asyncio.sleep(0.1)
            await asyncio.sleep(2)
            await asyncio.get_running_loop().run_in_executor(None, d.kill_node, 0)
            await asyncio.wait_for(asyncio.gather(*tasks), 150)

        try:
            asyncio.run(play())
            self.check_streams(sse + ws, ref)
        finally:
            d.start_node(0)  # test 4 needs both nodes, whatever this one found

    def check_streams(self, logs, ref):
        ref_orders = [(o["id"], o["status"]) for f in ref for o in f["orders"]]
        broken = [log for log in logs if log.resumes]
        print(f"\nstreams that lost their node and resumed: "
              f"{sum(1 for l in logs if l.resumes and l.kind == 'sse')} SSE, "
              f"{sum(1 for l in logs if l.resumes and l.kind == 'ws')} WS; "
              f"failed attempts meanwhile: {sum(len(l.refused) for l in logs)}; WS windows "
              f"repeated after a reconnect (dropped by the client): "
              f"{sum(len(l.repeats) for l in logs)}; frames that merged windows: "
              f"{sum(merged_frames(l.frames, ref) for l in logs)}", file=sys.stderr)
        self.assertGreater(len(broken), STREAMS // 2, "the kill broke too few streams to tell")
        for n, log in enumerate(logs):
            what = f"{log.kind} client {n % STREAMS}"
            self.assertTrue(log.ended, f"{what}: no end ({log.error}, refused {log.refused[-5:]})")
            self.assertIsNone(log.error, what)
            windows = log.windows
            self.assertEqual(windows, sorted(set(windows)), f"{what}: a window twice or backwards")
            self.assertEqual(log.orders, ref_orders, f"{what}: orders missed or repeated")
            # Resumed (SSE by Last-Event-ID, WebSocket by ?from= the window after the last frame
            # kept): every frame, the first after a break included, is the window after the one
            # before it with bars, or (the server behind, under the resumed streams, or the
            # client: coalescing) exactly the merge of the windows since that one. Nothing
            # skipped, nothing repeated.
            self.assertEqual(frames_as_merges(log.frames, ref), [],
                             f"{what}: windows skipped or merged wrongly (resumes {log.resumes})")

    # ---- 4 --------------------------------------------------------------------------------

    def test_4_database_stopped_10s_mid_sweep(self):
        d = self.d
        sweep_id = d.submit_sweep(SWEEP)
        deadline = time.monotonic() + 120
        while True:
            _, s = d.json("GET", f"/sweeps/{sweep_id}")
            if s["status"] == "running" and s["progress"]["done"] >= SWEEP_TRIALS // 10:
                break
            if s["status"] in ("done", "failed") or time.monotonic() > deadline:
                self.fail_with_logs(f"the sweep is not mid-way: {s}")
            time.sleep(0.05)
        progress_before = s["progress"]["done"]
        d.stop_db()
        t0 = time.monotonic()
        answers = []
        while time.monotonic() - t0 < DB_DOWN_S:
            t = time.monotonic()
            try:
                status, hdrs, body = d.request("GET", f"/sweeps/{sweep_id}", timeout=10)
                if status == 503 and hdrs.get("content-type", "").startswith("application/json"):
                    status = json.loads(body)["code"]  # tapedeck's own 503, not the proxy's
                answers.append((status, hdrs.get("retry-after"), round(time.monotonic() - t, 2)))
            except OSError as e:
                answers.append((type(e).__name__, None, round(time.monotonic() - t, 2)))
            time.sleep(0.5)
        d.start_db()
        print(f"\ndatabase down {time.monotonic() - t0:.1f} s at {progress_before} trials done; "
              f"answers meanwhile: {answers}", file=sys.stderr)
        sweep = d.wait_sweep(sweep_id, timeout=240, tolerate_unavailable=True)
        for child in d.nodes + d.workers:
            self.assertTrue(child.alive, f"{child.name} died with the database:\n{child.tail()}")
        self.check_sweep_matches_reference(sweep_id, sweep)
        # Every answer while it was down: tapedeck's 503 UNAVAILABLE with Retry-After, within
        # seconds (not the proxy's 503: the nodes stay in the proxy, they are alive).
        statuses = {a[0] for a in answers}
        self.assertEqual(statuses - {200}, {"UNAVAILABLE"}, f"answers meanwhile: {answers}")
        for status, retry_after, took in answers:
            self.assertLess(took, 6, f"an answer took {took} s: {answers}")
            if status == "UNAVAILABLE":
                self.assertIsNotNone(retry_after, f"503 without Retry-After: {answers}")


def metric_sum(worker, family):
    """The sum over its labels of a family in the worker's /metrics (`NAME` or `NAME_count`),
    or None when the worker does not expose it."""
    try:
        m = worker.metrics()
    except OSError:
        return None
    values = [v for k, v in m.items() if k.split("{", 1)[0] == family]
    return sum(values) if values else None


def jobs_finished(worker):
    """Jobs the worker finished (its job latency histogram's count), or None."""
    return metric_sum(worker, "tapedeck_job_latency_seconds_count")


if __name__ == "__main__":
    unittest.main(verbosity=2)
