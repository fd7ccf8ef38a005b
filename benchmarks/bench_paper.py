"""Paper runtime benchmark: replay throughput, bar-to-order latency, memory over a long replay.

On seeded synthetic 1-minute bars (the backtest benchmark's generator), one SMA crossover
strategy with the full risk engine on:

- **throughput**: ``genebot run --speed max`` (the PaperRuntime, journaling every order event
  to a SQLite file) against the per-bar backtest of the same config and data; target >= 0.33x.
- **bar-to-order latency**: for every bar that produced an order, the wall time from the bar
  entering the kernel to the order being journaled and sent (in process); p50 / p99 / max;
  target p99 < 2 ms.
- **memory**: RSS sampled every 10 % of the replay; growth after the first 10 % (warm-up);
  target < 10 %.

Figures are printed, never asserted. ``--bars N`` (default 525,600, one year), ``--short/--long``,
``--feed precomputed|bar_by_bar`` (how the replay's bars reach the kernel: from the precomputed
timeline, or one close time at a time through the StrategyRunner, signals from the trailing
window — the live path; its latency then includes the new bar's indicators and signals).

    .venv/bin/python benchmarks/bench_paper.py
    .venv/bin/python benchmarks/bench_paper.py --bars 100000 --short 50 --long 100
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_backtest import SYMBOL, make_bars


def config(short: int, long: int) -> dict[str, Any]:
    return {
        "strategies": {
            "moving_average": {
                "parameters": {"short_period": short, "long_period": long},
                "symbols": [SYMBOL],
                "timeframes": ["1m"],
            }
        },
        "risk_management": {"enabled": True},
        "backtest": {"initial_cash": 100_000, "fee": 0.001},
    }


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=525_600)
    parser.add_argument("--short", type=int, default=10)
    parser.add_argument("--long", type=int, default=20)
    parser.add_argument("--feed", choices=("precomputed", "bar_by_bar"), default="precomputed")
    args = parser.parse_args()

    from genebot.backtest import run
    from genebot.config.loader import load_config
    from genebot.live import runtime as rt
    from genebot.live.runtime import PaperRuntime
    from genebot.persistence.database import Database
    from genebot.persistence.migrate import ensure_current
    from genebot.system.growing import GrowingKernel

    bars = make_bars(args.bars)
    cfg = load_config(config(args.short, args.long))
    data = {SYMBOL: bars}
    print(f"genebot paper benchmark: {args.bars:,} bars of {SYMBOL} 1m, SMA {args.short}/"
          f"{args.long}, risk engine on, journal on SQLite, feed {args.feed}")  # fmt: skip

    gc.collect()
    t0 = time.perf_counter()
    backtest = run(cfg, data, engine_mode="per_bar")
    bt_s = time.perf_counter() - t0
    print(f"\n[backtest per_bar]  {bt_s:8.2f} s  {args.bars / bt_s:12,.0f} bars/s  "
          f"{len(backtest.orders):,} orders, {len(backtest.trades):,} round trips")  # fmt: skip

    # latency: time each single step that produced an order (the kernel, risk, journal, send)
    latencies: list[float] = []
    samples: list[tuple[int, float]] = []
    original = rt.Kernel.run_steps
    original_extend = GrowingKernel.extend
    every = max(1, args.bars // 10)

    def timed(self: Any, start: int, stop: int, after: Any = None) -> None:
        for step in range(start, stop):
            before = len(self.execution.order_log)
            t = time.perf_counter()
            original(self, step, step + 1, after)
            if len(self.execution.order_log) != before:
                latencies.append(time.perf_counter() - t)
            if step % every == 0:
                samples.append((step, _rss_mb()))

    def timed_extend(self: Any, bars: Any) -> None:  # bar by bar: signals + the kernel
        for bar in list(bars):
            before = len(self.kernel.execution.order_log)
            t = time.perf_counter()
            original_extend(self, (bar,))
            if len(self.kernel.execution.order_log) != before:
                latencies.append(time.perf_counter() - t)
            if self.steps % every == 0:
                samples.append((self.steps, _rss_mb()))

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        ensure_current(db)
        gc.collect()
        t0 = time.perf_counter()
        outcome = PaperRuntime(cfg, db, speed=None, data=data, feed=args.feed).run()
        paper_s = time.perf_counter() - t0
        size = os.path.getsize(Path(tmp) / "bench.db") / 2**20
        same = outcome.result.orders.equals(backtest.orders)
        print(f"[paper --speed max] {paper_s:8.2f} s  {args.bars / paper_s:12,.0f} bars/s  "
              f"{outcome.events_written:,} order events journaled ({size:.0f} MB database); "
              f"orders {'identical to' if same else 'DIFFERENT FROM'} the backtest's")  # fmt: skip
        ratio = bt_s / paper_s
        verdict = "met" if ratio >= 0.33 else "NOT met"
        print(f"  paper / backtest throughput: {ratio:.3f}x (target >= 0.33x: {verdict})")

        arriving = args.feed == "bar_by_bar"
        if arriving:
            GrowingKernel.extend = timed_extend  # type: ignore[method-assign]
        else:
            rt.Kernel.run_steps = timed  # type: ignore[method-assign]
        try:
            db2 = Database(f"sqlite:///{Path(tmp) / 'latency.db'}")
            ensure_current(db2)
            PaperRuntime(cfg, db2, speed=None, data=data, feed=args.feed).run()
        finally:
            rt.Kernel.run_steps = original  # type: ignore[method-assign]
            GrowingKernel.extend = original_extend  # type: ignore[method-assign]
    lat = np.array(latencies) * 1000
    if len(lat):
        p50, p99, top = np.percentile(lat, 50), np.percentile(lat, 99), lat.max()
        verdict = "met" if p99 < 2 else "NOT met"
        print(f"\n[bar-to-order latency] {len(lat):,} bars with an order: p50 {p50:.3f} ms, "
              f"p99 {p99:.3f} ms, max {top:.3f} ms (target p99 < 2 ms: {verdict})")  # fmt: skip
    if len(samples) >= 3:
        print("\n[RSS over the replay]  " + ", ".join(
            f"{100 * s // args.bars}%: {mb:.0f} MB" for s, mb in samples))  # fmt: skip
        warm = samples[1][1]
        growth = (samples[-1][1] - warm) / warm
        verdict = "met" if growth < 0.10 else "NOT met"
        print(f"  growth after the first 10 %: {growth:+.1%} (target < 10 %: {verdict})")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
