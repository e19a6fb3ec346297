#!/usr/bin/env python3
r"""Sweeps (issue 11) end to end against a real `tapedeck serve`: throughput, memory, playback
under a sweep, cancel latency.

usage: /usr/bin/python3 bench/sweep_bench.py --bin build/tapedeck [--loadgen build/bench/loadgen_driver]
           [--engine-bench build/bench/engine_bench] [MODES...] [--repeat K] [--fast 5:50:5]
           [--slow 60:258:2] [--workers N] [--threads N] [--autogroup-nice -20] [--json-out F]
e.g. (docs/perf.md, "Sweeps"):
  scripts/build.sh --target tapedeck --target engine_bench --target loadgen_driver
  /usr/bin/python3 bench/sweep_bench.py --bin build/tapedeck --autogroup-nice -20 \
      baseline engine sweep cli cancel --repeat 3
  /usr/bin/python3 bench/sweep_bench.py --bin build/tapedeck --autogroup-nice -20 \
      playback --repeat 1 --streams 200 --speed 60 --duration 30

MODES (default: baseline sweep):
  baseline   single runs, as the sweep's reference: POST /backtests -> done for sma_cross
             (default parameters) over the same data, --repeat + 3 runs (the first also loads
             the dataset's bars and is left out of the median); client and server times.
  sweep      the grid (--fast x --slow, sma_cross, pbo_blocks 16, objective sharpe), POST
             /sweeps -> done, --repeat times: client POST -> done, server created -> finished
             and started -> finished, trials/s and bars/s (over the server's started ->
             finished), the server's CPU over the sweep (cores busy), RSS sampled every 20 ms
             and VmHWM at the end. Checks the sweep's valid_trials and that dsr and pbo came back.
  engine     engine_bench's single-thread floor: BM_SweepGridSample (every 25th trial of the
             default grid) and the built-in sma_cross at its defaults; x 2 cores = the ideal.
  cli        the same grid through `tapedeck sweep --csv ... --json` (when the binary has it),
             whole-process wall and CPU time.
  playback   --streams N WebSocket streams at --speed for --duration seconds (the load
             generator, bench/loadgen), first without a sweep, then with sweeps of the grid
             posted back to back for the whole duration: lateness p50/p99, gap p99, windows
             skipped (frames the server merged), frames/s per stream, dropped, errors.
  cancel     DELETE of a running sweep (after --cancel-after seconds of running): the DELETE's
             own time, then the time from sending it until the server's CPU is idle (summed
             over its threads from /proc/PID/task/*/schedstat, ns precision; idle = under 5 %
             of one core over 50 ms), and whether GET then says 404. --repeat times.

--autogroup-nice N: the machine shares the CPU equally between sessions (autogroups), so the
server, the CLI, the load generator and engine_bench start in sessions of their own at that
autogroup nice value (root), to get the cores on a machine other sessions load. --worker-sched
("nice:N" | "idle") changes the Runner's worker threads' priority from outside (an experiment).

Data: `BIN gen --bars 525600 --seed 42 --interval 1m` (one year of one-minute bars) into a temp
dir (or --csv FILE). The server: its own temp store, --port 0, --workers/--threads as given
(default: the server's own, one per core). Only 127.0.0.1 is contacted. Prints readable lines
and one JSON line per figure ({"figure": ...}); --json-out FILE collects them.
"""
import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone

BARS = 525_600


def parse_iso(s):
    # "2026-12-07T02:10:11.123456Z" (FormatIso) -> seconds since the epoch
    s = s.rstrip("Z")
    if "." in s:
        head, frac = s.split(".")
        frac = (frac + "000000")[:6]
        s = f"{head}.{frac}"
        fmt = "%Y-%m-%dT%H:%M:%S.%f"
    else:
        fmt = "%Y-%m-%dT%H:%M:%S"
    return datetime.strptime(s, fmt).replace(tzinfo=timezone.utc).timestamp()


