"""The .deb (`cpack -G DEB`, cmake/package.cmake): built from the build folder into a temp dir,
inspected (`dpkg-deb -I`/`-c`), unpacked (`dpkg-deb -x`), and its binary run from the unpacked tree
with the options of its own /etc/tapedeck/tapedeck.conf: it must serve the player, a vendored npm
library and the sample dataset from the unpacked files. `systemd-analyze verify` checks the units,
tapedeck.service and an instance of tapedeck-worker@.service (copies whose /usr/bin/tapedeck and
/etc/tapedeck paths point into the unpacked tree, as verify needs ExecStart's binary to exist), and
`systemd-analyze security --offline` scores their hardening.

Needs cpack (cmake), dpkg-deb and dpkg-shlibdeps (dpkg-dev), file, systemd-analyze (systemd): all
installed by scripts/bootstrap.sh."""
import glob
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.request

BIN = os.path.abspath(os.environ.get("TAPEDECK_BIN", "build/tapedeck"))
BUILD = os.path.dirname(BIN)
MARKER = "<!-- served from the unpacked package -->"
LIBRARY = "lightweight-charts/lightweight-charts.standalone.production.mjs"
UNIT = "lib/systemd/system/tapedeck.service"
WORKER_UNIT = "lib/systemd/system/tapedeck-worker@.service"
CONF = "etc/tapedeck/tapedeck.conf"
WORKER_CONF = "etc/tapedeck/worker.conf"


def run(*cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120, **kw)


