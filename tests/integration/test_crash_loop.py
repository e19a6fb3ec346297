"""kill -9 at random moments during dataset imports, backtests and playback, over and over, against
one store (issue 5, "Crashes and storage").

Each cycle starts the real server on the same store, checks everything it holds, starts uploads,
backtests and SSE playback at once, and SIGKILLs the process after a random delay (0 to 0.9 s, half of them under 0.25 s, so
kills land during start-up, parsing, writing and fsync, engine runs and their commits). After every
restart:
  - the store opens and SQLite's integrity_check says ok;
  - every dataset is wholly there (exactly the bars, first and last time of its CSV) or absent, and
    every one acknowledged with 201 is there; the data directory holds one file per dataset;
  - every run ever acknowledged with 202 is there, and is done or failed with error "interrupted"
    (none left queued or running);
  - every run seen done before plays back byte-identically: /frames, /trades?format=csv and
    /equity?format=csv are the same bytes as the first time they were read.

KILLS (env TAPEDECK_CRASH_KILLS, default 50) and SEED (TAPEDECK_CRASH_SEED, default: random,
printed) make a failing run reproducible.
"""
import hashlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tdserver import BIN, Server, integrity_check  # noqa: E402

KILLS = int(os.environ.get("TAPEDECK_CRASH_KILLS", "50"))
SEED = int(os.environ.get("TAPEDECK_CRASH_SEED", str(random.randrange(1 << 30))))
# CSVs of these sizes (bars) are uploaded again and again under new names.
SIZES = (20_000, 150_000)
STRATEGIES = ("sma_cross", "ema_cross", "macd", "rsi_reversion", "bollinger_breakout")


def digest(data):
    return hashlib.sha256(data).hexdigest()


class Ops:
    """What the test asked for and what the server acknowledged, across all cycles."""

    def __init__(self):
        self.lock = threading.Lock()
        self.datasets_tried = {}  # name -> csv size key
        self.datasets_acked = set()
        self.runs_acked = set()
        self.done_digests = {}  # run id -> {path: sha256}
        self.kills = 0


