"""A whole run's frames over WebSocket and over SSE, for tests that check what frames carry.

RunStreams is a mixin for a unittest.TestCase that has `self.server` (a tdserver.Server). Messages
are validated against asyncapi.yaml when the test module called apischema.check_websocket_messages().
"""
import asyncio
import json
import sys

try:
    import websockets
except ImportError:  # Debian's python3-websockets, when python3 is not Debian's own
    sys.path.append("/usr/lib/python3/dist-packages")
    import websockets

from test_server_sse import SseStream


class RunStreams:
    def ws_frames(self, run_id, speed):
        """Every frame of the run at `speed` over WebSocket, up to its end message."""
        async def go():
            url = f"ws://127.0.0.1:{self.server.port}/backtests/{run_id}/ws?speed={speed}"
            out = []
            async with websockets.connect(url) as ws:
                while True:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 20))
                    if msg["t"] == "end":
                        return out
                    if msg["t"] == "frame":
                        out.append(msg)
        return asyncio.run(asyncio.wait_for(go(), 60))

    def sse_frames(self, run_id, speed):
        """Every frame of the run at `speed` over SSE, up to its end event."""
        s = SseStream(self.server.port, f"/backtests/{run_id}/stream?speed={speed}")
        out = []
        try:
            self.assertEqual(s.status, 200)
            while True:
                e = s.event()  # checked against asyncapi.yaml
                self.assertTrue(e, "stream closed before end")
                if e.get("event") == "end":
                    return out
                if e.get("event") == "frame":
                    out.append(json.loads(e["data"]))
        finally:
            s.close()
