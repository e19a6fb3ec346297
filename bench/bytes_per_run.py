#!/usr/bin/env python3
"""Bytes each built-in's run stores in SQLite: its rows (blobs and columns) summed.

usage: /usr/bin/python3 bench/bytes_per_run.py BIN CSV

Starts `BIN serve` on a fresh store, uploads CSV (e.g. `BIN gen --bars 525600 --seed 42
--interval 1m --out F`), runs every built-in with its defaults, stops the server and sums, per run,
the lengths of its rows in run_equity, run_events, run_trades, run_plots and run_stats (8 bytes a
number). Prints one line per built-in, with the run_plots row apart.
"""
import json
import os
import sqlite3
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import tdserver  # noqa: E402

STRATEGIES = ["sma_cross", "ema_cross", "rsi_reversion", "bollinger_breakout",
              "donchian_breakout", "macd", "buy_and_hold"]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    tdserver.BIN = os.path.abspath(sys.argv[1])
    s = tdserver.Server("--workers", "1").start()
    try:
        with open(sys.argv[2], "rb") as f:
            st, d = s.json("POST", "/datasets?name=a&symbol=A", f.read())
        assert st == 201, d
        ids = {}
        for strategy in STRATEGIES:
            st, created = s.json("POST", "/backtests",
                                 json.dumps({"dataset": "a", "strategy": strategy}))
            assert st == 202, created
            assert s.wait_run(created["id"], timeout=300)["status"] == "done"
            ids[strategy] = created["id"]
        s.stop()
        db = sqlite3.connect(f"file:{s.db}?mode=ro", uri=True)
        for strategy, run_id in ids.items():
            seq = db.execute("SELECT seq FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
            parts = {}
            for table in ["run_equity", "run_events", "run_trades", "run_plots", "run_stats"]:
                row = db.execute(f"SELECT * FROM {table} WHERE run = ?", (seq,)).fetchone()
                if row is not None:
                    parts[table] = sum(len(v) if isinstance(v, (bytes, str)) else 8 for v in row)
            print(f"{strategy}: {sum(parts.values()):,} bytes "
                  f"(run_plots {parts.get('run_plots', 0):,})")
        db.close()
    finally:
        s.cleanup()


if __name__ == "__main__":
    main()
