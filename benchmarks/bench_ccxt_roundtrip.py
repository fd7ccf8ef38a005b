"""An order's round trip through the real ccxt to the local Binance emulator, and what genebot
adds over bare ccxt on the same calls (target: under 1 ms added at p99).

Three paths, each N times after a warm-up, in interleaved blocks (the order of the paths rotates
from block to block, so drift in the emulator or the machine falls on each path alike), all on
one emulator and one ccxt instance (one HTTP session), alternating BUY and SELL market orders of
0.001 BTC at 50,000 USDT. The emulator runs in its own process, as an exchange would: as a
thread of this one it would share the GIL and the garbage collector with the code measured
(``--in-process`` shows the difference). The paths:

* **bare ccxt**: ``exchange.create_order(SYMBOL, "market", side, 0.001, None,
  {"clientOrderId": ...})``, the call genebot's client makes, timed per call;
* **genebot**: the same order through ``ExecutionEngine.create`` (no risk gate) → the
  ``CcxtExecutionClient`` → ``Caller`` → ccxt → the emulator's reply → ``OrderAccepted`` and
  ``OrderFilled`` applied to the order, the observer and the portfolio, timed end to end;
* **genebot, shimmed**: the genebot path again with the exchange's ``create_order`` wrapped on
  the instance by a timer, so ``added = total − time inside create_order`` per call: genebot's
  own time, free of the HTTP and emulator noise (which dominates and varies by milliseconds).

``--cancel`` also times LIMIT orders resting far below the price (25,000) placed and canceled
(``exchange.cancel_order`` / ``ExecutionEngine.cancel``), one round trip = place + cancel.

    .venv/bin/python benchmarks/bench_ccxt_roundtrip.py               # 2,000 per path
    .venv/bin/python benchmarks/bench_ccxt_roundtrip.py --n 500 --cancel

The emulator scans all its orders on each placement, so its replies slow down as a run goes on
(~0.03 ms more per 1,000 orders): the rotation spreads that over the paths, and the shimmed figure
does not see it.

Timings are printed, never asserted: the exit status is 0 unless the run itself breaks.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from multiprocessing.connection import Connection
from typing import Any, cast

import ccxt

from genebot.domain.orders import OrderStatus
from genebot.testkit.binance_emulator import BinanceEmulator
from genebot.testkit.ccxt_venue import MARKET, SYMBOL, Venue

TARGET_MS = 1.0  # genebot's added time at p99
QTY = Decimal("0.001")
PRICE = "50000"
REST_PRICE = Decimal("25000")  # a limit buy this far below the price rests until canceled
# 0.1 USDT of fees per BUY/SELL pair; ample for the default run and well beyond.
BALANCES = {"USDT": "1000000", "BTC": "10"}
clock = time.perf_counter_ns


class Emulator:
    """What the benchmark needs of the emulator, wherever it runs: the address and keys
    (all ``Venue`` reads), the number of requests served and of orders held."""

    def __init__(self, url: str, api_key: str, secret: str, ask: Callable[[str], int]) -> None:
        self.url, self.api_key, self.secret = url, api_key, secret
        self._ask = ask

    def requests(self) -> int:
        return self._ask("requests")

    def orders(self) -> int:
        return self._ask("orders")


def _new_emulator() -> BinanceEmulator:
    emu = BinanceEmulator(markets={SYMBOL: MARKET}, balances=BALANCES, fee_rate="0.001")
    emu.start()
    emu.set_price(SYMBOL, PRICE)
    return emu


def _answer(emu: BinanceEmulator, what: str) -> int:
    return len(emu.requests) if what == "requests" else len(emu.orders())


def _serve(conn: Connection) -> None:
    """The emulator process: serve, answer questions on ``conn`` until told to stop."""
    emu = _new_emulator()
    try:
        conn.send((emu.url, emu.api_key, emu.secret))
        while (what := conn.recv()) != "stop":
            conn.send(_answer(emu, what))
    finally:
        emu.stop()


@contextmanager
def emulator(in_process: bool) -> Iterator[Emulator]:
    """The emulator in its own process (default: like a real exchange, it takes neither this
    process's GIL nor its garbage collector), or as a thread of this one."""
    if in_process:
        emu = _new_emulator()
        try:
            yield Emulator(emu.url, emu.api_key, emu.secret, lambda what: _answer(emu, what))
        finally:
            emu.stop()
        return
    ctx = multiprocessing.get_context("spawn")
    mine, theirs = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(theirs,), name="binance-emulator", daemon=True)
    proc.start()
    try:
        url, api_key, secret = mine.recv()

        def ask(what: str) -> int:
            mine.send(what)
            return int(mine.recv())

        yield Emulator(url, api_key, secret, ask)
    finally:
        mine.send("stop")
        proc.join(10)
        if proc.is_alive():
            proc.terminate()


