"""Optimization throughput: trials per minute for the SMA-crossover grid on BTC/USDT 1h.

The grid is ``moving_average`` short 5..50 (step 1) x long 10..200 (step 5), short below long;
``--trials N`` (default 204) of its points are taken in a seeded random order. Data: the bundled
``data/sample/crypto/binance_BTC-USDT_1h.csv`` (5,482 bars), risk management off, 100,000 USDT,
the strategy's default sizing. Each path runs the same N parameter sets:

- ``run loop``: a plain loop of ``genebot.backtest.run(config)`` (reads the file every run);
- ``run_many, no cache``: ``genebot.backtest.run_many`` (data loaded once, indicators recomputed);
- ``run_many, cache``: the same with the indicator cache;
- ``BatchRunner.stats``: the statistics only (no trade/order frames), what a study scores;
- ``Optuna TPE alone``: the same study's sampler with an objective that costs nothing (what
  Optuna itself takes per trial: the ceiling of the optimize path);
- ``optimize (Optuna)``: ``genebot.optimize.study.run_study`` with a TPE sampler in memory
  (Optuna's overhead included; TPE picks its own N points of the same space; a point it draws
  twice is answered from the first, and the count is printed);
- ``optimize --sampler grid``: the same with Optuna's GridSampler over the strategy's declared
  grid (N of its points, in the sampler's seeded order): a grid search through ``optimize``;
- with ``--pg URL``: also ``--jobs 2`` worker processes on a PostgreSQL study.

Prints trials/min per path next to the issue's targets (>= 20,000/min on one process through
the optimize path; >= 1.8x that with two workers). Timing is reported, never asserted; the
run_many results are checked equal to the plain loop's (MATCH / MISMATCH, exit 1 on mismatch).

    .venv/bin/python benchmarks/bench_optimize.py --repeat 3             # best of 3
    .venv/bin/python benchmarks/bench_optimize.py --trials 500 --pg postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BARS = ROOT / "data/sample/crypto/binance_BTC-USDT_1h.csv"
TARGET_ONE = 20_000.0
TARGET_TWO = 1.8 * TARGET_ONE


def config(short: int, long: int) -> dict[str, Any]:
    return {
        "risk_management": {"enabled": False},
        "backtest": {
            "initial_cash": 100_000,
            "data": [{"file": str(BARS), "symbol": "BTC/USDT", "timeframe": "1h"}],
        },
        "strategies": {
            "moving_average": {
                "type": "moving_average",
                "symbols": ["BTC/USDT"],
                "timeframes": ["1h"],
                "parameters": {"short_period": short, "long_period": long},
            }
        },
    }


def grid(n: int, seed: int) -> list[tuple[int, int]]:
    points = [(s, lo) for s in range(5, 51) for lo in range(10, 201, 5) if s < lo]
    random.Random(seed).shuffle(points)
    return points[:n]


def rate(trials: int, seconds: float) -> float:
    return trials / seconds * 60 if seconds > 0 else float("inf")


def line(label: str, trials: int, seconds: float, target: float | None = None) -> None:
    per_min = rate(trials, seconds)
    goal = f"  target {target:>8,.0f}  {per_min / target:5.2f}x" if target else ""
    print(f"{label:<30} {trials:>6} trials {seconds:8.2f}s {per_min:>10,.0f} trials/min{goal}")


def best_of(repeat: int, call: Any) -> tuple[Any, float]:
    """``call()``'s result and its best wall time of ``repeat`` runs."""
    best, out = float("inf"), None
    for _ in range(repeat):
        began = time.perf_counter()
        out = call()
        best = min(best, time.perf_counter() - began)
    return out, best


