"""How long the ``genebot`` command takes before it does anything: ``genebot --help``.

Runs the console-script entry point (``genebot.cli.main:main``, as the installed ``genebot``
script does) in a fresh subprocess several times and prints the best and the median wall time,
then the modules that cost most under ``python -X importtime`` (cumulative, top N). The target
is ``genebot --help`` under 0.3 s.

    .venv/bin/python benchmarks/bench_cli_startup.py                  # 10 runs, top 15 imports
    .venv/bin/python benchmarks/bench_cli_startup.py --runs 20 --args "backtest --help"
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import subprocess
import sys
import time

ENTRY = "import sys; from genebot.cli.main import main; sys.argv[0] = 'genebot'; main()"
TARGET_S = 0.3


def time_runs(args: list[str], runs: int) -> list[float]:
    """Wall time of each of ``runs`` fresh ``genebot ARGS`` processes (after one warm-up)."""
    command = [sys.executable, "-c", ENTRY, *args]
    subprocess.run(command, capture_output=True, check=False)  # warm the file cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
        if proc.returncode not in (0, 2):
            raise SystemExit(f"genebot {' '.join(args)} failed: {proc.stderr.decode()[-500:]}")
    return times


def import_offenders(args: list[str], top: int) -> list[tuple[float, float, str]]:
    """(cumulative ms, self ms, module) of the ``top`` costliest imports, by cumulative time."""
    command = [sys.executable, "-X", "importtime", "-c", ENTRY, *args]
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        fields = line[len("import time:") :].split("|")
        try:
            own, cumulative = int(fields[0]), int(fields[1])
        except ValueError:  # the header line
            continue
        rows.append((cumulative / 1000, own / 1000, fields[2].rstrip()))
    rows.sort(reverse=True)
    return rows[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs (default 10)")
    parser.add_argument("--top", type=int, default=15, help="import offenders shown")
    parser.add_argument("--args", default="--help", help="genebot arguments (default --help)")
    opts = parser.parse_args()
    args = shlex.split(opts.args)
    times = time_runs(args, opts.runs)
    best, median = min(times), statistics.median(times)
    verdict = "within" if median < TARGET_S else "OVER"
    print(f"genebot {opts.args}: {opts.runs} runs, best {best:.3f} s, median {median:.3f} s")
    print(f"target {TARGET_S} s: median {verdict} target")
    print(f"\ntop {opts.top} imports by cumulative time (python -X importtime, one run):")
    print(f"{'cumulative ms':>14} {'self ms':>9}  module")
    for cumulative, own, module in import_offenders(args, opts.top):
        print(f"{cumulative:14.1f} {own:9.1f}  {module}")


if __name__ == "__main__":
    main()
