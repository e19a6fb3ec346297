#!/usr/bin/env python3
"""Do two builds show the same runs? Every built-in's outputs from BIN_A and BIN_B, byte for byte.

usage: /usr/bin/python3 bench/same_outputs.py BIN_A BIN_B [BARS]

Generates two datasets (`BIN_A gen`, BARS one-minute bars, 525,600 by default; the second offset
by 30 s so that two-symbol timelines interleave), then for each binary starts `tapedeck serve` on
a fresh SQLite store, uploads them and runs all seven built-ins (defaults and other parameters,
one symbol, two symbols, a from/to period). For each run it keeps: GET /backtests/{id}, /trades,
/equity, /frames at speeds 60 and 3600 and a window range at speed 1, and the first frame of a
WebSocket stream (the tape's head on a long run); and per binary `tapedeck backtest --json` of
every case. Run ids and wall-clock times (created/started/finished) are replaced before comparing;
everything else must be equal. Prints one line per output that differs and a total.
"""
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import tdserver  # noqa: E402
import websockets  # noqa: E402

CASES = [
    ("sma_cross", {}), ("sma_cross", {"fast": 7, "slow": 211}), ("sma_cross", {"fast": 1, "slow": 2}),
    ("ema_cross", {}), ("ema_cross", {"fast": 3, "slow": 97}),
    ("rsi_reversion", {}), ("rsi_reversion", {"period": 3, "lower": 20, "upper": 85}),
    ("bollinger_breakout", {}), ("bollinger_breakout", {"period": 55, "k": 0.3}),
    ("donchian_breakout", {}), ("donchian_breakout", {"entry": 1, "exit": 333}),
    ("macd", {}), ("macd", {"fast": 5, "slow": 35, "signal": 5}),
    ("buy_and_hold", {}),
]


def get(port, path):
    """(status, body) of a GET, without the harness's schema check (slow on whole histories)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=120) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def normalise(raw, run_id):
    text = raw.decode() if isinstance(raw, bytes) else raw
    text = text.replace(run_id, "RUN")
    return re.sub(r'"(created|started|finished)":"[^"]*"', r'"\1":"T"', text)


async def first_ws_frame(port, run_id):
    async with websockets.connect(f"ws://127.0.0.1:{port}/backtests/{run_id}/ws?speed=60",
                                  max_size=None) as ws:
        while True:
            msg = await ws.recv()
            if json.loads(msg).get("t") == "frame":
                return msg


def outputs(binary, csvs, bars):
    tdserver.BIN = binary
    s = tdserver.Server("--workers", "1").start()
    out = {}
    try:
        for name, path in csvs.items():
            with open(path, "rb") as f:
                st, d = s.json("POST", f"/datasets?name={name}&symbol={name.upper()}", f.read())
            assert st == 201, d
        bodies = []
        for strategy, params in CASES:
            bodies.append({"dataset": "a", "strategy": strategy, "params": params})
            bodies.append({"datasets": ["a", "b"], "strategy": strategy, "params": params})
        # A period: from the 1,000th bar to about two thirds of the data (one-minute bars).
        for strategy, params in CASES[::2]:
            bodies.append({"dataset": "a", "strategy": strategy, "params": params,
                           "from": "2023-01-01T16:40:00Z",
                           "to": "2023-09-01T00:00:00Z" if bars > 400_000 else None})
        for k, body in enumerate(bodies):
            body = {key: v for key, v in body.items() if v is not None}
            st, created = s.json("POST", "/backtests", json.dumps(body))
            assert st == 202, created
            run_id = created["id"]
            run = s.wait_run(run_id, timeout=300)
            assert run["status"] == "done", run
            tag = f"{k:02d} {json.dumps(body, sort_keys=True)}"
            for path in ["", "/trades", "/equity", "/frames?speed=60", "/frames?speed=3600",
                         "/frames?speed=1&from=100&to=160"]:
                st, raw = get(s.port, f"/backtests/{run_id}{path}")
                out[f"{tag} GET{path}"] = f"{st} " + normalise(raw, run_id)
            out[f"{tag} ws first frame"] = asyncio.run(first_ws_frame(s.port, run_id))
    finally:
        s.cleanup()
    for strategy, params in CASES:
        cmd = [binary, "backtest", "--csv", csvs["a"], "--strategy", strategy, "--json"]
        for key, v in params.items():
            cmd += ["--param", f"{key}={v}"]
        out[f"cli {strategy} {params}"] = subprocess.run(cmd, capture_output=True, text=True,
                                                         check=True).stdout
    return out


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    a, b = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    bars = int(sys.argv[3]) if len(sys.argv) == 4 else 525_600
    with tempfile.TemporaryDirectory(prefix="same-outputs-") as tmp:
        csvs = {"a": os.path.join(tmp, "a.csv"), "b": os.path.join(tmp, "b.csv")}
        subprocess.run([a, "gen", "--bars", str(bars), "--seed", "42", "--interval", "1m",
                        "--out", csvs["a"]], check=True, capture_output=True)
        subprocess.run([a, "gen", "--bars", str(bars), "--seed", "977", "--interval", "1m",
                        "--start", "2023-01-01T00:00:30Z", "--out", csvs["b"]], check=True,
                       capture_output=True)
        got_a = outputs(a, csvs, bars)
        got_b = outputs(b, csvs, bars)
    differ = 0
    for key in sorted(set(got_a) | set(got_b)):
        if got_a.get(key) != got_b.get(key):
            differ += 1
            print("DIFFERS:", key)
    total = sum(len(v) for v in got_a.values())
    print(f"{len(got_a)} outputs ({total:,} bytes): {differ} differ")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
