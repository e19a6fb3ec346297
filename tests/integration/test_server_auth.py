"""Black-box tests of who may connect and how much one client may ask (issue 5): bearer tokens on
REST, playback tickets on WebSocket and SSE (and a ticket key shared by several nodes), CORS for the
--allow-origin list, and the limits on backtests waiting per client and in total. A real `tapedeck serve` (tdserver.py), the independent
`websockets` client, raw sockets and curl."""
import asyncio
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

try:
    import websockets
except ImportError:  # Debian's python3-websockets, when python3 is not Debian's own
    sys.path.append("/usr/lib/python3/dist-packages")
    import websockets
from websockets.exceptions import ConnectionClosed

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import apischema  # noqa: E402
import tdserver  # noqa: E402
from test_server_sse import SseStream  # noqa: E402

apischema.check_websocket_messages()

# Fresh secrets each run, so finding one in the server's output can only mean it was logged.
TOKEN = "alice-" + secrets.token_hex(16)
FILE_TOKEN = "bob-" + secrets.token_hex(16)
WRONG = "mallory-" + secrets.token_hex(16)
ALLOWED = "http://ui.example:3000"
TTL_S = 1.5


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


class Server(tdserver.Server):
    """tdserver.Server that keeps everything the process wrote to stdout and stderr."""

    output = ""

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        self.output += out + err
        code, self.proc = self.proc.returncode, None
        return code


def run(coro, timeout=30):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def write_tokens_file(directory, text, mode=0o600):
    path = os.path.join(directory, "tokens")
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


class AccessTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="tapedeck-auth-")
        tokens = write_tokens_file(cls.dir, f"# the desk\n\n{FILE_TOKEN}\n")
        cls.server = Server(
            "--auth-token", TOKEN, "--tokens-file", tokens, "--ticket-ttl", f"{TTL_S}s",
            "--allow-origin", ALLOWED, "--heartbeat", "300ms", "--threads", "2",
            # one year of hourly bars; at speed 10 it plays for six minutes
            "--synthetic-run", "year:8760:1:1h", "--synthetic-run", "other:500:2:1h",
            workdir=cls.dir).start()
        cls.tickets = []  # every ticket handed out: none may show in the output

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        output = cls.server.output
        shutil.rmtree(cls.dir, ignore_errors=True)
        for secret in [TOKEN, FILE_TOKEN, WRONG, *cls.tickets]:
            assert secret not in output, "a token or ticket is in the server's output"

    def ticket(self, run_id="year", token=TOKEN):
        status, doc = self.server.json("POST", f"/backtests/{run_id}/ticket", headers=bearer(token))
        self.assertEqual(status, 200, doc)
        self.tickets.append(doc["ticket"])
        return doc["ticket"]

    def ws_url(self, run_id, query=""):
        return f"ws://127.0.0.1:{self.server.port}/backtests/{run_id}/ws{query}"

    # --- REST ---------------------------------------------------------------------------------

    def test_rest_without_or_with_a_wrong_token_is_401(self):
        for headers in ({}, bearer(WRONG), {"Authorization": TOKEN},
                        {"Authorization": f"Basic {TOKEN}"}):
            for method, path in (("GET", "/backtests"), ("GET", "/datasets"),
                                 ("GET", "/strategies"), ("GET", "/metrics"),
                                 ("POST", "/backtests/year/ticket")):
                status, hdrs, body = self.server.request(method, path, headers=headers)
                self.assertEqual(status, 401, (method, path, headers))
                self.assertTrue(hdrs["WWW-Authenticate"].startswith("Bearer"))
                if path != "/metrics":
                    self.assertEqual(json.loads(body)["code"], "UNAUTHORIZED")
        # A refused POST creates nothing.
        status, _, _ = self.server.request(
            "POST", "/backtests", json.dumps({"dataset": "sp500", "strategy": "sma_cross"}),
            {"Content-Type": "application/json", **bearer(WRONG)})
        self.assertEqual(status, 401)
        status, runs = self.server.json("GET", "/backtests", headers=bearer(TOKEN))
        self.assertEqual((status, runs), (200, []))

    def test_rest_with_a_token_from_the_flag_or_the_file(self):
        for token in (TOKEN, FILE_TOKEN):
            status, datasets = self.server.json("GET", "/datasets", headers=bearer(token))
            self.assertEqual(status, 200)
            self.assertEqual([d["name"] for d in datasets], ["sp500"])
            status, _, body = self.server.request("GET", "/metrics", headers=bearer(token))
            self.assertEqual(status, 200)
            self.assertIn(b"tapedeck_connections", body)

    def test_healthz_and_the_web_ui_need_no_token(self):
        status, doc = self.server.json("GET", "/healthz")
        self.assertEqual((status, doc), (200, {"status": "ok"}))
        for path in ("/", "/runs/anything", "/app.js"):
            status, _, _ = self.server.request("GET", path)
            self.assertEqual(status, 200, path)

    def test_ticket_names_its_run_and_life(self):
        status, doc = self.server.json("POST", "/backtests/year/ticket", headers=bearer(FILE_TOKEN))
        self.assertEqual(status, 200)
        self.tickets.append(doc["ticket"])
        self.assertEqual(doc["run"], "year")
        self.assertEqual(doc["expires_in"], TTL_S)
        self.assertRegex(doc["expires"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
        self.assertRegex(doc["ticket"], r"^\d+\.[0-9a-f]{64}$")

    # --- WebSocket ----------------------------------------------------------------------------

    async def refused_ws(self, url, **kwargs):
        """The err a refused WebSocket gets after its upgrade, and the close code that follows."""
        async with websockets.connect(url, **kwargs) as ws:
            msg = json.loads(await asyncio.wait_for(ws.recv(), 5))
            try:
                extra = await asyncio.wait_for(ws.recv(), 5)
                self.fail(f"more after the err: {extra}")
            except ConnectionClosed as closed:
                return msg, closed.rcvd.code if closed.rcvd else None

    def test_ws_without_a_valid_ticket_gets_err_unauthorized_then_close(self):
        ticket = self.ticket("other")
        expired = self.ticket("year")
        time.sleep(TTL_S + 0.2)
        tampered = self.ticket("year")
        tampered = tampered[:-1] + ("0" if tampered[-1] != "0" else "1")
        for query in ("", "?ticket=", f"?ticket={ticket}", f"?ticket={expired}",
                      f"?ticket={tampered}", "?ticket=garbage"):
            msg, code = run(self.refused_ws(self.ws_url("year", query)))
            self.assertEqual(msg["t"], "err", query)
            self.assertEqual(msg["code"], "UNAUTHORIZED", query)
            self.assertEqual(code, 1008, query)
        # A wrong bearer header on the upgrade is refused the same way.
        msg, code = run(self.refused_ws(self.ws_url("year"), extra_headers=bearer(WRONG)))
        self.assertEqual((msg["code"], code), ("UNAUTHORIZED", 1008))

    def test_ws_with_a_ticket_plays_and_outlives_it(self):
        async def go():
            url = self.ws_url("year", f"?speed=10&ticket={self.ticket()}")
            async with websockets.connect(url, origin=ALLOWED) as ws:
                first = json.loads(await asyncio.wait_for(ws.recv(), 5))
                self.assertEqual(first["t"], "frame")
                await asyncio.sleep(TTL_S + 0.3)  # the ticket has expired; the stream goes on
                frames = 0
                deadline = time.monotonic() + 3
                while frames < 5 and time.monotonic() < deadline:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 3))
                    frames += msg["t"] == "frame"
                self.assertEqual(frames, 5)
        run(go())

    def test_ws_with_a_bearer_header_plays(self):
        async def go():
            async with websockets.connect(self.ws_url("other", "?speed=3600"),
                                          extra_headers=bearer(FILE_TOKEN)) as ws:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 5))
                self.assertEqual(msg["t"], "frame")
        run(go())

    # --- SSE ----------------------------------------------------------------------------------

    def sse(self, query, headers=None):
        return SseStream(self.server.port, f"/backtests/year/stream{query}", headers)

    def refused_sse(self, query, headers=None):
        stream = self.sse(query, headers)
        try:
            while len(stream.buf) < int(stream.headers["content-length"]):
                stream.buf += stream.sock.recv(65536)
            return stream.status, stream.headers, json.loads(stream.buf)
        finally:
            stream.close()

    def test_sse_without_a_valid_ticket_is_401_json(self):
        other = self.ticket("other")
        for query in ("", f"?ticket={other}", "?ticket=1.ab"):
            status, headers, body = self.refused_sse(query)
            self.assertEqual(status, 401, query)
            self.assertTrue(headers["www-authenticate"].startswith("Bearer"))
            self.assertEqual(body["code"], "UNAUTHORIZED")

    def test_sse_with_a_ticket_plays_outlives_it_and_a_reconnect_needs_a_fresh_one(self):
        ticket = self.ticket()
        stream = self.sse(f"?speed=10&ticket={ticket}", {"Origin": ALLOWED})
        try:
            self.assertEqual(stream.status, 200)
            self.assertEqual(stream.headers["access-control-allow-origin"], ALLOWED)
            self.assertEqual(stream.event().get("retry"), "2000")
            first = stream.event()
            self.assertEqual(first["event"], "frame")
            time.sleep(TTL_S + 0.3)
            last = None
            for _ in range(5):
                event = stream.event()
                if event.get("event") == "frame":
                    last = event
            self.assertIsNotNone(last, "frames after the ticket expired")
        finally:
            stream.close()
        # The EventSource's own reconnect: the same address, now with an expired ticket.
        status, headers, body = self.refused_sse(f"?speed=10&ticket={ticket}",
                                                 {"Last-Event-ID": last["id"], "Origin": ALLOWED})
        self.assertEqual(status, 401)
        self.assertEqual(body["code"], "UNAUTHORIZED")
        self.assertIn("expired", body["msg"])
        self.assertEqual(headers["access-control-allow-origin"], ALLOWED)
        # With a fresh ticket it resumes after the last event.
        stream = self.sse(f"?speed=10&ticket={self.ticket()}", {"Last-Event-ID": last["id"]})
        try:
            self.assertEqual(stream.status, 200)
            stream.event()  # retry
            self.assertGreater(int(stream.event()["id"]), int(last["id"]))
        finally:
            stream.close()

    def test_sse_through_curl_with_a_bearer_header(self):
        out = subprocess.run(
            ["curl", "-sN", "--max-time", "1", "-H", f"Authorization: Bearer {TOKEN}",
             f"http://127.0.0.1:{self.server.port}/backtests/other/stream?speed=3600"],
            capture_output=True, text=True)
        self.assertIn("event: frame", out.stdout)

    # --- CORS ---------------------------------------------------------------------------------

    def test_cors_for_listed_origins_only(self):
        for origin, allowed in ((ALLOWED, True), ("http://evil.example", False)):
            status, hdrs, _ = self.server.request("GET", "/backtests",
                                                  headers={"Origin": origin, **bearer(TOKEN)})
            self.assertEqual(status, 200)
            self.assertEqual(hdrs["Vary"], "Origin")
            self.assertEqual(hdrs.get("Access-Control-Allow-Origin"), origin if allowed else None)
            # A 401 is readable by a listed origin's page too: it says what is missing.
            status, hdrs, _ = self.server.request("GET", "/backtests", headers={"Origin": origin})
            self.assertEqual(status, 401)
            self.assertEqual(hdrs.get("Access-Control-Allow-Origin"), origin if allowed else None)
            if allowed:
                self.assertIn("WWW-Authenticate", hdrs["Access-Control-Expose-Headers"])

    def test_preflight_allows_the_authorization_header_without_credentials(self):
        def preflight(origin):
            out = subprocess.run(
                ["curl", "-si", "-X", "OPTIONS", "-H", f"Origin: {origin}",
                 "-H", "Access-Control-Request-Method: POST",
                 "-H", "Access-Control-Request-Headers: authorization, content-type",
                 f"http://127.0.0.1:{self.server.port}/backtests"],
                capture_output=True, text=True, check=True).stdout
            status = int(out.split()[1])
            head = out.split("\n\n")[0].splitlines()  # text mode has made \r\n into \n
            headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:])}
            return status, headers

        status, headers = preflight(ALLOWED)
        self.assertEqual(status, 204)
        self.assertEqual(headers["access-control-allow-origin"], ALLOWED)
        self.assertIn("authorization", headers["access-control-allow-headers"].lower())
        self.assertIn("POST", headers["access-control-allow-methods"])
        self.assertEqual(headers["vary"], "Origin")
        status, headers = preflight("http://evil.example")
        self.assertNotIn("access-control-allow-origin", headers)


