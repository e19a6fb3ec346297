"""The tests' own PostgreSQL cluster (pgcluster.py): it starts, takes a connection and a table,
keeps its data across a restart, and once stopped leaves no postmaster and no folder behind; the
command line the C++ tests use does the same; a password cluster refuses a wrong password."""
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgcluster import PgCluster, _pid_alive  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


class PgClusterTest(unittest.TestCase):
    def test_start_restart_stop_leaves_nothing(self):
        with PgCluster() as pg:
            self.assertRegex(pg.url, r"^postgresql://tapedeck@127\.0\.0\.1:\d+/tapedeck$")
            self.assertEqual(pg.psql("SELECT current_user || ' ' || current_database()"),
                             "tapedeck tapedeck")
            pg.psql("CREATE TABLE t (id bigint PRIMARY KEY, body bytea);"
                    "INSERT INTO t VALUES (1, '\\x00ff'), (2, NULL)")
            pid = pg.postmaster_pid
            self.assertIsNotNone(pid)
            data_dir = pg.dir
            pg.restart()
            self.assertIsNotNone(pg.postmaster_pid)
            self.assertNotEqual(pg.postmaster_pid, pid)
            self.assertFalse(_pid_alive(pid))
            self.assertEqual(pg.psql("SELECT id || ':' || coalesce(encode(body, 'hex'), '-') "
                                     "FROM t ORDER BY id"), "1:00ff\n2:-")
            pid = pg.postmaster_pid
            pg.stop()
            self.assertIsNone(pg.postmaster_pid)
            self.assertFalse(_pid_alive(pid))
            self.assertNotEqual(pg.psql("SELECT 1", check=False).returncode, 0)
        self.assertFalse(os.path.exists(data_dir))
        self.assertFalse(_pid_alive(pid))

    def test_exception_inside_still_cleans_up(self):
        with self.assertRaises(ZeroDivisionError):
            with PgCluster() as pg:
                data_dir, pid = pg.dir, pg.postmaster_pid
                1 / 0
        self.assertFalse(os.path.exists(data_dir))
        self.assertFalse(_pid_alive(pid))

    def test_password_role(self):
        with PgCluster(password="s3cret-pw") as pg:
            self.assertEqual(pg.psql("SELECT 42"), "42")
            pg.password = "wrong"
            p = pg.psql("SELECT 42", check=False)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("password authentication failed", p.stderr)

    def test_command_line_for_cpp_tests(self):
        def cli(*args):
            return subprocess.run([sys.executable, os.path.join(HERE, "pgcluster.py"), *args],
                                  capture_output=True, text=True, timeout=120, check=True).stdout

        info = json.loads(cli("up"))
        try:
            pg = PgCluster.attach(info["dir"])
            self.assertEqual(pg.url, info["url"])
            pid = pg.postmaster_pid
            self.assertIsNotNone(pid)
            pg.psql("CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)")
            cli("stop", info["dir"])
            self.assertIsNone(pg.postmaster_pid)
            cli("start", info["dir"])
            self.assertEqual(pg.psql("SELECT x FROM kept"), "7")
            cli("restart", info["dir"])
            self.assertEqual(pg.psql("SELECT x FROM kept"), "7")
            pid = pg.postmaster_pid
        finally:
            cli("down", info["dir"])
        self.assertFalse(os.path.exists(info["dir"]))
        self.assertFalse(_pid_alive(pid))


if __name__ == "__main__":
    unittest.main(verbosity=2)
