"""Bad data already on disk is found and reported, never read as garbage (issue 5): a dataset's
series file corrupted or truncated between two runs of the real server."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tdserver import Server  # noqa: E402

CSV = "time,open,high,low,close,volume\n" + "".join(
    f"2024-01-01T{h:02d}:{m:02d}:00Z,{100 + m},{101 + m},{99 + m},{100.5 + m},{10 + h}\n"
    for h in range(10) for m in range(60))


class CorruptDataTest(unittest.TestCase):
    def setUp(self):
        self.server = Server().start()

    def tearDown(self):
        self.server.cleanup()

    def data_files(self):
        data = self.server.db + ".data"
        return {os.path.join(data, f) for f in os.listdir(data)}

    def damage_then_backtest(self, damage):
        s = self.server
        # The upload's file is the one it adds: by modification time the sample sp500, imported
        # at the first start, can come out newer.
        before = self.data_files()
        status, body = s.json("POST", "/datasets?name=hours&symbol=H", CSV)
        self.assertEqual(status, 201, body)
        added = self.data_files() - before
        self.assertEqual(len(added), 1, added)
        path = added.pop()
        status, out = s.json("POST", "/backtests",
                             json.dumps({"dataset": "hours", "strategy": "sma_cross"}))
        earlier = out["id"]
        self.assertEqual(s.wait_run(earlier)["status"], "done")
        self.assertEqual(s.stop(), 0)
        damage(path)
        s.start()
        status, out = s.json("POST", "/backtests",
                             json.dumps({"dataset": "hours", "strategy": "sma_cross"}))
        self.assertEqual(status, 202, out)
        run = s.wait_run(out["id"])
        self.assertEqual(run["status"], "failed", run)
        self.assertIn(os.path.basename(path), run["error"]["msg"])
        self.assertEqual(run["error"]["cause"], "io", run)
        # A run made before the damage cannot be played: the stream and /frames say why.
        status, err = s.json("GET", f"/backtests/{earlier}/frames?speed=60")
        self.assertEqual(status, 500, err)
        self.assertEqual(err["code"], "IO")
        self.assertIn(os.path.basename(path), err["msg"])
        self.assertIn("cannot be read", err["msg"])
        # The other datasets are untouched.
        status, out = s.json("POST", "/backtests",
                             json.dumps({"dataset": "sp500", "strategy": "sma_cross"}))
        self.assertEqual(s.wait_run(out["id"])["status"], "done")
        return run["error"]["msg"]

    def test_a_flipped_byte_fails_the_checksum(self):
        def flip(path):
            with open(path, "r+b") as f:
                f.seek(os.path.getsize(path) - 100)  # inside the volume column
                b = f.read(1)
                f.seek(-1, os.SEEK_CUR)
                f.write(bytes([b[0] ^ 0x40]))
        error = self.damage_then_backtest(flip)
        self.assertIn("checksum", error)

    def test_a_truncated_file_is_reported(self):
        def truncate(path):
            os.truncate(path, os.path.getsize(path) // 2)
        error = self.damage_then_backtest(truncate)
        self.assertIn("IO", error)


if __name__ == "__main__":
    unittest.main(verbosity=2)
