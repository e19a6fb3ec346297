"""Runs over several datasets (symbols) against a real `tapedeck serve`: rotation.lua over two
uploaded datasets with opposite trends trades both, its trades, frames (/frames, WebSocket, SSE)
and run JSON carry both symbols, a built-in trades the first, and each bad `datasets` is a 400
naming the field. Every answer is checked against docs/api (apischema)."""
import json
import os
import sys
import unittest
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import apischema  # noqa: E402
from tdserver import SRC, Server  # noqa: E402
from run_streams import RunStreams  # noqa: E402

apischema.check_websocket_messages()

ROTATION = os.path.join(SRC, "examples/strategies/rotation.lua")
START = datetime(2021, 1, 4, tzinfo=timezone.utc)
BARS = 240


def trend_csv(up_first, offset=0):
    """Daily bars that rise for 60 bars then fall for 60, and so on (or the opposite when not
    up_first): two such series take turns leading. `offset` drops that many first bars."""
    rows = ["time,open,high,low,close,volume"]
    price = 100.0
    for i in range(BARS):
        up = ((i // 60) % 2 == 0) == up_first
        nxt = price * (1.01 if up else 0.99)
        if i >= offset:
            t = (START + timedelta(days=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
            rows.append(f"{t},{price:.4f},{max(price, nxt) * 1.002:.4f},"
                        f"{min(price, nxt) * 0.998:.4f},{nxt:.4f},1000")
        price = nxt
    return "\n".join(rows) + "\n"


class MultiSymbolTest(RunStreams, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server().start()
        with open(ROTATION) as f:
            cls.rotation = f.read()
        for name, symbol, csv in (("up", "UPF", trend_csv(True)),
                                  ("down", "DNF", trend_csv(False, offset=5)),
                                  ("up2", "UPF", trend_csv(False))):
            status, out = cls.server.json("POST", f"/datasets?name={name}&symbol={symbol}", csv)
            assert status == 201, (status, out)

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def post(self, body):
        return self.server.json("POST", "/backtests", json.dumps(body),
                                {"Content-Type": "application/json"})

    def run_of(self, **body):
        status, out = self.post(body)
        self.assertEqual(status, 202, out)
        run = self.server.wait_run(out["id"])
        self.assertEqual(run["status"], "done", run)
        return run

    def test_rotation_over_two_datasets_trades_both_and_streams_both(self):
        run = self.run_of(datasets=["up", "down"], script=self.rotation,
                          params={"lookback": 10}, commission=0.001)
        self.assertEqual(run["datasets"], ["up", "down"])
        self.assertEqual(run["dataset"], "up")
        self.assertEqual(run["symbols"], ["UPF", "DNF"])
        self.assertEqual(run["stats"]["bars"], BARS)  # the union of both series' times

        status, trades = self.server.json("GET", f"/backtests/{run['id']}/trades")
        self.assertEqual(status, 200)
        by_sym = {}
        for t in trades:
            by_sym.setdefault(t["sym"], []).append(t)
        self.assertEqual(set(by_sym), {"UPF", "DNF"}, trades)
        # The trends take turns every 60 bars: the leader changes at least 3 times.
        self.assertGreaterEqual(len(trades), 4, trades)
        # All in one symbol at a time: each trade ends before the next one starts.
        closed = sorted((t for t in trades if not t["open"]), key=lambda t: t["entry_ts"])
        for a, b in zip(closed, closed[1:]):
            self.assertLessEqual(a["exit_ts"], b["entry_ts"], (a, b))
        # Commission was charged on both symbols' fills: equity after costs is below without.
        free = self.run_of(datasets=["up", "down"], script=self.rotation, params={"lookback": 10})
        self.assertLess(run["stats"]["final_equity"], free["stats"]["final_equity"])

        # Frames carry the bars of both symbols: the second from its first bar (5 days later).
        status, frames = self.server.json("GET", f"/backtests/{run['id']}/frames?speed=0.01")
        self.assertEqual(status, 200)
        self.assertEqual(len(frames), BARS)
        self.assertEqual(set(frames[0]["ohlc"]), {"UPF"})
        self.assertEqual(set(frames[5]["ohlc"]), {"UPF", "DNF"})
        self.assertEqual(set(frames[-1]["ohlc"]), {"UPF", "DNF"})
        order_syms = {o["sym"] for f in frames for o in f["orders"]}
        self.assertEqual(order_syms, {"UPF", "DNF"})
        for frames in (self.ws_frames(run["id"], 2000), self.sse_frames(run["id"], 2000)):
            self.assertEqual({s for f in frames for s in f["ohlc"]}, {"UPF", "DNF"})
            self.assertEqual({o["sym"] for f in frames for o in f["orders"]}, {"UPF", "DNF"})
            self.assertEqual(frames[-1]["equity"], run["stats"]["final_equity"])

    def test_a_builtin_trades_the_first_symbol_and_the_period_cuts_every_series(self):
        run = self.run_of(datasets=["down", "up"], strategy="buy_and_hold",
                          **{"from": "2021-02-01T00:00:00Z", "to": "2021-03-01T00:00:00Z"})
        self.assertEqual(run["symbols"], ["DNF", "UPF"])
        self.assertEqual(run["stats"]["bars"], 28)
        status, trades = self.server.json("GET", f"/backtests/{run['id']}/trades")
        self.assertEqual({t["sym"] for t in trades}, {"DNF"})
        self.assertTrue(all(t["entry_ts"] >= "2021-02-01" for t in trades), trades)
        status, equity = self.server.json("GET", f"/backtests/{run['id']}/equity")
        self.assertEqual(status, 200)
        # One dataset in a list is the same run as that dataset alone.
        one = self.run_of(datasets=["up"], strategy="buy_and_hold")
        alone = self.run_of(dataset="up", strategy="buy_and_hold")
        self.assertEqual(one["datasets"], ["up"])
        self.assertEqual(alone["datasets"], ["up"])
        self.assertEqual(one["stats"], alone["stats"])

    def test_a_dataset_in_use_by_a_multi_symbol_run_cannot_be_deleted(self):
        csv = trend_csv(True)
        self.assertEqual(self.server.json("POST", "/datasets?name=third&symbol=THR", csv)[0], 201)
        run = self.run_of(datasets=["up", "third"], strategy="buy_and_hold")
        status, err = self.server.json("DELETE", "/datasets/third")
        self.assertEqual(status, 409, err)
        self.assertEqual(self.server.json("DELETE", f"/backtests/{run['id']}")[0], 204)
        self.assertEqual(self.server.json("DELETE", "/datasets/third")[0], 204)

    def test_bad_datasets_are_400_naming_the_field(self):
        base = {"strategy": "buy_and_hold"}
        cases = [
            ({}, "dataset"),
            ({"dataset": "up", "datasets": ["down"]}, "datasets"),
            ({"datasets": []}, "datasets"),
            ({"datasets": "up"}, "datasets"),
            ({"datasets": ["up", 7]}, "datasets"),
            ({"datasets": ["up", ""]}, "datasets"),
            ({"datasets": ["up", "down", "up"]}, "datasets"),
            ({"datasets": [f"d{i}" for i in range(17)]}, "datasets"),
            ({"datasets": ["up", "nope"]}, "datasets"),
            ({"datasets": ["up", "up2"]}, "datasets"),  # both hold symbol UPF
        ]
        before = self.server.json("GET", "/backtests")[1]
        for extra, field in cases:
            body = dict(base, **extra)
            status, err = self.post(body)
            self.assertEqual(status, 400, (body, err))
            self.assertEqual((err["code"], err["details"]["field"]), ("VALIDATION", field),
                             (body, err))
        status, err = self.post(dict(base, datasets=["up", "nope"]))
        self.assertIn("nope", err["msg"])
        status, err = self.post(dict(base, datasets=["up", "up2"]))
        self.assertIn("UPF", err["msg"])
        self.assertEqual(self.server.json("GET", "/backtests")[1], before)  # nothing recorded


if __name__ == "__main__":
    unittest.main()