class LogTest(unittest.TestCase):
    """Tokens and tickets, right or wrong, never reach the server's output or its metrics."""

    def test_tokens_and_tickets_are_never_written_out(self):
        server = Server("--auth-token", TOKEN, "--synthetic-run", "year:8760:1:1h",
                        "--threads", "2").start()
        try:
            status, doc = server.json("POST", "/backtests/year/ticket", headers=bearer(TOKEN))
            self.assertEqual(status, 200)
            ticket = doc["ticket"]
            for headers in ({}, bearer(WRONG), bearer(TOKEN)):
                server.request("GET", "/backtests", headers=headers)
                server.request("GET", f"/backtests/nope/frames?ticket={ticket}", headers=headers)

            async def streams():
                base = f"ws://127.0.0.1:{server.port}/backtests"
                for url in (f"{base}/year/ws?ticket={ticket}", f"{base}/year/ws?ticket={WRONG}",
                            f"{base}/nope/ws?ticket={ticket}"):
                    async with websockets.connect(url) as ws:
                        await asyncio.wait_for(ws.recv(), 5)
            run(streams())
            for query in (f"?ticket={ticket}", f"?ticket={WRONG}", ""):
                s = SseStream(server.port, f"/backtests/year/stream{query}")
                s.close()
            # A malformed request whose target carries a ticket: its 400 must not echo it.
            status, _, body = server.request("GET", f"/backtests/year/frames?speed=x&ticket={ticket}",
                                             headers=bearer(TOKEN))
            self.assertEqual(status, 400)
            self.assertNotIn(ticket.encode(), body)
            _, _, metrics = server.request("GET", "/metrics", headers=bearer(TOKEN))
            for secret in (TOKEN, WRONG, ticket):
                self.assertNotIn(secret.encode(), metrics)
            self.assertEqual(server.stop(), 0)
            self.assertIn("access control on: 1 bearer token(s)", server.output)
            for secret in (TOKEN, WRONG, ticket):
                self.assertNotIn(secret, server.output)
        finally:
            server.cleanup()

    def test_bad_tokens_are_refused_at_start_without_echoing_them(self):
        with tempfile.TemporaryDirectory() as d:
            world = write_tokens_file(d, TOKEN + "\n", 0o644)
            for args in (["--auth-token", "short"], ["--auth-token", TOKEN + " x"],
                         ["--tokens-file", world]):
                proc = subprocess.run([tdserver.BIN, "serve", "--port", "0", "--db",
                                       os.path.join(d, "t.db"), *args],
                                      capture_output=True, text=True, timeout=30)
                self.assertEqual(proc.returncode, 2, args)
                self.assertNotIn(TOKEN, proc.stdout + proc.stderr)
                self.assertNotIn("short", proc.stderr.split("\n\n")[0])


