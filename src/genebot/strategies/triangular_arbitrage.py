"""TriangularArbitrageStrategy: a round trip through three pairs on one venue.

Trades: for a triangle such as BTC/USDT, ETH/USDT and ETH/BTC it prices both cycles at the
latest closes, after the taker fee of every leg:

- forward: USDT → BTC (buy BTC/USDT) → ETH (buy ETH/BTC) → USDT (sell ETH/USDT);
- reverse: USDT → ETH (buy ETH/USDT) → BTC (sell ETH/BTC) → USDT (sell BTC/USDT).

When one returns more than ``min_profit_threshold`` it sends the legs one after another (each
needs the currency the previous one bought; with ``fill_timing: close`` the whole cycle completes
at the prices it saw, with ``next_open`` each leg waits a bar — the latency risk is real). A leg
that is refused, cancelled or fills partly is handled: the cycle goes on with what filled, and
whatever cannot go on is sold back to the account currency (unwound).

Parameters: ``currency_triplets`` (default empty: the strategy's three symbols; else one entry
"BTC/USDT,ETH/USDT,ETH/BTC"), ``min_profit_threshold`` (net return of a cycle, default 0.001;
optimize 0.0005–0.005).

Made for: one venue listing all three pairs; opportunities are rare and brief, mostly in fast
markets, and closes are last trades, not quotes — treat bar-based results as an upper bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from genebot.core.errors import ParameterError
from genebot.core.precision import to_decimal
from genebot.domain.orders import Order
from genebot.execution.engine import Protection
from genebot.trading.data import BarView
from genebot.trading.params import Param
from genebot.trading.strategy import Strategy

ONE = Decimal(1)


@dataclass
class Cycle:
    """One round trip in progress: the legs still to send and the orders sent."""

    direction: str  # "forward" | "reverse"
    expected: float
    legs: list[tuple[str, str]]  # (instrument id, side) in order
    step: int = 0
    orders: list[Order] = field(default_factory=list)


class TriangularArbitrageStrategy(Strategy):
    """Round trips through three pairs when their prices disagree by more than the fees."""

    name = "triangular_arbitrage"
    default_data = ("BTC/USDT,ETH/USDT,ETH/BTC", "1m")  # the bundled ETH triangle
    currency_triplets = Param([], doc='e.g. ["BTC/USDT,ETH/USDT,ETH/BTC"]; empty: the symbols')
    min_profit_threshold = Param(
        0.001,
        min=0.0,
        max=0.2,
        opt=(0.0005, 0.005, 0.0005),
        doc="net return of a cycle after all fees",
    )

    def validate_parameters(self) -> None:
        triplets = self.params["currency_triplets"]
        if len(triplets) > 1:
            raise ParameterError(
                f"strategy {self.strategy_id}: currency_triplets takes one "
                "triangle per strategy instance"
            )
        for text in triplets:
            if not isinstance(text, str) or len(text.split(",")) != 3:
                raise ParameterError(
                    f"strategy {self.strategy_id}: currency_triplets entry "
                    f"{text!r} must list three pairs, e.g. BTC/USDT,ETH/USDT,ETH/BTC"
                )

    # -- set-up -------------------------------------------------------------------------
    def on_start(self) -> None:
        # Legs of a hedged cycle: no per-leg stop or target (one would break the hedge).
        self.protection = Protection()
        wanted = self.params["currency_triplets"]
        insts = list(self._instruments.values())
        if wanted:
            names = [s.strip() for s in wanted[0].split(",")]
            insts = [self.instrument(n) for n in names]
        crosses = [i for i in insts if all(i.quote != j.quote for j in insts if j is not i)]
        if len(insts) != 3 or len(crosses) != 1:
            raise ParameterError(
                f"strategy {self.strategy_id} needs a triangle X/Q, Y/Q, Y/X; it has "
                f"{', '.join(i.symbol for i in insts)}"
            )
        self.cross = crosses[0]  # Y/X
        rest = [i for i in insts if i is not self.cross]
        self.x_q = next(i for i in rest if i.base == self.cross.quote)  # X/Q
        self.y_q = next(i for i in rest if i.base == self.cross.base)  # Y/Q
        self.cycle: Cycle | None = None
        self.cycles: list[dict[str, object]] = []

    # -- decisions ----------------------------------------------------------------------
    def returns(self) -> tuple[float, float] | None:
        """Net return of the forward and the reverse cycle at the latest closes."""
        px, py, pyx = (self.ctx.mark(i.id) for i in (self.x_q, self.y_q, self.cross))
        if not px or not py or not pyx:
            return None
        keep = 1.0
        for inst in (self.x_q, self.y_q, self.cross):
            keep *= 1 - float(inst.taker_fee)
        return py / (px * pyx) * keep - 1, px * pyx / py * keep - 1

    def on_bar(self, bar: BarView) -> None:
        if bar.instrument is not self.cross:  # all three closes are known: act once
            return
        if self.cycle is not None:
            self._check_leg()
            return
        rates = self.returns()
        if rates is None:
            return
        forward, reverse = rates
        best = max(forward, reverse)
        if best > self.min_profit_threshold:
            self._start("forward" if forward >= reverse else "reverse", best)

    def _start(self, direction: str, expected: float) -> None:
        x, y, yx = self.x_q.id, self.y_q.id, self.cross.id
        legs = (
            [(x, "BUY"), (yx, "BUY"), (y, "SELL")]
            if direction == "forward"
            else [(y, "BUY"), (yx, "SELL"), (x, "SELL")]
        )
        self.cycle = Cycle(direction, expected, legs)
        first = self.x_q if direction == "forward" else self.y_q
        qty = self.sizer.quantity(
            first, to_decimal(self.ctx.mark(first.id) or 0), self.capital.equity
        )
        self._send(qty)

    def _send(self, qty: Decimal) -> None:
        cycle = self.cycle
        assert cycle is not None
        iid, side = cycle.legs[cycle.step]
        inst = self.instrument(iid)
        qty = inst.round_quantity(qty)
        order = (
            (self.buy if side == "BUY" else self.sell)(iid, qty, tag=f"leg{cycle.step + 1}")
            if qty > 0
            else None
        )
        if order is None:
            self._unwind("a leg sized to zero")
            return
        cycle.orders.append(order)
        self._check_leg()

    def _next_quantity(self, filled: Order) -> Decimal:
        """What the filled leg leaves to carry on with, in the next leg's base units."""
        cycle = self.cycle
        assert cycle is not None
        iid, side = cycle.legs[cycle.step]
        inst = self.instrument(iid)
        fee_keep = ONE - inst.taker_fee
        if side == "BUY" and inst is self.cross:  # bought Y with X: sell all the Y now
            return filled.filled_qty
        if side == "SELL" and inst is self.cross:  # sold Y for X: X received, less the fee
            return filled.filled_qty * filled.avg_px * fee_keep
        if side == "BUY" and inst is self.x_q:  # bought X: spend it on Y/X (fee in X)
            pyx = to_decimal(self.ctx.mark(self.cross.id) or 0)
            return filled.filled_qty / (pyx * (ONE + self.cross.taker_fee)) if pyx else ONE * 0
        return filled.filled_qty  # bought Y: sell all of it on Y/X

    def _check_leg(self) -> None:
        cycle = self.cycle
        if cycle is None or not cycle.orders:
            return
        order = cycle.orders[-1]
        if order.is_open:
            return  # still working (partial fills keep going)
        if order.filled_qty == 0:
            self._unwind(f"leg {cycle.step + 1} {order.status.value}: {order.reason}")
            return
        if cycle.step == len(cycle.legs) - 1:
            self.cycles.append(
                {"direction": cycle.direction, "expected": cycle.expected, "completed": True}
            )
            self.cycle = None
            return
        qty = self._next_quantity(order)
        cycle.step += 1
        self._send(qty)

    def on_fill(self, order: Order, fill: object) -> None:
        if self.cycle is not None and self.cycle.orders and order is self.cycle.orders[-1]:
            self._check_leg()

    def _unwind(self, why: str) -> None:
        """Sell whatever the broken cycle bought back into the account currency."""
        cycle = self.cycle
        self.cycle = None
        if cycle is not None:
            self.cycles.append(
                {
                    "direction": cycle.direction,
                    "expected": cycle.expected,
                    "completed": False,
                    "why": why,
                }
            )
        self.log.info("cycle unwound: %s", why)
        for inst in (self.x_q, self.y_q):
            held = self.ctx.execution.held_base(self.strategy_id, inst)
            qty = inst.round_quantity(held)
            mark = to_decimal(self.ctx.mark(inst.id) or 0)
            if qty > 0 and inst.minimum_problem(qty, mark) is None:  # dust stays: the venue
                self.sell(inst.id, qty, tag="unwind")  # refuses orders under its minimum
