"""A throwaway PostgreSQL 15 cluster for tests: initdb into a fresh temp dir, a free port on
127.0.0.1, one role and one database, stopped and removed afterwards.

    with PgCluster() as pg:  # started: pg.url = postgresql://tapedeck@127.0.0.1:PORT/tapedeck
        pg.psql("CREATE TABLE t (x int)")
        pg.restart()
    # stopped, its folder gone (also at interpreter exit, should a test crash past __exit__)

PostgreSQL refuses to run as root: as root, its binaries run as the `postgres` user (runuser), and
the temp dir is that user's; as anyone else they run as that user. The binaries come from
$TAPEDECK_PG_BIN, else /usr/lib/postgresql/15/bin (Debian's `postgresql-15`, installed by
scripts/bootstrap.sh).

The same steps serve the C++ tests (tests/unit/store/pg_cluster.h) through the command line:
    pgcluster.py up [--password PW] [--out FILE]
                                      starts a new cluster, prints {"dir","url","port",...} as JSON
                                      (also written to FILE)
    pgcluster.py stop|start|restart DIR
    pgcluster.py down DIR             stops it and removes DIR
    pgcluster.py down --from FILE     the same for the cluster FILE describes (nothing if absent)

CTest starts one cluster for a whole test run this way (tests/CMakeLists.txt, fixture `pg`): the
C++ tests' databases go on it (tests/unit/store/pg_test_db.h) instead of a cluster per process.
"""
import atexit
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time

PG_BIN = os.environ.get("TAPEDECK_PG_BIN", "/usr/lib/postgresql/15/bin")
STATE_FILE = "cluster.json"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pid_alive(pid):
    """Whether `pid` runs (a zombie, exited but not yet reaped by its parent, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _wait_gone(pid, timeout=10.0):
    """Waits until `pid` no longer runs; RuntimeError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while _pid_alive(pid):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the postmaster (pid {pid}) still runs {timeout} s after its stop")
        time.sleep(0.01)