class Shim:
    """Times what the exchange's ``names`` methods take, wrapped on the instance only."""

    def __init__(self, exchange: Any, names: tuple[str, ...]) -> None:
        self.exchange = exchange
        self.names = names
        self.inside_ns = 0

    def _wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kw: Any) -> Any:
            t0 = clock()
            try:
                return fn(*args, **kw)
            finally:
                self.inside_ns += clock() - t0

        return timed

    def __enter__(self) -> Shim:
        for name in self.names:
            setattr(self.exchange, name, self._wrap(getattr(self.exchange, name)))
        return self

    def __exit__(self, *exc: object) -> None:
        for name in self.names:
            delattr(self.exchange, name)  # the class's method again


@dataclass
class Path:
    """One path's round trips: total ns each, and (shimmed) ns inside ccxt each."""

    label: str
    trip: Callable[[], tuple[int, int]]  # (total ns, ns inside ccxt)
    total: list[int] = field(default_factory=list)
    inside: list[int] = field(default_factory=list)
    requests: int = 0
    block_p50: list[float] = field(default_factory=list)


class Bench:
    """The paths on one emulator and one Venue (its ccxt instance serves the bare path too)."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.v = Venue(cast(BinanceEmulator, emu))  # Venue reads url, api_key and secret
        self.ex = self.v.exchange
        self.n = {"bare": 0, "genebot": 0, "shim": 0}
        self.failures: list[str] = []

    def _side(self, path: str) -> str:
        self.n[path] += 1
        return "BUY" if self.n[path] % 2 else "SELL"

    # -- market orders --------------------------------------------------------------------
    def bare_market(self) -> tuple[int, int]:
        side = self._side("bare")
        params = {"clientOrderId": f"bare-m-{self.n['bare']}"}
        lower, amount = side.lower(), float(QTY)
        t0 = clock()
        reply = self.ex.create_order(SYMBOL, "market", lower, amount, None, params)
        dt = clock() - t0
        if reply.get("status") != "closed":
            self.failures.append(f"bare market {side}: {reply.get('status')}")
        return dt, dt

    def genebot_market(self) -> tuple[int, int]:
        return self._genebot_market("genebot")

    def shim_market(self) -> tuple[int, int]:
        with Shim(self.ex, ("create_order",)) as shim:
            total, _ = self._genebot_market("shim")
        return total, shim.inside_ns

    def _genebot_market(self, path: str) -> tuple[int, int]:
        side, v = self._side(path), self.v
        t0 = clock()
        order = v.engine.create("s", v.inst, side, QTY, "MARKET")
        dt = clock() - t0
        if order.status is not OrderStatus.FILLED:
            self.failures.append(f"genebot market {side}: {order.status} {order.reason}")
        return dt, dt

    # -- limit place + cancel -------------------------------------------------------------
    def bare_cancel(self) -> tuple[int, int]:
        self.n["bare"] += 1
        cid = f"bare-l-{self.n['bare']}"
        t0 = clock()
        placed = self.ex.create_order(
            SYMBOL,
            "limit",
            "buy",
            float(QTY),
            float(REST_PRICE),
            {"clientOrderId": cid, "timeInForce": "GTC"},
        )
        reply = self.ex.cancel_order(placed["id"], SYMBOL, {"clientOrderId": cid})
        dt = clock() - t0
        if (placed.get("status"), reply.get("status")) != ("open", "canceled"):
            self.failures.append(f"bare limit: {placed.get('status')} {reply.get('status')}")
        return dt, dt

    def genebot_cancel(self) -> tuple[int, int]:
        return self._genebot_cancel()

    def shim_cancel(self) -> tuple[int, int]:
        with Shim(self.ex, ("create_order", "cancel_order")) as shim:
            total, _ = self._genebot_cancel()
        return total, shim.inside_ns

    def _genebot_cancel(self) -> tuple[int, int]:
        v = self.v
        t0 = clock()
        order = v.engine.create("s", v.inst, "BUY", QTY, "LIMIT", price=REST_PRICE)
        v.engine.cancel(order)
        dt = clock() - t0
        if order.status is not OrderStatus.CANCELED:
            self.failures.append(f"genebot limit: {order.status} {order.reason}")
        return dt, dt


def run_paths(emu: Emulator, paths: list[Path], n: int, warmup: int, blocks: int) -> None:
    """``warmup`` untimed trips per path, then ``n`` per path in ``blocks`` rotating blocks."""
    for path in paths:
        for _ in range(warmup):
            path.trip()
    sizes = [n // blocks + (1 if b < n % blocks else 0) for b in range(blocks)]
    for b, size in enumerate(sizes):
        turn = b % len(paths)
        for path in paths[turn:] + paths[:turn]:
            before, block = emu.requests(), []
            for _ in range(size):
                total, inside = path.trip()
                path.total.append(total)
                path.inside.append(inside)
                block.append(total)
            path.requests += emu.requests() - before
            if block:
                path.block_p50.append(pct(block, 50) / 1e6)


def pct(values: list[int], q: float) -> float:
    """The q-th percentile (linear between the closest ranks)."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def row(label: str, values_ns: list[int]) -> tuple[str, list[float]]:
    stats = [pct(values_ns, q) / 1e6 for q in (50, 90, 99)] + [max(values_ns) / 1e6]
    return label, stats


