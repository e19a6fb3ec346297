"""`tapedeck migrate --from sqlite:PATH --to postgresql://...` with the real binary: a store filled
by a real server (datasets, script versions, runs done and failed, inline scripts, a walk-forward
sweep) is copied into the tests' own PostgreSQL cluster, and the copy is compared with the source
row by row (ids, statuses, times, statistics, and every packed blob: equity, order events,
trades, plots, trial statistics, daily returns, the bars); when this build's `serve` takes
`--store`, a server on the copy answers the REST calls as the SQLite one did. Then the errors: a
target that holds any of it (nothing written), a bad URL, a missing source file, a source in use,
an unreachable server."""
import hashlib
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from pgcluster import PgCluster  # noqa: E402
from tdserver import BIN, SAMPLE, Server  # noqa: E402

JSON = {"Content-Type": "application/json"}

SMA = """params = { fast = {default=10, min=1, max=200, int=true},
           slow = {default=30, min=2, max=400, int=true} }
local f, s
function init() f = ta.sma(params.fast); s = ta.sma(params.slow) end
function on_bar(bar)
  local a, b = f(bar.close), s(bar.close)
  plot("fast", a)
  if bar.index == 5 then log("fifth bar") end
  if a and b then
    if a > b and position() == 0 then buy()
    elseif a < b and position() > 0 then close_position() end
  end
end
"""

BAD = """params = {}
function on_bar(bar)
  if bar.index == 20 then error("boom at twenty") end
end
"""


def migrate(*args):
    return subprocess.run([BIN, "migrate", *args], capture_output=True, text=True, timeout=300)


def sha(blob):
    return hashlib.sha256(blob if blob is not None else b"").hexdigest()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Per table: its key (as both databases can order by), and the columns compared — plain ones as
# values, blobs by their SHA-256. The run/sweep key is its id (seq differs between the stores).
PLAIN = {
    "runs": ("id", ["id", "dataset", "datasets", "symbols", "strategy", "strategy_version",
                    "strategy_sha256", "params", "cash", "commission", "fixed_fee", "slippage",
                    "allow_short", "from_us", "to_us", "request", "status", "progress", "error",
                    "error_cause", "error_line", "error_bar_us", "created_us", "started_us",
                    "finished_us"]),
    "sweeps": ("id", ["id", "dataset", "datasets", "symbols", "strategy", "strategy_sha256",
                      "cash", "plan", "request", "trials", "tasks", "status", "done", "error",
                      "created_us", "started_us", "finished_us", "summary"]),
    "strategy_versions": ("name, version", ["name", "version", "sha256", "params",
                                            "created_us"]),
    "script_sources": ("sha256", ["sha256", "source"]),
    "datasets": ("name", ["name", "symbol", "bars", "from_us", "to_us", "created_us"]),
}
# Result tables, joined to their run for its id; blobs compared by hash.
RUN_TABLES = {
    "run_stats": (["symbols", "bars", "fills", "trades", "max_drawdown_us", "final_equity",
                   "sharpe", "sortino", "profit_factor", "cagr", "periods_per_year"], []),
    "run_equity": (["points"], ["times", "equity"]),
    "run_events": (["count"], ["records", "reasons"]),
    "run_trades": (["count"], ["records"]),
    "run_plots": (["decl", "series", "logs"], ["plots", "log_records", "log_text"]),
}


FLOAT_COLUMNS = {"run_stats": {"final_equity", "sharpe", "sortino", "profit_factor", "cagr",
                                 "periods_per_year"}}


def same_float(a, b):
    """Equal doubles as printed by either side: SQLite keeps a NaN as NULL, PostgreSQL as NaN;
    infinities print as 'inf' and 'Infinity'."""
    fa = float("nan") if a in (None, "NaN", "nan") else float(a)
    fb = float("nan") if b in (None, "NaN", "nan") else float(b)
    return (fa != fa and fb != fb) or fa == fb


def norm(v):
    """A value as both sides can print it: floats through float() (PostgreSQL prints
    'Infinity', Python 'inf'), integers as int, text as is."""
    if v is None:
        return None
    if isinstance(v, (bytes, memoryview)):
        return sha(bytes(v))
    if isinstance(v, float):
        return repr(v)
    return str(v)


