"""Strategy scripts over REST against a real `tapedeck serve`: saving versions, reading them back,
running them by name, name@N and inline, the errors of each endpoint, and hostile scripts (an
infinite loop, memory bombs, deep recursion, escape attempts) failing their own run only, while
the worker, the other streams and the server's memory carry on."""
import json
import os
import socket
import threading
import time
import unittest

from tdserver import Server

SMA = """-- a moving-average crossover
params = { fast = {default=10, min=1, max=200, int=true, desc="fast period"},
           slow = {default=30, min=2, max=400, int=true} }
local f, s
function init() f = ta.sma(params.fast); s = ta.sma(params.slow) end
function on_bar(bar)
  local a, b = f(bar.close), s(bar.close)
  if a and b then
    if a > b and position() == 0 then buy()
    elseif a < b and position() > 0 then close_position() end
  end
end
"""

# The sample's 11th bar (index 10): where the hostile scripts below turn bad.
BAR_10 = "2000-01-18T00:00:00Z"


def hostile(body):
    """A script that trades nothing until bar 10, then runs `body` (lines 4 on) in on_bar."""
    return ("params = {}\n"
            "function on_bar(bar)\n"
            "  if bar.index < 10 then return end\n" + body + "\nend\n")


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def children(pid):
    """Every child process of every thread of `pid`."""
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            out += f.read().split()
    return out


def tree(root):
    """Every path under `root` (files and folders), relative."""
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            out.add(os.path.relpath(os.path.join(dirpath, n), root))
    return out


class Client:
    def __init__(self, server):
        self.server = server

    def post(self, path, body):
        return self.server.json("POST", path, json.dumps(body),
                                {"Content-Type": "application/json"})

    def save(self, name, source):
        return self.post("/strategies", {"name": name, "source": source})

    def run(self, **body):
        spec = {"dataset": "sp500"}
        spec.update(body)
        status, out = self.post("/backtests", spec)
        if status != 202:
            raise AssertionError(f"POST /backtests {spec}: {status} {out}")
        return out["id"]


class StrategiesApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server("--workers", "2").start()
        cls.c = Client(cls.server)

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def test_versions_are_immutable_and_an_identical_source_is_not_a_new_one(self):
        status, v1 = self.c.save("cross", SMA)
        self.assertEqual(status, 201, v1)
        self.assertEqual((v1["name"], v1["kind"], v1["version"]), ("cross", "script", 1))
        self.assertEqual(len(v1["sha256"]), 64)
        self.assertEqual([p["name"] for p in v1["params"]], ["fast", "slow"])
        self.assertEqual(v1["params"][0], {"name": "fast", "type": "int", "default": 10, "min": 1,
                                           "max": 200, "description": "fast period"})
        status, hdrs, _ = self.server.request("POST", "/strategies",
                                              json.dumps({"name": "cross", "source": SMA}))
        self.assertEqual(status, 200)  # identical: that version again, nothing new
        self.assertEqual(hdrs["Location"], "/strategies/cross?version=1")
        status, again = self.c.save("cross", SMA)
        self.assertEqual((status, again), (200, v1))
        changed = SMA.replace("default=10", "default=12")
        status, v2 = self.c.save("cross", changed)
        self.assertEqual((status, v2["version"]), (201, 2))
        self.assertNotEqual(v2["sha256"], v1["sha256"])
        self.assertEqual(v2["params"][0]["default"], 12)
        # Saving version 1's source again is a new version: only the latest is compared.
        status, v3 = self.c.save("cross", SMA)
        self.assertEqual((status, v3["version"], v3["sha256"]), (201, 3, v1["sha256"]))

        status, latest = self.server.json("GET", "/strategies/cross")
        self.assertEqual(status, 200)
        self.assertEqual((latest["version"], latest["source"]), (3, SMA))
        self.assertEqual([v["version"] for v in latest["versions"]], [1, 2, 3])
        self.assertEqual([v["sha256"] for v in latest["versions"]],
                         [v1["sha256"], v2["sha256"], v1["sha256"]])
        status, old = self.server.json("GET", "/strategies/cross?version=2")
        self.assertEqual((status, old["version"], old["source"]), (200, 2, changed))
        self.assertEqual(old["created"], v2["created"])

        status, listed = self.server.json("GET", "/strategies")
        self.assertEqual(status, 200)
        kinds = {s["name"]: s["kind"] for s in listed}
        self.assertEqual(kinds["sma_cross"], "builtin")
        self.assertEqual(kinds["cross"], "script")
        mine = next(s for s in listed if s["name"] == "cross")
        self.assertEqual((mine["version"], mine["sha256"]), (3, v1["sha256"]))
        self.assertNotIn("source", mine)

    def test_a_parameter_given_as_a_bare_default_has_no_bounds(self):
        status, v = self.c.save("bare", "params = { k = 2.5, n = 3 }\nfunction on_bar(b) end\n")
        self.assertEqual(status, 201, v)
        self.assertEqual(v["params"], [
            {"name": "k", "type": "number", "default": 2.5, "min": None, "max": None,
             "description": ""},
            {"name": "n", "type": "int", "default": 3, "min": None, "max": None,
             "description": ""}])

    def test_get_strategy_errors_and_builtins(self):
        self.c.save("getme", SMA)
        for path, status, code in [("/strategies/nosuch", 404, "NOT_FOUND"),
                                   ("/strategies/getme?version=2", 404, "NOT_FOUND"),
                                   ("/strategies/getme?version=0", 400, "VALIDATION"),
                                   ("/strategies/getme?version=x", 400, "VALIDATION"),
                                   ("/strategies/sma_cross?version=1", 404, "NOT_FOUND")]:
            got, err = self.server.json("GET", path)
            self.assertEqual((got, err["code"]), (status, code), path)
        status, err = self.server.json("GET", "/strategies/getme?version=2")
        self.assertEqual(err["details"], {"strategy": "getme", "version": "2"})
        status, builtin = self.server.json("GET", "/strategies/sma_cross")
        self.assertEqual((status, builtin["kind"], builtin["name"]), (200, "builtin", "sma_cross"))

    def test_save_errors_name_the_field_line_and_cause_and_store_nothing(self):
        cases = [
            # (body, status, field, line, cause)
            ({"name": "bad name", "source": SMA}, 400, "name", None, None),
            ({"name": "x" * 65, "source": SMA}, 400, "name", None, None),
            ({"name": "", "source": SMA}, 400, "name", None, None),
            ({"name": "sma_cross", "source": SMA}, 400, "name", None, None),
            ({"name": "ok"}, 400, "source", None, None),
            ({"source": SMA}, 400, "name", None, None),
            ({"name": "ok", "source": SMA, "colour": 1}, 400, "colour", None, None),
            ({"name": "ok", "source": 5}, 400, "source", None, None),
            ({"name": "ok", "source": "params = {}\nfunction on_bar(bar)\n  if x then\nend\n"},
             400, "source", "5", "syntax"),
            ({"name": "ok", "source": "params = {}\n\nerror('boom')\nfunction on_bar() end"},
             400, "source", "3", "error"),
            ({"name": "ok", "source": "params = { fast = 'ten' }\nfunction on_bar() end"},
             400, "source", None, "params"),
            ({"name": "ok", "source": "params = {}\n"}, 400, "source", None, None),
            # The top level runs with the check's capped budget: an endless loop there fails fast.
            ({"name": "ok", "source": "params = {}\nwhile true do end\nfunction on_bar() end"},
             400, "source", "2", None),
            ({"name": "ok", "source": "-- " + "x" * (256 * 1024) + "\nfunction on_bar() end"},
             413, "source", None, None),
        ]
        for body, status, field, line, cause in cases:
            started = time.monotonic()
            got, err = self.c.post("/strategies", body)
            self.assertLess(time.monotonic() - started, 5, body)
            self.assertEqual((got, err["code"], err["details"]["field"]),
                             (status, "VALIDATION", field), (str(body)[:120], err))
            if line:
                self.assertEqual(err["details"]["line"], line, err)
            if cause:
                self.assertEqual(err["details"]["cause"], cause, err)
            if field == "source" and status == 400 and isinstance(body.get("source"), str):
                self.assertTrue(err["details"]["msg"], err)  # the script's own message
        status, err = self.c.post("/strategies", {"name": "ok", "source":
                                                  "params = { fast = 'ten' }\nfunction on_bar() end"})
        self.assertEqual(err["details"]["param"], "fast")
        status, err = self.c.post("/strategies",
                                  {"name": "ok", "source": "params = {}\n\n\nwhile true do end"})
        self.assertIn(err["details"]["cause"], ("instructions", "wall_time"))
        self.assertIn("budget", err["details"]["msg"])
        status, err = self.server.json("POST", "/strategies", "not json")
        self.assertEqual((status, err["details"]["field"]), (400, "body"))
        self.assertEqual(self.server.json("GET", "/strategies/ok")[0], 404)

    def test_runs_by_name_version_and_inline_record_what_they_ran(self):
        _, v1 = self.c.save("runme", SMA)
        _, v2 = self.c.save("runme", SMA.replace("default=10", "default=5"))
        latest = self.server.wait_run(self.c.run(strategy="runme"))
        pinned = self.server.wait_run(self.c.run(strategy="runme@1", params={"slow": 30}))
        inline = self.server.wait_run(self.c.run(script=SMA))
        builtin = self.server.wait_run(self.c.run(strategy="sma_cross"))
        for run in (latest, pinned, inline, builtin):
            self.assertEqual(run["status"], "done", run)
        self.assertEqual((latest["strategy"], latest["strategy_version"], latest["strategy_sha256"]),
                         ("runme", 2, v2["sha256"]))
        self.assertEqual((pinned["strategy"], pinned["strategy_version"], pinned["strategy_sha256"]),
                         ("runme", 1, v1["sha256"]))
        self.assertEqual(pinned["params"], {"slow": 30})
        self.assertEqual(inline["strategy"], "(inline)")
        self.assertNotIn("strategy_version", inline)
        self.assertEqual(inline["strategy_sha256"], v1["sha256"])
        self.assertNotIn("strategy_sha256", builtin)
        # The script is the built-in's rules: the same fills and equity.
        self.assertEqual(pinned["stats"], builtin["stats"])
        self.assertEqual(inline["stats"], builtin["stats"])
        self.assertNotEqual(latest["stats"]["fills"], builtin["stats"]["fills"])

    def test_the_same_version_params_and_data_give_byte_identical_runs(self):
        self.c.save("same", SMA.replace("then buy()", "then buy(math.random(1, 5))"))
        ids = [self.c.run(strategy="same@1", params={"fast": 7}) for _ in range(3)]
        runs = [self.server.wait_run(i) for i in ids]
        self.assertTrue(all(r["status"] == "done" for r in runs), runs)
        bodies = set()
        for i in ids:
            trades = self.server.request("GET", f"/backtests/{i}/trades")[2]
            equity = self.server.request("GET", f"/backtests/{i}/equity")[2]
            frames = self.server.request("GET", f"/backtests/{i}/frames?speed=60")[2]
            bodies.add((trades, equity, frames))
        self.assertEqual(len(bodies), 1)
        self.assertGreater(runs[0]["stats"]["trades"], 10)

    def test_backtest_errors_name_the_field(self):
        self.c.save("errs", SMA)
        cases = [
            ({"strategy": "errs@2"}, 400, "strategy"),
            ({"strategy": "errs@0"}, 400, "strategy"),
            ({"strategy": "errs@x"}, 400, "strategy"),
            ({"strategy": "nosuch"}, 400, "strategy"),
            ({"strategy": "nosuch@1"}, 400, "strategy"),
            ({"strategy": "errs", "params": {"slow": 1}}, 400, "params.slow"),
            ({"strategy": "errs", "params": {"colour": 1}}, 400, "params.colour"),
            ({"script": SMA, "params": {"fast": 0}}, 400, "params.fast"),
            ({"script": SMA, "strategy": "errs"}, 400, "script"),
            ({"script": ""}, 400, "script"),
            ({}, 400, "strategy"),
            ({"script": "function on_bar(bar)\n  x = = 1\nend"}, 400, "script"),
            ({"script": "-- " + "x" * (256 * 1024) + "\nfunction on_bar() end"}, 413, "script"),
        ]
        for extra, status, field in cases:
            body = {"dataset": "sp500"}
            body.update(extra)
            got, err = self.c.post("/backtests", body)
            self.assertEqual((got, err["code"], err["details"]["field"]),
                             (status, "VALIDATION", field), (str(extra)[:100], err))
        got, err = self.c.post("/backtests", {"dataset": "sp500",
                                              "script": "function on_bar(bar)\n  x = = 1\nend"})
        self.assertEqual((err["details"]["line"], err["details"]["cause"]), ("2", "syntax"))
        self.assertNotIn("script:2:", err["details"]["msg"])
        # Nothing was queued by any of them.
        status, runs = self.server.json("GET", "/backtests")
        self.assertFalse([r for r in runs if r["strategy"] in ("errs", "nosuch")])

    def test_a_runtime_error_fails_the_run_with_msg_cause_line_and_bar_time(self):
        run = self.server.wait_run(self.c.run(script=hostile("  local t = nil\n  return t.x")))
        self.assertEqual(run["status"], "failed")
        err = run["error"]
        self.assertEqual((err["cause"], err["line"], err["bar_time"]), ("error", 5, BAR_10), err)
        self.assertIn("attempt to index", err["msg"])
        run = self.server.wait_run(self.c.run(script=hostile("  error('my own message')")))
        self.assertEqual((run["error"]["cause"], run["error"]["line"]), ("error", 4))
        self.assertIn("my own message", run["error"]["msg"])
        status, err = self.server.json("GET", f"/backtests/{run['id']}/frames")
        self.assertEqual((status, err["code"]), (409, "RUN_FAILED"))

    def test_scripts_and_script_runs_survive_a_restart(self):
        server = Server().start()
        try:
            c = Client(server)
            _, v1 = c.save("kept", SMA)
            run_id = c.run(script=SMA.replace("default=10", "default=9"))
            run = server.wait_run(run_id)
            self.assertEqual(server.stop(), 0)
            server.start()
            status, got = server.json("GET", "/strategies/kept")
            self.assertEqual((status, got["sha256"], got["source"]), (200, v1["sha256"], SMA))
            status, again = server.json("GET", f"/backtests/{run_id}")
            self.assertEqual((again["strategy_sha256"], again["stats"]),
                             (run["strategy_sha256"], run["stats"]))
            self.assertEqual(c.save("kept", SMA)[0], 200)
        finally:
            server.cleanup()