def report(title: str, bare: Path, genebot: Path, shim: Path, per_trip: int) -> float:
    """Print one table; returns genebot's added ms at p99."""
    added = [t - i for t, i in zip(shim.total, shim.inside, strict=True)]
    rows = [
        row("bare ccxt", bare.total),
        row("genebot total", genebot.total),
        row("genebot total, shimmed run", shim.total),
        row("  inside ccxt (shim)", shim.inside),
        row("  genebot added (total - inside)", added),
    ]
    print(f"\n{title}")
    print(f"{'path':<34}{'p50':>9}{'p90':>9}{'p99':>9}{'max':>9}   (ms)")
    for label, stats in rows:
        print(f"{label:<34}" + "".join(f"{s:>9.3f}" for s in stats))
    b50, b99 = pct(bare.total, 50) / 1e6, pct(bare.total, 99) / 1e6
    g50, g99 = pct(genebot.total, 50) / 1e6, pct(genebot.total, 99) / 1e6
    print(
        f"genebot - bare ccxt: p50 {g50 - b50:+.3f} ms, p99 {g99 - b99:+.3f} ms "
        "(difference of two noisy distributions: HTTP and emulator jitter, not genebot)"
    )
    mean_added = sum(added) / len(added) / 1e6
    print(f"genebot added, mean: {mean_added:.3f} ms")
    reqs = ", ".join(
        f"{p.label} {p.requests / len(p.total) / per_trip:.2f}" for p in (bare, genebot, shim)
    )
    print(f"HTTP requests per call: {reqs}")
    drift = ", ".join(
        f"{p.label} {p.block_p50[0]:.3f} -> {p.block_p50[-1]:.3f}" for p in (bare, genebot, shim)
    )
    print(f"p50 first block -> last block (ms): {drift}")
    return pct(added, 99) / 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="timed round trips per path")
    ap.add_argument("--warmup", type=int, default=100, help="untimed round trips per path")
    ap.add_argument("--blocks", type=int, default=10, help="interleaved blocks per path")
    ap.add_argument("--cancel", action="store_true", help="also limit place + cancel trips")
    ap.add_argument(
        "--in-process", action="store_true", help="run the emulator as a thread of this process"
    )
    args = ap.parse_args(argv)
    if args.n < 1 or args.warmup < 0 or not 1 <= args.blocks <= args.n:
        ap.error("need --n >= 1, --warmup >= 0 and 1 <= --blocks <= --n")
    logging.getLogger("genebot.venues.ccxt").setLevel(logging.ERROR)

    print(
        f"ccxt {ccxt.__version__}, Python {platform.python_version()}, {os.cpu_count()} cores; "
        f"{args.n:,} round trips per path after {args.warmup:,} warm-up, {args.blocks} "
        "interleaved blocks; gc on; emulator "
        + ("in this process" if args.in_process else "in its own process")
    )
    t0 = time.perf_counter()
    with emulator(args.in_process) as emu:
        bench = Bench(emu)
        market = [
            Path("bare", bench.bare_market),
            Path("genebot", bench.genebot_market),
            Path("shimmed", bench.shim_market),
        ]
        run_paths(emu, market, args.n, args.warmup, args.blocks)
        p99 = report(f"market order round trip, {float(QTY)} BTC alternating BUY/SELL", *market, 1)
        if args.cancel:
            limit = [
                Path("bare", bench.bare_cancel),
                Path("genebot", bench.genebot_cancel),
                Path("shimmed", bench.shim_cancel),
            ]
            run_paths(emu, limit, args.n, args.warmup, args.blocks)
            p99_cancel = report(
                f"limit order place + cancel (buy at {REST_PRICE}, resting)", *limit, 2
            )
        orders = emu.orders()
    print(f"\n{orders:,} orders on the emulator; wall {time.perf_counter() - t0:.1f} s")
    if bench.failures:
        print(f"{len(bench.failures)} unexpected outcomes, first: {bench.failures[0]}")
    verdict = "met" if p99 < TARGET_MS else "NOT met"
    if args.cancel:
        print(f"added at p99, place + cancel: {p99_cancel:.3f} ms (two calls)")
    print(f"added at p99: {p99:.3f} ms (target < {TARGET_MS:g} ms): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
