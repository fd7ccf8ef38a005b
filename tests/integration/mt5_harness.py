"""A genebot execution engine trading on the MT5 stand-in through the MT5 adapter."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from genebot.domain.events import OrderEvent
from genebot.domain.orders import Order
from genebot.execution.engine import ExecutionEngine
from genebot.portfolio.portfolio import Portfolio
from genebot.testkit.mt5_standin import Mt5Standin
from genebot.venues.mt5.execution import Mt5ExecutionClient
from genebot.venues.mt5.symbols import ServerClock, instrument_of, spec_of

D = Decimal
PREFIX = "gbt-"
MAGIC = 777


def standin(at: str = "2018-03-06T10:30:00Z") -> Mt5Standin:
    mt5 = Mt5Standin.with_eurusd()
    assert mt5.initialize(login=mt5.login_id, password=mt5.password, server=mt5.server)
    mt5.set_time(at)
    return mt5


class Mt5Venue:
    """An execution engine on the stand-in (no risk gate, one strategy ``s``)."""

    def __init__(self, mt5: Mt5Standin, *, resolve_after_s: float = 0.0, **kw: Any) -> None:
        self.mt5 = mt5
        self.spec = spec_of(mt5.symbol_info("EURUSD"))
        self.inst = instrument_of("EUR/USD", "mt5", self.spec)
        self.portfolio = Portfolio(lambda iid: 1.2, {self.inst.id: self.inst.money_quantum})
        self.portfolio.add_sleeve("s", D("10000"))
        self.engine = ExecutionEngine(self.portfolio, {self.inst.id: self.inst})
        self.client = Mt5ExecutionClient(
            "mt5", mt5, {self.inst.id: self.inst}, {self.inst.id: self.spec},
            id_prefix=PREFIX, magic=MAGIC, clock=lambda: mt5.now * 1_000_000_000,
            server=ServerClock("+2"), resolve_after_s=resolve_after_s, **kw,
        )  # fmt: skip
        self.events: list[OrderEvent] = []
        self.engine.register_client(self.client)
        self.engine.observe(self.events.append)

    def order(self, side: str, qty: str, kind: str = "MARKET", **kw: Any) -> Order:
        return self.engine.create("s", self.inst, side, D(qty), kind, **kw)

    def kinds(self, order: Order) -> list[str]:
        return [type(e).__name__ for e in self.events if e.client_order_id == order.client_order_id]