def bench_loops(points: list[tuple[int, int]], repeat: int) -> bool:
    from genebot.backtest import run, run_many
    from genebot.backtest.batch import BatchRunner

    configs = [config(s, lo) for s, lo in points]
    n = len(configs)
    run(configs[0])  # warm imports and TA-Lib
    singles, took = best_of(repeat, lambda: [run(c) for c in configs])
    line("run loop", n, took)
    ok = True
    for cache in (False, True):
        many, took = best_of(repeat, lambda c=cache: run_many(configs, cache_indicators=c))
        line(f"run_many, {'cache' if cache else 'no cache'}", n, took)
        same = all(
            a.stats == b.stats and a.final_equity_exact == b.final_equity_exact
            for a, b in zip(singles, many, strict=True)
        )
        print(f"{'':<30} results vs run loop: {'MATCH' if same else 'MISMATCH'}")
        ok &= same
    for cache in (False, True):  # what a study scores: the stats only

        def scores(cached: bool = cache) -> list[dict[str, Any]]:
            with BatchRunner(cache_indicators=cached) as runner:
                return [runner.stats(c) for c in configs]

        stats, took = best_of(repeat, scores)
        line(f"BatchRunner.stats, {'cache' if cache else 'no cache'}", n, took)
        same = all(a.stats == b for a, b in zip(singles, stats, strict=True))
        print(f"{'':<30} stats vs run loop: {'MATCH' if same else 'MISMATCH'}")
        ok &= same
    return ok


def spec_for(
    trials: int,
    jobs: int = 1,
    storage: str | None = None,
    study: str = "bench",
    sampler: str = "auto",
) -> Any:
    from genebot.config.loader import load_config
    from genebot.optimize.ranges import declared_ranges
    from genebot.optimize.study import StudySpec, strategy_type

    cfg = load_config(config(10, 20))
    ranges = declared_ranges(strategy_type(cfg, "moving_average").parameters)
    spec = StudySpec("moving_average", cfg, ranges, ("sharpe",), trials, jobs, 1, 1, storage, study)
    spec.sampler = sampler
    return spec


def sampler_only(trials: int) -> Any:
    """The same study with an objective that costs nothing: Optuna's own time per trial."""
    import optuna

    from genebot.optimize.study import make_sampler, suggest

    spec = spec_for(trials)
    study = optuna.create_study(direction="maximize", sampler=make_sampler(spec))

    def objective(trial: Any) -> float:
        params = suggest(trial, spec.ranges)
        trial.set_user_attr("stats", {})
        return float(params["short_period"] - params["long_period"])

    study.optimize(objective, n_trials=trials, gc_after_trial=False)
    return study


def _repeats(study: Any) -> int:
    return sum("same_as" in t.user_attrs for t in study.trials)


def bench_optimize(trials: int, pg: str | None, repeat: int) -> None:
    import optuna

    from genebot.optimize.study import run_study

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study, took = best_of(repeat, lambda: sampler_only(trials))
    line("Optuna TPE alone (no backtest)", len(study.trials), took)
    run_study(spec_for(5))  # warm
    study, took = best_of(repeat, lambda: run_study(spec_for(trials)))
    line("optimize (Optuna, memory)", len(study.trials), took, TARGET_ONE)
    print(f"{'':<30} {_repeats(study)} of them a parameter set drawn before (not re-run)")
    study, took = best_of(repeat, lambda: run_study(spec_for(trials, sampler="grid")))
    line("optimize --sampler grid", len(study.trials), took, TARGET_ONE)
    if pg:
        name = f"bench-{int(time.time())}"
        began = time.perf_counter()
        study = run_study(spec_for(trials, 2, pg, name))
        took = time.perf_counter() - began  # includes starting the two workers
        line("optimize --jobs 2 (PG)", len(study.trials), took, TARGET_TWO)
        began = time.perf_counter()
        study = run_study(spec_for(trials, 1, pg, name + "-one"))
        line("optimize --jobs 1 (PG)", len(study.trials), time.perf_counter() - began)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=204)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--pg", help="PostgreSQL URL: also two worker processes on one study")
    parser.add_argument("--repeat", type=int, default=1, help="best of K runs (not PG)")
    parser.add_argument("--skip-loops", action="store_true", help="only the optimize path")
    args = parser.parse_args()
    print(f"SMA-crossover grid on {BARS.name} (risk off), {args.trials} trials")
    ok = True
    if not args.skip_loops:
        ok = bench_loops(grid(args.trials, args.seed), args.repeat)
    bench_optimize(args.trials, args.pg, args.repeat)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
