"""The store's file system turns read-only under a running server (issue 5, "unwritable store").

This is what ext4 mounted with errors=remount-ro does after an I/O error: every later write fails
with EROFS, while files already open stay open, and what was written but not yet synced is lost
with the aborted journal, as in a power cut. The test puts the store on a loop-mounted ext4 image
and makes the kernel take that step (/sys/fs/ext4/<dev>/trigger_fs_error). It checks that:
  - uploads, backtests and deletes then get 500 IO naming the store and "read-only", and change
    nothing; reads and playback of what is stored go on, byte for byte;
  - the server stops cleanly;
  - after the operator's e2fsck and a remount, the store passes integrity_check and everything the
    server had acknowledged before the fault is there: each 201 dataset, each run reported done
    (with the same frames and trades), and each 204 delete still deleted.
Without a loop device or that sysfs file (a container without them), the test is skipped and says
so.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tdserver import BIN, Server, integrity_check  # noqa: E402

IMAGE_MB = 160


def sha(data):
    return hashlib.sha256(data).hexdigest()


def run(*cmd):
    return subprocess.run(list(cmd), capture_output=True, text=True)


def mount_options(path):
    with open("/proc/mounts") as f:
        for line in f:
            fields = line.split()
            if fields[1] == path:
                return fields[3].split(",")
    return None


class StoreGoesReadOnlyTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tapedeck-ro-")
        self.image = os.path.join(self.tmp, "store.ext4")
        self.mnt = os.path.join(self.tmp, "mnt")
        os.mkdir(self.mnt)
        self.loop = None
        self.server = None
        with open(self.image, "wb") as f:
            f.truncate(IMAGE_MB << 20)
        r = run("losetup", "--find", "--show", self.image)
        if r.returncode != 0:
            shutil.rmtree(self.tmp)
            self.skipTest(f"no loop device here ({r.stderr.strip()}); this test needs root")
        self.loop = r.stdout.strip()
        r = run("mkfs.ext4", "-q", self.loop)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.mount()
        self.trigger = f"/sys/fs/ext4/{os.path.basename(self.loop)}/trigger_fs_error"
        if not os.path.exists(self.trigger):
            self.skipTest(f"this kernel has no {self.trigger}")
        self.csv = os.path.join(self.tmp, "bars.csv")
        subprocess.run([BIN, "gen", "--bars", "150000", "--seed", "11", "--interval", "1m",
                        "--out", self.csv], check=True, capture_output=True)
        self.server = Server("--workers", "1", workdir=self.mnt)

    def tearDown(self):
        if self.server:
            self.server.stop()
        if mount_options(self.mnt) is not None:
            run("umount", self.mnt)
        if mount_options(self.mnt) is not None:
            run("umount", "-l", self.mnt)
        if self.loop:
            run("losetup", "-d", self.loop)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def mount(self):
        r = run("mount", "-t", "ext4", "-o", "errors=remount-ro", self.loop, self.mnt)
        self.assertEqual(r.returncode, 0, r.stderr)

    def upload(self, name):
        with open(self.csv, "rb") as f:
            return self.server.json("POST", f"/datasets?name={name}&symbol=GEN", f.read())

    def backtest(self, dataset, fast):
        return self.server.json("POST", "/backtests", json.dumps(
            {"dataset": dataset, "strategy": "sma_cross", "params": {"fast": fast, "slow": 50}}))

    def readings(self, run_id):
        out = {}
        for path in (f"/backtests/{run_id}/frames?speed=3600", f"/backtests/{run_id}/trades",
                     f"/backtests/{run_id}/equity"):
            status, _, body = self.server.request("GET", path)
            self.assertEqual(status, 200, path)
            out[path] = sha(body)
        return out

    def assert_io_error_naming_read_only(self, status, err, what):
        self.assertEqual(status, 500, f"{what}: {err}")
        self.assertEqual(err["code"], "IO", what)
        self.assertIn("read-only", err["msg"].lower(), what)
        self.assertTrue(err["details"]["path"].startswith(self.mnt), f"{what}: {err}")

    def test_everything_acknowledged_survives_the_file_system_going_read_only(self):
        s = self.server.start()
        # ---- acknowledged before the fault ----
        status, body = self.upload("big")
        self.assertEqual(status, 201, body)
        for name in ("gone", "spare"):
            status, body = self.upload(name)
            self.assertEqual(status, 201, body)
        status, _, _ = s.request("DELETE", "/datasets/gone")
        self.assertEqual(status, 204)
        done = {}
        for dataset, fast in (("big", 10), ("sp500", 20), ("big", 5)):
            status, out = self.backtest(dataset, fast)
            self.assertEqual(status, 202, out)
            self.assertEqual(s.wait_run(out["id"])["status"], "done")
            done[out["id"]] = self.readings(out["id"])
        deleted_run = next(iter(done))
        status, _, _ = s.request("DELETE", f"/backtests/{deleted_run}")
        self.assertEqual(status, 204)
        del done[deleted_run]

        # ---- the file system goes read-only, as after an I/O error ----
        with open(self.trigger, "w") as f:
            f.write("tapedeck test")
        options = mount_options(self.mnt) or []
        self.assertTrue("ro" in options or "emergency_ro" in options,
                        f"the kernel did not make the file system read-only: {options}")

        status, err = self.upload("late")
        self.assert_io_error_naming_read_only(status, err, "upload")
        status, err = self.backtest("big", 7)
        self.assert_io_error_naming_read_only(status, err, "backtest")
        print("with the file system read-only, a backtest got:", err["msg"], flush=True)
        run_id = next(iter(done))
        status, err = s.json("DELETE", f"/backtests/{run_id}")
        self.assert_io_error_naming_read_only(status, err, "delete run")
        status, err = s.json("DELETE", "/datasets/spare")
        self.assert_io_error_naming_read_only(status, err, "delete dataset")
        # Reads and playback go on, the same bytes.
        for rid, before in done.items():
            self.assertEqual(self.readings(rid), before, rid)
        status, datasets = s.json("GET", "/datasets")
        self.assertEqual(sorted(d["name"] for d in datasets), ["big", "sp500", "spare"])
        status, _, _ = s.request("GET", "/healthz")
        self.assertEqual(status, 200)
        self.assertEqual(s.stop(), 0)

        # ---- the operator checks the file system and mounts it again ----
        r = run("umount", self.mnt)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run("e2fsck", "-fy", self.loop)
        self.assertIn(r.returncode, (0, 1), r.stdout + r.stderr)  # 1: errors corrected
        self.mount()
        self.assertEqual(integrity_check(s.db), "ok")

        # ---- everything acknowledged is there, and nothing more ----
        s.start()
        status, datasets = s.json("GET", "/datasets")
        self.assertEqual(sorted(d["name"] for d in datasets), ["big", "sp500", "spare"])
        self.assertEqual(len(os.listdir(s.db + ".data")), 3)
        status, runs = s.json("GET", "/backtests")
        self.assertEqual(sorted(r["id"] for r in runs), sorted(done))
        self.assertTrue(all(r["status"] == "done" for r in runs), runs)
        for rid, before in done.items():
            self.assertEqual(self.readings(rid), before, rid)
        status, _, _ = s.request("GET", f"/backtests/{deleted_run}")
        self.assertEqual(status, 404)
        # And it writes again.
        status, body = self.upload("late")
        self.assertEqual(status, 201, body)


if __name__ == "__main__":
    unittest.main(verbosity=2)
