"""Black-box tests of `tapedeck serve`'s HTTP side: a real server on loopback, real sockets.

Also home of ServerProcess, the harness the other test_server_*.py files import.
"""
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
import unittest

import apischema

BIN = os.environ.get("TAPEDECK_BIN", "build/tapedeck")
HOST = "127.0.0.1"

# Short intervals so timing tests run in seconds; every one is a flag of `tapedeck serve`.
FAST = ["--heartbeat", "300ms", "--ping-interval", "300ms", "--idle-timeout", "2s",
        "--write-timeout", "2s", "--header-timeout", "1s", "--shutdown-timeout", "3s",
        "--threads", "2"]


class ServerProcess:
    """Starts `tapedeck serve --port 0` and reads the port it prints; always stop() it."""

    def __init__(self, *args, web=None):
        self.dir = tempfile.mkdtemp(prefix="tapedeck_server_test_")
        self.web = os.path.join(self.dir, "web")
        os.makedirs(self.web)
        for name, text in (web or {"index.html": "<!doctype html><title>tapedeck</title>"}).items():
            path = os.path.join(self.web, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
        self.args = [BIN, "serve", "--host", HOST, "--port", "0",
                     "--db", os.path.join(self.dir, "t.db"), "--web-root", self.web, *args]
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.stderr_lines = []
        self.port = None
        deadline = time.time() + 60
        line = ""
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            m = re.search(r"listening on http://[^:]+:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        if self.port is None:
            self.proc.kill()
            err = self.proc.stderr.read()
            raise RuntimeError(f"server did not start: {line!r} {err}")
        self.drainer = threading.Thread(target=self._drain, daemon=True)
        self.drainer.start()
        self.wait_healthy()

    def _drain(self):
        for line in self.proc.stderr:
            self.stderr_lines.append(line)

    @property
    def base(self):
        return f"http://{HOST}:{self.port}"

    def wait_healthy(self):
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                status, _, _ = self.get("/healthz")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("server never became healthy")

    def conn(self, timeout=10):
        return http.client.HTTPConnection(HOST, self.port, timeout=timeout)

    def get(self, path, headers=None, method="GET", body=None):
        """(status, headers, body); the answer is checked against docs/api/openapi.yaml."""
        c = self.conn()
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            status, hdrs, raw = r.status, dict(r.getheaders()), r.read()
        finally:
            c.close()
        apischema.check_response(method, path, status, hdrs, raw)
        return status, hdrs, raw

    def raw(self, data, timeout=5.0):
        """Sends raw bytes, returns everything the server writes until it closes or goes quiet."""
        s = socket.create_connection((HOST, self.port), timeout=timeout)
        try:
            s.sendall(data)
            chunks = []
            while True:
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            s.close()

    def stop(self):
        """Stops it as an operator would, with SIGTERM, and checks that it exits 0 within its
        shutdown timeout. Under the sanitizer builds that exit is also where LeakSanitizer looks
        for leaks (and where any report turns the exit code non-zero)."""
        code = self.proc.poll()
        if code is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                code = "no exit within 30 s of SIGTERM"
        self.drainer.join(timeout=5)
        self.proc.stdout.close()
        self.proc.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        if code != 0:
            tail = "".join(self.stderr_lines[-40:])
            raise AssertionError(f"the server exited with {code}; its stderr ends:\n{tail}")


class HttpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ServerProcess(*FAST, "--json-body-limit", "1K", "--header-limit", "2K",
                                   "--body-timeout", "1s",
                                   web={"index.html": "<!doctype html><p>ui</p>",
                                        "app.js": "console.log(1)",
                                        "style.css": "p{}",
                                        "sub/index.html": "sub"})
        outside = os.path.join(cls.server.dir, "secret.txt")
        with open(outside, "w") as f:
            f.write("TOP-SECRET-CONTENT")
        os.symlink(outside, os.path.join(cls.server.web, "leak.txt"))

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_healthz(self):
        status, headers, body = self.server.get("/healthz")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "application/json")
        self.assertEqual(json.loads(body), {"status": "ok"})

    def test_metrics_is_prometheus_text(self):
        self.server.get("/healthz")
        status, headers, body = self.server.get("/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/plain; version=0.0.4"))
        text = body.decode()
        for family in ("tapedeck_connections", "tapedeck_frames_sent_total",
                       "tapedeck_frames_coalesced_total", "tapedeck_bytes_sent_total",
                       "tapedeck_http_requests_total", "tapedeck_http_request_duration_seconds"):
            self.assertIn(f"# TYPE {family} ", text)
        self.assertRegex(text, r'tapedeck_http_requests_total\{route="/healthz",status="200"\} \d+')
        self.assertRegex(text, r'tapedeck_connections\{kind="http"\} [1-9]')
        for line in text.splitlines():
            if not line.startswith("#"):
                self.assertRegex(line, r'^[a-z_]+(\{[^}]*\})? [-+0-9.eInf]+$')

    def test_static_files_with_types_and_cache_headers(self):
        status, headers, body = self.server.get("/")
        self.assertEqual(status, 200)
        self.assertEqual(body, b"<!doctype html><p>ui</p>")
        self.assertEqual(headers["Content-Type"], "text/html; charset=utf-8")
        self.assertEqual(headers["Cache-Control"], "no-cache")
        etag = headers["ETag"]
        status, _, body = self.server.get("/", headers={"If-None-Match": etag})
        self.assertEqual(status, 304)
        self.assertEqual(body, b"")
        status, headers, body = self.server.get("/app.js")
        self.assertEqual((status, body), (200, b"console.log(1)"))
        self.assertEqual(headers["Content-Type"], "text/javascript; charset=utf-8")
        status, headers, _ = self.server.get("/style.css")
        self.assertEqual(headers["Content-Type"], "text/css; charset=utf-8")
        status, _, body = self.server.get("/sub/")
        self.assertEqual((status, body), (200, b"sub"))

    def test_run_pages_serve_the_ui(self):
        status, headers, body = self.server.get("/runs/some-run-id")
        self.assertEqual(status, 200)
        self.assertEqual(body, b"<!doctype html><p>ui</p>")

    def test_head_has_length_and_no_body(self):
        status, headers, body = self.server.get("/app.js", method="HEAD")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Length"], str(len("console.log(1)")))
        self.assertEqual(body, b"")

    def test_no_way_out_of_the_web_root(self):
        for target in ["/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2Fsecret.txt",
                       "/sub/..%2f..%2fsecret.txt", "/..%5csecret.txt", "/leak.txt",
                       "/sub/%2e%2e/%2e%2e/secret.txt", "/./../secret.txt", "//etc/passwd"]:
            response = self.server.raw(
                f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            head, _, body = response.partition(b"\r\n\r\n")
            self.assertTrue(head.startswith(b"HTTP/1.1 404"), (target, head))
            self.assertNotIn(b"TOP-SECRET-CONTENT", body)
            self.assertEqual(json.loads(body)["code"], "NOT_FOUND")

    def test_unknown_api_path_is_json_404(self):
        status, headers, body = self.server.get("/nope", method="DELETE")
        self.assertEqual(status, 404)
        doc = json.loads(body)
        self.assertEqual(doc["code"], "NOT_FOUND")
        self.assertIn("msg", doc)
        self.assertIn("details", doc)

    def test_keep_alive_and_pipelining(self):
        requests = b"".join(
            f"GET {p} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for p in ("/healthz", "/app.js", "/healthz"))
        requests += b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        response = self.server.raw(requests)
        self.assertEqual(response.count(b"HTTP/1.1 200 OK"), 4, response)
        # In order: the second answer is the script.
        parts = response.split(b"HTTP/1.1 200 OK")
        self.assertIn(b"console.log(1)", parts[2])

    def test_slow_header_is_cut(self):
        s = socket.create_connection((HOST, self.server.port), timeout=10)
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            start = time.time()
            data = s.recv(1024)
            self.assertEqual(data, b"")
            self.assertLess(time.time() - start, 5)
        finally:
            s.close()

    def test_slow_body_is_cut(self):
        # A header that promises a body, then a trickle: the connection does not outlive
        # --body-timeout however patient the sender is.
        s = socket.create_connection((HOST, self.server.port), timeout=10)
        try:
            s.sendall(b"POST /backtests HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 500\r\n\r\n{")
            start = time.time()
            closed = False
            while time.time() - start < 6:
                try:
                    s.sendall(b" ")
                except OSError:
                    closed = True
                    break
                s.settimeout(0.2)
                try:
                    if s.recv(1024) == b"":
                        closed = True
                        break
                except socket.timeout:
                    pass
                except OSError:  # a reset is a close too
                    closed = True
                    break
            self.assertTrue(closed, "a trickled body kept the connection open")
            self.assertLess(time.time() - start, 4)
        finally:
            s.close()

    def test_body_over_the_limit_is_413(self):
        status, _, body = self.server.get("/backtests", method="POST", body=b"x" * 5000,
                                          headers={"Content-Type": "application/json"})
        self.assertEqual(status, 413)
        doc = json.loads(body)
        self.assertEqual(doc["code"], "VALIDATION")
        self.assertEqual(doc["details"]["field"], "body")

    def test_header_over_the_limit_is_431(self):
        response = self.server.raw(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 4000 + b"\r\n\r\n")
        self.assertTrue(response.startswith(b"HTTP/1.1 431"), response[:100])

    def test_garbage_is_400_then_close(self):
        response = self.server.raw(b"NOT HTTP AT ALL\r\n\r\n")
        self.assertTrue(response.startswith(b"HTTP/1.1 400"), response[:100])
        self.assertEqual(json.loads(response.partition(b"\r\n\r\n")[2])["code"], "VALIDATION")

    def test_stream_of_unknown_run_is_json_404(self):
        status, _, body = self.server.get("/backtests/nope/stream")
        self.assertEqual(status, 404)
        self.assertEqual(json.loads(body)["code"], "RUN_NOT_FOUND")


class LimitsTest(unittest.TestCase):
    def test_connections_per_address_over_the_limit_get_429(self):
        server = ServerProcess(*FAST, "--max-connections-per-address", "3",
                               "--header-timeout", "30s")  # idle sockets must stay
        socks = []
        try:
            # The health checks' connections must be gone first: each holds a place until then.
            # Ask over one kept-alive connection, which then is one of the three.
            keep = server.conn()
            deadline = time.time() + 10
            while time.time() < deadline:
                keep.request("GET", "/metrics")
                body = keep.getresponse().read()
                if re.search(rb'tapedeck_connections\{kind="http"\} 1\n', body):
                    break
                time.sleep(0.05)
            socks.append(keep.sock)
            for _ in range(2):
                socks.append(socket.create_connection((HOST, server.port), timeout=5))
            time.sleep(0.2)
            response = server.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertTrue(response.startswith(b"HTTP/1.1 429"), response[:100])
            self.assertEqual(json.loads(response.partition(b"\r\n\r\n")[2])["code"], "RATE_LIMITED")
            for s in socks:
                s.close()
            socks = []
            time.sleep(0.3)
            status, _, _ = server.get("/healthz")
            self.assertEqual(status, 200)
        finally:
            for s in socks:
                s.close()
            server.stop()


class ShutdownTest(unittest.TestCase):
    def test_sigterm_ends_streams_and_exits_cleanly(self):
        server = ServerProcess(*FAST, "--synthetic-run", "slow:2000:1:1h")
        try:
            s = socket.create_connection((HOST, server.port), timeout=10)
            s.sendall(b"GET /backtests/slow/stream?speed=1 HTTP/1.1\r\nHost: x\r\n\r\n")
            got = b""
            while b"event: frame" not in got:
                chunk = s.recv(65536)
                self.assertTrue(chunk)
                got += chunk
            idle = socket.create_connection((HOST, server.port), timeout=10)
            start = time.time()
            server.proc.send_signal(signal.SIGTERM)
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            self.assertIn(b'event: end\ndata: {"t":"end"}\n\n', got)
            # Closed: a FIN (accepted before the stop: idle, so closed at once), a reset (still in
            # the accept queue at exit), or, accepted after the stop began, a 503 that says so.
            answer = b""
            try:
                while chunk := idle.recv(65536):
                    answer += chunk
            except ConnectionResetError:
                pass
            if answer:
                self.assertTrue(answer.startswith(b"HTTP/1.1 503"), answer)
                self.assertIn(b"the server is shutting down", answer)
            self.assertEqual(server.proc.wait(timeout=10), 0)
            self.assertLess(time.time() - start, 5)
            s.close()
            idle.close()
        finally:
            server.stop()


class PlaybackInfoTest(unittest.TestCase):
    def test_playback_answers_the_channels_constants_and_this_servers_intervals(self):
        server = ServerProcess(*FAST, "--max-ws-message", "2K")
        try:
            status, headers, body = server.get("/playback")
            self.assertEqual(status, 200)
            self.assertEqual(headers["Content-Type"], "application/json")
            self.assertEqual(json.loads(body), {
                "fps": 30, "sim_seconds_per_second": 8760,
                "speed": {"min": 0.01, "max": 100000, "default": 60},
                # FAST's --heartbeat 300ms --ping-interval 300ms --idle-timeout 2s
                "heartbeat_ms": 300, "ping_ms": 300, "idle_timeout_ms": 2000,
                "max_control_bytes": 2048,
            })
            status, _, _ = server.get("/playback", method="POST", body=b"{}")
            self.assertEqual(status, 405)
        finally:
            server.stop()


class ChartLibraryTest(unittest.TestCase):
    """A tree built without `npm ci` has no node_modules beside its web root: the server says so
    at start, once, with how to get it."""

    def stderr_after_start(self, server):
        # Written before "listening on", but read by another thread: give it a moment.
        deadline = time.time() + 5
        while time.time() < deadline and not any("libraries are missing" in l for l in server.stderr_lines):
            time.sleep(0.05)
        return "".join(server.stderr_lines)

    def test_missing_chart_library_is_named_at_start_with_how_to_get_it(self):
        server = ServerProcess(*FAST)
        try:
            err = self.stderr_after_start(server)
            self.assertEqual(err.count("libraries are missing"), 1, err)
            line = next(l for l in server.stderr_lines if "libraries are missing" in l)
            self.assertIn("lightweight-charts", line)
            self.assertIn("codemirror", line)
            self.assertIn(os.path.join(os.path.realpath(server.dir), "node_modules"), line)
            self.assertIn("npm ci", line)
            self.assertIn("scripts/bootstrap.sh", line)
            # The page itself is served; the library is what 404s.
            self.assertEqual(server.get("/")[0], 200)
            status, _, _ = server.get("/vendor/lightweight-charts/lightweight-charts.standalone.production.mjs")
            self.assertEqual(status, 404)
            server.get("/")
            self.assertEqual("".join(server.stderr_lines).count("libraries are missing"), 1)
        finally:
            server.stop()

    def test_installed_chart_library_is_not_reported(self):
        lib = "../node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.mjs"
        server = ServerProcess(*FAST, web={"index.html": "<p>ui</p>", lib: "export {}"})
        try:
            status, _, body = server.get("/vendor/lightweight-charts/lightweight-charts.standalone.production.mjs")
            self.assertEqual((status, body), (200, b"export {}"))
        finally:
            server.stop()
        self.assertNotIn("chart library", "".join(server.stderr_lines))


if __name__ == "__main__":
    unittest.main()
