"""Connection churn against a real `tapedeck serve` (issue 5, "Hostile clients and load"), CI-sized:
3,000 connect/play/disconnect cycles over WebSocket (the independent `websockets` client) and SSE
(raw asyncio sockets), left cleanly or abruptly, while background streams play. Afterwards the
server holds no more descriptors than before, its RSS is back near its baseline, and the
background streams never noticed. bench/churn.sh runs the same at 100,000 cycles with the C++
load generator (loadgen_driver --churn, bench/loadgen/)."""
import asyncio
import json
import os
import random
import socket
import struct
import sys
import time
import unittest

try:
    import websockets
except ImportError:  # Debian's python3-websockets, when python3 is not Debian's own
    sys.path.append("/usr/lib/python3/dist-packages")
    import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_http import HOST, ServerProcess  # noqa: E402

RUN = "churn"
WINDOWS = 1800  # one year at speed 60: 30 frames a second for 60 s
CYCLES = 3000
WARMUP = 600  # cycles before the baseline
CONCURRENCY = 32
BACKGROUND_WS = 2
BACKGROUND_SSE = 2
SEED = 5
# RSS: the criterion of the issue is 10% of the baseline at 100,000 cycles (bench/churn.sh). Here
# the server is small (~10-20 MB) and the warm-up short, so what is bounded but still growing
# after it weighs more: the run's frame cache (random ?from= windows and seeks keep filling it,
# ~0.5 MB for this run at the speeds used) and glibc's per-thread arenas reaching their high
# water. Hence 10% plus 3 MB. Checked against a build that leaks on purpose at every stream
# session's start: 2 KB or 4 KB a session fails this test (+5 and +10 MB), 1 KB passes; a kept
# session (a Beast WebSocket stream with its buffers, the playback session, timers: well over
# 2 KB) also keeps its socket, which the descriptor count catches exactly. bench/churn.sh, at
# 100,000 cycles, caught 32 bytes a session.
RSS_FRACTION = 0.10
RSS_SLACK_KB = 3 * 1024
FD_SLACK = 2  # a background stream's socket may be mid-reconnect; none should be


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def reset_on_close(sock):
    """SO_LINGER 0: close() sends a RST instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def ws_url(port, query=""):
    return f"ws://{HOST}:{port}/backtests/{RUN}/ws{query}"


async def read_sse_frame(reader):
    """Reads SSE events until a frame; returns its JSON. Raises on an err or the end."""
    while True:
        block = await reader.readuntil(b"\n\n")
        for line in block.decode().split("\n"):
            if line.startswith("data: "):
                msg = json.loads(line[6:])
                if msg["t"] == "err":
                    raise AssertionError(f"err on SSE: {msg}")
                if msg["t"] == "frame":
                    return msg


async def open_sse(port, query=""):
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(f"GET /backtests/{RUN}/stream{query} HTTP/1.1\r\nHost: {HOST}\r\n"
                 "Accept: text/event-stream\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise AssertionError(f"SSE answered {head[:40]!r}")
    return reader, writer


async def cycle(port, k, stats):
    """One connect/play/disconnect cycle, planned from SEED and k alone."""
    rng = random.Random(SEED * 1_000_003 + k)
    sse = rng.random() < 0.5
    query = "?speed=60" + (f"&from={rng.randrange(WINDOWS)}" if rng.random() < 0.25 else "")
    leave = rng.choices(["clean", "rst", "drop", "early"], weights=[50, 20, 20, 10])[0]
    control = None
    if not sse and rng.random() < 0.4:
        control = rng.choice([
            {"t": "ctrl", "cmd": "seek", "pos": rng.randrange(WINDOWS)},
            {"t": "ctrl", "cmd": "speed", "val": rng.choice([30, 120])},
            {"t": "ctrl", "cmd": "pause"},
        ])
    stats[leave] += 1
    if leave == "early":
        # The request and a RST at once: the server may be anywhere in the upgrade.
        path = f"/backtests/{RUN}/{'stream' if sse else 'ws'}{query}"
        extra = ("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n") if not sse else ""
        _, writer = await asyncio.open_connection(HOST, port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n{extra}\r\n".encode())
        await writer.drain()
        reset_on_close(writer.get_extra_info("socket"))
        writer.transport.abort()
        return
    if sse:
        reader, writer = await open_sse(port, query)
        await read_sse_frame(reader)
        stats["frames"] += 1
        if leave == "clean":
            # Our end of stream; the server closes its side, and we read until it has.
            writer.write_eof()
            while await reader.read(65536):
                pass
            writer.close()
            await writer.wait_closed()
        else:
            if leave == "rst":
                reset_on_close(writer.get_extra_info("socket"))
            writer.transport.abort()
        return
    ws = await websockets.connect(ws_url(port, query), max_queue=None, ping_interval=None)
    try:
        while json.loads(await ws.recv())["t"] != "frame":
            pass
        stats["frames"] += 1
        if control:
            await ws.send(json.dumps(control))
            stats[control["cmd"]] += 1
            if control["cmd"] == "seek":  # its frame is sent at once
                while json.loads(await ws.recv())["t"] != "frame":
                    pass
        if leave == "clean":
            await ws.close()
            if ws.close_code != 1000:
                raise AssertionError(f"close code {ws.close_code}")
        else:
            if leave == "rst":
                reset_on_close(ws.transport.get_extra_info("socket"))
            ws.transport.abort()
    finally:
        if leave != "clean":
            ws.transport.abort()


class Background:
    """Streams that play through the whole churn and must never notice it."""

    def __init__(self, port):
        self.port = port
        self.stop = asyncio.Event()
        self.gaps = []
        self.frames = 0
        self.errors = []

    async def ws(self):
        try:
            async with websockets.connect(ws_url(self.port, "?speed=60")) as ws:
                last = None
                while not self.stop.is_set():
                    try:
                        msg = json.loads(await asyncio.wait_for(ws.recv(), 0.25))
                    except asyncio.TimeoutError:
                        continue
                    last = self.count(msg, last)
        except Exception as e:  # noqa: BLE001 - every way of failing is the finding
            self.errors.append(f"ws: {e!r}")

    async def sse(self):
        try:
            reader, writer = await open_sse(self.port, "?speed=60")
            last = None
            while not self.stop.is_set():
                try:
                    msg = await asyncio.wait_for(read_sse_frame(reader), 0.25)
                except asyncio.TimeoutError:
                    continue
                last = self.count(msg, last)
            writer.close()
        except Exception as e:  # noqa: BLE001
            self.errors.append(f"sse: {e!r}")

    def count(self, msg, last):
        """Records `msg`; returns the time of the stream's last frame."""
        if msg["t"] == "err":
            self.errors.append(f"err: {msg}")
        elif msg["t"] == "end":
            self.errors.append("the run ended before the churn did")
        elif msg["t"] == "frame":
            now = time.monotonic()
            self.frames += 1
            if last is not None:
                self.gaps.append(now - last)
            return now
        return last