class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="tapedeck-deb-")
        try:
            out = os.path.join(cls.tmp, "out")
            # -B: the package and cpack's staging (_CPack_Packages) go to the temp dir, not build/.
            run("cpack", "-G", "DEB", "--config", os.path.join(BUILD, "CPackConfig.cmake"),
                "-B", out, cwd=BUILD)
            debs = glob.glob(os.path.join(out, "*.deb"))
            assert len(debs) == 1, debs
            cls.deb = debs[0]
            cls.root = os.path.join(cls.tmp, "root")
            run("dpkg-deb", "-x", cls.deb, cls.root)
        except BaseException:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def field(self, name):
        return run("dpkg-deb", "-f", self.deb, name).stdout.strip()

    def test_control(self):
        self.assertEqual(self.field("Package"), "tapedeck")
        depends = self.field("Depends")
        # Computed by dpkg-shlibdeps from the binary's shared libraries.
        for lib in ("libc6", "libstdc++6", "liblua5.4-0", "libsqlite3-0", "libssl3", "libpq5"):
            self.assertRegex(depends, rf"(^|, ){re.escape(lib)} \(>= ", depends)
        self.assertTrue(self.field("Maintainer"))
        self.assertIn("web player", self.field("Description"))
        info = run("dpkg-deb", "-I", self.deb).stdout
        for part in ("conffiles", "postinst", "prerm", "postrm"):
            self.assertIn(f" {part}", info)
        ctrl = os.path.join(self.tmp, "control")
        run("dpkg-deb", "-e", self.deb, ctrl)
        with open(os.path.join(ctrl, "conffiles")) as f:
            self.assertEqual(f.read().split(), ["/" + CONF, "/" + WORKER_CONF])

    def test_contents(self):
        listing = run("dpkg-deb", "-c", self.deb).stdout
        paths = {line.split()[-1].lstrip(".") for line in listing.splitlines()}
        for path in ("/usr/bin/tapedeck", "/" + UNIT, "/" + CONF, "/" + WORKER_UNIT,
                     "/" + WORKER_CONF, "/usr/share/doc/tapedeck/deploy/haproxy.cfg",
                     "/usr/share/tapedeck/web/index.html", "/usr/share/tapedeck/web/app.js",
                     "/usr/share/tapedeck/node_modules/lightweight-charts/dist/"
                     "lightweight-charts.standalone.production.mjs",
                     "/usr/share/tapedeck/node_modules/codemirror/lib/codemirror.js",
                     "/usr/share/tapedeck/node_modules/codemirror/mode/lua/lua.js",
                     "/usr/share/tapedeck/node_modules/vega-datasets/data/sp500-2000.csv",
                     "/usr/share/doc/tapedeck/deploy.md"):
            self.assertIn(path, paths)
        # Exactly the npm packages the server serves (and the sample's), none of the dev tools.
        packages = {p.split("/")[5] for p in paths
                    if p.startswith("/usr/share/tapedeck/node_modules/") and p.count("/") > 5}
        self.assertEqual(packages, {"lightweight-charts", "codemirror", "vega-datasets"})
        codemirror = {p for p in paths if "/node_modules/codemirror/" in p and not p.endswith("/")}
        self.assertFalse({p for p in codemirror
                          if not re.search(r"/codemirror/(lib/|mode/lua/|package\.json|LICENSE)",
                                           p)}, "codemirror files the server does not serve")

    def test_serves_from_the_unpacked_tree(self):
        web = os.path.join(self.root, "usr/share/tapedeck/web")
        with open(os.path.join(web, "index.html"), "a") as f:
            f.write(MARKER + "\n")
        with open(os.path.join(self.root, CONF)) as f:
            conf = f.read()
        opts = shlex.split(re.search(r'^TAPEDECK_OPTS="(.*)"$', conf, re.M).group(1))
        self.assertEqual(opts[opts.index("--port") + 1], "8080")
        opts[opts.index("--port") + 1] = "0"
        state = os.path.join(self.tmp, "state")  # the unit's WorkingDirectory, /var/lib/tapedeck
        os.mkdir(state)
        env = {k: v for k, v in os.environ.items() if k != "TAPEDECK_SAMPLE"}
        proc = subprocess.Popen([os.path.join(self.root, "usr/bin/tapedeck"), "serve", *opts],
                                cwd=state, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            port = None
            deadline = time.time() + 30
            while port is None and time.time() < deadline:
                line = proc.stdout.readline()
                if not line:
                    self.fail("the server exited: " + proc.stderr.read())
                m = re.search(r"listening on http://[^:]+:(\d+)", line)
                port = m and int(m.group(1))
            self.assertIsNotNone(port, "the server did not start")

            def get(path):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
                    return r.status, r.read()

            status, body = get("/")
            self.assertEqual(status, 200)
            self.assertIn(MARKER, body.decode())
            status, body = get("/vendor/" + LIBRARY)
            self.assertEqual(status, 200)
            with open(os.path.join(self.root, "usr/share/tapedeck/node_modules/lightweight-charts/"
                                   "dist", os.path.basename(LIBRARY)), "rb") as f:
                self.assertEqual(body, f.read())
            self.assertEqual(get("/vendor/codemirror-lua/lua.js")[0], 200)
            self.assertEqual(get("/healthz")[0], 200)
            # The sample, found in the unpacked /usr/share/tapedeck, imported as "sp500".
            status, body = get("/datasets")
            self.assertIn("sp500", [d["name"] for d in json.loads(body)])
            self.assertTrue(os.path.exists(os.path.join(state, "tapedeck.db")))
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
            stderr = proc.stderr.read()
            proc.stdout.close()
            proc.stderr.close()
        self.assertEqual(code, 0, stderr)
        self.assertNotIn("libraries are missing", stderr)

    def unit_copy(self, unit=UNIT):
        """The unit with its paths moved into the unpacked tree, under its own name; for the
        worker's template, the path of an instance of it (verify instantiates the template)."""
        with open(os.path.join(self.root, unit)) as f:
            text = f.read()
        if unit == UNIT:
            self.assertIn("ExecStart=/usr/bin/tapedeck serve $TAPEDECK_OPTS\n", text)
            self.assertIn("EnvironmentFile=-/etc/tapedeck/tapedeck.conf\n", text)
        else:
            self.assertIn("ExecStart=/usr/bin/tapedeck worker --store ${TAPEDECK_STORE} "
                          "$TAPEDECK_WORKER_OPTS\n", text)
            self.assertIn("EnvironmentFile=/etc/tapedeck/worker.conf\n", text)
        text = text.replace("/usr/bin/tapedeck", os.path.join(self.root, "usr/bin/tapedeck"))
        text = text.replace("/etc/tapedeck/", os.path.join(self.root, "etc/tapedeck/"))
        units = os.path.join(self.tmp, "units")
        os.makedirs(units, exist_ok=True)
        name = os.path.basename(unit)
        with open(os.path.join(units, name), "w") as f:
            f.write(text)
        return os.path.join(units, name.replace("@.", "@1."))

    def test_systemd_verify(self):
        for unit in (UNIT, WORKER_UNIT):
            with self.subTest(unit=unit):
                path = self.unit_copy(unit)
                r = subprocess.run(["systemd-analyze", "verify", "--man=no", path],
                                   capture_output=True, text=True, timeout=60)
                output = r.stdout + r.stderr
                self.assertEqual(r.returncode, 0, output)
                # Unknown or misspelt settings are only warnings: none may name the unit (its
                # file, or the instance).
                for shown in {os.path.basename(unit), os.path.basename(path)}:
                    self.assertNotIn(shown, output, output)

    def test_systemd_hardening(self):
        for unit in (UNIT, WORKER_UNIT):
            with self.subTest(unit=unit):
                path = self.unit_copy(unit)
                name = os.path.basename(path)
                r = subprocess.run(
                    ["systemd-analyze", "security", "--offline=yes", "--no-pager", path],
                    capture_output=True, text=True, timeout=60)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                m = re.search(rf"Overall exposure level for {re.escape(name)}: (\d+\.\d+)",
                              r.stdout)
                self.assertIsNotNone(m, r.stdout)
                print(f"systemd-analyze security {name}: exposure {m.group(1)}", flush=True)
                # 0 is the safest, 10 the least; systemd calls up to 2.0 "OK".
                self.assertLessEqual(float(m.group(1)), 2.0, r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
