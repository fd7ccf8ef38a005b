"""Backtest throughput benchmark: one year of synthetic 1-minute bars through genebot.

Runs the SMA 10/20 crossover (fixed 10 units, 0.1 % fee, spot venue) on seeded GBM bars in
``per_bar`` and ``fast`` mode, and a plain numpy vectorized reference of the same rules. Prints
bars/s (bars / wall time of the ``genebot.backtest.run`` call; generating the data is not
timed), trades, final equity and peak RSS, next to the project's targets. Each genebot mode runs
in its own subprocess so that its peak RSS is its own.

Timing is reported, never asserted. Correctness is checked and printed (MATCH / MISMATCH):
per_bar and fast must give identical trades, equity curve and final equity, and genebot's final
equity must match the numpy reference to 1e-9 relative. The exit status is 1 on a mismatch.

    .venv/bin/python benchmarks/bench_backtest.py                       # both modes, 525,600 bars
    .venv/bin/python benchmarks/bench_backtest.py --bars 100000 --repeat 3 --mode fast
    .venv/bin/python -m cProfile -s cumtime benchmarks/bench_backtest.py --mode per_bar --in-process
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

F64 = npt.NDArray[np.float64]

SYMBOL = "SYN/USDT"
SHORT, LONG = 10, 20
QUANTITY = 10.0
FEE = 0.001
INITIAL_CASH = 100_000.0
DEFAULT_BARS = 525_600  # one year of 1-minute bars
REL_TOL = 1e-9
TARGETS = {"per_bar": 500_000.0, "fast": 2_000_000.0}  # bars/s
RSS_TARGET_MB = 300.0
RSS_OVER_PLAIN = 0.15  # genebot's peak RSS within 15 % of the plain loop's
_RESULT_TAG = "BENCH_RESULT "


# -- data -------------------------------------------------------------------------------------
def make_bars(n: int, seed: int = 42) -> pd.DataFrame:
    """``n`` seeded GBM 1-minute bars starting 2023-01-01 UTC at price 100.

    Log returns ~ normal(0, 0.0005) per minute; open = previous close; high/low are
    max/min(open, close) widened by a small positive noise; volume is positive.
    """
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.0005, n)))
    open_ = np.empty(n)
    open_[0] = 100.0
    open_[1:] = close[:-1]
    wick = np.abs(rng.normal(0.0, 0.0002, (2, n)))
    high = np.maximum(open_, close) * (1.0 + wick[0])
    low = np.minimum(open_, close) * (1.0 - wick[1])
    volume = rng.uniform(1.0, 1_000.0, n)
    index = pd.date_range("2023-01-01", periods=n, freq="1min", tz="UTC", name="timestamp")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
    )


def genebot_config() -> dict[str, Any]:
    """No ``exchanges`` section: the strategy trades on the default margin-free spot venue.
    The risk engine is off: the benchmark measures the reference semantics the numpy version
    implements (risk limits would resize and halt)."""
    return {
        "risk_management": {"enabled": False},
        "strategies": {
            "moving_average": {
                "parameters": {"short_period": SHORT, "long_period": LONG},
                "symbols": [SYMBOL],
                "timeframes": ["1m"],
                "position_sizing": {"method": "fixed_quantity", "quantity": QUANTITY},
            }
        },
        "backtest": {"initial_cash": INITIAL_CASH, "fee": FEE},
    }


# -- memory -----------------------------------------------------------------------------------
def _status_kb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return float(line.split()[1])
    except OSError:
        pass
    return None


def _maxrss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024  # bytes on macOS


def _reset_peak_rss() -> bool:
    """Reset the kernel's RSS high-water mark (Linux >= 4.0), so VmHWM measures what follows."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


# -- genebot ----------------------------------------------------------------------------------
def _digest(frame: pd.DataFrame) -> str:
    """A short fingerprint of a frame's values, index and column names."""
    h = hashlib.sha256(repr(list(frame.columns)).encode())
    h.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return h.hexdigest()[:16]


