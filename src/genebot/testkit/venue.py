"""One instrument on a simulated venue with an execution engine, stepped bar by bar: the
harness for exchange-rule and store tests (real engine, real exchange, no mocks).

Bars are (open, high, low, close); bar ``i`` opens at ``i`` minutes and is known (closes) at
``i + 1``. Orders placed before ``step`` are decided at the close of the current bar.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np

from genebot.domain.events import OrderEvent, OrderFilled
from genebot.domain.instrument import AccountType, Instrument
from genebot.domain.orders import Order
from genebot.execution.engine import ExecutionEngine
from genebot.portfolio.portfolio import Portfolio
from genebot.venues.sim.bars import BarColumns
from genebot.venues.sim.exchange import SimulatedExchange

D = Decimal
MIN = 60_000_000_000
Bar = tuple[float, float, float, float]
INSTRUMENT = {"tick_size": "0.01", "lot_size": "0.001", "maker_fee": "0.0002", "taker_fee": "0.001"}


class SimVenue:
    """One instrument on a simulated venue, with an execution engine; ``step`` plays a bar."""

    def __init__(
        self, bars: list[Bar], account: AccountType = AccountType.MARGIN, volume: float = 1e9,
        **venue: Any,
    ) -> None:  # fmt: skip
        self.inst = Instrument.create("BTC/USDT", "sim", **INSTRUMENT)
        a = np.array(bars, dtype=float)
        ts = np.arange(len(a), dtype=np.int64) * MIN
        self.bars = BarColumns(ts, a[:, 0], a[:, 1], a[:, 2], a[:, 3], np.full(len(a), volume))
        self.row = 0
        self.ex = SimulatedExchange("sim", account, [self.inst], mark=self.mark, **venue)
        self.ex.attach_bars(self.inst.id, self.bars)
        self.ex.account.deposit(0, "USDT", D("1000000"))
        self.portfolio = Portfolio(self.mark, {self.inst.id: self.inst.money_quantum})
        self.engine = ExecutionEngine(self.portfolio, {self.inst.id: self.inst})
        self.engine.register_client(self.ex)
        self.portfolio.add_sleeve("s", D("1000000"))
        self.ex.clock = lambda: self.engine.now_ns  # the runner's wiring
        self.engine.now_ns = MIN  # deciding at the close of bar 0
        self.events: list[tuple[int, OrderEvent]] = []
        self.engine.observe(lambda e: self.events.append((self.row, e)))

    def mark(self, iid: str) -> float:
        return float(self.bars.close[self.row])

    def place(self, spec: str, **kw: Any) -> Order:
        """``"BUY STOP_LIMIT stop=105 px=104 tif=IOC qty=2"``; the type defaults to MARKET."""
        side, *rest = spec.split()
        kind = rest.pop(0) if rest and "=" not in rest[0] else "MARKET"
        fields = dict(word.split("=") for word in rest)
        qty = D(fields.pop("qty", "1"))
        for short, name in (("px", "price"), ("stop", "trigger_price")):
            if short in fields:
                kw[name] = D(fields.pop(short))
        kw["time_in_force"] = fields.pop("tif", "GTC")
        return self.engine.create("s", self.inst, side, qty, kind, **kw)

    def step(self, rows: int = 1) -> None:
        """Play the next bars as the kernel does: match working orders, then move the clock."""
        for _ in range(rows):
            self.row += 1
            if self.working():
                self.ex.on_bar(self.inst.id, self.row)
            self.engine.now_ns = (self.row + 1) * MIN

    def fills(self, order: Order | None = None) -> list[tuple[int, OrderFilled]]:
        mine = {order.client_order_id} if order else {e.client_order_id for _, e in self.events}
        return [(r, e) for r, e in self.events if isinstance(e, OrderFilled) and e[0] in mine]

    def working(self) -> list[Order]:
        return list(self.ex.book[self.inst.id])
