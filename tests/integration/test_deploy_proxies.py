"""Runs docs/deploy/nginx.conf and docs/deploy/haproxy.cfg in front of two real `tapedeck serve`
nodes (each serving the same synthetic run, as nodes sharing a store serve the same runs) and plays
runs through each proxy: WebSocket frames at ~30 FPS one by one (no batching), pause with
heartbeats, the Origin check through the proxy, SSE events through `curl -N` as they are written,
and SSE resume with Last-Event-ID.

The configs are the documented files themselves; the test only rewrites the addresses marked in
them (the public listen address and the tapedeck nodes) and nginx's file paths, so that nginx and
HAProxy run unprivileged-friendly from a temp dir on free 127.0.0.1 ports.

nginx and haproxy are installed by scripts/bootstrap.sh; when either is missing this test fails.
"""
import asyncio
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import unittest

try:
    import websockets
except ImportError:  # Debian's python3-websockets, when python3 is not Debian's own
    sys.path.append("/usr/lib/python3/dist-packages")
    import websockets
from websockets.exceptions import InvalidStatusCode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import apischema  # noqa: E402
from test_server_http import HOST, ServerProcess  # noqa: E402

apischema.check_websocket_messages()

SRC = os.path.abspath(os.environ.get(
    "TAPEDECK_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))
DEPLOY = os.path.join(SRC, "docs", "deploy")

# Short intervals, so heartbeats and pings show within a second. The header (keep-alive) timeout
# stays at its 15 s default: the nginx config keeps upstream connections for 10 s, below it.
TAPEDECK_ARGS = ["--heartbeat", "300ms", "--ping-interval", "300ms", "--idle-timeout", "2s",
                 "--threads", "2",
                 # A year of hourly bars: at speed 60 every one of the 1800 windows holds bars, so
                 # frames come at 30 FPS for 60 s; at speed 3600 the whole run plays in ~1 s.
                 # At speed 0.01 a window spans 2.92 sim-seconds, so after the first frame the
                 # next bar is ~41 s of wall time away: heartbeats only, every 300 ms.
                 "--synthetic-run", "year:8760:1:1h"]

FRAME_GAP = 1 / 30

# The tapedeck nodes behind each proxy: as many as the configs have marked node lines.
NODES = 2


def find_program(name):
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    found = shutil.which(name, path=path)
    if not found:
        raise AssertionError(
            f"{name} is not installed: the deploy configs are checked by running them. "
            f"Install it with scripts/bootstrap.sh (Debian package '{name}').")
    return found


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def substitute(text, old, new):
    """Replaces the one occurrence of `old`; a config that no longer has it fails loudly."""
    if text.count(old) != 1:
        raise AssertionError(f"expected exactly one {old!r} in the deploy config")
    return text.replace(old, new)


def substitute_nodes(text, pattern, replace, ports):
    """Rewrites the node lines `pattern` matches (each marked "<- tapedeck node K"), the K-th to
    the K-th port; the configs must mark exactly one line per node."""
    found = re.findall(pattern, text, flags=re.M)
    if len(found) != len(ports):
        raise AssertionError(f"expected {len(ports)} marked tapedeck node lines in the deploy "
                             f"config, found {len(found)}")
    ports = iter(ports)
    return re.sub(pattern, lambda m: replace(m, next(ports)), text, flags=re.M)


def run(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


class ProxyProcess:
    """A proxy started from a generated config in its own temp dir and process group."""

    def __init__(self, kind, upstream_ports):
        self.kind = kind
        self.dir = tempfile.mkdtemp(prefix=f"tapedeck_{kind}_test_")
        self.lines = []
        self.proc = None
        last_error = ""
        for _ in range(3):  # a free port can be taken between probing and binding: retry
            self.port = free_port()
            argv = self._write_config(upstream_ports)
            self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         text=True, start_new_session=True)
            threading.Thread(target=self._drain, args=(self.proc,), daemon=True).start()
            if self._wait_listening():
                return
            last_error = "".join(self.lines)
            self._kill()
        raise RuntimeError(f"{kind} did not start: {last_error}")

    def _write_config(self, upstream_ports):
        if self.kind == "nginx":
            with open(os.path.join(DEPLOY, "nginx.conf")) as f:
                text = f.read()
            text = substitute_nodes(
                text, r"^(\s*)server 127\.0\.0\.1:\d+( [^;]*)?;(\s*# <- tapedeck node \d+.*)$",
                lambda m, port: f"{m.group(1)}server {HOST}:{port}{m.group(2) or ''};{m.group(3)}",
                upstream_ports)
            text = substitute(text, "listen 80;", f"listen {HOST}:{self.port};")
            text = text.replace("/var/log/nginx/", self.dir + "/")
            temp = "".join(f"    {d}_temp_path {self.dir}/{d}_temp;\n"
                           for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
            text = substitute(text, "\nhttp {\n", "\nhttp {\n" + temp)
            conf = os.path.join(self.dir, "nginx.conf")
            with open(conf, "w") as f:
                f.write(text)
            return [find_program("nginx"), "-p", self.dir, "-e", os.path.join(self.dir, "error.log"),
                    "-c", conf, "-g", f"daemon off; pid {self.dir}/nginx.pid;"]
        with open(os.path.join(DEPLOY, "haproxy.cfg")) as f:
            text = f.read()
        text = substitute_nodes(
            text, r"^(\s*)server (node\d+) 127\.0\.0\.1:\d+(\s*# <- tapedeck node \d+.*)$",
            lambda m, port: f"{m.group(1)}server {m.group(2)} {HOST}:{port}{m.group(3)}",
            upstream_ports)
        text = substitute(text, "bind :80 ", f"bind {HOST}:{self.port} ")
        cfg = os.path.join(self.dir, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(text)
        return [find_program("haproxy"), "-f", cfg, "-db"]

    def _drain(self, proc):
        for line in proc.stdout:
            self.lines.append(line)

    def _wait_listening(self):
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                time.sleep(0.1)  # let the drainer read its last words
                return False
            try:
                status, _, _ = self.get("/healthz")
                if status == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def get(self, path, headers=None):
        c = http.client.HTTPConnection(HOST, self.port, timeout=10)
        try:
            c.request("GET", path, headers=headers or {})
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            c.close()

    @property
    def origin(self):
        return f"http://{HOST}:{self.port}"

    def access_log(self):
        """What the proxy has logged of requests so far (nginx: its file; HAProxy: stdout)."""
        if self.kind == "nginx":
            path = os.path.join(self.dir, "tapedeck.access.log")
            if not os.path.exists(path):
                return ""
            with open(path) as f:
                return f.read()
        return "".join(self.lines)

    def _kill(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        try:  # nginx's workers, should the master have left any
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait(5)
        self.proc.stdout.close()
        self.proc = None

    def stop(self):
        self._kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class Curl:
    """`curl -N` on an SSE URL; a thread stamps every line with the time it arrived."""

    def __init__(self, url, headers=None):
        argv = [find_program("curl"), "-sS", "-N", "-i", "--noproxy", "*", url]
        for k, v in (headers or {}).items():
            argv += ["-H", f"{k}: {v}"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines = []  # (monotonic time, line without the line end)
        self.cond = threading.Condition()
        self.done = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            now = time.monotonic()
            with self.cond:
                self.lines.append((now, raw.decode().rstrip("\r\n")))
                self.cond.notify_all()
        with self.cond:
            self.done = True
            self.cond.notify_all()

    def wait_for(self, predicate, timeout=10):
        """Waits until predicate(lines) holds or the stream ends; returns the lines so far."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate(self.lines) and not self.done:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out; got {self.lines[-5:]}")
                self.cond.wait(left)
            return list(self.lines)

    def head_and_events(self):
        """(status, headers, events) from the lines so far; events carry their first line's time."""
        with self.cond:
            lines = list(self.lines)
        status, headers, events, i = None, {}, [], 0
        while i < len(lines) and lines[i][1]:
            text = lines[i][1]
            if status is None:
                status = int(text.split()[1])
            else:
                k, _, v = text.partition(":")
                headers[k.strip().lower()] = v.strip()
            i += 1
        current, stamp = {}, None
        for t, text in lines[i + 1:]:
            if not text:
                if current:
                    events.append((stamp, current))
                current, stamp = {}, None
                continue
            k, _, v = text.partition(":")
            current[k] = v[1:] if v.startswith(" ") else v
            stamp = stamp if stamp is not None else t
        return status, headers, events

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self.reader.join(5)
        self.proc.stdout.close()
        self.proc.stderr.close()


def frames_of(events):
    return [(t, e) for t, e in events if e.get("event") == "frame"]


def count_frames(n):
    return lambda lines: sum(1 for _, text in lines if text == "event: frame") >= n


class ProxyTests:
    """The same checks through each proxy; subclasses name it."""

    KIND = None

    @classmethod
    def setUpClass(cls):
        find_program(cls.KIND)  # fails at once, clearly, when the proxy is not installed
        find_program("curl")
        cls.servers = []
        for _ in range(NODES):
            cls.servers.append(ServerProcess(*TAPEDECK_ARGS))
            cls.addClassCleanup(cls.servers[-1].stop)
        cls.proxy = ProxyProcess(cls.KIND, [server.port for server in cls.servers])
        cls.addClassCleanup(cls.proxy.stop)

    def setUp(self):
        self.curls = []

    def tearDown(self):
        for c in self.curls:
            c.stop()

    def curl(self, path, headers=None):
        c = Curl(self.proxy.origin + path, headers)
        self.curls.append(c)
        return c

    def ws_url(self, run_id, query):
        return f"ws://{HOST}:{self.proxy.port}/backtests/{run_id}/ws{query}"

    @staticmethod
    def pacing_problem(stamps):
        """None when frames arrived one by one, ~33 ms apart; otherwise what is wrong."""
        gaps = [b - a for a, b in zip(stamps, stamps[1:])]
        # Over blocks of 5 frames, jitter averages out: each block should span ~5/30 s.
        blocks = [(stamps[k + 5] - stamps[k]) / 5 for k in range(0, len(stamps) - 5, 5)]
        problems = []
        if not 0.6 * FRAME_GAP < statistics.median(gaps) < 1.6 * FRAME_GAP:
            problems.append("median gap not ~33 ms")
        if not 0.75 * FRAME_GAP < statistics.median(blocks) < 1.35 * FRAME_GAP:
            problems.append("5-frame blocks not ~167 ms")
        # A buffering proxy delivers bursts: most gaps near zero, then long pauses. (A saturated
        # machine can also stall a process for ~100 ms now and then, which bunches a few.)
        if sum(1 for g in gaps if g < 0.005) > len(gaps) // 3:
            problems.append("frames arrive in bursts")
        if sum(1 for g in gaps if 0.015 <= g <= 0.06) < len(gaps) // 2:
            problems.append("fewer than half the gaps between 15 and 60 ms")
        if not problems:
            return None
        return ", ".join(problems) + f"; gaps (ms) {[round(g * 1000) for g in gaps]}"

    def assert_paced(self, measure, what):
        """measure() plays a stream and returns the arrival times of consecutive frames. One more
        try if the first looks bunched: a busy machine can stall a process, but a buffering
        proxy fails every try."""
        problems = []
        for _ in range(2):
            problem = self.pacing_problem(measure())
            if problem is None:
                return
            problems.append(problem)
            print(f"\n{what}: first try bunched, trying once more: {problem}", file=sys.stderr)
        self.fail(f"{what}: " + " | ".join(problems))

    # --- plain HTTP -------------------------------------------------------------------------

    def test_healthz_and_rest_pass_through(self):
        status, _, body = self.proxy.get("/healthz")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"status": "ok"})
        status, headers, body = self.proxy.get("/backtests/nope/stream")
        self.assertEqual(status, 404)
        self.assertEqual(json.loads(body)["code"], "RUN_NOT_FOUND")

    # --- WebSocket --------------------------------------------------------------------------

    def test_ws_frames_arrive_one_by_one_at_30_fps(self):
        async def go():
            async with websockets.connect(self.ws_url("year", "?speed=60"),
                                          origin=self.proxy.origin) as ws:
                stamps, frames = [], []
                while len(frames) < 50:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 5))
                    if msg["t"] == "frame":
                        stamps.append(time.monotonic())
                        frames.append(msg)
                return stamps, frames

        def measure():
            stamps, frames = run(go())
            self.assertEqual(frames[0]["i"], 0)
            self.assertEqual([f["i"] for f in frames], sorted({f["i"] for f in frames}))
            return stamps[5:]
        self.assert_paced(measure, f"WS through {self.KIND}")

    def test_ws_pause_gets_heartbeats_and_pings_keep_it_open(self):
        async def go():
            async with websockets.connect(self.ws_url("year", "?speed=60"),
                                          origin=self.proxy.origin) as ws:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 5))
                self.assertEqual(msg["t"], "frame")
                await ws.send(json.dumps({"t": "ctrl", "cmd": "pause"}))
                # A frame already on its way may still arrive; after that, only heartbeats.
                settle = time.monotonic() + 0.2
                while time.monotonic() < settle:
                    try:
                        await asyncio.wait_for(ws.recv(), settle - time.monotonic())
                    except asyncio.TimeoutError:
                        break
                start, kinds, hbs = time.monotonic(), [], []
                # Longer than the 2 s idle timeout: pings and pongs cross the proxy both ways.
                while time.monotonic() - start < 2.6:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 2))
                    kinds.append(msg["t"])
                    if msg["t"] == "hb":
                        hbs.append(time.monotonic())
                await ws.send(json.dumps({"t": "ctrl", "cmd": "play"}))
                while True:
                    after = json.loads(await asyncio.wait_for(ws.recv(), 5))
                    if after["t"] != "hb":
                        return kinds, hbs, after
        kinds, hbs, after = run(go())
        self.assertEqual(set(kinds), {"hb"}, kinds)
        self.assertGreaterEqual(len(hbs), 5)
        self.assertLess(max(b - a for a, b in zip(hbs, hbs[1:])), 1.0)
        self.assertEqual(after["t"], "frame")

    def test_ws_origin_check_sees_the_public_host(self):
        async def connect(origin):
            async with websockets.connect(self.ws_url("year", "?speed=60"), origin=origin) as ws:
                return json.loads(await asyncio.wait_for(ws.recv(), 5))["t"]
        # A page served by the proxy itself: the Host the server sees must be the proxy's.
        self.assertEqual(run(connect(self.proxy.origin)), "frame")
        with self.assertRaises(InvalidStatusCode) as caught:
            run(connect("http://evil.example"))
        self.assertEqual(caught.exception.status_code, 403)

    # --- Server-Sent Events -----------------------------------------------------------------

    def test_sse_events_arrive_through_curl_as_they_are_written(self):
        def measure():
            c = self.curl("/backtests/year/stream?speed=60")
            c.wait_for(count_frames(50))
            c.stop()
            status, headers, events = c.head_and_events()
            self.assertEqual(status, 200)
            self.assertEqual(headers["content-type"], "text/event-stream")
            self.assertEqual(headers["cache-control"], "no-cache")
            self.assertEqual(events[0][1], {"retry": "2000"})
            frames = frames_of(events)
            ids = [int(e["id"]) for _, e in frames]
            self.assertEqual(ids[0], 0)
            self.assertEqual(ids, sorted(set(ids)))
            for _, e in frames:
                self.assertEqual(json.loads(e["data"])["i"], int(e["id"]))
            return [t for t, _ in frames[5:50]]
        self.assert_paced(measure, f"SSE through {self.KIND}")

    def test_sse_resume_with_last_event_id(self):
        c = self.curl("/backtests/year/stream?speed=600")
        c.wait_for(count_frames(8))
        c.stop()
        last = int(frames_of(c.head_and_events()[2])[7][1]["id"])
        r = self.curl("/backtests/year/stream?speed=600", {"Last-Event-ID": str(last)})
        r.wait_for(count_frames(3))
        status, _, events = r.head_and_events()
        self.assertEqual(status, 200)
        ids = [int(e["id"]) for _, e in frames_of(events)]
        # Hourly bars without gaps: every window holds bars, so the next one is last + 1.
        self.assertEqual(ids[:3], [last + 1, last + 2, last + 3])

    def test_sse_heartbeats_each_arrive_on_their_own(self):
        # Between sparse frames only heartbeats flow: a few bytes every 300 ms, which a buffering
        # proxy would hold back and deliver together.
        c = self.curl("/backtests/year/stream?speed=0.01")
        c.wait_for(lambda ls: sum(1 for _, text in ls if text == "event: hb") >= 6)
        _, _, events = c.head_and_events()
        kinds = [e.get("event") for _, e in events[1:]]
        self.assertEqual(kinds[0], "frame", kinds)
        self.assertEqual(set(kinds[1:]), {"hb"}, kinds)
        stamps = [t for t, e in events if e.get("event") == "hb"]
        gaps = [b - a for a, b in zip(stamps, stamps[1:])]
        detail = [round(g * 1000) for g in gaps]
        # A buffering proxy would bunch them (or hold them all); allow one stall of the machine.
        self.assertLessEqual(sum(1 for g in gaps if g < 0.1), 1, detail)
        self.assertLess(statistics.median(gaps), 0.5, detail)
        self.assertLess(max(gaps), 1.0, detail)

    def test_sse_plays_to_the_end_and_the_stream_closes(self):
        c = self.curl("/backtests/year/stream?speed=3600")
        c.wait_for(lambda ls: any(text == "event: end" for _, text in ls), timeout=20)
        c.proc.wait(10)  # the server closes after end; the proxy passes the close on
        self.assertEqual(c.proc.returncode, 0, c.proc.stderr.read())
        _, _, events = c.head_and_events()
        kinds = [e.get("event") for _, e in events[1:]]
        self.assertEqual(kinds[-1], "end")
        self.assertEqual(json.loads(events[-1][1]["data"]), {"t": "end"})
        self.assertGreater(kinds.count("frame"), 10)


    def sse_streams(self, server):
        status, _, body = server.get("/metrics")
        self.assertEqual(status, 200)
        m = re.search(r'^tapedeck_connections\{kind="sse"\} (\d+)$', body.decode(), re.M)
        return int(m.group(1))

    def wait_sse_streams(self, want, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            counts = [self.sse_streams(server) for server in self.servers]
            if counts == want:
                return
            time.sleep(0.05)
        self.fail(f"SSE streams open on the nodes: {counts}, expected {want}")

    def test_streams_spread_over_the_nodes(self):
        # Streams of earlier tests are noticed gone at their next heartbeat.
        self.wait_sse_streams([0] * NODES)
        for n in range(NODES):
            c = self.curl("/backtests/year/stream?speed=0.01")
            c.wait_for(count_frames(1))
        # Least connections: each new stream went to a node with none.
        self.wait_sse_streams([1] * NODES)

    def test_tickets_stay_out_of_the_access_log(self):
        secret = "1234." + "ab" * 32  # the shape of a playback ticket
        status, _, _ = self.proxy.get(f"/backtests/nope/stream?speed=60&ticket={secret}")
        self.assertEqual(status, 404)
        deadline = time.time() + 5
        while "/backtests/nope/stream" not in self.proxy.access_log() and time.time() < deadline:
            time.sleep(0.05)
        log = self.proxy.access_log()
        self.assertIn("/backtests/nope/stream", log)
        self.assertNotIn(secret, log)


class NginxTest(ProxyTests, unittest.TestCase):
    KIND = "nginx"

    def test_nginx_strips_the_buffering_hint_it_honoured(self):
        # tapedeck's "X-Accel-Buffering: no" is for nginx, which consumes it.
        c = self.curl("/backtests/year/stream?speed=60")
        c.wait_for(count_frames(1))
        _, headers, _ = c.head_and_events()
        self.assertNotIn("x-accel-buffering", headers)


class HaproxyTest(ProxyTests, unittest.TestCase):
    KIND = "haproxy"

    def test_health_check_on_healthz_marks_the_nodes_up(self):
        deadline = time.time() + 10
        up = set()
        while time.time() < deadline:
            up = {n for n in range(1, NODES + 1)
                  if any(f"Health check for server tapedeck/node{n} succeeded" in line
                         and "UP" in line for line in self.proxy.lines)}
            if len(up) == NODES:
                return
            time.sleep(0.1)
        self.fail(f"passing health checks for nodes {sorted(up)} only in haproxy's log:\n" +
                  "".join(self.proxy.lines))


if __name__ == "__main__":
    unittest.main(verbosity=2)