def write_key_file(directory, name, text, mode=0o600):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


class TicketKeyTest(unittest.TestCase):
    """--ticket-key-file: nodes given the same key accept each other's playback tickets (what a
    deployment of several nodes behind a proxy needs); a node with another key refuses them."""

    KEY = secrets.token_hex(32)  # 64 bytes of text
    OTHER_KEY = secrets.token_hex(32)

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="tapedeck-ticket-key-")
        # The same key, once as written by `openssl rand -hex 32 > file`, once with blanks around
        # it: both are trimmed to the same bytes.
        same = write_key_file(cls.dir, "a.key", cls.KEY + "\n")
        same_padded = write_key_file(cls.dir, "b.key", "  " + cls.KEY + " \n\n")
        other = write_key_file(cls.dir, "c.key", cls.OTHER_KEY + "\n")
        cls.servers = []
        for name, key in (("a", same), ("b", same_padded), ("c", other)):
            os.mkdir(os.path.join(cls.dir, name))
            server = Server("--auth-token", TOKEN, "--ticket-key-file", key, "--threads", "2",
                            "--synthetic-run", "year:8760:1:1h",
                            workdir=os.path.join(cls.dir, name))
            cls.servers.append(server.start())
        cls.a, cls.b, cls.c = cls.servers
        cls.tickets = []

    @classmethod
    def tearDownClass(cls):
        output = ""
        for server in cls.servers:
            server.stop()
            output += server.output
        shutil.rmtree(cls.dir, ignore_errors=True)
        for secret in [cls.KEY, cls.OTHER_KEY, TOKEN, *cls.tickets]:
            assert secret not in output, "a key, token or ticket is in a server's output"

    def ticket(self, server):
        status, doc = server.json("POST", "/backtests/year/ticket", headers=bearer(TOKEN))
        self.assertEqual(status, 200, doc)
        self.tickets.append(doc["ticket"])
        return doc["ticket"]

    def first_ws_message(self, server, ticket):
        async def go():
            url = f"ws://127.0.0.1:{server.port}/backtests/year/ws?speed=60&ticket={ticket}"
            async with websockets.connect(url) as ws:
                return json.loads(await asyncio.wait_for(ws.recv(), 5))
        return run(go())

    def sse_status(self, server, ticket):
        stream = SseStream(server.port, f"/backtests/year/stream?speed=60&ticket={ticket}")
        try:
            return stream.status
        finally:
            stream.close()

    def test_a_ticket_from_one_node_opens_the_stream_on_another_with_the_same_key(self):
        for issuer, player in ((self.a, self.b), (self.b, self.a)):
            ticket = self.ticket(issuer)
            self.assertEqual(self.first_ws_message(player, ticket)["t"], "frame")
            self.assertEqual(self.sse_status(player, ticket), 200)

    def test_a_node_with_another_key_refuses_it(self):
        ticket = self.ticket(self.a)
        msg = self.first_ws_message(self.c, ticket)
        self.assertEqual((msg["t"], msg["code"]), ("err", "UNAUTHORIZED"))
        self.assertEqual(self.sse_status(self.c, ticket), 401)
        # And the other way round.
        msg = self.first_ws_message(self.a, self.ticket(self.c))
        self.assertEqual((msg["t"], msg["code"]), ("err", "UNAUTHORIZED"))

    def test_a_bad_key_file_is_refused_at_start(self):
        short = "k" * 31
        with tempfile.TemporaryDirectory() as d:
            cases = [
                # 31 bytes once the blanks are trimmed
                (write_key_file(d, "short.key", "  " + short + "\n"), "holds 31 byte(s)"),
                (write_key_file(d, "empty.key", "\n"), "holds 0 byte(s)"),
                (write_key_file(d, "world.key", self.KEY, 0o644), "chmod o-rwx"),
                (os.path.join(d, "missing.key"), "No such file or directory"),
            ]
            for path, why in cases:
                proc = subprocess.run([tdserver.BIN, "serve", "--port", "0", "--db",
                                       os.path.join(d, "t.db"), "--ticket-key-file", path],
                                      capture_output=True, text=True, timeout=30)
                self.assertEqual(proc.returncode, 2, (path, proc.stderr))
                first = proc.stderr.split("\n\n")[0]
                self.assertIn(path, first)
                self.assertIn(why, first)
                self.assertIn("ticket-key-file", first)
                self.assertNotIn(self.KEY, proc.stdout + proc.stderr)
                self.assertNotIn(short, proc.stdout + proc.stderr)


