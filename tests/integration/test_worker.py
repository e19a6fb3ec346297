"""`tapedeck worker` with the real binary against the tests' own PostgreSQL cluster: it refuses a
SQLite store, says when it is ready, executes a queued job (a run whose dataset is missing ends
failed, its job gone), answers /metrics and /healthz on --metrics-listen, and on SIGTERM gives its
jobs back and exits 0."""
import os
import re
import signal
import subprocess
import sys
import time
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from pgcluster import PgCluster  # noqa: E402
from tdserver import BIN  # noqa: E402

RUN = ("INSERT INTO runs(id, dataset, symbols, strategy, params, cash, commission, fixed_fee, "
       "slippage, allow_short, request, status, created_us) VALUES ('{id}', 'gone', '[\"X\"]', "
       "'sma_cross', '{{}}', 100000, 0, 0, 0, 1, '{{}}', 'queued', 0)")
JOB = ("INSERT INTO jobs(kind, run, client, priority) SELECT 'run', seq, 'test', 0 FROM runs "
       "WHERE id = '{id}'; NOTIFY tapedeck_job, '1'")


class Worker:
    """A `tapedeck worker` process; stopped (SIGKILL if need be) by close()."""

    def __init__(self, url, *args):
        self.proc = subprocess.Popen([BIN, "worker", "--store", url, *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lines = []

    def wait_line(self, pattern, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            m = re.search(pattern, line)
            if m:
                return m
        raise AssertionError(f"no line matching {pattern!r}: {self.lines} "
                             f"{self.proc.stderr.read() if self.proc.poll() is not None else ''}")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()
        self.proc.stderr.close()


class WorkerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = PgCluster().__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.pg.__exit__(None, None, None)

    def wait_for(self, sql, want, timeout=30):
        deadline = time.monotonic() + timeout
        got = None
        while time.monotonic() < deadline:
            got = self.pg.psql(sql)
            if got == want:
                return
            time.sleep(0.05)
        self.fail(f"{sql}: {got!r}, wanted {want!r}")

    def test_refuses_a_sqlite_store(self):
        p = subprocess.run([BIN, "worker", "--store", "sqlite:x.db"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn("postgresql://", p.stderr)
        p = subprocess.run([BIN, "worker"], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--store", p.stderr)

    def test_executes_serves_metrics_and_stops_on_sigterm(self):
        w = Worker(self.pg.url, "--workers", "2", "--lease", "5s",
                   "--metrics-listen", "127.0.0.1:0")
        try:
            port = int(w.wait_line(r"metrics on http://127\.0\.0\.1:(\d+)/metrics").group(1))
            w.wait_line(r"^tapedeck worker: ready \(2 workers\)$")
            self.pg.psql(RUN.format(id="r1"))
            self.pg.psql(JOB.format(id="r1"))
            self.wait_for("SELECT status || '/' || error_cause FROM runs WHERE id = 'r1'",
                          "failed/not_found")
            self.wait_for("SELECT count(*) FROM jobs", "0")

            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as r:
                self.assertEqual(r.status, 200)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
                text = r.read().decode()
            self.assertIn("tapedeck_worker_jobs_done_total 1", text)
            self.assertIn("tapedeck_job_leases_held 0", text)
            self.assertIn('tapedeck_jobs{state="queued"} 0', text)
            self.assertIn('tapedeck_job_latency_seconds_bucket{le="+Inf"} 1', text)
            self.assertIn("tapedeck_db_round_trip_seconds_count", text)

            w.proc.send_signal(signal.SIGTERM)
            self.assertEqual(w.proc.wait(timeout=30), 0)
            self.assertIn("tapedeck worker: stopped", w.proc.stderr.read())
        finally:
            w.close()

    def test_a_stopped_worker_gives_its_job_back(self):
        # A job held by a worker that stops is queued again at once, not left to its lease.
        w = Worker(self.pg.url, "--workers", "1", "--lease", "10m")
        try:
            w.wait_line(r"ready \(1 workers\)")  # the schema is there from here
            self.pg.psql(RUN.format(id="r2"))
            # The worker's only thread takes the job and waits to mark the run running, on a row
            # lock this session holds until it is terminated.
            lock = subprocess.Popen(
                ["psql", "-X", "-q", "-d", self.pg.url, "-c",
                 "BEGIN; SELECT * FROM runs WHERE id = 'r2' FOR NO KEY UPDATE; SELECT pg_sleep(120); "
                 "COMMIT;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.wait_for("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                          "WHERE c.relname = 'runs' AND l.mode = 'RowShareLock'", "1")
            self.pg.psql(JOB.format(id="r2"))
            self.wait_for("SELECT state FROM jobs", "running")
            w.proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            self.pg.psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                         "WHERE query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()")
            lock.wait(timeout=30)
            self.assertEqual(w.proc.wait(timeout=30), 0)
        finally:
            w.close()
        # Given back: queued, the attempt not counted; the run left `running` for the next worker
        # to take over.
        self.assertEqual(self.pg.psql("SELECT state || '/' || attempts FROM jobs"), "queued/0")
        self.assertEqual(self.pg.psql("SELECT status FROM runs WHERE id = 'r2'"), "running")
        self.pg.psql("DELETE FROM runs")  # its job with it


if __name__ == "__main__":
    unittest.main()