class CrashLoopTest(unittest.TestCase):
    def setUp(self):
        print(f"seed {SEED}, kills {KILLS}", flush=True)
        self.rng = random.Random(SEED)
        self.tmp = tempfile.mkdtemp(prefix="tapedeck-crash-")
        self.csvs = {}
        for bars in SIZES:
            path = os.path.join(self.tmp, f"gen{bars}.csv")
            subprocess.run([BIN, "gen", "--bars", str(bars), "--seed", str(bars), "--interval",
                            "1m", "--out", path], check=True, capture_output=True)
            with open(path, "rb") as f:
                self.csvs[bars] = f.read()
        self.store_dir = os.path.join(self.tmp, "store")
        os.mkdir(self.store_dir)
        self.server = Server("--workers", "2", workdir=self.store_dir)
        self.ops = Ops()
        self.reference = {}  # csv size -> the 201 body's bars/from/to

    def tearDown(self):
        self.server.stop(sig=signal.SIGKILL)
        subprocess.run(["rm", "-rf", self.tmp], check=False)

    # ---- checks after each start ----

    def check_store(self, cycle):
        s = self.server
        ctx = f"cycle {cycle} (seed {SEED})"
        self.assertEqual(integrity_check(s.db), "ok", ctx)

        status, datasets = s.json("GET", "/datasets")
        self.assertEqual(status, 200, ctx)
        names = {d["name"] for d in datasets}
        for d in datasets:
            if d["name"] == "sp500":
                continue
            self.assertIn(d["name"], self.ops.datasets_tried, ctx)
            want = self.reference[self.ops.datasets_tried[d["name"]]]
            got = {k: d[k] for k in ("bars", "from", "to", "symbol")}
            self.assertEqual(got, want, f"{ctx}: dataset {d['name']} is not whole")
        missing = self.ops.datasets_acked - names
        self.assertFalse(missing, f"{ctx}: acknowledged datasets lost: {missing}")
        files = [f for f in os.listdir(s.db + ".data")]
        self.assertEqual(len(files), len(datasets), f"{ctx}: data dir {sorted(files)}")

        status, runs = s.json("GET", "/backtests")
        self.assertEqual(status, 200, ctx)
        by_id = {r["id"]: r for r in runs}
        lost = self.ops.runs_acked - set(by_id)
        self.assertFalse(lost, f"{ctx}: acknowledged runs lost: {lost}")
        for run in runs:
            if run["status"] == "failed":
                self.assertEqual(run.get("error"), {"msg": "interrupted", "cause": "interrupted"},
                                 f"{ctx}: {run}")
                continue
            self.assertEqual(run["status"], "done", f"{ctx}: {run['id']} left {run['status']}")
            paths = [f"/backtests/{run['id']}/frames?speed=3600",
                     f"/backtests/{run['id']}/trades?format=csv",
                     f"/backtests/{run['id']}/equity?format=csv"]
            got = {}
            for p in paths:
                st, _, body = s.request("GET", p)
                self.assertEqual(st, 200, f"{ctx}: {p}: {body[:200]!r}")
                got[p] = digest(body)
            before = self.ops.done_digests.setdefault(run["id"], got)
            self.assertEqual(got, before, f"{ctx}: run {run['id']} plays differently")

    # ---- work that the kill interrupts ----

    def upload(self, name, size):
        with self.ops.lock:
            self.ops.datasets_tried[name] = size
        try:
            status, body = self.server.json("POST", f"/datasets?name={name}&symbol=GEN",
                                            self.csvs[size])
        except OSError:
            return
        if status == 201:
            with self.ops.lock:
                self.ops.datasets_acked.add(name)

    def backtest(self, dataset, strategy, acked):
        try:
            status, body = self.server.json("POST", "/backtests",
                                            json.dumps({"dataset": dataset, "strategy": strategy}))
        except OSError:
            return
        if status == 202:
            with self.ops.lock:
                self.ops.runs_acked.add(body["id"])
            acked.set()

    def play(self, run_id):
        """Reads an SSE playback until the connection dies."""
        try:
            sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=5)
            sock.sendall(f"GET /backtests/{run_id}/stream?speed=3600 HTTP/1.1\r\n"
                         f"Host: 127.0.0.1\r\n\r\n".encode())
            while sock.recv(65536):
                pass
            sock.close()
        except OSError:
            pass

    def test_kill_9_loop(self):
        s = self.server
        s.start()
        # Reference uploads (not killed): what a whole dataset of each CSV looks like.
        for size in SIZES:
            name = f"ref{size}"
            self.ops.datasets_tried[name] = size
            status, body = s.json("POST", f"/datasets?name={name}&symbol=GEN", self.csvs[size])
            self.assertEqual(status, 201, body)
            self.ops.datasets_acked.add(name)
            self.reference[size] = {k: body[k] for k in ("bars", "from", "to", "symbol")}
            self.assertEqual(body["bars"], size)
        s.stop(sig=signal.SIGKILL)

        delays = []
        for cycle in range(KILLS):
            s.start()
            self.check_store(cycle)
            status, datasets = s.json("GET", "/datasets")
            done = [i for i, d in self.ops.done_digests.items()]
            threads = []
            acked = threading.Event()  # a backtest of this cycle was acknowledged
            for _ in range(self.rng.randint(0, 2)):
                name = f"d{cycle}-{self.rng.randrange(1 << 20):x}"
                threads.append(threading.Thread(
                    target=self.upload, args=(name, self.rng.choice(SIZES))))
            for _ in range(self.rng.randint(1, 3)):
                threads.append(threading.Thread(target=self.backtest, args=(
                    self.rng.choice(datasets)["name"], self.rng.choice(STRATEGIES), acked)))
            for _ in range(self.rng.randint(0, 3) if done else 0):
                threads.append(threading.Thread(target=self.play, args=(self.rng.choice(done),)))
            for t in threads:
                t.start()
            # Every tenth cycle lets the work finish, so that there are done runs to compare.
            # The others die early half the time: most work is done within 0.3 s.
            delay = (2.5 if cycle % 10 == 9 else
                     self.rng.uniform(0, 0.25) if self.rng.random() < 0.5 else
                     self.rng.uniform(0, 0.9))
            delays.append(delay)
            if cycle % 5 == 2:
                # Runs now take tens of milliseconds, so random delays may miss every one of them:
                # here the kill follows a 202 at once, while that run is queued or running.
                acked.wait(10)
            else:
                time.sleep(delay)
            s.stop(sig=signal.SIGKILL)
            self.ops.kills += 1
            for t in threads:
                t.join(30)
        s.start()
        self.check_store(KILLS)
        status, runs = s.json("GET", "/backtests")
        done = sum(r["status"] == "done" for r in runs)
        interrupted = sum(r["status"] == "failed" for r in runs)
        status, datasets = s.json("GET", "/datasets")
        print(f"{self.ops.kills} kills; runs acknowledged {len(self.ops.runs_acked)}, done {done}, "
              f"interrupted {interrupted}, compared byte for byte {len(self.ops.done_digests)}; "
              f"datasets tried {len(self.ops.datasets_tried)}, acknowledged "
              f"{len(self.ops.datasets_acked)}, present {len(datasets)}", flush=True)
        self.assertGreaterEqual(self.ops.kills, KILLS)
        self.assertGreater(done, 0)
        self.assertGreater(interrupted, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