def run_genebot(bars: pd.DataFrame, mode: str, repeat: int, trace: bool) -> dict[str, Any]:
    """Best-of-``repeat`` wall time of ``genebot.backtest.run`` and what the run produced."""
    from genebot.backtest import run

    cfg = genebot_config()
    data = {SYMBOL: bars}
    out: dict[str, Any] = {"mode": mode, "bars": len(bars)}
    out["process_peak_before_run_mb"] = _maxrss_mb()
    out["rss_before_run_mb"] = (_status_kb("VmRSS") or 0.0) / 1024
    reset = _reset_peak_rss()
    times: list[float] = []
    peaks: list[float | None] = []
    maxrss: list[float] = []
    result = None
    for _ in range(repeat):
        result = None  # free the previous run (and its reference cycles) before the next
        gc.collect()
        t0 = time.perf_counter()
        result = run(cfg, data, engine_mode=mode)  # type: ignore[arg-type]
        times.append(time.perf_counter() - t0)
        hwm = _status_kb("VmHWM")  # read before anything else allocates
        peaks.append(hwm / 1024 if reset and hwm is not None else None)
        maxrss.append(_maxrss_mb())
    assert result is not None
    out["run_peak_rss_mb"] = None if None in peaks else max(peaks)  # type: ignore[type-var]
    out["process_peak_rss_mb"] = max(*maxrss, out["process_peak_before_run_mb"])
    out["times_s"] = times
    out["best_s"] = min(times)
    out["engine_mode"] = result.stats["engine_mode"]
    out["trades"] = len(result.trades)
    out["orders"] = len(result.orders)
    out["rejected_orders"] = result.stats["rejected_orders"]
    out["strategy_errors"] = result.stats["strategy_errors"]
    out["final_equity_exact"] = str(result.final_equity_exact)
    out["final_equity_curve"] = float(result.equity["equity"].iloc[-1])
    out["fees"] = float(result.trades["fees"].sum()) if len(result.trades) else 0.0
    out["trades_digest"] = _digest(result.trades)
    out["equity_digest"] = _digest(result.equity)
    out["orders_digest"] = _digest(result.orders.drop(columns=["client_order_id"], errors="ignore"))
    out["tracemalloc_peak_mb"] = None
    if trace:  # an extra, untimed run: tracemalloc slows Python code down several times
        result = None
        tracemalloc.start()
        run(cfg, data, engine_mode=mode)  # type: ignore[arg-type]
        out["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return out


# -- numpy reference --------------------------------------------------------------------------
def _sma(x: F64, period: int) -> F64:
    out = np.full(x.shape[0], np.nan)
    if x.shape[0] >= period:
        out[period - 1 :] = np.convolve(x, np.full(period, 1.0), mode="valid") / period
    return out


def numpy_reference(bars: pd.DataFrame) -> dict[str, Any]:
    """The same rules, vectorized: long on a fast-over-slow SMA cross, flat on the cross back;
    a signal on bar i fills at bar i+1's open; 10 units; 0.1 % fee per fill; the open position
    is marked to the last close."""
    o = bars["open"].to_numpy(dtype=np.float64)
    c = bars["close"].to_numpy(dtype=np.float64)
    n = c.shape[0]
    fast, slow = _sma(c, SHORT), _sma(c, LONG)
    entries = np.zeros(n, dtype=bool)
    exits = np.zeros(n, dtype=bool)
    with np.errstate(invalid="ignore"):
        entries[1:] = (fast[1:] > slow[1:]) & (fast[:-1] <= slow[:-1])
        exits[1:] = (fast[1:] < slow[1:]) & (fast[:-1] >= slow[:-1])
    # Wanted position after bar i's close: 1 from an entry on, 0 from an exit on (ffill).
    marks = np.where(entries, 1, np.where(exits, 0, -1))
    last = np.maximum.accumulate(np.where(marks >= 0, np.arange(n), 0))
    wanted = np.where(marks[last] > 0, 1.0, 0.0)
    held = np.zeros(n)  # position held through bar k: what was wanted at bar k-1's close
    held[1:] = wanted[:-1]
    change = np.diff(held, prepend=0.0)
    buys, sells = change > 0, change < 0
    notional = QUANTITY * o
    cash = (
        INITIAL_CASH
        - float(np.sum(notional[buys] * (1.0 + FEE)))
        + float(np.sum(notional[sells] * (1.0 - FEE)))
    )
    final = cash + QUANTITY * held[-1] * c[-1]
    return {
        "final_equity": final,
        "trades": int(sells.sum()),
        "fills": int(buys.sum() + sells.sum()),
        "open_at_end": bool(held[-1] > 0),
        "fees": float(np.sum(notional[buys | sells]) * FEE),
    }


def plain_loop(bars: pd.DataFrame) -> dict[str, Any]:
    """The memory reference: the same bars held the same way (a DataFrame), traded by a plain
    Python loop over them (running SMAs, the same crossover rules, nothing kept per bar). Its
    peak RSS is what any Python backtest of this data costs at least."""
    o = bars["open"].to_numpy(dtype=np.float64).tolist()
    c = bars["close"].to_numpy(dtype=np.float64).tolist()
    s_sum = l_sum = 0.0
    prev = None
    held = 0.0
    cash = INITIAL_CASH
    trades = 0
    want = None
    for i, close in enumerate(c):
        if want is not None:  # fill at this bar's open
            notional = QUANTITY * o[i]
            cash += -notional * (1 + FEE) if want else notional * (1 - FEE)
            held, trades, want = (QUANTITY, trades, None) if want else (0.0, trades + 1, None)
        s_sum += close - (c[i - SHORT] if i >= SHORT else 0.0)
        l_sum += close - (c[i - LONG] if i >= LONG else 0.0)
        if i + 1 < LONG:
            continue
        diff = s_sum / SHORT - l_sum / LONG
        if prev is not None:
            if diff > 0 >= prev and not held:
                want = True
            elif diff < 0 <= prev and held:
                want = False
        prev = diff
    return {"final_equity": cash + held * c[-1], "trades": trades, "peak_rss_mb": _maxrss_mb()}


def time_reference(bars: pd.DataFrame, repeat: int) -> dict[str, Any]:
    times = []
    ref: dict[str, Any] = {}
    for _ in range(repeat):
        t0 = time.perf_counter()
        ref = numpy_reference(bars)
        times.append(time.perf_counter() - t0)
    ref["best_s"] = min(times)
    ref["times_s"] = times
    return ref


# -- orchestration ----------------------------------------------------------------------------
def _worker(args: argparse.Namespace, mode: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    bars = make_bars(args.bars, args.seed)
    generated = time.perf_counter() - t0
    if mode == "plain":
        return plain_loop(bars)
    if mode == "plain_imports":  # the same loop with genebot's libraries loaded (not used)
        import genebot.backtest.runner  # noqa: F401

        return plain_loop(bars)
    out = run_genebot(bars, mode, args.repeat, args.tracemalloc)
    out["generate_s"] = generated
    return out


def _in_subprocess(args: argparse.Namespace, mode: str) -> dict[str, Any]:
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--worker",
        mode,
        "--bars",
        str(args.bars),
        "--repeat",
        str(args.repeat),
        "--seed",
        str(args.seed),
        "--short",
        str(args.short),
        "--long",
        str(args.long),
    ]
    if args.tracemalloc:
        cmd.append("--tracemalloc")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"{mode} worker failed with exit status {proc.returncode}")
    for line in proc.stdout.splitlines():
        if line.startswith(_RESULT_TAG):
            return dict(json.loads(line[len(_RESULT_TAG) :]))
    raise SystemExit(f"{mode} worker printed no result:\n{proc.stdout}{proc.stderr}")