def generate_csv(directory, bars):
    """A synthetic minute-bar CSV large enough that one backtest of it keeps a worker busy."""
    path = os.path.join(directory, "bars.csv")
    subprocess.run([tdserver.BIN, "gen", "--bars", str(bars), "--seed", "5", "--interval", "1m",
                    "--out", path], check=True, capture_output=True)
    with open(path, "rb") as f:
        return f.read()


class QueueLimitTest(unittest.TestCase):
    """One worker and runs that each take a while: POSTs arrive faster than runs finish, so the
    queue grows. Each test sets its limits so that which refusal comes first does not depend on
    timing."""

    BARS = 400_000

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="tapedeck-queue-")
        cls.csv = generate_csv(cls.dir, cls.BARS)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        self.server = None

    def tearDown(self):
        if self.server:
            self.server.cleanup()

    def start(self, *args, token=None):
        self.server = Server("--workers", "1", "--threads", "2", *args).start()
        status, _ = self.server.json("POST", "/datasets?name=big", self.csv,
                                     {"Content-Type": "text/csv", **self.auth(token)})
        self.assertEqual(status, 201)

    @staticmethod
    def auth(token):
        return bearer(token) if token else {}

    def post(self, token=None):
        status, hdrs, body = self.server.request(
            "POST", "/backtests", json.dumps({"dataset": "big", "strategy": "sma_cross"}),
            {"Content-Type": "application/json", **self.auth(token)})
        return status, hdrs, json.loads(body)

    def post_until_refused(self, token=None, most=12):
        accepted = []
        for _ in range(most):
            status, hdrs, doc = self.post(token)
            if status != 202:
                return accepted, (status, hdrs, doc)
            accepted.append(doc["id"])
        self.fail(f"{most} backtests accepted: none refused")

    def run_ids(self, token=None):
        status, runs = self.server.json("GET", "/backtests", headers=self.auth(token))
        self.assertEqual(status, 200)
        return sorted(r["id"] for r in runs)

    def test_over_the_per_address_limit_is_429_and_leaves_nothing(self):
        self.start("--max-queued-per-client", "2")
        accepted, (status, hdrs, doc) = self.post_until_refused()
        self.assertEqual(status, 429, doc)
        self.assertEqual(doc["code"], "RATE_LIMITED")
        self.assertEqual(doc["details"]["limit"], "2")
        self.assertEqual(hdrs["Retry-After"], "5")
        self.assertGreaterEqual(len(accepted), 2)
        self.assertEqual(self.run_ids(), sorted(accepted))  # the refused one left no run
        for run_id in accepted:
            self.assertEqual(self.server.wait_run(run_id, timeout=120)["status"], "done")
        status, _, doc = self.post()
        self.assertEqual(status, 202, doc)

    def test_over_the_total_is_503(self):
        self.start("--max-queued", "2")  # 16 per client: the total comes first
        accepted, (status, hdrs, doc) = self.post_until_refused()
        self.assertEqual(status, 503, doc)
        self.assertEqual(doc["code"], "UNAVAILABLE")
        self.assertEqual(doc["details"]["limit"], "2")
        self.assertEqual(hdrs["Retry-After"], "5")
        self.assertEqual(self.run_ids(), sorted(accepted))

    def test_with_tokens_the_limit_is_per_token_not_per_address(self):
        second = "carol-" + secrets.token_hex(16)
        self.start("--auth-token", TOKEN, "--auth-token", second,
                   "--max-queued-per-client", "2", token=TOKEN)
        _, (status, _, doc) = self.post_until_refused(TOKEN)
        self.assertEqual((status, doc["code"]), (429, "RATE_LIMITED"))
        # Same address, another token: another client, with places of its own.
        status, _, doc = self.post(second)
        self.assertEqual(status, 202, doc)
        self.server.stop()
        for secret in (TOKEN, second):
            self.assertNotIn(secret, self.server.output)


if __name__ == "__main__":
    unittest.main()
