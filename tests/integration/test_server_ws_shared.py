"""Streams in step share their frames' bytes (the run's cached frame heads, merged ranges
included, and each I/O lane's wire buffers): every client must still get exactly its own frames.
Several WebSocket and SSE clients play the same run from the same start, others from another
position or at another speed; every frame a client gets must be byte for byte the frame /frames
gives for that window (with the client's own `dropped`), or, where windows were merged, the
frame of exactly the bars it covers."""
import asyncio
import json
import os
import sys
import unittest
import urllib.request

try:
    import websockets
except ImportError:  # Debian's python3-websockets, when python3 is not Debian's own
    sys.path.append("/usr/lib/python3/dist-packages")
    import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tdserver import Server  # noqa: E402
from test_server_sse import SseStream  # noqa: E402

HOST = "127.0.0.1"
FRAMES = 40  # per client


class SharedFramesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Two I/O lanes: stream connections alternate between them, so each lane has several.
        cls.server = Server("--threads", "2").start()
        # sma_cross on the bundled daily S&P 500 sample: orders in many windows.
        body = json.dumps({"dataset": "sp500", "strategy": "sma_cross"})
        status, _, raw = cls.server.request("POST", "/backtests", body,
                                            {"Content-Type": "application/json"})
        assert status == 202, raw
        cls.run_id = json.loads(raw)["id"]
        assert cls.server.wait_run(cls.run_id)["status"] == "done"

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def history(self, speed, to=600):
        """Window index -> the exact JSON text /frames gives for it (dropped 0), windows < `to`."""
        url = f"http://{HOST}:{self.server.port}/backtests/{self.run_id}/frames?speed={speed}&to={to}"
        with urllib.request.urlopen(url, timeout=30) as r:
            text = r.read().decode()
        frames = json.loads(text)
        # Cut the array's text where each frame starts ({"t":"frame" appears nowhere else: quotes
        # inside strings are escaped).
        parts = text[1:-1].split(',{"t":"frame"')
        parts = [parts[0]] + ['{"t":"frame"' + p for p in parts[1:]] if parts[0] else []
        self.assertEqual(len(parts), len(frames))
        out = {}
        for f, p in zip(frames, parts):
            self.assertEqual(json.loads(p), f)
            out[f["i"]] = p
        self.assertGreater(sum(1 for f in frames if f["orders"]), 5)
        return out

    def check_stream(self, frames, history, start):
        """Each frame is history's for its window, with the client's dropped, or a merged frame
        whose i is a later window than the one due (then it must agree with history's last
        window in everything a merge keeps: ts, i, n, equity)."""
        windows = sorted(history)
        exact = 0
        prev = None
        for text in frames:
            f = json.loads(text)
            i = f["i"]
            self.assertIn(i, history)
            expected = history[i]
            due = windows[windows.index(prev) + 1] if prev is not None else start
            if i == due:
                want = expected[: -len("0}")] + f"{f['dropped']}}}"
                self.assertEqual(text, want, f"window {i}")
                exact += 1
            else:
                self.assertGreater(i, due)
                h = json.loads(expected)
                for key in ("ts", "i", "n", "equity"):
                    self.assertEqual(f[key], h[key])
            prev = i
        return exact

    async def ws_frames(self, query):
        url = f"ws://{HOST}:{self.server.port}/backtests/{self.run_id}/ws{query}"
        out = []
        async with websockets.connect(url, max_size=None) as ws:
            while len(out) < FRAMES:
                msg = await asyncio.wait_for(ws.recv(), 10)
                if json.loads(msg)["t"] == "frame":
                    out.append(msg)
                if json.loads(msg)["t"] == "end":
                    break
        return out

    def test_websocket_streams_in_step_and_apart_get_their_own_exact_frames(self):
        speed, other = 600, 6000
        history = self.history(speed)
        history_other = self.history(other)
        start = sorted(history)[60]

        async def all_streams():
            same = [self.ws_frames(f"?speed={speed}") for _ in range(6)]
            apart = [self.ws_frames(f"?speed={speed}&from={start}") for _ in range(3)]
            fast = [self.ws_frames(f"?speed={other}") for _ in range(3)]
            return await asyncio.gather(*same, *apart, *fast)

        results = asyncio.run(asyncio.wait_for(all_streams(), 60))
        same, apart, fast = results[:6], results[6:9], results[9:]
        first = sorted(history)[0]
        exact = 0
        for frames in same:
            self.assertEqual(len(frames), FRAMES)
            exact += self.check_stream(frames, history, first)
        for frames in apart:
            self.assertEqual(len(frames), FRAMES)
            self.assertEqual(json.loads(frames[0])["i"], start)
            exact += self.check_stream(frames, history, start)
        for frames in fast:
            self.assertEqual(len(frames), FRAMES)
            exact += self.check_stream(frames, history_other, sorted(history_other)[0])
        # Streams in step got the same bytes for the windows they all got whole.
        by_window = {}
        for frames in same:
            for text in frames:
                f = json.loads(text)
                if f["dropped"] == 0:
                    by_window.setdefault(f["i"], set()).add(text)
        self.assertTrue(all(len(texts) == 1 for texts in by_window.values()))
        # Nearly all frames were whole windows on an idle loopback (merges are the exception).
        self.assertGreater(exact, 0.8 * 12 * FRAMES)

    def test_sse_streams_in_step_get_their_own_exact_events(self):
        speed = 600
        history = self.history(speed)
        start = sorted(history)[30]
        path = f"/backtests/{self.run_id}/stream?speed={speed}"
        streams = [SseStream(self.server.port, path) for _ in range(4)]
        streams += [SseStream(self.server.port, f"{path}&from={start}") for _ in range(2)]
        try:
            for s in streams:
                self.assertEqual(s.status, 200)
            got = []
            for s in streams:
                events = []
                while len(events) < 20:
                    # the raw block, to compare bytes: "event: frame\nid: k\ndata: ...".
                    s.raw_until(b"\n\n")
                    block, _, s.buf = s.buf.partition(b"\n\n")
                    if block.startswith(b"event: frame\n"):
                        events.append(block.decode())
                got.append(events)
            for n, events in enumerate(got):
                frames = []
                for block in events:
                    head, _, data = block.partition("\ndata: ")
                    i = json.loads(data)["i"]
                    self.assertEqual(head, f"event: frame\nid: {i}")
                    frames.append(data)
                self.check_stream(frames, history, sorted(history)[0] if n < 4 else start)
        finally:
            for s in streams:
                s.close()


if __name__ == "__main__":
    unittest.main()
