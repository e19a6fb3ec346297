"""REST API against a real `tapedeck serve`: datasets, backtests, trades, equity, frames, errors,
and persistence across a restart."""
import csv
import io
import json
import subprocess
import unittest

from tdserver import BIN, SAMPLE, Server

MINI_CSV = """time,open,high,low,close,volume
2024-01-01T00:00:00Z,100,101,99,100.5,10
2024-01-01T00:01:00Z,100.5,102,100,101.5,12
2024-01-01T00:02:00Z,101.5,101.8,100.9,101,8
"""


def sample_rows():
    with open(SAMPLE) as f:
        return list(csv.DictReader(f))


class ApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server().start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def post_run(self, **body):
        spec = {"dataset": "sp500", "strategy": "sma_cross"}
        spec.update(body)
        status, hdrs, raw = self.server.request("POST", "/backtests", json.dumps(spec),
                                                {"Content-Type": "application/json"})
        self.assertEqual(status, 202, raw)
        out = json.loads(raw)
        self.assertEqual(out["status"], "queued")
        self.assertEqual(hdrs["Location"], "/backtests/" + out["id"])
        return out["id"]

    def test_sample_dataset_is_there_at_first_start(self):
        status, datasets = self.server.json("GET", "/datasets")
        self.assertEqual(status, 200)
        sp = next(d for d in datasets if d["name"] == "sp500")
        self.assertEqual(sp["bars"], 5105)
        self.assertEqual(sp["from"], "2000-01-03T00:00:00Z")
        self.assertEqual(sp["to"], "2020-04-17T00:00:00Z")

    def test_upload_dataset_then_conflict_and_bad_rows_leave_nothing(self):
        status, d = self.server.json("POST", "/datasets?name=mini&symbol=MINI", MINI_CSV)
        self.assertEqual(status, 201, d)
        self.assertEqual((d["name"], d["symbol"], d["bars"]), ("mini", "MINI", 3))
        self.assertEqual(d["to"], "2024-01-01T00:02:00Z")
        status, err = self.server.json("POST", "/datasets?name=mini&symbol=MINI", MINI_CSV)
        self.assertEqual(status, 409)
        self.assertEqual(err["code"], "CONFLICT")
        bad = MINI_CSV + "2024-01-01T00:03:00Z,101,100,102,101,5\n"  # high < low
        status, err = self.server.json("POST", "/datasets?name=broken", bad)
        self.assertEqual(status, 400)
        self.assertEqual(err["code"], "VALIDATION")
        self.assertEqual(err["details"]["line"], "5")
        self.assertIn("broken", err["msg"])
        self.assertEqual(self.server.json("GET", "/datasets/broken")[0], 404)
        status, err = self.server.json("POST", "/datasets", MINI_CSV)
        self.assertEqual((status, err["details"]["field"]), (400, "name"))

    def test_backtest_runs_to_done_and_matches_the_cli(self):
        run_id = self.post_run(params={"fast": 10, "slow": 30}, commission=0.001, slippage=0.0005)
        run = self.server.wait_run(run_id)
        self.assertEqual(run["status"], "done", run)
        self.assertEqual(run["progress"], 1)
        cli = subprocess.run([BIN, "backtest", "--csv", SAMPLE, "--strategy", "sma_cross",
                              "--commission", "0.001", "--slippage", "0.0005", "--json"],
                             capture_output=True, text=True, check=True)
        expected = json.loads(cli.stdout)
        for key in ("bars", "fills", "trades", "final_equity", "max_drawdown", "sharpe"):
            self.assertEqual(run["stats"][key], expected[key], key)

        status, trades = self.server.json("GET", f"/backtests/{run_id}/trades")
        self.assertEqual(status, 200)
        self.assertEqual(len(trades), expected["trades"])
        self.assertEqual(trades[0]["sym"], "SPX")
        status, hdrs, raw = self.server.request("GET", f"/backtests/{run_id}/trades?format=csv")
        self.assertEqual(status, 200)
        self.assertTrue(hdrs["Content-Type"].startswith("text/csv"))
        rows = list(csv.DictReader(io.StringIO(raw.decode())))
        self.assertEqual(len(rows), expected["trades"])

        status, equity = self.server.json("GET", f"/backtests/{run_id}/equity")
        self.assertEqual(len(equity), 5105)
        self.assertEqual(equity[0], {"ts": "2000-01-03T00:00:00Z", "equity": 100000})
        self.assertAlmostEqual(equity[-1]["equity"], expected["final_equity"], places=6)
        status, hdrs, raw = self.server.request("GET", f"/backtests/{run_id}/equity",
                                                headers={"Accept": "text/csv"})
        lines = raw.decode().splitlines()
        self.assertEqual(lines[0], "ts,equity")
        self.assertEqual(len(lines), 5106)

        status, runs = self.server.json("GET", "/backtests")
        self.assertIn(run_id, [r["id"] for r in runs])

    def test_frames_aggregate_the_source_bars(self):
        run_id = self.post_run()
        self.assertEqual(self.server.wait_run(run_id)["status"], "done")
        # speed 1: a window is 8760/30 = 292 sim-seconds: one daily bar per frame.
        status, frames = self.server.json("GET", f"/backtests/{run_id}/frames?speed=1&to=10")
        self.assertEqual(status, 200)
        rows = sample_rows()
        self.assertEqual(frames[0]["t"], "frame")
        self.assertEqual(frames[0]["i"], 0)
        self.assertEqual(frames[0]["ts"], "2000-01-03T00:00:00Z")
        self.assertEqual(frames[0]["ohlc"]["SPX"]["o"], float(rows[0]["open"]))
        self.assertEqual(frames[0]["dropped"], 0)
        # speed 600: a window is 175,200 sim-seconds (about 2 days): frames hold 1-2 bars.
        status, frames = self.server.json("GET", f"/backtests/{run_id}/frames?speed=600")
        n = frames[0]["n"]
        self.assertTrue(all(f["n"] == n for f in frames))
        self.assertEqual(sum(1 for _ in frames) > 0, True)
        total_volume = sum(f["ohlc"]["SPX"]["v"] for f in frames)
        self.assertEqual(total_volume, sum(float(r["volume"]) for r in rows))
        self.assertEqual(max(f["ohlc"]["SPX"]["h"] for f in frames),
                         max(float(r["high"]) for r in rows))
        orders = [o for f in frames for o in f["orders"]]
        status, run = self.server.json("GET", f"/backtests/{run_id}")
        self.assertEqual(sum(1 for o in orders if o["status"] == "filled"), run["stats"]["fills"])
        # speed 0.01: one bar per frame, 5105 frames; under the cap. The cap itself is per request.
        status, frames = self.server.json("GET", f"/backtests/{run_id}/frames?speed=0.01")
        self.assertEqual((status, len(frames)), (200, 5105))
        status, err = self.server.json("GET", f"/backtests/{run_id}/frames?speed=0")
        self.assertEqual((status, err["code"], err["details"]["field"]), (400, "VALIDATION", "speed"))

    def test_bad_backtest_requests_name_the_field(self):
        cases = [
            ("not json", "body"),
            ("[1,2]", "body"),
            (json.dumps({"strategy": "sma_cross"}), "dataset"),
            (json.dumps({"dataset": "sp500", "strategy": "nope"}), "strategy"),
            (json.dumps({"dataset": "nope", "strategy": "sma_cross"}), "dataset"),
            (json.dumps({"dataset": "sp500", "strategy": "sma_cross", "cash": -5}), "cash"),
            (json.dumps({"dataset": "sp500", "strategy": "sma_cross", "cash": "lots"}), "cash"),
            (json.dumps({"dataset": "sp500", "strategy": "sma_cross",
                         "params": {"fast": 50, "slow": 20}}), "params.fast"),
            (json.dumps({"dataset": "sp500", "strategy": "sma_cross", "from": "yesterday"}), "from"),
            (json.dumps({"dataset": "sp500", "strategy": "sma_cross", "colour": 1}), "colour"),
        ]
        for body, field in cases:
            status, err = self.server.json("POST", "/backtests", body)
            self.assertEqual(status, 400, body)
            self.assertEqual(err["code"], "VALIDATION", body)
            self.assertEqual(err["details"]["field"], field, body)

    def test_unknown_run_and_delete(self):
        status, err = self.server.json("GET", "/backtests/doesnotexist")
        self.assertEqual((status, err["code"]), (404, "RUN_NOT_FOUND"))
        run_id = self.post_run()
        self.server.wait_run(run_id)
        status, err = self.server.json("DELETE", "/datasets/sp500")
        self.assertEqual((status, err["code"]), (409, "CONFLICT"))
        self.assertEqual(self.server.request("DELETE", f"/backtests/{run_id}")[0], 204)
        self.assertEqual(self.server.json("GET", f"/backtests/{run_id}")[0], 404)
        self.assertEqual(self.server.json("GET", f"/backtests/{run_id}/frames")[0], 404)

    def test_strategies_health_and_metrics(self):
        status, strategies = self.server.json("GET", "/strategies")
        self.assertEqual(status, 200)
        self.assertEqual(len(strategies), 7)
        self.assertEqual(self.server.request("GET", "/healthz")[0], 200)
        status, hdrs, raw = self.server.request("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertIn('tapedeck_runs{status="done"}', raw.decode())


class RestartTest(unittest.TestCase):
    def test_runs_survive_a_restart_and_play_the_same(self):
        server = Server().start()
        try:
            status, out = server.json("POST", "/backtests",
                                      json.dumps({"dataset": "sp500", "strategy": "macd"}))
            run = server.wait_run(out["id"])
            frames_before = server.request("GET", f"/backtests/{out['id']}/frames?speed=60")[2]
            self.assertEqual(server.stop(), 0)
            server.start()
            status, again = server.json("GET", f"/backtests/{out['id']}")
            self.assertEqual(status, 200)
            self.assertEqual(again["status"], "done")
            self.assertEqual(again["stats"], run["stats"])
            frames_after = server.request("GET", f"/backtests/{out['id']}/frames?speed=60")[2]
            self.assertEqual(frames_before, frames_after)
            status, datasets = server.json("GET", "/datasets")
            self.assertEqual([d["name"] for d in datasets].count("sp500"), 1)
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
