"""Black-box tests of the playback protocol over WebSocket against `tapedeck serve`, with the
independent `websockets` client, on loopback, using synthetic runs (--synthetic-run)."""
import asyncio
import base64
import json
import os
import signal
import socket
import sys
import time
import unittest

try:
    import websockets
except ImportError:  # Debian's python3-websockets, when python3 is not Debian's own
    sys.path.append("/usr/lib/python3/dist-packages")
    import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatusCode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import apischema  # noqa: E402
from test_server_http import FAST, HOST, ServerProcess  # noqa: E402

apischema.check_websocket_messages()

ISO = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$"


def run(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def raw_upgrade(port, target, rcvbuf=None, timeout=10):
    """A plain socket that has sent a WebSocket upgrade for `target`: for clients that misbehave
    in ways the websockets library never would."""
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect((HOST, port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET {target} HTTP/1.1\r\nHost: {HOST}\r\n"
               "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
               f"Sec-WebSocket-Key: {key}\r\n\r\n").encode())
    return s


def read_until_closed(s, on_data=None):
    """Reads everything, answers nothing, until the server closes; returns the bytes."""
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
        if on_data:
            on_data(data)
    return data


class WebSocketTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ServerProcess(
            *FAST, "--allow-origin", "http://ui.example:3000", "--control-rate", "20",
            # one year of hourly bars: 8760 bars; at speed 3600 that is ~1 s of playback
            "--synthetic-run", "year:8760:1:1h",
            "--synthetic-run", "pending:500:2:1h:1500ms")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def url(self, run, query=""):
        return f"ws://{HOST}:{self.server.port}/backtests/{run}/ws{query}"

    async def recv_json(self, ws, timeout=5):
        return json.loads(await asyncio.wait_for(ws.recv(), timeout))

    async def until(self, ws, kind, timeout=10):
        """Messages up to and including the first of `kind`."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            msg = await self.recv_json(ws, max(0.01, deadline - time.monotonic()))
            seen.append(msg)
            if msg["t"] == kind:
                return seen

    def test_plays_a_run_to_the_end(self):
        async def go():
            async with websockets.connect(self.url("year", "?speed=3600")) as ws:
                start = time.monotonic()
                msgs = await self.until(ws, "end", timeout=20)
                return msgs, time.monotonic() - start
        msgs, elapsed = run(go())
        frames = [m for m in msgs if m["t"] == "frame"]
        self.assertGreater(len(frames), 10)
        self.assertLessEqual(len(frames), 31)
        self.assertGreater(elapsed, 0.5)
        self.assertLess(elapsed, 5)
        indices = [f["i"] for f in frames]
        self.assertEqual(indices, sorted(set(indices)))
        for f in frames:
            self.assertRegex(f["ts"], ISO)
            self.assertEqual(f["n"], frames[0]["n"])
            self.assertIn("SYN", f["ohlc"])
            self.assertEqual(set(f["ohlc"]["SYN"]), {"o", "h", "l", "c", "v"})
            self.assertIsInstance(f["orders"], list)
            self.assertIsInstance(f["equity"], (int, float))
            self.assertIsInstance(f["dropped"], int)
        self.assertTrue(any(f["orders"] for f in frames))

    def test_unknown_run_gets_err_then_close(self):
        async def go():
            async with websockets.connect(self.url("nope")) as ws:
                msg = await self.recv_json(ws)
                with self.assertRaises(ConnectionClosed):
                    await self.recv_json(ws)
                return msg
        msg = run(go())
        self.assertEqual(msg["t"], "err")
        self.assertEqual(msg["code"], "RUN_NOT_FOUND")

    def test_bad_speed_in_url_gets_validation_then_close(self):
        async def go():
            async with websockets.connect(self.url("year", "?speed=0")) as ws:
                msg = await self.recv_json(ws)
                with self.assertRaises(ConnectionClosed):
                    await self.recv_json(ws)
                return msg
        msg = run(go())
        self.assertEqual((msg["t"], msg["code"]), ("err", "VALIDATION"))
        self.assertEqual(msg["details"]["field"], "speed")

    def test_origin_check(self):
        async def connect(origin):
            async with websockets.connect(self.url("year", "?speed=1"), origin=origin) as ws:
                return (await self.recv_json(ws))["t"]
        # Non-browser (no Origin), same origin, a listed origin: allowed.
        self.assertIn(run(connect(None)), ("frame", "hb"))
        self.assertIn(run(connect(f"http://{HOST}:{self.server.port}")), ("frame", "hb"))
        self.assertIn(run(connect("http://ui.example:3000")), ("frame", "hb"))
        # Another site's page: 403 FORBIDDEN, with the JSON body.
        with self.assertRaises(InvalidStatusCode) as cm:
            run(connect("http://evil.example"))
        self.assertEqual(cm.exception.status_code, 403)
        s = socket.create_connection((HOST, self.server.port), timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall((f"GET /backtests/year/ws HTTP/1.1\r\nHost: {HOST}:{self.server.port}\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nOrigin: http://evil.example\r\n\r\n").encode())
        data = b""
        while b"}" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 403"), data[:80])
        self.assertEqual(json.loads(data.partition(b"\r\n\r\n")[2])["code"], "FORBIDDEN")

    def test_bad_payloads_get_validation_and_the_connection_stays_open(self):
        async def go():
            async with websockets.connect(self.url("year", "?speed=1")) as ws:
                await ws.send(json.dumps({"t": "ctrl", "cmd": "pause"}))
                errors = []
                for payload in (b"\x00\x01binary", "not json", "x" * 5000,
                                json.dumps({"t": "ctrl", "cmd": "jump"})):
                    await ws.send(payload)
                    errors.append([m for m in await self.until(ws, "err")][-1])
                # Still open: a seek is answered with a frame.
                # Bar 5 (05:00) lies in window 61 at speed 1 (windows of 292 s).
                await ws.send(json.dumps({"t": "ctrl", "cmd": "seek",
                                          "pos": "2023-01-01T05:00:00Z"}))
                frame = [m for m in await self.until(ws, "frame")][-1]
                return errors, frame
        errors, frame = run(go())
        for err in errors:
            self.assertEqual(err["code"], "VALIDATION", err)
        self.assertEqual(errors[0]["details"]["field"], "message")  # binary
        self.assertEqual(errors[1]["details"]["field"], "message")  # not JSON
        self.assertEqual(errors[2]["details"]["field"], "message")  # too large
        self.assertEqual(errors[3]["details"]["field"], "cmd")
        self.assertEqual(frame["i"], 61)
        self.assertEqual(frame["ts"], "2023-01-01T05:00:00Z")

    def test_a_flood_is_rate_limited_then_closed(self):
        async def go():
            async with websockets.connect(self.url("year", "?speed=1")) as ws:
                for _ in range(300):
                    await ws.send('{"t":"hb"}')
                codes = []
                try:
                    while True:
                        msg = await self.recv_json(ws)
                        if msg["t"] == "err":
                            codes.append(msg["code"])
                except ConnectionClosed:
                    return codes, True
                except asyncio.TimeoutError:
                    return codes, False
        codes, closed = run(go())
        self.assertIn("RATE_LIMITED", codes)
        self.assertTrue(closed)

    def test_heartbeats_while_paused_and_pings_keep_it_open(self):
        async def go():
            async with websockets.connect(self.url("year", "?speed=1")) as ws:
                await ws.send(json.dumps({"t": "ctrl", "cmd": "pause"}))
                await asyncio.sleep(0.1)
                start = time.monotonic()
                hbs = []
                # Longer than the 2 s idle timeout: the client answers pings, so it stays open.
                while time.monotonic() - start < 3:
                    msg = await self.recv_json(ws, 2)
                    if msg["t"] == "hb":
                        hbs.append(time.monotonic() - start)
                return hbs
        hbs = run(go())
        self.assertGreaterEqual(len(hbs), 6)
        gaps = [b - a for a, b in zip(hbs, hbs[1:])]
        self.assertLess(max(gaps), 0.8)

    def test_silent_client_is_closed_after_the_idle_timeout(self):
        s = raw_upgrade(self.server.port, "/backtests/year/ws?speed=1")
        start = time.time()
        data = read_until_closed(s)  # frames and pings, never a pong
        elapsed = time.time() - start
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 101"))
        self.assertGreater(elapsed, 1.5)
        self.assertLess(elapsed, 5)

    def test_connecting_before_the_run_is_done(self):
        async def go():
            async with websockets.connect(self.url("pending", "?speed=3600")) as ws:
                first = await self.recv_json(ws)
                msgs = await self.until(ws, "frame", timeout=10)
                return first, msgs
        first, msgs = run(go())
        self.assertEqual(first["t"], "hb")
        self.assertEqual(msgs[-1]["t"], "frame")

    def test_client_that_talks_but_never_reads_is_cut_at_the_write_deadline(self):
        # Sends a masked {"t":"hb"} every 0.2 s, so the idle timeout never fires; reads nothing,
        # so the server's writes stall once the (small) socket buffers are full.
        s = raw_upgrade(self.server.port, "/backtests/year/ws?speed=1000", rcvbuf=4096)
        payload = b'{"t":"hb"}'
        mask = os.urandom(4)
        frame = bytes([0x81, 0x80 | len(payload)]) + mask + bytes(
            b ^ mask[i % 4] for i, b in enumerate(payload))
        start = time.time()
        cut = None
        while time.time() - start < 30:
            try:
                s.sendall(frame)
            except OSError:
                cut = time.time() - start
                break
            time.sleep(0.2)
        s.close()
        self.assertIsNotNone(cut, "a client that never reads was never cut")
        self.assertGreater(cut, 1.5)


class HandshakeTimeoutTest(unittest.TestCase):
    def test_client_that_never_answers_the_close_is_cut_at_the_handshake_timeout(self):
        # --handshake-timeout bounds both handshakes. The opening one is the server's 101, which a
        # client cannot hold up; the closing one waits for the client's close frame, which a
        # client can withhold. Here the server closes (an unknown run: err, then a close frame)
        # and this client never answers: the TCP connection must end at the handshake timeout,
        # well before the idle timeout.
        server = ServerProcess(*FAST, "--handshake-timeout", "1s", "--idle-timeout", "6s")
        try:
            s = raw_upgrade(server.port, "/backtests/nope/ws", timeout=15)
            close_at = None

            def note_the_close_frame(data):
                nonlocal close_at
                body = data.find(b"\r\n\r\n")
                if close_at is None and body >= 0 and b"\x88" in data[body:]:
                    close_at = time.monotonic()
            data = read_until_closed(s, note_the_close_frame)
            waited = time.monotonic() - close_at if close_at else None
            s.close()
            self.assertTrue(data.startswith(b"HTTP/1.1 101"), data[:200])
            self.assertIn(b'"code":"RUN_NOT_FOUND"', data)
            self.assertIsNotNone(waited, "no close frame came")
            self.assertGreater(waited, 0.8)
            self.assertLess(waited, 4)
        finally:
            server.stop()


class ShutdownTest(unittest.TestCase):
    def test_sigterm_sends_a_going_away_close(self):
        server = ServerProcess(*FAST, "--synthetic-run", "year:8760:1:1h")
        try:
            async def go():
                async with websockets.connect(
                        f"ws://{HOST}:{server.port}/backtests/year/ws?speed=1") as ws:
                    await ws.recv()
                    server.proc.send_signal(signal.SIGTERM)
                    with self.assertRaises(ConnectionClosed) as cm:
                        while True:
                            await asyncio.wait_for(ws.recv(), 5)
                    return cm.exception.code
            self.assertEqual(run(go()), 1001)
            self.assertEqual(server.proc.wait(timeout=10), 0)
        finally:
            server.stop()


class SlowReaderTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ServerProcess(*FAST, "--write-timeout", "20s", "--idle-timeout", "20s",
                                   "--synthetic-run", "year:8760:1:1h")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_slow_reader_gets_coalesced_frames_and_every_order(self):
        async def go():
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect((HOST, self.server.port))
            # ~8 s of playback; the client stalls 2.5 s at a time, then drains what came.
            async with websockets.connect(
                    f"ws://{HOST}:{self.server.port}/backtests/year/ws?speed=450", sock=sock,
                    max_queue=1, read_limit=1024) as ws:
                msgs = []
                while True:
                    await asyncio.sleep(2.5)
                    while True:
                        try:
                            msg = json.loads(await asyncio.wait_for(ws.recv(), 0.05))
                        except asyncio.TimeoutError:
                            break
                        msgs.append(msg)
                        if msg["t"] == "end":
                            return msgs
        msgs = run(go(), timeout=90)
        frames = [m for m in msgs if m["t"] == "frame"]
        self.assertGreater(frames[-1]["dropped"], 0)
        self.assertEqual(frames[-1]["i"], frames[-1]["n"] - 1)
        indices = [f["i"] for f in frames]
        self.assertEqual(indices, sorted(set(indices)))
        events = [(o["id"], o["status"]) for f in frames for o in f["orders"]]
        ids = sorted({i for i, _ in events})
        self.assertEqual(ids, list(range(1, len(ids) + 1)))  # no order lost in between
        self.assertEqual(len(events), len(set(events)))      # and none repeated
        self.assertGreater(len(ids), 5)


if __name__ == "__main__":
    unittest.main()
