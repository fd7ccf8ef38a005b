"""Peak memory of a whole ``genebot backtest`` process against a plain loop over the same file.

What a user runs: one year of seeded synthetic 1-minute bars (525,600, the dense SMA 10/20
benchmark of ``bench_backtest.py``) written once as a CSV; then, each in its own fresh process,

- ``genebot backtest -c <config> --no-store -q``: read the CSV, run, print the statistics and
  write every output (stats.json, trades.csv, orders.csv, equity.csv, risk_events.csv,
  report.html); and the same command recording the run in a SQLite file (the default), timed
  on its second run (the first creates the file);
- a plain Python loop: ``pandas.read_csv`` of the same file, the same crossover traded over it
  (``bench_backtest.plain_loop``): what any Python backtest of this file costs at least.

Prints each process's peak RSS (``ru_maxrss`` of that child, from ``wait4``), the ratio next to
issue 13's target (genebot within 15 % of the plain loop) and the trade counts of both, which
must agree (exit 1 otherwise). Timing and memory are reported, never asserted.

    .venv/bin/python benchmarks/bench_memory.py                 # 525,600 bars, best of 1
    .venv/bin/python benchmarks/bench_memory.py --bars 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_backtest import SYMBOL, genebot_config, make_bars  # noqa: E402

OVER_PLAIN = 0.15
PLAIN = """
import json, sys
import pandas as pd
sys.path.insert(0, {here!r})
from bench_backtest import plain_loop
bars = pd.read_csv({csv!r}, index_col=0, parse_dates=True)
print(json.dumps(plain_loop(bars)))
"""


def peak_of(cmd: list[str], cwd: Path) -> tuple[float, float, str]:
    """(peak RSS in MB, wall seconds, stdout) of one child process."""
    env = {**os.environ, "GENEBOT_NO_API": "1", "GENEBOT_NO_LOG_FILES": "1"}
    began = time.perf_counter()
    with tempfile.TemporaryFile("w+") as errors:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=errors, text=True
        )
        assert proc.stdout is not None
        out = proc.stdout.read()  # to its end: the child has exited or is exiting
        _, status, usage = os.wait4(proc.pid, 0)  # reaped here, so its own usage is read
        proc.returncode = os.waitstatus_to_exitcode(status)
        proc.stdout.close()
        errors.seek(0)
        err = errors.read()
    took = time.perf_counter() - began
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({proc.returncode}):\n{out}\n{err}")
    return usage.ru_maxrss / 1024, took, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=525_600)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=1, help="lowest peak of K runs each")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="genebot-mem-") as tmp:
        folder = Path(tmp)
        csv = folder / "SYN-USDT_1m.csv"
        make_bars(args.bars, args.seed).to_csv(csv)
        cfg = genebot_config()
        cfg["backtest"]["data"] = [{"file": str(csv), "symbol": SYMBOL, "timeframe": "1m"}]
        cfg["backtest"]["output_dir"] = str(folder / "out")
        (folder / "config.yaml").write_text(yaml.safe_dump(cfg))
        genebot = [str(Path(sys.executable).with_name("genebot"))]
        gcmd = [*genebot, "backtest", "-c", "config.yaml", "--no-store", "-q"]
        pcmd = [sys.executable, "-c", PLAIN.format(here=str(HERE), csv=str(csv))]
        g_runs = [peak_of(gcmd, folder) for _ in range(args.repeat)]
        stored = [*gcmd[:-2], "--database-url", f"sqlite:///{folder / 'runs.db'}", "-q"]
        peak_of(stored, folder)  # creates the file and its schema
        s_runs = [peak_of(stored, folder) for _ in range(args.repeat)]  # the usual case
        p_runs = [peak_of(pcmd, folder) for _ in range(args.repeat)]
        g_peak, g_time = min(r[0] for r in g_runs), min(r[1] for r in g_runs)
        p_peak, p_time = min(r[0] for r in p_runs), min(r[1] for r in p_runs)
        stats = json.loads((folder / "out" / "stats.json").read_text())
        plain = json.loads(p_runs[-1][2].strip().splitlines()[-1])
        written = sorted(p.name for p in (folder / "out").iterdir())
    print(f"{args.bars:,} bars of {SYMBOL} 1m from one CSV, SMA 10/20, best of {args.repeat}")
    print(f"  genebot backtest process  peak RSS {g_peak:8.1f} MB   wall {g_time:6.2f} s")
    print(f"      wrote {', '.join(written)}")
    s_peak, s_time = min(r[0] for r in s_runs), min(r[1] for r in s_runs)
    print(f"  the same, stored (SQLite) peak RSS {s_peak:8.1f} MB   wall {s_time:6.2f} s")
    print(f"  plain loop process        peak RSS {p_peak:8.1f} MB   wall {p_time:6.2f} s")
    for label, peak in (("genebot / plain", g_peak), ("stored / plain", s_peak)):
        ratio = peak / p_peak
        verdict = "met" if ratio <= 1 + OVER_PLAIN else "NOT met"
        print(f"  {label:<25} x{ratio:.3f}   target <= x{1 + OVER_PLAIN:.2f}: {verdict}")
    same = stats["trades"] == plain["trades"]
    print(
        f"  trades                    genebot {stats['trades']:,}, plain {plain['trades']:,}: "
        f"{'MATCH' if same else 'MISMATCH'}"
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