class Pg:
    """Rows from the cluster through psql: fields and records split on ASCII's unit and record
    separators (values hold newlines and '|'), NULL and '' both read as None."""

    def __init__(self, cluster):
        self.cluster = cluster

    def rows(self, sql):
        p = self.cluster._run("psql", "-X", "-q", "-A", "-t", "-F", "\x1f", "-R", "\x1e",
                              "-v", "ON_ERROR_STOP=1", "-d", self.cluster.url,
                              "-c", "SET extra_float_digits = 3; " + sql, timeout=60)
        out = p.stdout
        if out.endswith("\n"):
            out = out[:-1]
        return [[None if v == "" else v for v in rec.split("\x1f")]
                for rec in out.split("\x1e") if rec != ""]


class PgServer(Server):
    """`tapedeck serve --store URL` on a free port (Server's start names a SQLite --db)."""

    def __init__(self, url):
        super().__init__()
        self.store_url = url

    def start(self, timeout=30):
        env = dict(os.environ, TAPEDECK_SAMPLE=SAMPLE)
        self.proc = subprocess.Popen(
            [BIN, "serve", "--port", "0", "--store", self.store_url],
            cwd=self.dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("server exited: " + self.proc.stderr.read())
            m = re.search(r"listening on http://([^:]+):(\d+)", line)
            if m:
                self.port = int(m.group(2))
                return self
        raise RuntimeError("server did not start in time")


class MigrateTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = PgCluster()
        cls.pg.__enter__()
        try:
            cls.server = Server("--workers", "2").start()
            cls.fill(cls.server)
            cls.rest = cls.snapshot(cls.server)
            code = cls.server.stop()
            assert code == 0, code
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "server", None):
            cls.server.cleanup()
        cls.pg.__exit__(None, None, None)

    # ---- the source, filled through the API ----

    @classmethod
    def post(cls, server, path, body, expect):
        status, out = server.json("POST", path, json.dumps(body), JSON)
        assert status == expect, (path, body, status, out)
        return out

    @classmethod
    def fill(cls, server):
        cls.post(server, "/strategies", {"name": "kept", "source": SMA}, 201)
        cls.post(server, "/strategies",
                 {"name": "kept", "source": SMA.replace("default=10", "default=12")}, 201)
        ids = {}
        ids["sma"] = cls.post(server, "/backtests",
                              {"dataset": "sp500", "strategy": "sma_cross",
                               "commission": 0.001}, 202)["id"]
        ids["macd"] = cls.post(server, "/backtests",
                               {"dataset": "sp500", "strategy": "macd"}, 202)["id"]
        ids["named"] = cls.post(server, "/backtests",
                                {"dataset": "sp500", "strategy": "kept@1"}, 202)["id"]
        ids["inline"] = cls.post(server, "/backtests",
                                 {"dataset": "sp500", "script": SMA.replace("30}", "40}")},
                                 202)["id"]
        ids["failed"] = cls.post(server, "/backtests", {"dataset": "sp500", "script": BAD},
                                 202)["id"]
        for run_id in ids.values():
            server.wait_run(run_id)
        sweep = cls.post(server, "/sweeps",
                         {"dataset": "sp500", "strategy": "sma_cross",
                          "params": {"fast": {"from": 5, "to": 30, "step": 5},
                                     "slow": [20, 50]},
                          "walk_forward": {"folds": 2}}, 202)
        deadline = time.time() + 180
        while True:
            status, doc = server.json("GET", f"/sweeps/{sweep['id']}")
            if doc["status"] in ("done", "failed"):
                break
            assert time.time() < deadline, doc
            time.sleep(0.1)
        assert doc["status"] == "done", doc
        cls.runs = ids
        cls.sweep = sweep["id"]

    @classmethod
    def snapshot(cls, server):
        """The REST answers a server on the copy must give alike."""
        paths = ["/datasets", "/strategies/kept", "/strategies/kept/versions",
                 f"/sweeps/{cls.sweep}", f"/sweeps/{cls.sweep}/trials?limit=1000&sort=sharpe",
                 f"/sweeps/{cls.sweep}/trials/3/returns"]
        for run_id in cls.runs.values():
            paths += [f"/backtests/{run_id}", f"/backtests/{run_id}/trades"]
        paths += [f"/backtests/{cls.runs['sma']}/equity",
                  f"/backtests/{cls.runs['sma']}/frames?speed=60"]
        out = {}
        for p in paths:
            status, _, raw = server.request("GET", p)
            out[p] = (status, raw)
        return out

    # ---- comparing the two databases ----

    def sqlite_rows(self, sql):
        db = sqlite3.connect(f"file:{self.server.db}?mode=ro", uri=True)
        try:
            return [[norm(v) for v in row] for row in db.execute(sql)]
        finally:
            db.close()

    def pg_rows(self, sql):
        return Pg(self.pg).rows(sql)

    def assert_same_rows(self, table, want_sql, got_sql, floats):
        want = self.sqlite_rows(want_sql)
        got = self.pg_rows(got_sql)
        self.assertEqual(len(want), len(got), table)
        for w, g in zip(want, got):
            for i, (a, b) in enumerate(zip(w, g)):
                if i in floats and a is not None and b is not None:
                    self.assertEqual(float(a), float(b), (table, w[0], i))
                else:
                    self.assertEqual(a, b, (table, w[0], i, w, g))

    def test_1_copies_everything_then_refuses_a_second_time(self):
        r = migrate("--from", "sqlite:" + self.server.db, "--to", self.pg.url)
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        n = {t: self.sqlite_rows(f"SELECT count(*) FROM {t}")[0][0]
             for t in ("datasets", "strategy_versions", "runs", "run_stats", "sweeps",
                       "sweep_trials")}
        self.assertGreaterEqual(int(n["runs"]), 5)
        self.assertIn(f"copied {n['datasets']} datasets", r.stdout)
        self.assertIn(f"{n['strategy_versions']} script versions", r.stdout)
        self.assertIn(f"{n['runs']} runs ({n['run_stats']} with results)", r.stdout)
        self.assertIn(f"{n['sweeps']} sweeps ({n['sweep_trials']} trial records)", r.stdout)
        self.assertIn("the same as the source", r.stdout)

        # Plain rows: the same values, text and numbers alike (PostgreSQL's NULLs print empty,
        # SQLite's '' text prints empty too: compared as None on both sides).
        for table, (key, cols) in PLAIN.items():
            with self.subTest(table=table):
                sql = f"SELECT {', '.join(cols)} FROM {table} ORDER BY {key}"
                want = [[None if v == "" else v for v in row] for row in self.sqlite_rows(sql)]
                got = self.pg_rows(sql)
                self.assertEqual(len(want), len(got))
                for w, g in zip(want, got):
                    for c, a, b in zip(cols, w, g):
                        if a is not None and b is not None and c in (
                                "cash", "commission", "fixed_fee", "slippage", "progress"):
                            self.assertEqual(float(a), float(b), (table, c))
                        else:
                            self.assertEqual(a, b, (table, c, w[0]))

        # Result tables, blobs by hash.
        for table, (cols, blobs) in RUN_TABLES.items():
            with self.subTest(table=table):
                want_cols = ", ".join([f"t.{c}" for c in cols + blobs])
                got_cols = ", ".join([f"t.{c}" for c in cols] +
                                     [f"encode(sha256(t.{b}), 'hex')" for b in blobs])
                base = f"FROM {table} t JOIN runs r ON r.seq = t.run ORDER BY r.id"
                want = self.sqlite_rows(f"SELECT r.id, {want_cols} {base}")
                got = self.pg_rows(f"SELECT r.id, {got_cols} {base}")
                self.assertEqual(len(want), len(got))
                self.assertGreater(len(want), 0)
                floats = FLOAT_COLUMNS.get(table, set())
                for w, g in zip(want, got):
                    for c, a, b in zip(["id"] + cols + blobs, w, g):
                        if c in floats:
                            self.assertTrue(same_float(a, b), (table, w[0], c, a, b))
                        elif c in blobs and a is None:
                            self.assertEqual(sha(b""), b, (table, w[0], c))
                        else:
                            self.assertEqual(a, b, (table, w[0], c))

        # Trial records and their returns.
        for table, cols in (("sweep_trials", "t.phase, t.idx, t.params, t.error, t.stats"),
                            ("sweep_returns", "t.phase, t.idx, t.days, t.returns")):
            with self.subTest(table=table):
                order = f"FROM {table} t JOIN sweeps s ON s.seq = t.sweep ORDER BY s.id, " \
                        "t.phase, t.idx"
                want = self.sqlite_rows(f"SELECT s.id, {cols} {order}")
                got_cols = cols.replace("t.stats", "encode(sha256(t.stats), 'hex')") \
                               .replace("t.returns", "encode(sha256(t.returns), 'hex')")
                got = self.pg_rows(f"SELECT s.id, {got_cols} {order}")
                self.assertGreater(len(want), 0)
                self.assertEqual([[None if v == "" else v for v in row] for row in want], got)

        # The bars: the series file's bytes, whole.
        files = self.sqlite_rows("SELECT name, file FROM datasets ORDER BY name")
        got = self.pg_rows("SELECT name, encode(sha256(series), 'hex') FROM datasets "
                           "ORDER BY name")
        want = []
        for name, file in files:
            with open(os.path.join(self.server.db + ".data", file), "rb") as f:
                want.append([name, sha(f.read())])
        self.assertEqual(want, got)

        # A second migration into the same target: refused, nothing written.
        before = self.pg_rows("SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM "
                              "sweep_trials), (SELECT count(*) FROM datasets)")
        r = migrate("--from", "sqlite:" + self.server.db, "--to", self.pg.url)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("refused", r.stderr)
        self.assertIn("already holds", r.stderr)
        self.assertIn("nothing was written", r.stderr)
        self.assertEqual(before, self.pg_rows(
            "SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM sweep_trials), "
            "(SELECT count(*) FROM datasets)"))

    def test_2_a_server_on_the_copy_answers_as_the_source_did(self):
        help_text = subprocess.run([BIN, "serve", "--help"], capture_output=True, text=True)
        if "--store" not in help_text.stdout + help_text.stderr:
            self.skipTest("this build's serve has no --store")
        if self.pg.psql("SELECT count(*) FROM runs", check=False).stdout.strip() in ("", "0"):
            r = migrate("--from", "sqlite:" + self.server.db, "--to", self.pg.url)
            self.assertEqual(r.returncode, 0, r.stderr)
        copy = PgServer(self.pg.url).start()
        try:
            for path, (status, raw) in self.rest.items():
                with self.subTest(path=path):
                    got_status, _, got = copy.request("GET", path)
                    self.assertEqual(got_status, status)
                    if path.endswith("/frames?speed=60") or "trades" in path or \
                            "equity" in path or "returns" in path:
                        self.assertEqual(got, raw)
                    else:
                        self.assertEqual(json.loads(got), json.loads(raw))
        finally:
            copy.cleanup()

    def test_3_errors_name_what_is_wrong(self):
        db = self.server.db
        # Not a PostgreSQL URL.
        r = migrate("--from", "sqlite:" + db, "--to", "mysql://u@h/db")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--to must be a PostgreSQL URL", r.stderr)
        # A PostgreSQL URL libpq cannot parse.
        r = migrate("--from", "sqlite:" + db, "--to", "postgresql://u@127.0.0.1/db?nonsense=1")
        self.assertEqual(r.returncode, 2)
        self.assertIn("not a PostgreSQL connection URL", r.stderr)
        self.assertIn("nonsense", r.stderr)
        # No such source file: not created, named.
        missing = os.path.join(os.path.dirname(db), "missing.db")
        r = migrate("--from", "sqlite:" + missing, "--to", self.pg.url)
        self.assertEqual(r.returncode, 2)
        self.assertIn("no SQLite database at '" + missing + "'", r.stderr)
        self.assertFalse(os.path.exists(missing))
        # Options missing or unknown.
        self.assertEqual(migrate("--to", self.pg.url).returncode, 2)
        self.assertEqual(migrate("--from", db).returncode, 2)
        r = migrate("--from", db, "--to", self.pg.url, "--force")
        self.assertEqual(r.returncode, 2)
        self.assertIn("force", r.stderr)
        # Nobody listening: the server named, no password shown.
        port = free_port()
        r = migrate("--from", db, "--to", f"postgresql://u:secret@127.0.0.1:{port}/db")
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot open the target database", r.stderr)
        self.assertIn(f"127.0.0.1:{port}", r.stderr)
        self.assertNotIn("secret", r.stderr)
        # The source in use by a running server.
        self.server.start()
        try:
            r = migrate("--from", "sqlite:" + db, "--to", self.pg.url)
            self.assertEqual(r.returncode, 1)
            self.assertIn("stop it first", r.stderr)
        finally:
            self.assertEqual(self.server.stop(), 0)
        # Usage on --help.
        r = migrate("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("--from sqlite:PATH", r.stdout)


if __name__ == "__main__":
    unittest.main()