def axis(text):
    """'5:50:5' -> {"from":5,"to":50,"step":5}; '5,10,20' -> [5,10,20]."""
    if ":" in text:
        a, b, c = (int(x) for x in text.split(":"))
        return {"from": a, "to": b, "step": c}
    return [int(x) for x in text.split(",")]


def axis_values(a):
    if isinstance(a, list):
        return a
    return list(range(a["from"], a["to"] + 1, a["step"]))


def loadavg():
    return open("/proc/loadavg").read().split()[:3]


def log(*a):
    print(*a, flush=True)


class Proc:
    """The server seen from /proc."""

    def __init__(self, pid):
        self.pid = pid

    def status_kb(self, key):
        try:
            for line in open(f"/proc/{self.pid}/status"):
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        except OSError:
            pass
        return -1

    def cpu_ns(self):
        """CPU time of all threads, ns (schedstat's first field)."""
        total = 0
        try:
            tids = os.listdir(f"/proc/{self.pid}/task")
        except OSError:
            return -1
        for tid in tids:
            try:
                total += int(open(f"/proc/{self.pid}/task/{tid}/schedstat").read().split()[0])
            except (OSError, ValueError, IndexError):
                pass  # a thread that just ended
        return total

    def threads(self):
        """{tid: (nice, cpu ns, run-queue wait ns)} from /proc/PID/task/*/{stat,schedstat}."""
        out = {}
        try:
            tids = os.listdir(f"/proc/{self.pid}/task")
        except OSError:
            return out
        for tid in tids:
            try:
                a = open(f"/proc/{self.pid}/task/{tid}/schedstat").read().split()
                nice = int(open(f"/proc/{self.pid}/task/{tid}/stat").read().rsplit(")", 1)[1].split()[16])
                out[tid] = (nice, int(a[0]), int(a[1]))
            except (OSError, ValueError, IndexError):
                pass
        return out

    def cpu_s_stat(self):
        f = open(f"/proc/{self.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


class Sampler(threading.Thread):
    """RSS every `period` seconds while running."""

    def __init__(self, proc, period=0.02):
        super().__init__(daemon=True)
        self.proc, self.period = proc, period
        self.peak_kb = 0
        self.samples = []
        self.stop_ev = threading.Event()

    def run(self):
        t0 = time.perf_counter()
        while not self.stop_ev.is_set():
            kb = self.proc.status_kb("VmRSS")
            self.peak_kb = max(self.peak_kb, kb)
            self.samples.append((time.perf_counter() - t0, kb))
            time.sleep(self.period)

    def stop(self):
        self.stop_ev.set()
        self.join()


class Server:
    def __init__(self, binary, args, workdir):
        self.dir = workdir
        self.proc = subprocess.Popen(
            [*NICE, binary, "serve", "--port", "0", "--db", os.path.join(workdir, "tapedeck.db"), *args],
            cwd=workdir, stdout=subprocess.PIPE, stderr=open(os.path.join(workdir, "serve.err"), "w"),
            text=True, start_new_session=True)
        set_autogroup(self.proc.pid)
        deadline = time.time() + 30
        self.port = None
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("server exited: " + open(os.path.join(workdir, "serve.err")).read())
            m = re.search(r"listening on http://[^:]+:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        if not self.port:
            raise RuntimeError("server did not start")
        self.pid = self.proc.pid
        self.p = Proc(self.pid)
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def req(self, method, path, body=None, ctype="application/json"):
        for attempt in range(2):
            try:
                headers = {"Content-Type": ctype} if body is not None else {}
                self.conn.request(method, path, body=body, headers=headers)
                r = self.conn.getresponse()
                raw = r.read()
                return r.status, (json.loads(raw) if raw else None), r
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # keep-alive idle close: reconnect once
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt:
                    raise

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


RESULTS = []
NICE = []
AUTOGROUP_NICE = [None]


def set_autogroup(pid):
    """Linux's autogroup shares the CPU equally between sessions (sched_autogroup_enabled), so a
    process's own nice value counts only inside its session: on a machine shared with other
    sessions' builds it cannot get more than its session's share. --autogroup-nice starts the
    server, the CLI and the load generator each in a session of their own and sets that session's
    nice value (negative: needs root)."""
    if AUTOGROUP_NICE[0] is None:
        return
    with open(f"/proc/{pid}/autogroup", "w") as f:
        f.write(str(AUTOGROUP_NICE[0]))


def emit(figure, **kv):
    kv = {"figure": figure, **kv, "loadavg": loadavg()}
    RESULTS.append(kv)
    log(json.dumps(kv))


def reschedule_workers(pid, how):
    """An experiment without a rebuild: the Runner's worker threads are the server's threads at
    nice kWorkerNice (5, src/api/runner.h); give them nice N ("nice:N") or SCHED_IDLE ("idle")."""
    workers = []
    for tid in map(int, os.listdir(f"/proc/{pid}/task")):
        nice = int(open(f"/proc/{pid}/task/{tid}/stat").read().rsplit(")", 1)[1].split()[16])
        if nice != 5:
            continue
        workers.append(tid)
        if how == "idle":
            os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
        else:
            os.setpriority(os.PRIO_PROCESS, tid, int(how.split(":")[1]))
    if not workers:
        raise SystemExit("no thread at nice 5: not the runner this expects")
    return workers


def run_baseline(s, repeat):
    client, server_total, server_exec = [], [], []
    fills = None
    for i in range(repeat + 1):
        t0 = time.perf_counter()
        st, out, _ = s.req("POST", "/backtests", json.dumps({"dataset": "y1m", "strategy": "sma_cross"}))
        assert st == 202, (st, out)
        while True:
            st, run, _ = s.req("GET", f"/backtests/{out['id']}")
            if run["status"] in ("done", "failed"):
                break
            time.sleep(0.002)
        dt = time.perf_counter() - t0
        assert run["status"] == "done", run
        fills = run["stats"]["fills"]
        if i == 0:
            log(f"  first run (loads the bars): {dt * 1000:.0f} ms")
            continue
        client.append(dt * 1000)
        server_total.append((parse_iso(run["finished"]) - parse_iso(run["created"])) * 1000)
        server_exec.append((parse_iso(run["finished"]) - parse_iso(run["started"])) * 1000)
    med = statistics.median(server_exec)
    log(f"single run POST /backtests -> done, runs 2..{repeat + 1}: client ms {[round(x) for x in client]}"
        f" median {statistics.median(client):.0f}; server created->finished median "
        f"{statistics.median(server_total):.0f} ms, started->finished median {med:.0f} ms "
        f"({BARS / (med / 1000) / 1e6:.1f} M bars/s end to end); fills {fills}")
    emit("single_run", client_ms=[round(x, 1) for x in client],
         client_median_ms=round(statistics.median(client), 1),
         server_created_to_finished_median_ms=round(statistics.median(server_total), 1),
         server_started_to_finished_median_ms=round(med, 1),
         bars_per_s_server=round(BARS / (med / 1000)), fills=fills)


def sweep_body(args, fast, slow):
    return json.dumps({"dataset": "y1m", "strategy": "sma_cross",
                       "params": {"fast": fast, "slow": slow},
                       "objective": "sharpe", "pbo_blocks": args.pbo_blocks})


def post_sweep(s, body):
    st, out, r = s.req("POST", "/sweeps", body)
    if st != 202:
        raise RuntimeError(f"POST /sweeps: {st} {out}")
    return out


def wait_sweep(s, sid, poll=0.02, timeout=600):
    deadline = time.time() + timeout
    while time.time() < deadline:
        st, sw, _ = s.req("GET", f"/sweeps/{sid}")
        if st != 200:
            raise RuntimeError(f"GET /sweeps/{sid}: {st} {sw}")
        if sw["status"] in ("done", "failed"):
            return sw
        time.sleep(poll)
    raise RuntimeError("sweep did not finish")


def run_sweeps(s, args, fast, slow, n_valid):
    body = sweep_body(args, fast, slow)
    rows = []
    for i in range(args.repeat):
        sampler = Sampler(s.p)
        sampler.start()
        cpu0 = s.p.cpu_ns()
        t0 = time.perf_counter()
        out = post_sweep(s, body)
        sw = wait_sweep(s, out["id"])
        dt = time.perf_counter() - t0
        cpu = (s.p.cpu_ns() - cpu0) / 1e9
        sampler.stop()
        hwm = s.p.status_kb("VmHWM")
        if sw["status"] != "done":
            raise RuntimeError(f"sweep failed: {sw.get('error')}")
        n = sw["trials"]
        total = (parse_iso(sw["finished"]) - parse_iso(sw["created"]))
        ex = (parse_iso(sw["finished"]) - parse_iso(sw["started"]))
        dsr = (sw.get("dsr") or {}).get("value")
        pbo = (sw.get("pbo") or {}).get("value")
        row = dict(trials=n, valid=sw.get("valid_trials"), failed=sw.get("failed_trials"),
                   client_s=round(dt, 3), server_created_to_finished_s=round(total, 3),
                   server_started_to_finished_s=round(ex, 3),
                   trials_per_s=round(n / ex, 1), bars_per_s=round(n * BARS / ex),
                   bars_per_s_valid=round((sw.get("valid_trials") or n) * BARS / ex),
                   server_cpu_s=round(cpu, 2), cores_busy=round(cpu / dt, 2),
                   bars_per_cpu_s=round(n * BARS / cpu), cpu_ms_per_trial=round(cpu * 1000 / n, 2),
                   rss_peak_mb=round(sampler.peak_kb / 1024, 1), vmhwm_mb=round(hwm / 1024, 1),
                   dsr=dsr, pbo=pbo, best=(sw.get("best") or {}).get("params"))
        rows.append(row)
        log(f"sweep {i + 1}/{args.repeat}: {n} trials ({row['valid']} valid) client POST->done "
            f"{dt:.2f} s; server created->finished {total:.2f} s, started->finished {ex:.2f} s: "
            f"{row['trials_per_s']} trials/s, {row['bars_per_s'] / 1e6:.1f} M bars/s; server CPU "
            f"{cpu:.1f} s ({row['cores_busy']} cores, {row['bars_per_cpu_s'] / 1e6:.1f} M bars per CPU-second); RSS peak {row['rss_peak_mb']} MB, VmHWM "
            f"{row['vmhwm_mb']} MB; dsr {dsr} pbo {pbo} best {row['best']}")
        emit("sweep", **row)
        if n_valid is not None and row["valid"] != n_valid:
            log(f"  WARNING: expected {n_valid} valid trials")
    if rows:
        med = statistics.median(r["client_s"] for r in rows)
        log(f"sweep median client POST->done {med:.2f} s over {len(rows)} (target <= 10 s); "
            f"max VmHWM {max(r['vmhwm_mb'] for r in rows)} MB (target <= 500 MB)")


def run_cli(args, csv, fast, slow):
    def spec(a):
        if isinstance(a, list):
            return ",".join(map(str, a))
        return f"{a['from']}:{a['to']}:{a['step']}"
    cmd = [args.bin, "sweep", "--csv", csv, "--strategy", "sma_cross", "--grid", f"fast={spec(fast)}",
           "--grid", f"slow={spec(slow)}", "--objective", "sharpe", "--json"]
    probe = subprocess.run([args.bin, "sweep", "--help"], capture_output=True, text=True)
    if "unknown command" in (probe.stdout + probe.stderr).lower() or probe.returncode == 127:
        log("cli: `tapedeck sweep` is not in this binary; skipped")
        return
    for i in range(args.repeat):
        t0 = time.perf_counter()
        p = subprocess.Popen(NICE + ["/usr/bin/time", "-f", "%e %U %S %M"] + cmd, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
        set_autogroup(p.pid)
        stdout, stderr = p.communicate()
        dt = time.perf_counter() - t0
        if p.returncode != 0:
            log(f"cli: exit {p.returncode}: {stderr[-2000:]}")
            return
        e, u, sy, maxrss = stderr.strip().splitlines()[-1].split()
        try:
            out = json.loads(stdout)
        except ValueError:
            out = {}
        n = out.get("trials") if isinstance(out.get("trials"), int) else len(axis_values(fast)) * len(axis_values(slow))
        row = dict(cmd=" ".join(cmd), wall_s=round(dt, 3), user_s=float(u), sys_s=float(sy),
                   max_rss_mb=round(int(maxrss) / 1024, 1), trials=n,
                   trials_per_s=round(n / dt, 1), bars_per_s=round(n * BARS / dt))
        log(f"cli sweep {i + 1}: {dt:.2f} s wall, {u} s user, {sy} s sys, max RSS {row['max_rss_mb']} MB: "
            f"{row['trials_per_s']} trials/s, {row['bars_per_s'] / 1e6:.1f} M bars/s (whole process, CSV import included)")
        emit("cli_sweep", **row)


def run_engine(args):
    """engine_bench's single-thread figures: the grid's floor (BM_SweepGridSample: every 25th trial
    of the default grid) and the built-in sma_cross at its defaults (BM_RunBuiltinSmaCross*)."""
    cmd = [args.engine_bench, "--benchmark_filter=SweepGridSample|BuiltinSmaCross",
           "--benchmark_repetitions=3", "--benchmark_report_aggregates_only=true",
           "--benchmark_format=json"]
    p = subprocess.Popen(NICE + cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    set_autogroup(p.pid)
    out, err = p.communicate()
    if p.returncode != 0:
        log(f"engine_bench: exit {p.returncode}: {err[-2000:]}")
        return
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        name = b["run_name"]
        row = dict(bench=name, cpu_ms=round(b["cpu_time"], 1), real_ms=round(b["real_time"], 1),
                   bars_per_cpu_s=round(b["items_per_second"]), ns_per_bar=round(1e9 / b["items_per_second"], 2),
                   ideal_2_cores_bars_per_s=round(2 * b["items_per_second"]))
        if "trials/s" in b:
            row["trials_per_cpu_s"] = round(b["items_per_second"] / BARS, 1)
            row["fills_per_trial"] = round(b["fills/trial"])
            row["ideal_grid_s_on_2_cores"] = round(1000 * BARS / (2 * b["items_per_second"]), 2)
        log(f"engine {name} (median of 3, one thread): {row['bars_per_cpu_s'] / 1e6:.1f} M bars/s CPU, "
            f"{row['ns_per_bar']} ns/bar; x 2 cores: {row['ideal_2_cores_bars_per_s'] / 1e6:.1f} M bars/s"
            + (f"; the 1,000-trial grid ideally {row['ideal_grid_s_on_2_cores']} s" if "trials/s" in b else ""))
        emit("engine", **row)


def loadgen_streams(args, s, run_id, label):
    cmd = [args.loadgen, "--url", f"http://127.0.0.1:{s.port}", "--run", run_id, "--ws",
           "--n", str(args.streams), "--speed", str(args.speed), "--duration", str(args.duration),
           "--ramp", "500", "--threads", "1", "--server-pid", str(s.pid), "--timeline", "--label", label]
    p = subprocess.Popen(NICE + cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    set_autogroup(p.pid)
    return p


def loadgen_result(p, label):
    out, err = p.communicate()
    if args_global.verbose:
        log(out)
    line = next((l for l in out.splitlines() if l.startswith('{"mode":"streams"')), None)
    if not line:
        raise RuntimeError(f"loadgen gave no result: {out[-2000:]} {err[-2000:]}")
    j = json.loads(line)
    timeline = [l for l in out.splitlines() if l.strip().startswith("timeline")]
    return j, timeline


def summarize_streams(j):
    return dict(n=j["n"], frames_per_s_per_stream=j["frames_per_s_per_stream"],
                stream_fps_min=j["stream_fps_min"],
                lateness_p50_ms=j["lateness"]["p50_ms"], lateness_p99_ms=j["lateness"]["p99_ms"],
                lateness_max_ms=j["lateness"]["max_ms"],
                gap_p50_ms=j["gap"]["p50_ms"], gap_p99_ms=j["gap"]["p99_ms"], gap_max_ms=j["gap"]["max_ms"],
                gaps_over_50ms=j["gaps_over_50ms"], windows_skipped=j["windows_skipped"],
                dropped=j["dropped"], errors=j.get("errors"), server_cpu=j["server_cpu"],
                generator_cpu=j["generator_cpu"], rss_peak_mb=j["server_rss_peak_mb"])


def thread_waits(before, after, seconds):
    """Per thread that ran: its CPU and its time runnable but waiting for a core (run-queue wait),
    as shares of the phase; the busiest nice-0 threads are the I/O threads."""
    rows = []
    for tid, (nice, cpu, wait) in after.items():
        if tid in before:
            c = (cpu - before[tid][1]) / 1e9 / seconds
            w = (wait - before[tid][2]) / 1e9 / seconds
            if c > 0.005:
                rows.append({"tid": int(tid), "nice": nice, "cpu": round(c, 3), "runq_wait": round(w, 3)})
    return sorted(rows, key=lambda r: -r["cpu"])


def run_playback(s, args, fast, slow):
    st, out, _ = s.req("POST", "/backtests", json.dumps({"dataset": "y1m", "strategy": "sma_cross"}))
    assert st == 202, out
    run_id = out["id"]
    while True:
        st, run, _ = s.req("GET", f"/backtests/{run_id}")
        if run["status"] in ("done", "failed"):
            break
        time.sleep(0.01)
    assert run["status"] == "done", run
    for rnd in range(args.repeat):
        # Without a sweep.
        th0, w0 = s.p.threads(), time.perf_counter()
        p = loadgen_streams(args, s, run_id, "no_sweep")
        j, tl = loadgen_result(p, "no_sweep")
        row = summarize_streams(j)
        row["threads"] = thread_waits(th0, s.p.threads(), time.perf_counter() - w0)
        log(f"playback without a sweep (round {rnd + 1}): {row}")
        emit("playback_no_sweep", **row)
        time.sleep(2)
        # With sweeps back to back for the whole duration.
        body = sweep_body(args, fast, slow)
        th0, w0 = s.p.threads(), time.perf_counter()
        p = loadgen_streams(args, s, run_id, "with_sweep")
        time.sleep(0.5)  # the streams opened (200 at 500/s: 0.4 s)
        sweeps, trials_done, polls = [], 0, []
        cpu0 = s.p.cpu_ns()
        t0 = time.perf_counter()
        while p.poll() is None:
            try:
                out = post_sweep(s, body)
            except RuntimeError as e:
                log(f"  no sweep could be posted ({e}); the streams play alone")
                p.wait()
                break
            while True:
                tq = time.perf_counter()
                st, sw, _ = s.req("GET", f"/sweeps/{out['id']}")
                polls.append((time.perf_counter() - tq) * 1000)
                if sw["status"] in ("done", "failed") or p.poll() is not None:
                    break
                time.sleep(args.poll)
            sweeps.append((sw["status"], sw.get("progress", {}).get("done")))
            if sw["status"] == "done" and sw.get("started") and sw.get("finished"):
                trials_done += sw["trials"]
        busy = (s.p.cpu_ns() - cpu0) / 1e9 / (time.perf_counter() - t0)
        # The last sweep may still run: stop it.
        if sweeps and sweeps[-1][0] not in ("done", "failed"):
            s.req("DELETE", f"/sweeps/{out['id']}")
        j, tl = loadgen_result(p, "with_sweep")
        row = summarize_streams(j)
        row["threads"] = thread_waits(th0, s.p.threads(), time.perf_counter() - w0)
        row.update(sweeps=len(sweeps), sweeps_done=sum(1 for x in sweeps if x[0] == "done"),
                   trials_done_in_finished_sweeps=trials_done, server_cores_busy=round(busy, 2),
                   get_sweep_ms_p50=round(statistics.median(polls), 2) if polls else None,
                   get_sweep_ms_max=round(max(polls), 2) if polls else None)
        log(f"playback with sweeps running (round {rnd + 1}): {row}")
        if args.verbose:
            log("\n".join(tl))
        emit("playback_with_sweep", **row)
        time.sleep(2)


def run_cancel(s, args, fast, slow):
    body = sweep_body(args, fast, slow)
    for i in range(args.repeat):
        out = post_sweep(s, body)
        sid = out["id"]
        while True:
            st, sw, _ = s.req("GET", f"/sweeps/{sid}")
            if sw["status"] == "running":
                break
            time.sleep(0.01)
        time.sleep(args.cancel_after)
        st, sw, _ = s.req("GET", f"/sweeps/{sid}")
        progress = sw.get("progress")
        # CPU over the last 200 ms before: the sweep's load.
        c0, w0 = s.p.cpu_ns(), time.perf_counter()
        time.sleep(0.2)
        before = (s.p.cpu_ns() - c0) / 1e9 / (time.perf_counter() - w0)
        t0 = time.perf_counter()
        st, _, _ = s.req("DELETE", f"/sweeps/{sid}")
        t_del = time.perf_counter() - t0
        # Idle: under 5 % of a core over a 50 ms window; the time is that window's start.
        window, idle_at = 0.05, None
        samples = []
        while time.perf_counter() - t0 < 10:
            c = s.p.cpu_ns()
            now = time.perf_counter()
            samples.append((now - t0, c))
            # the latest sample at least `window` before this one
            k = next((k for k in range(len(samples) - 1, -1, -1)
                      if now - t0 - samples[k][0] >= window), None)
            if k is not None:
                share = (c - samples[k][1]) / 1e9 / (now - t0 - samples[k][0])
                if share < 0.05:
                    idle_at = samples[k][0]
                    break
            time.sleep(0.002)
        # Still idle afterwards: CPU over the next 500 ms.
        c1, w1 = s.p.cpu_ns(), time.perf_counter()
        time.sleep(0.5)
        after = (s.p.cpu_ns() - c1) / 1e9 / (time.perf_counter() - w1)
        st404, _, _ = s.req("GET", f"/sweeps/{sid}")
        row = dict(delete_status=st, delete_ms=round(t_del * 1000, 1),
                   cpu_cores_next_500ms=round(after, 3),
                   cpu_cores_before=round(before, 2),
                   idle_after_ms=round(idle_at * 1000, 1) if idle_at is not None else None,
                   get_after=st404, progress_at_cancel=progress)
        log(f"cancel {i + 1}: {row}")
        emit("cancel", **row)
        time.sleep(1)


def main():
    global args_global
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("modes", nargs="*", default=["baseline", "sweep"])
    ap.add_argument("--bin", default="build/tapedeck")
    ap.add_argument("--loadgen", default="build/bench/loadgen_driver")
    ap.add_argument("--engine-bench", default="build/bench/engine_bench")
    ap.add_argument("--csv")
    ap.add_argument("--fast", default="5:50:5")
    ap.add_argument("--slow", default="60:258:2")
    ap.add_argument("--pbo-blocks", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers")
    ap.add_argument("--threads")
    ap.add_argument("--serve-arg", action="append", default=[])
    ap.add_argument("--streams", type=int, default=200)
    ap.add_argument("--speed", type=float, default=60)
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--cancel-after", type=float, default=2.0)
    ap.add_argument("--nice", type=int, help="run the server, the CLI and the load generator at this "
                    "niceness (e.g. -10, needs root), so that other work on a shared machine skews less")
    ap.add_argument("--autogroup-nice", type=int,
                    help="each of those processes in a session of its own at this autogroup nice "
                    "value (e.g. -10; see set_autogroup)")
    ap.add_argument("--worker-sched", help='experiment: "nice:N" or "idle" for the worker threads')
    ap.add_argument("--poll", type=float, default=0.1,
                    help="playback: seconds between GET /sweeps/{id} while a sweep runs (0.1)")
    ap.add_argument("--json-out")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    args_global = args
    if args.nice is not None:
        NICE[:] = ["nice", "-n", str(args.nice)]
    AUTOGROUP_NICE[0] = args.autogroup_nice
    args.bin = os.path.abspath(args.bin)
    args.loadgen = os.path.abspath(args.loadgen)
    args.engine_bench = os.path.abspath(args.engine_bench)
    fast, slow = axis(args.fast), axis(args.slow)
    fv, sv = axis_values(fast), axis_values(slow)
    n_valid = sum(1 for f in fv for s_ in sv if f < s_)
    model = subprocess.run(["sh", "-c", "lscpu | grep 'Model name'"], capture_output=True, text=True).stdout
    log(f"load average {' '.join(loadavg())}; {os.cpu_count()} cores; {' '.join(model.split())}")
    commit = subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(__file__)), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    log(f"binary {args.bin} (tree at {commit}); grid fast={args.fast} x slow={args.slow}: "
        f"{len(fv) * len(sv)} trials, {n_valid} valid (fast < slow); pbo_blocks {args.pbo_blocks}")
    work = tempfile.mkdtemp(prefix="sweep_bench.")
    s = None
    try:
        csv = args.csv
        if not csv:
            csv = os.path.join(work, "y1m.csv")
            subprocess.run([args.bin, "gen", "--bars", str(BARS), "--seed", "42", "--interval", "1m",
                            "--out", csv], check=True, stdout=subprocess.DEVNULL)
        serve = []
        if args.workers:
            serve += ["--workers", args.workers]
        if args.threads:
            serve += ["--threads", args.threads]
        serve += ["--max-connections-per-address", "100000"]
        serve += args.serve_arg
        s = Server(args.bin, serve, work)
        log(f"server pid {s.pid} port {s.port} args {' '.join(serve) or '(defaults)'}")
        if args.worker_sched:
            workers = reschedule_workers(s.pid, args.worker_sched)
            log(f"worker threads {workers} now {args.worker_sched}")
        st, d, _ = s.req("POST", "/datasets?name=y1m&symbol=Y", open(csv, "rb").read(), "text/csv")
        assert st == 201, d
        for m in args.modes:
            if m == "baseline":
                run_baseline(s, args.repeat + 2)
            elif m == "sweep":
                run_sweeps(s, args, fast, slow, n_valid)
            elif m == "engine":
                run_engine(args)
            elif m == "cli":
                run_cli(args, csv, fast, slow)
            elif m == "playback":
                run_playback(s, args, fast, slow)
            elif m == "cancel":
                run_cancel(s, args, fast, slow)
            else:
                raise SystemExit(f"unknown mode {m}")
        log(f"server VmHWM {s.p.status_kb('VmHWM') / 1024:.1f} MB, VmRSS {s.p.status_kb('VmRSS') / 1024:.1f} MB at the end")
    finally:
        rc = s.stop() if s else None
        if rc not in (0, None):
            log(f"server exit status {rc}: {open(os.path.join(work, 'serve.err')).read()[-2000:]}")
        if args.json_out:
            with open(args.json_out, "w") as f:
                for r in RESULTS:
                    f.write(json.dumps(r) + "\n")
        shutil.rmtree(work, ignore_errors=True)


args_global = None
if __name__ == "__main__":
    main()