class SseFrames(threading.Thread):
    """Reads a run's SSE stream on a raw socket and records when each frame arrived."""

    def __init__(self, port, path):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        self.times = []
        self.stop = False

    def run(self):
        buf = b""
        while not self.stop:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while b"\n\n" in buf:
                block, _, buf = buf.partition(b"\n\n")
                if b"event: frame" in block:
                    self.times.append(time.monotonic())

    def close(self):
        self.stop = True
        self.sock.close()


class HostileScriptsTest(unittest.TestCase):
    """One worker, small budgets: a bad script must fail its own run and leave the worker, the
    streams and the memory of the server as they were."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server("--workers", "1", "--script-instructions", "300000000",
                            "--script-memory", "48", "--script-seconds", "4").start()
        cls.c = Client(cls.server)
        cls.pid = cls.server.proc.pid
        # A finished run to stream while bad ones execute.
        cls.done = cls.server.wait_run(cls.c.run(strategy="sma_cross"))["id"]

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def fails_then_worker_is_free(self, body, causes, line):
        """Runs hostile(body), then a normal run right behind it on the one worker."""
        bad = self.c.run(script=hostile(body))
        good = self.c.run(strategy="sma_cross")
        run = self.server.wait_run(bad, timeout=30)
        failed_at = time.monotonic()
        self.assertEqual(run["status"], "failed", run)
        err = run["error"]
        self.assertIn(err["cause"], causes, err)
        self.assertEqual((err.get("line"), err.get("bar_time")), (line, BAR_10), err)
        if err["cause"] not in ("error", "recursion"):
            self.assertIn(err["cause"] + " budget exceeded", err["msg"])
        after = self.server.wait_run(good, timeout=30)
        self.assertEqual(after["status"], "done", after)
        # Queued behind the bad run on the only worker: it starts once that one is failed.
        self.assertLess(time.monotonic() - failed_at, 5)
        return err

    def test_an_infinite_loop_fails_its_run_and_frees_the_worker(self):
        err = self.fails_then_worker_is_free("  while true do end", ("instructions", "wall_time"), 4)
        if err["cause"] == "instructions":
            self.assertIn("(300000000)", err["msg"])  # the server's --script-instructions

    def test_an_infinite_loop_inside_pcall_and_a_coroutine_still_fails(self):
        self.fails_then_worker_is_free(
            "  pcall(function() while true do end end)", ("instructions", "wall_time"), 4)
        self.fails_then_worker_is_free(
            "  coroutine.wrap(function() while true do end end)()", ("instructions", "wall_time"), 4)

    def test_memory_bombs_fail_their_run(self):
        err = self.fails_then_worker_is_free(
            "  local s = string.rep('x', 1 << 20)\n  while true do s = s .. s end",
            ("memory",), 5)
        self.assertIn(str(48 << 20), err["msg"])
        self.fails_then_worker_is_free(
            "  local t = {}\n  for i = 1, 1e9 do t[i] = {i, i} end", ("memory",), 5)
        self.fails_then_worker_is_free("  local s = string.rep('x', 1 << 30)", ("memory",), 4)

    def test_deep_recursion_fails_its_run(self):
        err = self.fails_then_worker_is_free(
            "  local function f(n) return 1 + f(n + 1) end\n  f(1)",
            ("recursion",), 4)
        self.assertIn("recursion too deep", err["msg"])

    def test_a_stream_keeps_its_frames_while_a_bad_script_runs(self):
        # speed 600: two daily bars a frame at 30 frames a second: over a minute of frames.
        stream = SseFrames(self.server.port, f"/backtests/{self.done}/stream?speed=600")
        stream.start()
        try:
            deadline = time.monotonic() + 10
            while len(stream.times) < 10 and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertGreaterEqual(len(stream.times), 10, "the stream did not start")
            posted = time.monotonic()
            run = self.server.wait_run(self.c.run(script=hostile("  while true do end")))
            ended = time.monotonic()
            self.assertEqual(run["status"], "failed")
            self.assertGreater(ended - posted, 0.3, "the bad run was too short to tell")
            during = [t for t in stream.times if posted <= t <= ended]
            # 30 frames a second when nothing holds them up; the bad run must not stall them.
            self.assertGreater(len(during), (ended - posted) * 15, (len(during), ended - posted))
            gaps = [b - a for a, b in zip([posted] + during, during + [ended])]
            self.assertLess(max(gaps), 0.5, max(gaps))
        finally:
            stream.close()

    def test_the_servers_memory_comes_back_after_a_memory_bomb(self):
        # Warm up: the store's caches, the allocator's arenas and a first script run.
        for _ in range(2):
            self.server.wait_run(self.c.run(script=SMA))
        before = proc_status(self.pid, "VmRSS")
        peaks = []
        for _ in range(3):
            run = self.server.wait_run(self.c.run(
                script=hostile("  local t = {}\n  for i = 1, 1e9 do t[i] = {i, i} end")))
            self.assertEqual(run["error"]["cause"], "memory")
            peaks.append(proc_status(self.pid, "VmHWM"))
        if os.environ.get("TAPEDECK_SANITIZER") in ("asan", "tsan"):
            # AddressSanitizer keeps freed memory in quarantine (256 MB) on purpose and its
            # allocator ignores malloc_trim, so RSS says nothing under it: the normal build's run
            # of this test is the one that measures.
            return
        # The budget is 48 MiB. The Lua heap is freed with its run, and the runner hands the
        # freed pages back to the system right after a script run (malloc_trim), without waiting
        # for the server's heap trimmer (every 10 s). What may stay: a few MiB of allocator
        # bookkeeping, page-granular fragments and the SQLite page cache of the failed runs'
        # rows. 8 MiB is a sixth of one bomb: three bombs kept would be 144 MiB. Measured here:
        # within 0.2 MiB of where it was.
        tolerance = 8 << 10  # KiB, as /proc reports
        deadline = time.monotonic() + 2
        after = proc_status(self.pid, "VmRSS")
        while after - before > tolerance and time.monotonic() < deadline:
            time.sleep(0.1)
            after = proc_status(self.pid, "VmRSS")
        print(f"RSS before {before} KiB, after three 48 MiB bombs {after} KiB "
              f"(peak {max(peaks)} KiB)", flush=True)
        # The peak over `before` is less than the 48 MiB charged when the bomb reuses heap pages
        # already resident at `before` (freed by the warm-up runs): 35 MiB here with a 32 MiB
        # baseline. Half the budget still tells a bomb that ran from one that did not.
        self.assertGreater(max(peaks) - before, 24 << 10, "the bomb did not use its budget")
        self.assertLess(after - before, tolerance)

    def test_escape_attempts_fail_and_touch_no_file_and_start_no_process(self):
        target = os.path.join(self.server.dir, "escaped.txt")
        before = tree(self.server.dir)
        tmp_before = set(os.listdir("/tmp"))
        attempts = [
            f"  io.open({target!r}, 'w'):write('x')",
            f"  os.execute('touch {target}')",
            "  os.exit(1)",
            f"  require('io').open({target!r}, 'w')",
            f"  load([[io.open({target!r}, 'w')]])()",
            "  loadstring('return 1')()",
            f"  dofile({target!r})",
            f"  loadfile({target!r})",
            "  local f = string.dump(on_bar)",
            "  debug.sethook()",
            "  package.loadlib('libc.so.6', 'system')",
            "  getmetatable('').__index.rep = nil",
            "  rawget(_G, 'io').popen('id')",
            "  _ENV.os.remove('x')",
            "  collectgarbage('stop')",
        ]
        for body in attempts:
            run = self.server.wait_run(self.c.run(script=hostile(body)))
            self.assertEqual(run["status"], "failed", (body, run))
            self.assertEqual(run["error"]["cause"], "error", (body, run["error"]))
            self.assertEqual(run["error"]["bar_time"], BAR_10, (body, run["error"]))
            self.assertEqual(children(self.pid), [], body)
        # Whatever the store wrote is the store's: the database, its WAL and data folder.
        created = tree(self.server.dir) - before
        self.assertFalse(os.path.exists(target))
        self.assertTrue(all(p.startswith("tapedeck.db") for p in created), created)
        self.assertFalse({n for n in set(os.listdir("/tmp")) - tmp_before
                          if "escaped" in n}, "a file appeared in /tmp")
        # And the string library was not patched for the next run.
        self.assertEqual(self.server.wait_run(self.c.run(script=SMA))["status"], "done")


if __name__ == "__main__":
    unittest.main(verbosity=2)
