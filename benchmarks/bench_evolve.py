"""Evolution throughput: generations per minute of ``genebot evolve`` (rules grammar).

Population 200 (by default) on the bundled BTC/USDT 1h bars (5,482), risk off, 3 walk-forward
folds of the in-sample 80 %, then held-out scoring of the Pareto front. Prints generations per
minute (generation 0 — a full population of new candidates — timed apart from the later ones,
which re-use the cache of candidates already scored), backtests per minute, and the final held-out
scoring time. Timing is reported, never asserted.

    .venv/bin/python benchmarks/bench_evolve.py                      # population 200, 3 gens
    .venv/bin/python benchmarks/bench_evolve.py --generations 5 --jobs 2
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from genebot.evolution.executor import executor_for
from genebot.evolution.search import Generation, Settings, evolve

ROOT = Path(__file__).resolve().parents[1]
CSV = ROOT / "data/sample/crypto/binance_BTC-USDT_1h.csv"
BASE = {"risk_management": {"enabled": False}, "backtest": {"initial_cash": 100_000, "fee": 0.001}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", type=int, default=200)
    parser.add_argument("--generations", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--scheduler", default=None, help="Dask scheduler address")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    bars = pd.read_csv(CSV, index_col=0, parse_dates=True)
    settings = Settings(
        "BTC/USDT",
        "1h",
        population=args.population,
        generations=args.generations,
        seed=args.seed,
        base=BASE,
    )
    stamps: list[tuple[Generation, float]] = []
    start = time.perf_counter()

    def tick(gen: Generation) -> None:
        stamps.append((gen, time.perf_counter()))
        print(
            f"generation {gen.number:>3}: {gen.evaluated:>4} new candidates, "
            f"{stamps[-1][1] - (stamps[-2][1] if len(stamps) > 1 else start):6.2f} s, "
            f"best sharpe {gen.best_sharpe:.3f}",
            flush=True,
        )

    result = evolve(settings, bars, executor_for(args.jobs, args.scheduler), tick)
    end = time.perf_counter()
    folds = settings.folds
    gen0 = stamps[0][1] - start
    later = stamps[-1][1] - stamps[0][1]
    n_later = len(stamps) - 1
    evaluated = sum(g.evaluated for g, _ in stamps)
    evolution = stamps[-1][1] - start
    print(f"bars {len(bars)}, population {args.population}, folds {folds}, jobs {args.jobs}")
    print(f"generation 0 (all new): {60 / gen0:8.1f} generations/min ({gen0:.2f} s)")
    if n_later:
        print(
            f"generations 1..{n_later}:        {60 * n_later / later:8.1f} generations/min "
            f"({later / n_later:.2f} s each, {evaluated - stamps[0][0].evaluated} new candidates)"
        )
    print(f"overall:                {60 * len(stamps) / evolution:8.1f} generations/min")
    print(f"backtests:              {60 * evaluated * folds / evolution:8.0f} fold runs/min")
    print(f"held-out scoring of {len(result.candidates)}: {end - stamps[-1][1]:.2f} s")
    print(f"candidates tried: {result.tried}")


if __name__ == "__main__":
    main()
