"""`tapedeck serve --store postgresql://...`: stateless nodes sharing one database and its job
queue. A real PostgreSQL 15 cluster of the test's own (pgcluster.py) and real serve processes:
nodes starting together import the sample once; a backtest posted to a node without workers is
executed by a node with workers; a stream waiting on a node for a run not done yet learns of its
end from the database's notification, without asking the database ten times a second; a ticket
issued by one node opens the stream on another with the same --ticket-key-file; /metrics carries
the database's and the job queue's families; a database restart is survived and counted. (The scale-out scenarios with `tapedeck worker`
processes and a proxy are test_scale_out.py's.)"""
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgcluster  # noqa: E402
import tdserver  # noqa: E402
from pgcluster import PgCluster  # noqa: E402
from test_server_sse import SseStream  # noqa: E402


class Node(tdserver.Server):
    """A serve node on the cluster's database (no --db: --store)."""

    def __init__(self, url, *args, workdir=None):
        super().__init__(*args, workdir=workdir)
        self.store_url = url
        self.output = ""

    def start(self, timeout=30):
        env = dict(os.environ, TAPEDECK_SAMPLE=tdserver.SAMPLE)
        self.proc = subprocess.Popen(
            [tdserver.BIN, "serve", "--port", "0", "--store", self.store_url, "--threads", "2",
             "--heartbeat", "300ms", *self.args],
            cwd=self.dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("node exited: " + self.proc.stderr.read())
            m = re.search(r"listening on http://([^:]+):(\d+)", line)
            if m:
                self.port = int(m.group(2))
                # Drained from here on, so a chatty node never blocks on a full pipe.
                self.drainer = threading.Thread(target=self._drain, daemon=True)
                self.drainer.start()
                return self
        raise RuntimeError("node did not start in time")

    def _drain(self):
        for line in self.proc.stderr:
            self.output += line

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.drainer.join(5)  # the pipe is at its end: the process has exited
        self.proc.stdout.close()
        self.proc.stderr.close()
        code, self.proc = self.proc.returncode, None
        return code

    def metric(self, name, headers=None):
        """The sum of the samples of family `name` on /metrics (None when absent)."""
        status, _, body = self.request("GET", "/metrics", headers=headers)
        assert status == 200, status
        values = [float(v) for k, v in re.findall(r"^([a-z_]+(?:\{[^}]*\})?) (\S+)$",
                                                  body.decode(), re.M)
                  if k.split("{", 1)[0] == name]
        return sum(values) if values else None


def start_nodes(url, workdir, *specs):
    """Nodes started at the same moment (each spec: its extra arguments), each in a folder of its
    own under `workdir`."""
    nodes = [Node(url, *args, workdir=tempfile.mkdtemp(prefix="node", dir=workdir))
             for args in specs]
    threads = [threading.Thread(target=n.start) for n in nodes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for n in nodes:
        if n.port is None:
            raise RuntimeError("a node did not start:\n" + n.output)
    return nodes


class ServePostgresTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = PgCluster().__enter__()
        cls.addClassCleanup(cls.pg.__exit__, None, None, None)
        cls.dir = tempfile.mkdtemp(prefix="tapedeck-serve-pg-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        cls.key = os.path.join(cls.dir, "ticket.key")
        with open(cls.key, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
        os.chmod(cls.key, 0o600)
        cls.token = "desk-" + secrets.token_hex(16)
        common = ["--ticket-key-file", cls.key, "--auth-token", cls.token]
        # Two stateless nodes (no workers: the default with PostgreSQL), started together.
        cls.a, cls.b = start_nodes(cls.pg.url, cls.dir, common, common)
        for node in (cls.a, cls.b):
            cls.addClassCleanup(node.stop)
        cls.common = common

    def auth(self):
        return {"Authorization": f"Bearer {self.token}"}

    def post_run(self, node):
        status, doc = node.json("POST", "/backtests",
                                json.dumps({"dataset": "sp500", "strategy": "sma_cross"}),
                                {"Content-Type": "application/json", **self.auth()})
        self.assertEqual(status, 202, doc)
        return doc["id"]

    def get_run(self, node, run_id):
        status, run = node.json("GET", f"/backtests/{run_id}", headers=self.auth())
        self.assertEqual(status, 200, run)
        return run

    def wait_run(self, node, run_id, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            run = self.get_run(node, run_id)
            if run["status"] in ("done", "failed"):
                return run
            time.sleep(0.02)
        self.fail(f"run {run_id} did not finish")

    def test_1_nodes_starting_together_import_the_sample_once(self):
        for node in (self.a, self.b):
            status, datasets = node.json("GET", "/datasets", headers=self.auth())
            self.assertEqual(status, 200)
            self.assertEqual([d["name"] for d in datasets], ["sp500"])
            self.assertNotIn("not imported", node.output)
        self.assertEqual(self.pg.psql("SELECT count(*) FROM datasets"), "1")

    def test_2_a_waiting_stream_hears_of_the_end_without_polling_the_database(self):
        run_id = self.post_run(self.a)
        time.sleep(0.5)
        # No worker anywhere yet: the run waits in the queue.
        self.assertEqual(self.get_run(self.b, run_id)["status"], "queued")
        self.assertEqual(self.b.metric("tapedeck_jobs", self.auth()), 1)  # queued 1, running 0, expired 0
        streams = []
        try:
            for _ in range(20):
                ticket = self.b.json("POST", f"/backtests/{run_id}/ticket",
                                     headers=self.auth())[1]["ticket"]
                s = SseStream(self.b.port, f"/backtests/{run_id}/stream?speed=3600&ticket={ticket}")
                self.assertEqual(s.status, 200)
                streams.append(s)
            before = self.b.metric("tapedeck_db_round_trip_seconds_count", self.auth())
            time.sleep(2.0)
            after = self.b.metric("tapedeck_db_round_trip_seconds_count", self.auth())
            # Asking every 100 ms would be 20 streams x 20 = 400 round trips; remembered as
            # pending, the run costs a recheck per stream every 3 s at most (and the metrics
            # scrapes' own queries).
            print(f"\nround trips while 20 streams waited 2 s: {after - before:.0f}",
                  file=sys.stderr, flush=True)
            self.assertLess(after - before, 80)

            # A node with a worker executes it; the streams on B get their frames.
            worker = start_nodes(self.pg.url, self.dir, [*self.common, "--workers", "1"])[0]
            self.addCleanup(worker.stop)
            run = self.wait_run(worker, run_id)
            self.assertEqual(run["status"], "done")
            done_at = time.monotonic()
            delays = []
            for s in streams:
                while True:
                    event = s.event()
                    if event.get("event") == "frame":
                        delays.append(time.monotonic() - done_at)
                        break
                    self.assertIn(event.get("event"), (None, "hb"), event)
            print(f"first frames after the run was seen done: max {max(delays):.3f} s",
                  file=sys.stderr, flush=True)
            self.assertEqual(worker.metric("tapedeck_job_wait_seconds_count", self.auth()), 1)
        finally:
            for s in streams:
                s.close()

    def test_3_a_ticket_from_one_node_opens_the_stream_on_another(self):
        run_id = self.post_run(self.a)
        status, doc = self.a.json("POST", f"/backtests/{run_id}/ticket", headers=self.auth())
        self.assertEqual(status, 200)
        s = SseStream(self.b.port, f"/backtests/{run_id}/stream?ticket={doc['ticket']}")
        try:
            self.assertEqual(s.status, 200)
        finally:
            s.close()

    def test_4_metrics_of_the_database_and_the_queue(self):
        status, _, body = self.a.request("GET", "/metrics", headers=self.auth())
        self.assertEqual(status, 200)
        text = body.decode()
        for line in ("# TYPE tapedeck_db_round_trip_seconds histogram",
                     "# TYPE tapedeck_db_reconnects_total counter",
                     'tapedeck_jobs{state="queued"} ', 'tapedeck_jobs{state="running"} ',
                     'tapedeck_jobs{state="expired"} ', "tapedeck_job_leases_held 0",
                     "tapedeck_job_lease_expiries_total 0",
                     "# TYPE tapedeck_job_wait_seconds histogram",
                     "# TYPE tapedeck_job_latency_seconds histogram"):
            self.assertIn(line, text)
        self.assertGreater(self.a.metric("tapedeck_db_round_trip_seconds_count", self.auth()), 0)

    def test_5_a_database_restart_is_answered_503_then_counted_as_reconnects(self):
        before = self.a.metric("tapedeck_db_reconnects_total", self.auth())
        self.pg.restart()
        statuses = []
        deadline = time.time() + 30
        while time.time() < deadline:
            status, _ = self.a.json("GET", "/datasets", headers=self.auth())
            statuses.append(status)
            if status == 200:
                break
            self.assertEqual(status, 503)
            time.sleep(0.1)
        self.assertEqual(statuses[-1], 200, statuses)
        self.assertGreater(self.a.metric("tapedeck_db_reconnects_total", self.auth()), before)


class StoreOptionTest(unittest.TestCase):
    """--store's usage errors, before anything is opened."""

    def serve(self, *args):
        with tempfile.TemporaryDirectory() as d:
            return subprocess.run([tdserver.BIN, "serve", "--port", "0", *args], cwd=d,
                                  capture_output=True, text=True, timeout=30)

    def test_a_store_that_names_no_store_is_a_usage_error(self):
        for spec, why in (("mysql://td@db/td", "postgresql://"), ("sqlite:", "path is empty")):
            proc = self.serve("--store", spec)
            self.assertEqual(proc.returncode, 2, proc.stderr)
            self.assertIn(why, proc.stderr)
            self.assertIn("field=store", proc.stderr)
        proc = self.serve("--db", "a.db", "--store", "sqlite:b.db")
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("--db and --store both name the store", proc.stderr)
        proc = self.serve("--workers", "0")
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("--workers 0 needs a PostgreSQL store", proc.stderr)

    def test_an_unreachable_database_fails_the_start_without_showing_the_password(self):
        port = pgcluster.free_port()  # nothing listens there
        proc = self.serve("--store", f"postgresql://td:s3cret-pw@127.0.0.1:{port}/td")
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("UNAVAILABLE", proc.stderr)
        self.assertNotIn("s3cret-pw", proc.stdout + proc.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
