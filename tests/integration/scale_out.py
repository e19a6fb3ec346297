"""A whole scale-out deployment on loopback, for tests and benchmarks: a PostgreSQL cluster of its
own (pgcluster.PgCluster), N `tapedeck serve --store URL --ticket-key-file F` nodes, M `tapedeck
worker --store URL` processes and HAProxy in front of the nodes, configured from
docs/deploy/haproxy.cfg (only the public address and the node lines are rewritten).

    with Deployment(nodes=2, workers=2) as d:     # everything started, HAProxy answering
        d.upload_dataset("h1", csv_bytes)
        run_id = d.submit_run({"dataset": "h1", "strategy": "sma_cross"})
        d.wait_runs([run_id])
        d.kill_worker(0)                            # kill -9
        d.start_worker(0)                           # a new process in that slot
        d.stop_db(); d.start_db()                   # same port, same data
    # every process stopped, the cluster's folder removed: also when the body raised

Every child runs in a session of its own and is killed with its session when the deployment
closes (or at interpreter exit, should a test crash past it). Logs go to files in the
deployment's temp dir; `tails()` returns their ends for failure messages.
"""
import atexit
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import apischema
from pgcluster import PgCluster

HOST = "127.0.0.1"
BIN = os.path.abspath(os.environ.get("TAPEDECK_BIN", "build/tapedeck"))
SRC = os.path.abspath(os.environ.get(
    "TAPEDECK_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))
HAPROXY_CFG = os.path.join(SRC, "docs", "deploy", "haproxy.cfg")

# Enough room for a test's bursts: the queue limits count per client address, and behind the
# proxy every test client has the same one.
NODE_ARGS = ["--max-queued-per-client", "100000", "--max-queued", "100000"]


def find_program(name):
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    found = shutil.which(name, path=path)
    if not found:
        raise AssertionError(f"{name} is not installed; scripts/bootstrap.sh installs it "
                             f"(Debian package '{name}')")
    return found


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def parse_metrics(text):
    """Prometheus text -> {'name{labels}': value} (labels as written)."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        try:
            out[key] = float(value)
        except ValueError:
            pass
    return out


def http_request(port, method, path, body=None, headers=None, timeout=30):
    """(status, {lowercase header: value}, body bytes) from 127.0.0.1:port; one connection."""
    c = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


class Child:
    """One process in its own session; stdout lines kept (and waited for), stderr to a file."""

    def __init__(self, name, argv, workdir, env=None):
        self.name = name
        self.argv = argv
        self.err_path = os.path.join(workdir, f"{name}.err")
        self.err = open(self.err_path, "ab")
        self.lines = []
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.err, text=True,
                                     cwd=workdir, env=env, start_new_session=True)
        self.pid = self.proc.pid
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_line(self, pattern, timeout=60):
        """The first stdout line matching `pattern` (a regex) as its match; RuntimeError when
        the process exits first or after `timeout` seconds."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    m = rx.search(line)
                    if m:
                        return m
                if self.proc.poll() is not None and not self.reader.is_alive():
                    raise RuntimeError(f"{self.name} exited ({self.proc.returncode}) before "
                                       f"{pattern!r}:\n{self.tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f"{self.name}: no {pattern!r} in {timeout} s:\n{self.tail()}")
                self.cond.wait(min(left, 0.2))

    @property
    def alive(self):
        return self.proc.poll() is None

    def kill9(self):
        """SIGKILL, as a crash: nothing gets to clean up. Waits until it is gone."""
        if self.alive:
            os.kill(self.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Asks it to stop (SIGTERM); kills its whole session after `timeout`. Returns the exit
        code, or None when it had to be killed."""
        code = self.proc.poll()
        if code is None:
            try:
                self.proc.send_signal(sig)
                code = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                code = None
        try:  # anything it left behind in its session (none expected)
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait(10)
        self.reader.join(5)
        self.proc.stdout.close()
        self.err.close()
        return code

    def tail(self, n=30):
        try:
            with open(self.err_path, errors="replace") as f:
                err = f.readlines()[-n:]
        except OSError:
            err = []
        return (f"--- {self.name} stdout ---\n" + "".join(self.lines[-n:]) +
                f"--- {self.name} stderr ---\n" + "".join(err))

    def cpu_seconds(self):
        """User + system CPU time so far (from /proc; 0 once it is gone)."""
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return 0.0


class Node(Child):
    """`tapedeck serve --store URL --ticket-key-file F` on a port chosen beforehand (so that the
    proxy's config can name it before the node starts)."""

    def __init__(self, index, url, key_file, workdir, web_root, args=(), port=None):
        self.index = index
        self.port = port or free_port()
        argv = [BIN, "serve", "--host", HOST, "--port", str(self.port), "--store", url,
                "--ticket-key-file", key_file, "--web-root", web_root, *NODE_ARGS, *args]
        super().__init__(f"node{index + 1}", argv, workdir)

    def wait_ready(self, timeout=60):
        self.wait_line(r"listening on http://", timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if http_request(self.port, "GET", "/healthz", timeout=5)[0] == 200:
                    return self
            except OSError:
                pass
            if not self.alive:
                break
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} never became healthy:\n{self.tail()}")

    def metrics(self):
        return parse_metrics(http_request(self.port, "GET", "/metrics")[2].decode())


class Worker(Child):
    """`tapedeck worker --store URL --workers N --lease L --metrics-listen 127.0.0.1:P`."""

    def __init__(self, index, url, workdir, threads=1, lease="2s", args=()):
        self.index = index
        self.metrics_port = free_port()
        argv = [BIN, "worker", "--store", url, "--workers", str(threads), "--lease", lease,
                "--metrics-listen", f"{HOST}:{self.metrics_port}", *args]
        super().__init__(f"worker{index + 1}", argv, workdir)

    def wait_ready(self, timeout=60):
        self.wait_line(r"tapedeck worker: ready", timeout)
        return self

    def metrics(self):
        return parse_metrics(http_request(self.metrics_port, "GET", "/metrics")[2].decode())


class Haproxy(Child):
    """HAProxy with docs/deploy/haproxy.cfg, its public address and node lines rewritten."""

    def __init__(self, node_ports, workdir):
        self.port = free_port()
        with open(HAPROXY_CFG) as f:
            text = f.read()
        text = self.config(text, self.port, node_ports)
        cfg = os.path.join(workdir, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(text)
        super().__init__("haproxy", [find_program("haproxy"), "-f", cfg, "-db"], workdir)

    @staticmethod
    def config(text, port, node_ports):
        """The documented config with `bind` on 127.0.0.1:port and one server line per node
        (in place of the first `server nodeK ADDR` line; any further ones are removed)."""
        bind = re.compile(r"^(\s*)bind :80\b", re.M)
        if len(bind.findall(text)) != 1:
            raise AssertionError("expected exactly one `bind :80` in docs/deploy/haproxy.cfg")
        text = bind.sub(lambda m: f"{m.group(1)}bind {HOST}:{port}", text)
        server = re.compile(r"^(\s*)server node\d+ \S+([^\n]*)\n", re.M)
        found = server.findall(text)
        if not found:
            raise AssertionError("no `server nodeK ADDR` line in docs/deploy/haproxy.cfg")
        indent = found[0][0]
        lines = "".join(f"{indent}server node{i + 1} {HOST}:{p}\n" for i, p in enumerate(node_ports))
        first = [True]

        def replace(_):
            if first[0]:
                first[0] = False
                return lines
            return ""
        return server.sub(replace, text)

    def wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive:
                break
            try:
                if http_request(self.port, "GET", "/healthz", timeout=5)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"haproxy did not start:\n{self.tail()}")


_LIVE = set()


@atexit.register
def _close_all():
    for d in list(_LIVE):
        d.close()


class Deployment:
    """PostgreSQL + nodes + workers + HAProxy. Not thread-safe, except the request helpers."""

    def __init__(self, nodes=2, workers=2, worker_threads=1, lease="2s", node_args=(),
                 worker_args=(), proxy=True, pg_conf=()):
        self.n_nodes = nodes
        self.n_workers = workers
        self.worker_threads = worker_threads
        self.lease = lease
        self.node_args = list(node_args)
        self.worker_args = list(worker_args)
        self.use_proxy = proxy
        self.pg_conf = list(pg_conf)  # extra postgresql.conf lines ("name = value")
        self.dir = None
        self.pg = None
        self.nodes = []
        self.workers = []
        self.old = []  # processes killed or replaced, kept for their logs
        self.proxy = None
        self.exit_codes = {}  # name -> exit code on close()'s SIGTERM (None: had to be killed)

    # ---- life ----

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc):
        self.close()

    def start(self):
        _LIVE.add(self)
        self.dir = tempfile.mkdtemp(prefix="tapedeck-scale-")
        self.web = os.path.join(self.dir, "web")
        os.makedirs(self.web)
        with open(os.path.join(self.web, "index.html"), "w") as f:
            f.write("<!doctype html><title>tapedeck</title>")
        self.key_file = os.path.join(self.dir, "ticket.key")
        with open(self.key_file, "w") as f:
            f.write(os.urandom(32).hex() + "\n")
        os.chmod(self.key_file, 0o600)
        self.pg = PgCluster()
        self.pg.create()
        # Each process pools its connections (the store's, the queue's, one listening): room for
        # every process of the deployment at its busiest, and the ones that replace them.
        with open(os.path.join(self.pg.data, "postgresql.conf"), "a") as f:
            f.write("max_connections = 300\n" + "".join(line + "\n" for line in self.pg_conf))
        self.pg.start()
        # The first node creates the schema; the others then start side by side.
        self.nodes = [self._new_node(0).wait_ready()]
        rest = [self._new_node(i) for i in range(1, self.n_nodes)]
        for n in rest:
            n.wait_ready()
        self.nodes += rest
        self.workers = [self._new_worker(i) for i in range(self.n_workers)]
        for w in self.workers:
            w.wait_ready()
        if self.use_proxy:
            self.proxy = Haproxy([n.port for n in self.nodes], self.dir).wait_ready()
        return self

    @property
    def url(self):
        return self.pg.url

    def _new_node(self, i, port=None):
        return Node(i, self.url, self.key_file, self.dir, self.web, self.node_args, port=port)

    def _new_worker(self, i):
        return Worker(i, self.url, self.dir, self.worker_threads, self.lease, self.worker_args)

    def close(self):
        """Stops HAProxy, the workers, the nodes (SIGTERM, recording their exit codes) and the
        cluster, and removes the temp dir. Safe to call twice; never raises."""
        if self.dir is None:
            return
        for child in ([self.proxy] if self.proxy else []) + self.workers + self.nodes:
            was_alive = child.alive  # one a test killed has no exit of its own to report
            try:
                code = child.stop()
                if was_alive:
                    self.exit_codes[child.name] = code
            except Exception as e:  # noqa: BLE001 — stop everything whatever happens
                self.exit_codes[child.name] = f"stop failed: {e}"
        for child in self.old:
            try:
                child.stop()
            except Exception:  # noqa: BLE001
                pass
        if self.pg is not None:
            self.pg.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None
        _LIVE.discard(self)

    def tails(self):
        parts = [c.tail() for c in self.old + self.nodes + self.workers]
        if self.proxy:
            parts.append(self.proxy.tail(15))
        return "\n".join(parts)

    # ---- faults ----

    def kill_worker(self, i):
        """kill -9 worker i (it stays dead until start_worker(i))."""
        self.workers[i].kill9()

    def start_worker(self, i):
        """A new worker process in slot i (the old one, dead or alive, is stopped first)."""
        old = self.workers[i]
        if old.alive:
            old.stop()
        self.old.append(old)
        self.workers[i] = self._new_worker(i).wait_ready()
        return self.workers[i]

    def kill_node(self, i):
        """kill -9 node i; HAProxy takes it out after its failed health checks."""
        self.nodes[i].kill9()

    def start_node(self, i):
        """Node i again, on its port (HAProxy puts it back after two good checks)."""
        old = self.nodes[i]
        if old.alive:
            old.stop()
        self.old.append(old)
        self.nodes[i] = self._new_node(i, port=old.port).wait_ready()
        return self.nodes[i]

    def stop_db(self):
        self.pg.stop()

    def start_db(self):
        self.pg.restart()  # stop() is a no-op when stopped: this starts it on the same port

    def worker_for(self, name):
        """The live Worker whose pid is in a job's worker name ("host:pid..."), or None."""
        for w in self.workers:
            if re.search(rf"(^|\D){w.pid}(\D|$)", name or "") and w.alive:
                return w
        return None

    def running_jobs(self):
        """[(job id, kind, attempts, worker name)] of the jobs held right now (the jobs table)."""
        out = self.pg.psql("SELECT id || '|' || kind || '|' || attempts || '|' || "
                           "coalesce(worker, '') FROM jobs WHERE state = 'running' ORDER BY id")
        rows = []
        for line in out.splitlines():
            if line:
                job, kind, attempts, worker = line.split("|", 3)
                rows.append((int(job), kind, int(attempts), worker))
        return rows

    def jobs_left(self, timeout=10):
        """The number of jobs in the queue, once it is 0 or after `timeout` seconds (a worker
        deletes a job just after storing its result, so a done sweep's may linger a moment)."""
        deadline = time.monotonic() + timeout
        while True:
            n = int(self.pg.psql("SELECT count(*) FROM jobs"))
            if n == 0 or time.monotonic() > deadline:
                return n
            time.sleep(0.1)

    def job_attempts(self, job):
        """The job's claims so far, or None once it is finished (deleted)."""
        out = self.pg.psql(f"SELECT attempts FROM jobs WHERE id = {int(job)}")
        return int(out) if out else None

    def sweep_counts(self, sweep_id):
        """(done, tasks, trial rows, distinct (phase, idx)) of a sweep, read from the store."""
        out = self.pg.psql(
            "SELECT s.done || '|' || s.tasks || '|' || count(t.idx) || '|' || "
            "count(DISTINCT (t.phase, t.idx)) FROM sweeps s LEFT JOIN sweep_trials t "
            f"ON t.sweep = s.seq WHERE s.id = '{sweep_id}' GROUP BY s.done, s.tasks")
        return tuple(int(x) for x in out.split("|"))

    # ---- the API through the proxy (or node 0 without one) ----

    @property
    def port(self):
        return self.proxy.port if self.proxy else self.nodes[0].port

    def request(self, method, path, body=None, headers=None, timeout=30, port=None):
        """(status, headers, body); tapedeck's answers are checked against openapi.yaml (not the
        proxy's own 502/503 pages)."""
        if isinstance(body, str):
            body = body.encode()
        status, hdrs, raw = http_request(port or self.port, method, path, body, headers, timeout)
        if hdrs.get("content-type", "").startswith("application/json") or status < 500:
            apischema.check_response(method, path, status, hdrs, raw)
        return status, hdrs, raw

    def json(self, method, path, body=None, headers=None, timeout=30, port=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            headers = {"Content-Type": "application/json", **(headers or {})}
        status, _, raw = self.request(method, path, body, headers, timeout, port)
        try:
            return status, (json.loads(raw) if raw else None)
        except ValueError:
            return status, raw.decode(errors="replace")

    def submit(self, path, spec, timeout=60):
        """POST spec to path; on 429/503 (with Retry-After) tries again. Returns the answer."""
        deadline = time.monotonic() + timeout
        while True:
            status, out = self.json("POST", path, spec)
            if status == 202:
                return out
            if status not in (429, 502, 503) or time.monotonic() > deadline:
                raise AssertionError(f"POST {path} {spec}: {status} {out}")
            time.sleep(0.2)

    def upload_dataset(self, name, csv, symbol=None):
        status, out = self.json("POST", f"/datasets?name={name}&symbol={symbol or name}", csv,
                                {"Content-Type": "text/csv"})
        if status != 201:
            raise AssertionError(f"upload {name}: {status} {out}")
        return out

    def submit_run(self, spec):
        return self.submit("/backtests", spec)["id"]

    def submit_sweep(self, spec):
        return self.submit("/sweeps", spec)["id"]

    def wait_runs(self, ids, timeout=300):
        """{id: run} once every run in ids is done or failed (polling the runs' list)."""
        want = set(ids)
        deadline = time.monotonic() + timeout
        while True:
            status, runs = self.json("GET", "/backtests?limit=0")
            if status == 200:
                ended = {r["id"]: r for r in runs
                         if r["id"] in want and r["status"] in ("done", "failed")}
                if len(ended) == len(want):
                    return ended
            if time.monotonic() > deadline:
                raise AssertionError(f"runs not done after {timeout} s (last answer {status})")
            time.sleep(0.2)

    def wait_sweep(self, sweep_id, timeout=300, tolerate_unavailable=False):
        deadline = time.monotonic() + timeout
        while True:
            try:
                status, s = self.json("GET", f"/sweeps/{sweep_id}", timeout=15)
            except OSError:
                if not tolerate_unavailable:
                    raise
                status, s = None, None
            if status == 200 and s["status"] in ("done", "failed"):
                return s
            if status not in (200, None) and not (tolerate_unavailable and status in (502, 503)):
                raise AssertionError(f"GET /sweeps/{sweep_id}: {status} {s}")
            if time.monotonic() > deadline:
                raise AssertionError(f"sweep {sweep_id} not done after {timeout} s: {s}")
            time.sleep(0.2)

    def trials(self, sweep_id):
        status, out = self.json("GET", f"/sweeps/{sweep_id}/trials?limit=0")
        if status != 200:
            raise AssertionError(f"trials of {sweep_id}: {status} {out}")
        return out["trials"]


# ---- playback clients that reconnect as the web player does ----------------------------------

class StreamLog:
    """What one playback client saw: its frames in order and each reconnection."""

    def __init__(self, kind):
        self.kind = kind
        self.frames = []      # frame messages (dicts), in arrival order
        self.connects = 0     # connections that were answered 200 / upgraded
        self.refused = []     # statuses (or exception names) of attempts that were not
        self.resumes = []     # (last window before the break, first window after it)
        self.repeats = []     # windows received again after a reconnect, and dropped (WS)
        self.ended = False
        self.error = None

    @property
    def windows(self):
        return [f["i"] for f in self.frames]

    @property
    def orders(self):
        return [(o["id"], o["status"]) for f in self.frames for o in f["orders"]]


async def _read_sse_events(reader, chunked):
    """Yields each SSE event (a dict of fields) from the response body."""
    import asyncio  # noqa: F401 — the caller runs us in its loop
    buf = b""

    async def more():
        if not chunked:
            return await reader.read(65536)
        size_line = await reader.readline()
        if not size_line:
            return b""
        size = int(size_line.strip().split(b";")[0] or b"0", 16)
        if size == 0:
            return b""
        data = await reader.readexactly(size)
        await reader.readexactly(2)
        return data

    while True:
        while b"\n\n" not in buf:
            chunk = await more()
            if not chunk:
                return
            buf += chunk
        block, _, buf = buf.partition(b"\n\n")
        fields = {}
        for line in block.decode().split("\n"):
            k, _, v = line.partition(":")
            fields[k] = v[1:] if v.startswith(" ") else v
        yield fields


async def sse_play(port, run_id, speed, log, retry=0.3, deadline=120):
    """Plays run_id over SSE to its end, reconnecting with Last-Event-ID after a break (as an
    EventSource does; `retry` seconds between attempts)."""
    import asyncio
    stop_at = time.monotonic() + deadline
    last = None
    while time.monotonic() < stop_at:
        writer = None
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), 10)
            extra = f"Last-Event-ID: {last}\r\n" if last is not None else ""
            writer.write(f"GET /backtests/{run_id}/stream?speed={speed} HTTP/1.1\r\n"
                         f"Host: {HOST}:{port}\r\nAccept: text/event-stream\r\n{extra}\r\n".encode())
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 15)
            lines = head.decode().split("\r\n")
            status = int(lines[0].split()[1])
            headers = {k.lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
            if status == 204:  # Last-Event-ID was the last window
                log.ended = True
                return log
            if status != 200:
                log.refused.append(status)
                await asyncio.sleep(retry)
                continue
            log.connects += 1
            resumed_from = last
            chunked = "chunked" in headers.get("transfer-encoding", "")
            events = _read_sse_events(reader, chunked)
            while True:
                e = await asyncio.wait_for(events.__anext__(), 15)
                kind = e.get("event")
                if kind == "frame":
                    frame = json.loads(e["data"])
                    if int(e["id"]) != frame["i"]:
                        raise AssertionError(f"SSE id {e['id']} for frame {frame['i']}")
                    if resumed_from is not None:
                        log.resumes.append((resumed_from, frame["i"]))
                        resumed_from = None
                    log.frames.append(frame)
                    last = frame["i"]
                elif kind == "end":
                    log.ended = True
                    return log
                elif kind == "err":
                    log.error = e["data"]
                    return log
        except StopAsyncIteration:
            pass  # the connection closed: reconnect
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError,
                asyncio.LimitOverrunError, ValueError, IndexError) as e:
            log.refused.append(type(e).__name__)
        finally:
            if writer is not None:
                writer.close()
        await asyncio.sleep(retry)
    log.error = log.error or "deadline"
    return log


async def ws_play(port, run_id, speed, log, retry=0.3, deadline=120):
    """Plays run_id over WebSocket to its end; after a break reconnects with ?from= the window
    after the last frame, and drops a frame whose time is not after the last one kept (as the web
    player does, docs/frontend.md "Reconnect and resume")."""
    import asyncio
    try:
        import websockets
    except ImportError:
        import sys
        sys.path.append("/usr/lib/python3/dist-packages")
        import websockets
    from websockets.exceptions import ConnectionClosed, InvalidHandshake
    stop_at = time.monotonic() + deadline
    last, n = None, None
    while time.monotonic() < stop_at:
        query = f"?speed={speed}" + (f"&from={last + 1}" if last is not None else "")
        if last is not None and n is not None and last + 1 >= n:
            log.ended = True  # the break came after the last frame, before `end`
            return log
        try:
            async with websockets.connect(f"ws://{HOST}:{port}/backtests/{run_id}/ws{query}",
                                          open_timeout=15, ping_interval=None,
                                          close_timeout=1, max_queue=None) as ws:
                log.connects += 1
                resumed_from = last
                while True:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 15))
                    if msg["t"] == "frame":
                        if log.frames and msg["ts"] <= log.frames[-1]["ts"]:
                            # A resumed stream may repeat the window it resumed in: the player
                            # drops a frame not after the last one drawn (docs/frontend.md).
                            log.repeats.append(msg["i"])
                            continue
                        if resumed_from is not None:
                            log.resumes.append((resumed_from, msg["i"]))
                            resumed_from = None
                        log.frames.append(msg)
                        last, n = msg["i"], msg["n"]
                    elif msg["t"] == "end":
                        log.ended = True
                        return log
                    elif msg["t"] == "err":
                        log.error = msg
                        return log
        except (ConnectionClosed, InvalidHandshake, OSError, asyncio.TimeoutError) as e:
            log.refused.append(type(e).__name__)
        await asyncio.sleep(retry)
    log.error = log.error or "deadline"
    return log