def _source_state(package_dir: str) -> str:
    """The git commit of the genebot sources benchmarked, and whether they have local changes."""

    def git(*cmd: str) -> str:
        try:
            done = subprocess.run(
                ["git", "-C", package_dir, *cmd],
                capture_output=True,
                text=True,
                check=False,
                timeout=10,
            )
        except (OSError, subprocess.SubprocessError):
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return "not a git checkout"
    dirty = git("status", "--porcelain", "--", ".")
    return f"git {commit}" + (" with uncommitted changes" if dirty else ", clean")


def _fmt_rate(rate: float) -> str:
    return f"{rate:>13,.0f} bars/s"


def _fmt_mb(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f} MB"


def _verdict(ok: bool) -> str:
    return "MATCH" if ok else "MISMATCH"


def _report(
    args: argparse.Namespace,
    runs: dict[str, dict[str, Any]],
    ref: dict[str, Any],
    plain: dict[str, Any],
) -> bool:
    n = args.bars
    ok = True
    print(
        f"\ngenebot backtest benchmark: {n:,} bars of {SYMBOL} 1m (seed {args.seed}), "
        f"SMA {SHORT}/{LONG}, {QUANTITY:g} units, fee {FEE:.1%}, best of {args.repeat}"
    )
    print(
        f"python {sys.version.split()[0]}, numpy {np.__version__}, pandas {pd.__version__}, "
        f"{os.cpu_count()} CPU(s)\n"
    )
    if (SHORT, LONG) != (10, 20):
        print("note: the targets are set for SMA 10/20; other periods are for exploring\n")
    ref_rate = n / ref["best_s"]
    for mode, r in runs.items():
        rate = n / r["best_s"]
        target = TARGETS[mode]
        peak = r["process_peak_rss_mb"]
        print(f"[genebot {mode}]  (engine_mode reported: {r['engine_mode']})")
        print(
            f"  wall time        {r['best_s']:10.3f} s   (runs: "
            f"{', '.join(f'{t:.3f}' for t in r['times_s'])}; data generation "
            f"{r['generate_s']:.2f} s, not timed)"
        )
        print(
            f"  throughput     {_fmt_rate(rate)}   target >= {target:,.0f}: "
            f"{'met' if rate >= target else 'NOT met'} ({rate / target:.1%} of target)"
        )
        print(
            f"  trades           {r['trades']:,} closed round trips, {r['orders']:,} orders "
            f"({r['rejected_orders']} rejected), strategy errors {r['strategy_errors']}"
        )
        print(
            f"  final equity     {Decimal(r['final_equity_exact']):,.8f} "
            f"(equity curve last: {r['final_equity_curve']:,.8f})"
        )
        print(
            f"  peak RSS         {_fmt_mb(peak)} whole process (ru_maxrss)   target <= "
            f"{RSS_TARGET_MB:.0f} MB: {'met' if peak <= RSS_TARGET_MB else 'NOT met'}"
        )
        for what, plain_mb in (
            ("plain loop", plain["peak_rss_mb"]),
            ("plain loop with genebot's imports", plain["with_imports_mb"]),
        ):
            within = peak <= plain_mb * (1 + RSS_OVER_PLAIN)  # a target: never the verdict
            print(
                f"                   vs the {what} ({_fmt_mb(plain_mb)}): x{peak / plain_mb:.3f}"
                f" (target <= x{1 + RSS_OVER_PLAIN:.2f}: {'met' if within else 'NOT met'})"
            )
        print(
            f"                   {_fmt_mb(r['run_peak_rss_mb'])} high-water mark during the run "
            f"(RSS before it: {_fmt_mb(r['rss_before_run_mb'])})"
        )
        if r["tracemalloc_peak_mb"] is not None:
            print(
                f"                   {_fmt_mb(r['tracemalloc_peak_mb'])} tracemalloc peak of "
                "one run (Python + numpy allocations)"
            )
        print(
            f"  vs numpy         genebot is {ref_rate / rate:,.1f}x slower than the numpy "
            f"reference (speed ratio genebot/numpy = {rate / ref_rate:.5f})"
        )
        print()
    print("[numpy reference]")
    print(f"  wall time        {ref['best_s']:10.4f} s")
    print(f"  throughput     {_fmt_rate(ref_rate)}")
    print(
        f"  trades           {ref['trades']:,} closed round trips, {ref['fills']:,} fills"
        f"{', position open at the end' if ref['open_at_end'] else ''}"
    )
    print(f"  final equity     {ref['final_equity']:,.8f}\n")
    print("[plain Python loop, same bars held as a DataFrame: the memory reference]")
    print(f"  peak RSS         {_fmt_mb(plain['peak_rss_mb'])} whole process (ru_maxrss)")
    print(
        f"                   {_fmt_mb(plain['with_imports_mb'])} with genebot's libraries "
        "imported first (isolates the engine's own memory)"
    )
    print(f"  trades           {plain['trades']:,} closed round trips\n")

    print("[checks]")
    if "per_bar" in runs and "fast" in runs:
        a, b = runs["per_bar"], runs["fast"]
        for label, key in (
            ("trades", "trades_digest"),
            ("orders", "orders_digest"),
            ("equity curve", "equity_digest"),
            ("final equity", "final_equity_exact"),
        ):
            same = a[key] == b[key]
            ok &= same
            print(
                f"  {'per_bar vs fast ' + label + ':':30s} {_verdict(same)} ({a[key]} / {b[key]})"
            )
    for mode, r in runs.items():
        mine = float(Decimal(r["final_equity_exact"]))
        rel = abs(mine - ref["final_equity"]) / abs(ref["final_equity"])
        same = rel <= REL_TOL
        count = r["trades"] == ref["trades"]
        ok &= same and count
        print(
            f"  {mode + ' vs numpy final equity:':30s} {_verdict(same)} (relative difference "
            f"{rel:.3e}, tolerance {REL_TOL:g})"
        )
        print(
            f"  {mode + ' vs numpy trade count:':30s} {_verdict(count)} "
            f"({r['trades']:,} / {ref['trades']:,})"
        )
    print(f"\noverall: {_verdict(ok)}  (timings are reported, never asserted)")
    return ok


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=DEFAULT_BARS, help="bars to generate")
    parser.add_argument("--repeat", type=int, default=1, help="best of K runs per mode")
    parser.add_argument("--mode", choices=("per_bar", "fast", "both"), default="both")
    parser.add_argument("--seed", type=int, default=42, help="numpy default_rng seed")
    parser.add_argument(
        "--short", type=int, default=SHORT, help="fast SMA period (the targets are for 10)"
    )
    parser.add_argument(
        "--long", type=int, default=LONG, help="slow SMA period (the targets are for 20)"
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run genebot in this process (for profilers); peak RSS then covers all modes",
    )
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="also report the tracemalloc peak of one extra, untimed run per mode (slow)",
    )
    parser.add_argument(
        "--worker", choices=("per_bar", "fast", "plain", "plain_imports"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if not 1 <= args.short < args.long:
        parser.error("--short and --long must satisfy 1 <= short < long")
    if args.bars < args.long + 2 or args.repeat < 1:
        parser.error(f"--bars must be at least {args.long + 2} and --repeat at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    global SHORT, LONG  # the SMA periods every part of the benchmark uses
    args = parse_args(argv)
    SHORT, LONG = args.short, args.long
    if args.worker:
        print(_RESULT_TAG + json.dumps(_worker(args, args.worker)), flush=True)
        return 0
    modes = ["per_bar", "fast"] if args.mode == "both" else [args.mode]
    import genebot

    where = os.path.dirname(os.path.abspath(genebot.__file__))
    print(f"genebot from {where} ({_source_state(where)})", flush=True)
    if args.in_process:
        runs = {m: _worker(args, m) for m in modes}
    else:
        runs = {m: _in_subprocess(args, m) for m in modes}
    plain = _in_subprocess(args, "plain")
    plain["with_imports_mb"] = _in_subprocess(args, "plain_imports")["peak_rss_mb"]
    ref = time_reference(make_bars(args.bars, args.seed), args.repeat)
    return 0 if _report(args, runs, ref, plain) else 1


if __name__ == "__main__":
    sys.exit(main())
