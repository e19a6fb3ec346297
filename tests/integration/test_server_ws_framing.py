"""RFC 6455 as a playback WebSocket speaks it after the upgrade, against `tapedeck serve`: pings
answered, fragmented messages reassembled, the client's close echoed, and the closes a broken
client gets (1002 protocol error, 1007 text that is not UTF-8, 1009 a message too big), with the
independent `websockets` client on loopback."""
import asyncio
import json
import os
import sys
import unittest

try:
    import websockets
except ImportError:  # Debian's python3-websockets, when python3 is not Debian's own
    sys.path.append("/usr/lib/python3/dist-packages")
    import websockets
from websockets.exceptions import ConnectionClosed

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_http import FAST, HOST, ServerProcess  # noqa: E402


def run(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


class FramingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ServerProcess(*FAST, "--synthetic-run", "year:8760:1:1h")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def url(self):
        return f"ws://{HOST}:{self.server.port}/backtests/year/ws?speed=1"

    async def close_code_after(self, raw=None, text=None, **connect):
        """Opens a stream, sends `raw` bytes (a hand-made frame) or a `text` message, and returns
        the code of the close frame the server sends."""
        async with websockets.connect(self.url(), **connect) as ws:
            await ws.recv()
            if raw is not None:
                ws.transport.write(raw)
            else:
                await ws.send(text)
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 5)
            except ConnectionClosed as e:
                return e.rcvd.code if e.rcvd else None

    def test_ping_is_answered(self):
        async def go():
            async with websockets.connect(self.url()) as ws:
                await ws.recv()
                pong = await ws.ping(b"abc")
                await asyncio.wait_for(pong, 5)
                return True
        self.assertTrue(run(go()))

    def test_a_fragmented_command_is_one_message(self):
        # An unknown command in two fragments: only the whole message names the field.
        async def go():
            async with websockets.connect(self.url()) as ws:
                await ws.recv()
                await ws.send(iter(['{"t":"ctrl",', '"cmd":"nope"}']))
                while True:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 5))
                    if msg["t"] == "err":
                        return msg
        msg = run(go())
        self.assertEqual(msg["code"], "VALIDATION", msg)
        self.assertEqual(msg["details"]["field"], "cmd", msg)

    def test_the_clients_close_code_is_echoed(self):
        async def go():
            async with websockets.connect(self.url()) as ws:
                await ws.recv()
                await ws.close(code=4001)
                return ws.close_rcvd.code if ws.close_rcvd else None
        self.assertEqual(run(go()), 4001)

    def test_text_that_is_not_utf8_closes_with_1007(self):
        # A masked text frame (zero mask) holding 0xff 0xfe.
        frame = bytes([0x81, 0x82, 0, 0, 0, 0, 0xFF, 0xFE])
        self.assertEqual(run(self.close_code_after(raw=frame)), 1007)

    def test_an_unmasked_client_frame_closes_with_1002(self):
        self.assertEqual(run(self.close_code_after(raw=bytes([0x81, 0x02]) + b"hi")), 1002)

    def test_a_reserved_opcode_closes_with_1002(self):
        self.assertEqual(run(self.close_code_after(raw=bytes([0x83, 0x80, 0, 0, 0, 0]))), 1002)

    def test_a_message_far_past_the_limit_closes_with_1009(self):
        code = run(self.close_code_after(text="x" * (70 * 1024), max_size=None))
        self.assertEqual(code, 1009)


if __name__ == "__main__":
    unittest.main()
