"""Plots and logs against a real `tapedeck serve`: the run JSON's `plots`, and the values frames
carry over the WebSocket, SSE and /frames, each message checked against docs/api (apischema)."""
import csv
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import apischema  # noqa: E402
from tdserver import SAMPLE, Server  # noqa: E402
from run_streams import RunStreams  # noqa: E402

apischema.check_websocket_messages()

SCRIPT = """
local s = ta.sma(5)
function on_bar(bar)
  local v = s(bar.close)
  plot("sma5", v)
  plot("odd", bar.index % 2 == 1 and bar.index or nil, {pane = "own"})
  if bar.index % 1000 == 0 then log("bar", bar.index, "close", bar.close) end
end
"""


def closes_and_times():
    with open(SAMPLE) as f:
        rows = list(csv.DictReader(f))
    return [float(r["close"]) for r in rows]


def sma(closes, n):
    """SMA(n) at each bar, None while warming up."""
    return [None if i + 1 < n else sum(closes[i + 1 - n:i + 1]) / n for i in range(len(closes))]


class PlotsTest(RunStreams, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server().start()
        cls.closes = closes_and_times()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def run_of(self, **body):
        spec = {"dataset": "sp500"}
        spec.update(body)
        status, out = self.server.json("POST", "/backtests", json.dumps(spec),
                                       {"Content-Type": "application/json"})
        self.assertEqual(status, 202, out)
        run = self.server.wait_run(out["id"])
        self.assertEqual(run["status"], "done", run)
        return run

    def frames(self, run_id, speed):
        status, frames = self.server.json("GET", f"/backtests/{run_id}/frames?speed={speed}")
        self.assertEqual(status, 200)
        return frames

    def bar_index(self, frames):
        """Each /frames item at speed 0.01 holds one bar: frame k is bar k."""
        return {f["ts"]: k for k, f in enumerate(frames)}

    def test_sma_cross_plots_its_averages_on_every_channel(self):
        run = self.run_of(strategy="sma_cross", params={"fast": 10, "slow": 30})
        self.assertEqual(run["plots"], [{"name": "fast", "pane": "price"},
                                        {"name": "slow", "pane": "price"}])
        fast, slow = sma(self.closes, 10), sma(self.closes, 30)
        one_bar = self.frames(run["id"], 0.01)
        self.assertEqual(len(one_bar), len(self.closes))
        for k, f in enumerate(one_bar):
            want = {}
            if fast[k] is not None:
                want["fast"] = fast[k]
            if slow[k] is not None:
                want["slow"] = slow[k]
            got = f.get("plots", {})
            self.assertEqual(sorted(got), sorted(want), k)
            for name, v in want.items():
                self.assertAlmostEqual(got[name], v, delta=1e-9 * abs(v), msg=(k, name))
            self.assertNotIn("logs", f)
        index = self.bar_index(one_bar)
        # A window's value is the series' value at its last bar: the frame's ts.
        for channel, frames in (("frames", self.frames(run["id"], 600)),
                                ("ws", self.ws_frames(run["id"], 100000)),
                                ("sse", self.sse_frames(run["id"], 100000))):
            self.assertGreater(len(frames), 5, channel)
            for f in frames:
                k = index[f["ts"]]
                if k < 29:
                    continue
                self.assertAlmostEqual(f["plots"]["fast"], fast[k], delta=1e-9 * fast[k],
                                       msg=(channel, k))
                self.assertAlmostEqual(f["plots"]["slow"], slow[k], delta=1e-9 * slow[k],
                                       msg=(channel, k))

    def test_rsi_reversion_plots_in_its_own_pane_and_buy_and_hold_plots_nothing(self):
        run = self.run_of(strategy="rsi_reversion")
        self.assertEqual(run["plots"], [{"name": "rsi", "pane": "own"}])
        frames = self.frames(run["id"], 600)
        self.assertTrue(all(0 <= f["plots"]["rsi"] <= 100 for f in frames[20:]))
        run = self.run_of(strategy="buy_and_hold")
        self.assertEqual(run["plots"], [])
        for f in self.frames(run["id"], 600) + self.ws_frames(run["id"], 100000):
            self.assertNotIn("plots", f)
            self.assertNotIn("logs", f)
        status, runs = self.server.json("GET", "/backtests")
        self.assertEqual(status, 200)
        self.assertTrue(all("plots" in r for r in runs))

    def test_a_script_plots_and_logs(self):
        status, out = self.server.json("POST", "/backtests",
                                       json.dumps({"dataset": "sp500", "script": SCRIPT}),
                                       {"Content-Type": "application/json"})
        if status == 400 and "script" in json.dumps(out):
            self.skipTest("this server does not take inline scripts: " + out.get("msg", ""))
        self.assertEqual(status, 202, out)
        run = self.server.wait_run(out["id"])
        self.assertEqual(run["status"], "done", run)
        self.assertEqual(run["plots"], [{"name": "sma5", "pane": "price"},
                                        {"name": "odd", "pane": "own"}])
        want_sma = sma(self.closes, 5)
        one_bar = self.frames(run["id"], 0.01)
        for k, f in enumerate(one_bar):
            plots = f.get("plots", {})
            if want_sma[k] is None:
                self.assertNotIn("sma5", plots)
            else:
                self.assertAlmostEqual(plots["sma5"], want_sma[k], delta=1e-9 * want_sma[k])
            if k % 2 == 1:
                self.assertEqual(plots["odd"], k)
            else:
                self.assertNotIn("odd", plots)
            if k % 1000 == 0:
                self.assertEqual(len(f["logs"]), 1, k)
                self.assertEqual(f["logs"][0]["ts"], f["ts"])
                self.assertTrue(f["logs"][0]["msg"].startswith(f"bar {k} close "), f["logs"])
            else:
                self.assertNotIn("logs", f)
        # Over the streams: a window holds the logs of its bars, in order.
        for channel, frames in (("ws", self.ws_frames(run["id"], 100000)),
                                ("sse", self.sse_frames(run["id"], 100000))):
            logs = [l["msg"] for f in frames for l in f.get("logs", [])]
            self.assertEqual([m.split()[1] for m in logs],
                             [str(k) for k in range(0, len(self.closes), 1000)], channel)
            self.assertTrue(all("sma5" in f["plots"] for f in frames[1:]), channel)


if __name__ == "__main__":
    unittest.main()