class PgCluster:
    """One cluster in its own temp dir. Not thread-safe; stop() and close() may be called twice."""

    def __init__(self, user="tapedeck", db="tapedeck", password=None):
        self.user = user
        self.db = db
        self.password = password
        self.dir = None
        self.port = None
        self._atexit = None

    # ---- paths and the URL ----

    @property
    def data(self):
        return os.path.join(self.dir, "data")

    @property
    def log(self):
        return os.path.join(self.dir, "postgresql.log")

    @property
    def url(self):
        """postgresql://USER@127.0.0.1:PORT/DB (without the password, if there is one)."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.db}"

    @property
    def url_with_password(self):
        if self.password is None:
            return self.url
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.db}"

    @property
    def postmaster_pid(self):
        """The running postmaster's pid, from postmaster.pid, or None."""
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                pid = int(f.readline().strip())
        except (OSError, ValueError):
            return None
        return pid if _pid_alive(pid) else None

    # ---- running PostgreSQL's programs ----

    def _cmd(self, prog, *args):
        cmd = [os.path.join(PG_BIN, prog), *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return cmd

    def _run(self, prog, *args, input=None, env=None, check=True, timeout=60):
        # cwd: the postgres user may not be able to enter the caller's folder.
        p = subprocess.run(self._cmd(prog, *args), cwd=self.dir, input=input, env=env,
                           capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise RuntimeError(f"{prog} {' '.join(args)} failed ({p.returncode}): "
                               f"{p.stdout}{p.stderr}{self._log_tail()}")
        return p

    def _log_tail(self):
        try:
            with open(self.log) as f:
                return "\n--- postgresql.log ---\n" + "".join(f.readlines()[-20:])
        except OSError:
            return ""

    def psql(self, sql, check=True):
        """Runs `sql` with psql over TCP as the test role; returns its unaligned output."""
        env = dict(os.environ, PGCONNECT_TIMEOUT="5")
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        p = self._run("psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", self.url,
                      "-c", sql, env=env, check=check, timeout=30)
        return p.stdout.strip() if check else p

    # ---- life ----

    def create(self):
        """initdb into a new temp dir, with the role (the cluster's superuser) and the database."""
        self.dir = tempfile.mkdtemp(prefix="tapedeck-pg-")
        self._atexit = atexit.register(self.close)
        if os.geteuid() == 0:
            pg = pwd.getpwnam("postgres")
            os.chown(self.dir, pg.pw_uid, pg.pw_gid)
        args = ["-D", self.data, "-U", self.user, "--encoding=UTF8", "--locale=C", "--no-sync",
                "--auth-local=trust"]
        if self.password is None:
            args.append("--auth-host=trust")
        else:
            pwfile = os.path.join(self.dir, "pwfile")
            with open(pwfile, "w") as f:
                f.write(self.password + "\n")
            if os.geteuid() == 0:
                os.chown(pwfile, pg.pw_uid, pg.pw_gid)
            args += ["--auth-host=scram-sha-256", "--pwfile", pwfile]
        try:
            self._run("initdb", *args, timeout=120)
        finally:
            if self.password is not None:
                os.unlink(pwfile)
        # Tests want speed, not durability across power cuts: a clean stop still checkpoints.
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("\n# tapedeck tests\nlisten_addresses = '127.0.0.1'\n"
                    f"unix_socket_directories = '{self.dir}'\n"
                    "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                    "max_connections = 200\nshared_buffers = 32MB\n")
        self._save()
        return self

    def start(self, timeout=30):
        """pg_ctl start -w on a free port (another port if the one picked was taken meanwhile)."""
        for attempt in range(5):
            if self.port is None or attempt > 0:
                self.port = free_port()
                self._save()
            p = self._run("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", str(timeout),
                          "-o", f"-p {self.port}", "start", check=False, timeout=timeout + 10)
            if p.returncode == 0:
                break
            if "could not bind" not in self._log_tail() and "in use" not in self._log_tail():
                raise RuntimeError(f"pg_ctl start failed: {p.stdout}{p.stderr}{self._log_tail()}")
        else:
            raise RuntimeError("pg_ctl start: no free port" + self._log_tail())
        if self.db != "postgres" and self.psql_admin(
                f"SELECT 1 FROM pg_database WHERE datname = '{self.db}'") != "1":
            self.psql_admin(f'CREATE DATABASE "{self.db}"')
        return self

    def psql_admin(self, sql):
        """psql through the cluster's Unix socket into the `postgres` database (trusted)."""
        return self._run("psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", self.dir,
                         "-p", str(self.port), "-U", self.user, "-d", "postgres", "-c", sql,
                         timeout=30).stdout.strip()

    def stop(self):
        """pg_ctl stop -m fast -w, when running; returns once the postmaster has exited."""
        pid = None if self.dir is None else self.postmaster_pid
        if pid is None:
            return
        self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "30", "stop", timeout=40)
        # pg_ctl returns once the pid file is gone, which the postmaster removes a moment before
        # it exits: wait for the process itself.
        _wait_gone(pid)

    def restart(self):
        """Stops and starts again on the same port and data."""
        self.stop()
        self._run("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "30", "-o",
                  f"-p {self.port}", "start", timeout=40)

    def close(self):
        """Stops the cluster (immediately, if a fast stop fails) and removes its folder."""
        if self.dir is None:
            return
        try:
            self.stop()
        except Exception:  # noqa: BLE001 — leave nothing running, whatever happened
            pid = self.postmaster_pid
            if pid is not None:
                self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop", check=False)
                try:
                    _wait_gone(pid)
                except RuntimeError:
                    pass  # reported by the caller's own checks; the folder goes anyway
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None
        if self._atexit is not None:
            atexit.unregister(self._atexit)
            self._atexit = None

    def __enter__(self):
        try:
            return self.create().start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc):
        self.close()

    # ---- state on disk, for the command line ----

    def _save(self):
        with open(os.path.join(self.dir, STATE_FILE), "w") as f:
            json.dump(self.describe(), f)

    def describe(self):
        return {"dir": self.dir, "url": self.url, "url_with_password": self.url_with_password,
                "port": self.port, "user": self.user, "db": self.db, "password": self.password}

    @classmethod
    def attach(cls, path):
        with open(os.path.join(path, STATE_FILE)) as f:
            s = json.load(f)
        c = cls(user=s["user"], db=s["db"], password=s["password"])
        c.dir, c.port = path, s["port"]
        return c


def _down_from(path):
    """Stops and removes the cluster described in the JSON file at `path`, and the file."""
    try:
        with open(path) as f:
            described = json.load(f)
    except (OSError, ValueError):
        return
    if os.path.isdir(described.get("dir", "")):
        PgCluster.attach(described["dir"]).close()
    os.unlink(path)


def main(argv):
    if len(argv) >= 1 and argv[0] == "up":
        password, out = None, None
        rest = argv[1:]
        while len(rest) >= 2 and rest[0] in ("--password", "--out"):
            if rest[0] == "--password":
                password = rest[1]
            else:
                out = rest[1]
            rest = rest[2:]
        if rest:
            print(__doc__, file=sys.stderr)
            return 2
        if out:
            # A cluster an interrupted run left behind goes first.
            _down_from(out)
        c = PgCluster(password=password)
        try:
            c.create().start()
        except BaseException:
            c.close()
            raise
        atexit.unregister(c._atexit)  # it outlives this process: `down` removes it
        described = json.dumps(c.describe())
        if out:
            with open(out + ".tmp", "w") as f:
                f.write(described + "\n")
            os.replace(out + ".tmp", out)
        print(described)
        return 0
    if len(argv) == 3 and argv[0] == "down" and argv[1] == "--from":
        _down_from(argv[2])
        return 0
    if len(argv) == 2 and argv[0] in ("stop", "start", "restart", "down"):
        c = PgCluster.attach(argv[1])
        if argv[0] == "stop":
            c.stop()
        elif argv[0] == "start":
            c.restart()  # same port; stop() is a no-op when stopped
        elif argv[0] == "restart":
            c.restart()
        else:
            c.close()
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
