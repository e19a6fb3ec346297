"""Starts a real `tapedeck serve` for black-box tests and talks plain HTTP to it (urllib)."""
import json
import os
import re
import shutil
import sqlite3
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import apischema

BIN = os.path.abspath(os.environ.get("TAPEDECK_BIN", "build/tapedeck"))
SRC = os.path.abspath(os.environ.get("TAPEDECK_SOURCE_DIR", "."))
SAMPLE = os.path.join(SRC, "node_modules/vega-datasets/data/sp500-2000.csv")


def integrity_check(db_path):
    """SQLite's PRAGMA integrity_check of a store the server has closed: "ok" when intact."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


class Server:
    """One server process on 127.0.0.1 and a free port, with its own store in a temp dir."""

    def __init__(self, *args, workdir=None):
        self.owned_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix="tapedeck-test-")
        self.args = list(args)
        self.proc = None
        self.port = None

    @property
    def db(self):
        return os.path.join(self.dir, "tapedeck.db")

    def start(self, timeout=30):
        env = dict(os.environ, TAPEDECK_SAMPLE=SAMPLE)
        self.proc = subprocess.Popen(
            [BIN, "serve", "--port", "0", "--db", self.db, *self.args],
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

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode if self.proc else None
        if self.proc:
            # Exited: reading to the end cannot block. Kept for cleanup()'s message.
            self.last_stderr = self.proc.stderr.read()[-4000:] if code != 0 else ""
            self.proc.stdout.close()
            self.proc.stderr.close()
        self.proc = None
        return code

    def cleanup(self):
        """Stops the server (SIGTERM) and requires exit status 0: under the sanitizer builds, that
        exit is where LeakSanitizer reports. A server already stopped by the test passes."""
        code = self.stop()
        if self.owned_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        if code not in (0, None):
            raise AssertionError(f"the server exited with {code}; its stderr ends:\n"
                                 f"{self.last_stderr}")

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def request(self, method, path, body=None, headers=None):
        """Returns (status, headers, body bytes); never raises on HTTP error statuses. The answer
        is checked against docs/api/openapi.yaml (apischema.SchemaViolation when it differs)."""
        data = body.encode() if isinstance(body, str) else body
        req = urllib.request.Request(self.url(path), data=data, method=method,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, hdrs, raw = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            status, hdrs, raw = e.code, e.headers, e.read()
        apischema.check_response(method, path, status, hdrs, raw)
        return status, hdrs, raw

    def json(self, method, path, body=None, headers=None):
        status, hdrs, raw = self.request(method, path, body, headers)
        return status, (json.loads(raw) if raw else None)

    def wait_run(self, run_id, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            status, run = self.json("GET", f"/backtests/{run_id}")
            if status == 200 and run["status"] in ("done", "failed"):
                return run
            time.sleep(0.05)
        raise AssertionError(f"run {run_id} did not finish")
