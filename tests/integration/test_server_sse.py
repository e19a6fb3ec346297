"""Black-box tests of the playback protocol over Server-Sent Events against `tapedeck serve`:
raw sockets and curl, on loopback, using synthetic runs (--synthetic-run)."""
import json
import os
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import apischema  # noqa: E402
from test_server_http import FAST, HOST, ServerProcess  # noqa: E402


class SseStream:
    """A raw-socket SSE client: parses the header, then events as the standard defines them."""

    def __init__(self, port, path, headers=None, timeout=10):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n{extra}\r\n".encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {k.lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
        self.closed = False

    def raw_until(self, marker):
        while marker not in self.buf and not self.closed:
            chunk = self.sock.recv(65536)
            if not chunk:
                self.closed = True
            self.buf += chunk
        return self.buf

    def event(self):
        """The next block as a dict of fields ({} at the end of the stream); its message is
        checked against docs/api/asyncapi.yaml."""
        while b"\n\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                self.closed = True
                return {}
            self.buf += chunk
        block, _, self.buf = self.buf.partition(b"\n\n")
        fields = {}
        for line in block.decode().split("\n"):
            k, _, v = line.partition(":")
            fields[k] = v[1:] if v.startswith(" ") else v
        apischema.check_sse_event(fields)
        return fields

    def close(self):
        self.sock.close()


class SseTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ServerProcess(*FAST, "--sse-retry", "1500ms",
                                   "--synthetic-run", "year:8760:1:1h",
                                   "--synthetic-run", "pending:500:2:1h:1500ms")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_headers_retry_first_then_frames_then_end_and_close(self):
        s = SseStream(self.server.port, "/backtests/year/stream?speed=3600")
        try:
            self.assertEqual(s.status, 200)
            self.assertEqual(s.headers["content-type"], "text/event-stream")
            self.assertEqual(s.headers["cache-control"], "no-cache")
            self.assertEqual(s.headers["x-accel-buffering"], "no")
            self.assertEqual(s.headers["connection"], "keep-alive")
            self.assertTrue(s.raw_until(b"\n\n").startswith(b"retry: 1500\n\n"))
            self.assertEqual(s.event(), {"retry": "1500"})
            frames = []
            while True:
                e = s.event()
                self.assertTrue(e, "stream closed before end")
                if e.get("event") == "end":
                    self.assertEqual(json.loads(e["data"]), {"t": "end"})
                    break
                self.assertEqual(e.get("event"), "frame")
                frame = json.loads(e["data"])
                self.assertEqual(int(e["id"]), frame["i"])
                frames.append(frame)
            self.assertGreater(len(frames), 10)
            self.assertEqual(s.event(), {})  # the server closes after end
        finally:
            s.close()

    def test_resume_with_last_event_id_repeats_and_skips_nothing(self):
        s = SseStream(self.server.port, "/backtests/year/stream?speed=600")
        first = []
        try:
            s.event()  # retry
            while len(first) < 8:
                e = s.event()
                if e.get("event") == "frame":
                    first.append(json.loads(e["data"]))
        finally:
            s.close()
        last = first[-1]["i"]
        r = SseStream(self.server.port, "/backtests/year/stream?speed=600",
                      headers={"Last-Event-ID": str(last)})
        try:
            r.event()
            e = r.event()
            while e.get("event") != "frame":
                e = r.event()
            resumed = json.loads(e["data"])
        finally:
            r.close()
        # Hourly bars without gaps: every window holds bars, so the next one is last + 1.
        self.assertEqual(resumed["i"], last + 1)
        self.assertEqual(int(e["id"]), last + 1)

    def test_resume_at_the_last_window_is_204(self):
        s = SseStream(self.server.port, "/backtests/year/stream?speed=3600")
        try:
            s.event()
            e = s.event()
            n = json.loads(e["data"])["n"]
        finally:
            s.close()
        r = SseStream(self.server.port, "/backtests/year/stream?speed=3600",
                      headers={"Last-Event-ID": str(n - 1)})
        self.assertEqual(r.status, 204)
        r.close()

    def test_unknown_run_is_404_json_before_any_stream_bytes(self):
        s = SseStream(self.server.port, "/backtests/nope/stream")
        try:
            self.assertEqual(s.status, 404)
            self.assertEqual(s.headers["content-type"], "application/json")
            body = s.raw_until(b"}")
            self.assertEqual(json.loads(body)["code"], "RUN_NOT_FOUND")
        finally:
            s.close()

    def test_bad_speed_is_400(self):
        s = SseStream(self.server.port, "/backtests/year/stream?speed=abc")
        try:
            self.assertEqual(s.status, 400)
            self.assertEqual(json.loads(s.raw_until(b"}"))["details"]["field"], "speed")
        finally:
            s.close()

    def test_heartbeats_while_the_run_is_pending(self):
        s = SseStream(self.server.port, "/backtests/pending/stream?speed=3600")
        try:
            kinds = []
            while "frame" not in kinds:
                e = s.event()
                self.assertTrue(e)
                kinds.append(e.get("event", "retry" if "retry" in e else "?"))
            self.assertEqual(kinds[0], "retry")
            self.assertIn("hb", kinds)
        finally:
            s.close()

    def test_curl_reads_the_stream(self):
        r = subprocess.run(["curl", "-sN", "--max-time", "20",
                            f"http://{HOST}:{self.server.port}/backtests/year/stream?speed=3600"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("retry: 1500\n\n"))
        self.assertIn("event: frame\nid: ", r.stdout)
        self.assertTrue(r.stdout.endswith('event: end\ndata: {"t":"end"}\n\n'))

    def test_metrics_count_sse_connections_and_frames(self):
        s = SseStream(self.server.port, "/backtests/year/stream?speed=1")
        try:
            s.event()
            s.event()
            _, _, body = self.server.get("/metrics")
            text = body.decode()
            self.assertRegex(text, r'tapedeck_connections\{kind="sse"\} [1-9]')
            self.assertRegex(text, r"tapedeck_frames_sent_total [1-9]")
        finally:
            s.close()


if __name__ == "__main__":
    unittest.main()