class ChurnTest(unittest.TestCase):
    def test_churn_gives_back_descriptors_and_memory_and_spares_other_streams(self):
        # One year of hourly bars: 1,800 windows at speed 60, a minute of playback, longer than
        # this test, so the background streams play throughout.
        server = ServerProcess("--threads", "2", "--synthetic-run", f"{RUN}:8760:1:1h")
        pid = server.proc.pid
        try:
            report = asyncio.run(asyncio.wait_for(self.churn(server.port, pid), 50))
        finally:
            server.stop()
        print(f"\nchurn: {report}", file=sys.stderr)
        self.assertEqual(report["failures"], [], "failed cycles")
        self.assertEqual(report["background_errors"], [], "background streams")
        self.assertGreater(report["background_frames"], 0)
        # Generous: 33 ms is the schedule; a stall of seconds would be a stuck server.
        self.assertLess(report["background_max_gap_s"], 5)
        self.assertLessEqual(report["fds_end"], report["fds_baseline"] + FD_SLACK, report)
        if os.environ.get("TAPEDECK_SANITIZER") in ("asan", "tsan"):
            # AddressSanitizer keeps freed memory in quarantine (256 MB) on purpose, and
            # ThreadSanitizer's shadow memory grows with what is touched, so RSS says nothing
            # under them; leaks are LeakSanitizer's to find, in the tests that stop the
            # server cleanly and check its exit status.
            return
        self.assertLessEqual(report["rss_end_kb"],
                             report["rss_baseline_kb"] * (1 + RSS_FRACTION) + RSS_SLACK_KB,
                             report)

    async def churn(self, port, pid):
        stats = dict.fromkeys(["clean", "rst", "drop", "early", "frames", "seek", "speed",
                               "pause"], 0)
        failures = []
        background = Background(port)
        tasks = [asyncio.create_task(background.ws()) for _ in range(BACKGROUND_WS)]
        tasks += [asyncio.create_task(background.sse()) for _ in range(BACKGROUND_SSE)]
        await asyncio.sleep(0.5)

        async def run_cycles(first, last):
            queue = iter(range(first, last))

            async def worker():
                for k in queue:
                    try:
                        await asyncio.wait_for(cycle(port, k, stats), 10)
                    except Exception as e:  # noqa: BLE001 - every way of failing is the finding
                        failures.append(f"cycle {k}: {e!r}")
            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))

        async def settled(limit):
            """Waits (up to 5 s) for the fd count to come down to `limit`; returns it. The
            server notices a reset or a close at once, but a busy machine may take a while to
            run it; a leaked descriptor never comes back."""
            deadline = time.monotonic() + 5
            while fd_count(pid) > limit and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            return fd_count(pid)

        start = time.monotonic()
        await run_cycles(0, WARMUP)
        await asyncio.sleep(1)
        fds_baseline = fd_count(pid)
        rss_baseline = rss_kb(pid)
        await run_cycles(WARMUP, CYCLES)
        churn_s = time.monotonic() - start - 1
        await asyncio.sleep(1)
        fds_end = await settled(fds_baseline)
        rss_end = rss_kb(pid)
        background.stop.set()
        await asyncio.gather(*tasks)
        gaps = sorted(background.gaps)
        return {
            "cycles": CYCLES, "cycles_per_s": round(CYCLES / churn_s), **stats,
            "failures": failures[:5],
            "fds_baseline": fds_baseline, "fds_end": fds_end,
            "rss_baseline_kb": rss_baseline, "rss_end_kb": rss_end,
            "background_frames": background.frames,
            "background_errors": background.errors,
            "background_gap_p99_ms": round(gaps[int(0.99 * len(gaps))] * 1e3, 1) if gaps else None,
            "background_max_gap_s": round(gaps[-1], 3) if gaps else 0,
        }


if __name__ == "__main__":
    unittest.main()
