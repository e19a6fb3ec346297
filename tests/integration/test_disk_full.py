"""A full disk and an unwritable store under a running server (issue 5, "Crashes and storage").

The store lives on a small tmpfs mounted for the test (needs root, as the CI machine is; without
the right to mount, the test is skipped and says so). It checks that:
  - with the disk full, an upload gets 503 UNAVAILABLE naming the full disk, a backtest whose
    result cannot be written ends failed with that reason (or is refused with 503), nothing is
    half-written, and everything already stored still reads and plays the same;
  - once space returns, uploads and backtests work again, without a restart;
  - with the data directory made read-only, an upload gets 500 IO naming the path and the cause,
    and everything else goes on; once it is writable again, uploads work again;
  - after all of it, a restart finds the store intact (integrity_check ok) with everything there;
  - starting on a read-only store fails at once with a message naming the path.
"""
import errno
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tdserver import BIN, Server, integrity_check  # noqa: E402

SIZE_MB = 48


def sha(data):
    return hashlib.sha256(data).hexdigest()


def mount_tmpfs(path, size_mb):
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", path],
                       capture_output=True, text=True)
    return r.returncode == 0, r.stderr.strip()


class DiskFullTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tapedeck-disk-")
        self.mnt = os.path.join(self.tmp, "mnt")
        os.mkdir(self.mnt)
        ok, why = mount_tmpfs(self.mnt, SIZE_MB)
        if not ok:
            shutil.rmtree(self.tmp)
            self.skipTest(f"cannot mount a tmpfs here ({why}); this test needs root")
        self.csv = {}
        for bars in (20_000, 150_000):
            path = os.path.join(self.tmp, f"{bars}.csv")
            subprocess.run([BIN, "gen", "--bars", str(bars), "--seed", "7", "--interval", "1m",
                            "--out", path], check=True, capture_output=True)
            with open(path, "rb") as f:
                self.csv[bars] = f.read()
        self.server = Server("--workers", "1", workdir=self.mnt)

    def tearDown(self):
        self.server.stop()
        subprocess.run(["umount", "-l", self.mnt], check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def fill_disk(self):
        """Writes a filler file until the tmpfs is full; returns its path."""
        filler = os.path.join(self.mnt, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for size in (1 << 20, 4096):  # megabytes, then pages to the last byte
                try:
                    while True:
                        os.write(fd, b"\0" * size)
                except OSError as e:
                    self.assertEqual(e.errno, errno.ENOSPC)
        finally:
            os.close(fd)
        return filler

    def snapshot(self, run_id):
        s = self.server
        out = {}
        for path in ("/datasets", f"/backtests/{run_id}/frames?speed=3600",
                     f"/backtests/{run_id}/trades?format=csv"):
            status, _, body = s.request("GET", path)
            self.assertEqual(status, 200, path)
            out[path] = sha(body)
        return out

    def post_run(self, dataset):
        return self.server.json("POST", "/backtests",
                                json.dumps({"dataset": dataset, "strategy": "sma_cross"}))

    def data_files(self):
        return sorted(os.listdir(self.server.db + ".data"))

    def test_full_disk_then_space_returns_then_read_only(self):
        s = self.server.start()
        status, body = s.json("POST", "/datasets?name=big&symbol=GEN", self.csv[150_000])
        self.assertEqual(status, 201, body)
        status, out = self.post_run("sp500")
        self.assertEqual(s.wait_run(out["id"])["status"], "done")
        baseline = out["id"]
        before = self.snapshot(baseline)
        files_before = self.data_files()

        # ---- the disk fills up ----
        filler = self.fill_disk()
        status, err = s.json("POST", "/datasets?name=late&symbol=GEN", self.csv[20_000])
        self.assertEqual(status, 503, err)
        self.assertEqual(err["code"], "UNAVAILABLE")
        self.assertIn("full", err["msg"])
        self.assertEqual(self.data_files(), files_before)  # no partial series file left
        # A year-scale result cannot fit: the run fails with the reason, or is refused outright.
        status, out = self.post_run("big")
        if status == 202:
            run = s.wait_run(out["id"])
            self.assertEqual(run["status"], "failed", run)
            self.assertIn("full", run["error"]["msg"])
            print("with the disk full, the run failed:", run["error"]["msg"], flush=True)
        else:
            self.assertEqual(status, 503, out)
            self.assertEqual(out["code"], "UNAVAILABLE")
            print("with the disk full, the backtest was refused:", out["msg"], flush=True)
        self.assertEqual(self.snapshot(baseline), before)

        # ---- space returns: no restart needed ----
        os.remove(filler)
        status, body = s.json("POST", "/datasets?name=late&symbol=GEN", self.csv[20_000])
        self.assertEqual(status, 201, body)
        self.assertEqual(body["bars"], 20_000)
        status, out = self.post_run("big")
        self.assertEqual(status, 202, out)
        self.assertEqual(s.wait_run(out["id"])["status"], "done")
        after_space = out["id"]

        # ---- the data directory becomes read-only ----
        # (A mount with a file open for writing refuses to go read-only, so the database's own
        # file system turning read-only is test_store_read_only, by way of ext4's error path.
        # Starting on a read-only store is the test below.)
        data = s.db + ".data"
        subprocess.run(["mount", "--bind", data, data], check=True)
        try:
            subprocess.run(["mount", "-o", "remount,bind,ro", data], check=True)
            status, err = s.json("POST", "/datasets?name=ro&symbol=GEN", self.csv[20_000])
            self.assertEqual(status, 500, err)
            self.assertEqual(err["code"], "IO")
            self.assertIn("Read-only file system", err["msg"])
            self.assertIn(data, err["details"]["path"])
            # Everything else goes on: reads, playback, and backtests (their results live in the
            # database, not in the data directory).
            self.assertEqual(self.snapshot(baseline)[f"/backtests/{baseline}/frames?speed=3600"],
                             before[f"/backtests/{baseline}/frames?speed=3600"])
            status, out = self.post_run("late")
            self.assertEqual(status, 202, out)
            self.assertEqual(s.wait_run(out["id"])["status"], "done")
        finally:
            # Lazily: the server keeps its last datasets' files mapped (they never change once
            # named), which keeps the bind mount busy.
            subprocess.run(["umount", "-l", data], check=True)
        status, body = s.json("POST", "/datasets?name=rw-again&symbol=GEN", self.csv[20_000])
        self.assertEqual(status, 201, body)

        # ---- a restart finds it all intact ----
        self.assertEqual(s.stop(), 0)
        self.assertEqual(integrity_check(s.db), "ok")
        s.start()
        status, datasets = s.json("GET", "/datasets")
        self.assertEqual(sorted(d["name"] for d in datasets),
                         ["big", "late", "rw-again", "sp500"])
        self.assertEqual(len(self.data_files()), 4)
        self.assertEqual(self.snapshot(baseline)[f"/backtests/{baseline}/frames?speed=3600"],
                         before[f"/backtests/{baseline}/frames?speed=3600"])
        status, runs = s.json("GET", "/backtests")
        self.assertTrue(all(r["status"] in ("done", "failed") for r in runs), runs)

    def test_starting_on_a_read_only_store_fails_naming_it(self):
        subprocess.run(["mount", "-o", "remount,ro", self.mnt], check=True)
        try:
            db = os.path.join(self.mnt, "fresh.db")
            r = subprocess.run([BIN, "serve", "--port", "0", "--db", db], capture_output=True,
                               text=True, timeout=20)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("fresh.db", r.stderr)
        finally:
            subprocess.run(["mount", "-o", "remount,rw", self.mnt], check=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
