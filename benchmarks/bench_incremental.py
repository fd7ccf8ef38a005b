"""What a live bar costs: indicators and signals of one new bar from the trailing window.

For each strategy (default parameters), seeded GBM 5-minute bars: the window the rule derives
is given as history at once (``extend``, untimed), then ``--bars`` bars are appended one at a
time through :class:`~genebot.engine.incremental.IncrementalSignals` and each ``append`` is
timed (``indicators`` + ``signals`` on the window, keeping the new row). Printed: the window W
and why, p50 / p99 / max µs per bar, and, for scale, one full-series call over ``--history``
bars (what recomputing everything on each bar would cost at that history). Also printed, not
asserted: whether the appended rows equal the full series (exact, or the largest relative
difference: TA-Lib running sums differ by ulps).

    .venv/bin/python benchmarks/bench_incremental.py                 # 2,000 bars each
    .venv/bin/python benchmarks/bench_incremental.py --bars 500 --strategies ml_pattern
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

import numpy as np

from genebot.domain.market import Bar
from genebot.engine.incremental import IncrementalSignals
from genebot.strategies.registry import builtin_catalog
from genebot.testkit import gbm_bars
from genebot.trading.data import BarData, Signals
from genebot.trading.strategy import Strategy

DEFAULT = ("moving_average", "rsi_strategy", "multi_indicator", "swing_trend_momentum")
TF_NS = 5 * 60 * 1_000_000_000


def make_bars(n: int, seed: int) -> tuple[BarData, list[Bar]]:
    frame = gbm_bars(n, seed=seed, freq="5min", price=40_000.0, sigma=0.002)
    ts = frame.index.asi8.astype(np.int64)
    cols = [frame[c].to_numpy(dtype=np.float64) for c in ("open", "high", "low", "close", "volume")]
    data = BarData("SYN/USDT", TF_NS, ts, *cols)
    bars = [Bar("SYN/USDT@sim", TF_NS, int(ts[i]), *(float(c[i]) for c in cols)) for i in range(n)]
    return data, bars


def agreement(strategy: Strategy, data: BarData, inc: IncrementalSignals, lo: int) -> str:
    """How the appended rows (``lo`` ..) compare with the full series."""
    ind = dict(strategy.indicators(data))
    sig = strategy.signals(data, ind)
    worst = 0.0
    for name, values in ind.items():
        a, b = np.asarray(values, dtype=np.float64)[lo:], inc.indicator(name)[lo:]
        if not np.array_equal(np.isnan(a), np.isnan(b)):
            return f"{name}: NaN differs"
        ok = ~np.isnan(a)
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.abs(a[ok] - b[ok]) / np.maximum(np.abs(a[ok]), np.abs(b[ok]))
        worst = max(worst, float(np.nanmax(rel, initial=0.0)))
    flips = 0
    if sig is not None:
        for name, values in zip(Signals._fields, sig, strict=True):
            if values is not None:
                flips += int((np.asarray(values, dtype=bool)[lo:] != inc.signal(name)[lo:]).sum())
    shown = "exact" if worst == 0 else f"rel ≤ {worst:.1e}"
    return f"{shown}, {flips} signal differences"


def bench(key: str, n: int, history: int, seed: int) -> None:
    cls = builtin_catalog().find(key)
    if cls is None:
        raise SystemExit(f"no built-in strategy {key!r}")
    strategy = cls()
    inc = IncrementalSignals(strategy, BarData, symbol="SYN/USDT", timeframe_ns=TF_NS)
    lead = inc.window + inc.align - 1  # a full window before the first timed bar
    data, bars = make_bars(lead + n, seed)
    inc.extend(bars[:lead])
    costs = np.empty(n)
    clock = time.perf_counter_ns
    for k, bar in enumerate(bars[lead:]):
        t0 = clock()
        inc.append(bar)
        costs[k] = clock() - t0
    us = costs / 1e3
    p50, p99, worst = np.percentile(us, 50), np.percentile(us, 99), us.max()
    big, _ = make_bars(history, seed + 1)
    t0 = clock()
    strategy.signals(big, dict(strategy.indicators(big)))
    full_ms = (clock() - t0) / 1e6
    print(
        f"{key:<22} W {inc.window:>6,} (align {inc.align}: {inc.reason})\n"
        f"{'':<22} per bar p50 {p50:9.1f} µs  p99 {p99:9.1f} µs  max {worst:9.1f} µs  "
        f"| full series of {history:,} bars: {full_ms:8.2f} ms "
        f"| vs full series: {agreement(strategy, data, inc, lead)}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=2000, help="timed appends per strategy")
    parser.add_argument("--history", type=int, default=105_120, help="bars of the full call")
    parser.add_argument("--strategies", default=",".join(DEFAULT), help="comma-separated keys")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    if args.bars < 1 or args.history < 2:
        parser.error("--bars must be >= 1 and --history >= 2")
    logging.basicConfig(level=logging.CRITICAL)
    print(f"{args.bars:,} appends each, GBM 5m bars, default parameters")
    for key in args.strategies.split(","):
        bench(key.strip(), args.bars, args.history, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
