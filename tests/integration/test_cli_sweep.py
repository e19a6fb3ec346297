"""Black-box tests of `tapedeck sweep`: real processes on generated minute data, each trial
checked against `tapedeck backtest` of the same parameters (the same numbers, exactly)."""
import json
import os
import subprocess
import tempfile
import unittest

BIN = os.environ.get("TAPEDECK_BIN", "build/tapedeck")


def run(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=300)


class CliSweepTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.csv = os.path.join(cls.dir.name, "min.csv")
        r = run("gen", "--bars", "30000", "--seed", "11", "--interval", "1m", "--out", cls.csv)
        assert r.returncode == 0, r.stderr

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def sweep(self, *args):
        r = run("sweep", "--csv", self.csv, "--strategy", "sma_cross", "--json", *args)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def backtest(self, params, *args):
        flags = []
        for name, value in params.items():
            flags += ["--param", f"{name}={value:g}"]
        r = run("backtest", "--csv", self.csv, "--strategy", "sma_cross", "--json", *flags, *args)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def test_grid_order_and_every_trial_equals_its_backtest(self):
        out = self.sweep("--grid", "fast=5:15:5", "--grid", "slow=20,40", "--commission", "0.001")
        got = [(t["params"]["fast"], t["params"]["slow"]) for t in out["results"]]
        # The last axis varies fastest.
        self.assertEqual(got, [(5, 20), (5, 40), (10, 20), (10, 40), (15, 20), (15, 40)])
        self.assertEqual([t["index"] for t in out["results"]], list(range(6)))
        for trial in out["results"]:
            report = self.backtest(trial["params"], "--commission", "0.001")
            for key in ("final_equity", "total_return", "sharpe", "max_drawdown", "trades"):
                self.assertEqual(trial["stats"][key], report[key], (trial["index"], key))
        best = max(out["results"], key=lambda t: (t["objective"], -t["index"]))
        self.assertEqual(out["best"]["index"], best["index"])
        self.assertEqual(out["valid_trials"], 6)
        self.assertEqual(out["dsr"]["trials"], 6)
        self.assertIsNotNone(out["pbo"]["value"])

    def test_refused_parameters_fail_only_their_trial(self):
        out = self.sweep("--grid", "fast=10,30", "--grid", "slow=20")
        self.assertEqual(out["valid_trials"], 1)
        self.assertEqual(out["failed_trials"], 1)
        self.assertIsNone(out["results"][1]["stats"])
        self.assertIn("fast", out["results"][1]["error"])
        self.assertEqual(out["best"]["index"], 0)

    def test_thread_count_does_not_change_the_result(self):
        args = ("--grid", "fast=4:12:2", "--grid", "slow=30,60", "--walk-forward", "2")
        one = self.sweep("--threads", "1", *args)
        two = self.sweep("--threads", "3", *args)
        self.assertEqual(one, two)

    def test_walk_forward_folds_equal_backtests_of_their_spans(self):
        out = self.sweep("--grid", "fast=5:20:5", "--grid", "slow=40,80", "--walk-forward", "3")
        self.assertEqual(len(out["folds"]), 3)
        growth = 1.0
        for fold in out["folds"]:
            self.assertIsNotNone(fold["trial"])
            oos = fold["out_of_sample"]
            report = self.backtest(fold["params"], "--from", oos["from"], "--to", oos["to"])
            self.assertEqual(fold["stats"]["final_equity"], report["final_equity"])
            self.assertEqual(fold["stats"]["trades"], report["trades"])
            # The chosen trial is the best over the in-sample span.
            ins = fold["in_sample"]
            scores = []
            for trial in out["results"]:
                r = self.backtest(trial["params"], "--from", ins["from"], "--to", ins["to"])
                scores.append((r["sharpe"], -trial["index"]))
            self.assertEqual(-max(scores)[1], fold["trial"])
            growth *= report["final_equity"] / 100000.0
        # Stitched: the folds' out-of-sample runs compounded.
        self.assertAlmostEqual(out["stitched"]["total_return"], growth - 1, places=9)

    def test_usage_errors_name_what_was_wrong(self):
        cases = [
            (["--grid", "fast"], "--grid"),
            (["--grid", "fast=5:x:1"], "'x'"),
            (["--grid", "bogus=1,2"], "bogus"),
            (["--grid", "fast=5:15:5", "--objective", "luck"], "--objective"),
            (["--grid", "fast=5:15:5", "--method", "random"], "--trials"),
            (["--grid", "fast=5:15:5", "--pbo-blocks", "5"], "--pbo-blocks"),
            (["--grid", "fast=5:15:5", "--max-trials", "2"], "trials"),
            ([], "--grid"),
        ]
        for args, needle in cases:
            r = run("sweep", "--csv", self.csv, "--strategy", "sma_cross", *args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(needle, r.stderr, args)
            self.assertEqual(r.stdout, "", args)

    def test_text_report_reads_the_robustness_in_words(self):
        r = run("sweep", "--csv", self.csv, "--strategy", "sma_cross", "--grid", "fast=5:15:5",
                "--grid", "slow=20,40")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("6 trials", r.stdout)
        self.assertIn("DSR", r.stdout)
        self.assertIn("PBO", r.stdout)
        self.assertIn("median", r.stdout)


if __name__ == "__main__":
    unittest.main()
