"""What one order costs at the bottom of the stack: the domain objects alone.

Runs N market-order life cycles through the domain layer only — an ``OrderInitialized`` event
and its ``Order``, the ``OrderSubmitted``, ``OrderAccepted`` and ``OrderFilled`` transitions, the
exact spot ledger (``Account.settle_fill``) and the netted position (``Position.apply_fill``,
closing a round trip every second order) — with no strategy, execution engine, venue, kernel or
recorder around them. Prints µs per order and what N such orders cost, next to the share of the
backtest benchmark's budget they would take.

This is the floor under ``bench_backtest.py``'s order path: the full path (strategy helpers,
execution engine, simulated exchange, portfolio, equity log) costs about three times as much.
Fast mode's 2,000,000 bars/s target on the 525,600-bar benchmark leaves 0.26 s for the whole run,
including its 29,229 orders.

    .venv/bin/python benchmarks/bench_order_path.py                # 29,229 orders, best of 5
    .venv/bin/python benchmarks/bench_order_path.py --orders 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import sys
import time
from decimal import Decimal

from genebot.domain.account import Account
from genebot.domain.events import (
    OrderAccepted,
    OrderFilled,
    OrderInitialized,
    OrderSubmitted,
)
from genebot.domain.instrument import AccountType, Instrument
from genebot.domain.orders import Order
from genebot.domain.position import Position

BENCH_ORDERS = 29_229  # orders of bench_backtest.py's default run
FAST_BUDGET_S = 525_600 / 2_000_000  # the whole fast-mode run at its target


def life_cycles(n: int) -> float:
    """Seconds for ``n`` order life cycles (alternating buys and sells of 10 units)."""
    inst = Instrument.create("SYN/USDT", "sim", tick_size="0.00000001", lot_size="0.00000001")
    account = Account("sim", AccountType.SPOT)
    account.deposit(0, "USDT", Decimal(10**12))
    position = Position("s", inst.id)
    qty, px, fee = Decimal(10), Decimal("100.12345678"), Decimal("1.00123457")
    t0 = time.perf_counter()
    for i in range(n):
        side = "SELL" if i % 2 else "BUY"
        cid = f"O-{i:08d}"
        init = OrderInitialized(
            cid, "s", inst.id, side, "MARKET", qty, None, None, "GTC", False, "signal", None,
            None, i, i,
        )  # fmt: skip
        order = Order(init)
        order.apply(OrderSubmitted(cid, i, i))
        order.apply(OrderAccepted(cid, f"sim-V-{i:08d}", i, i))
        trade_id = f"sim-T-{i:08d}"
        order.apply(OrderFilled(cid, trade_id, inst.id, side, qty, px, fee, "USDT", "TAKER", i, i))
        account.settle_fill(inst, side, qty, px, fee, Decimal(0), i, cid)
        position.apply_fill(side, qty, px, fee, i, "signal")
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=BENCH_ORDERS, help="life cycles per run")
    parser.add_argument("--repeat", type=int, default=5, help="best of K runs")
    args = parser.parse_args(argv)
    if args.orders < 1 or args.repeat < 1:
        parser.error("--orders and --repeat must be at least 1")
    best = min(life_cycles(args.orders) for _ in range(args.repeat))
    per_order = best / args.orders
    print(f"domain-only order life cycle: {per_order * 1e6:.2f} µs (best of {args.repeat})")
    at_bench = per_order * BENCH_ORDERS
    print(
        f"{BENCH_ORDERS:,} orders (bench_backtest.py's run): {at_bench:.3f} s = "
        f"{at_bench / FAST_BUDGET_S:.0%} of the {FAST_BUDGET_S:.3f} s that a whole run may take "
        "at 2,000,000 bars/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
