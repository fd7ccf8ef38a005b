"""An execution engine trading on the local Binance emulator through the real ccxt: the
harness for the ccxt client's tests and benchmark (no risk gate, one strategy ``s``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from genebot.config.models import ExchangeConfig
from genebot.domain.events import OrderEvent
from genebot.domain.orders import Order
from genebot.execution.engine import ExecutionEngine
from genebot.portfolio.portfolio import Portfolio
from genebot.testkit.binance_emulator import BinanceEmulator
from genebot.venues.ccxt.calls import Caller
from genebot.venues.ccxt.errors import Backoff
from genebot.venues.ccxt.execution import CcxtExecutionClient, native_protection
from genebot.venues.ccxt.factory import build_exchange, instrument_of
from genebot.venues.ccxt.venue import ExchangeVenue

D = Decimal
SYMBOL = "BTC/USDT"
MARKET = {"tick": "0.01", "step": "0.00001", "min_qty": "0.00001", "min_notional": "5"}
PREFIX = "gbtest-"


@contextmanager
def funded_emulator(fee_rate: str = "0.001") -> Iterator[BinanceEmulator]:
    """The emulator with one market (BTC/USDT at 50,000) and 10,000 USDT to trade."""
    balances = {"USDT": "10000", "BTC": "0"}
    with BinanceEmulator(markets={SYMBOL: MARKET}, balances=balances, fee_rate=fee_rate) as emu:
        emu.set_price(SYMBOL, "50000")
        yield emu


class Venue:
    """An execution engine trading on the emulator through ccxt (no risk gate)."""

    def __init__(
        self, emu: BinanceEmulator, *, resolve_after_s: float = 0.0, native: bool = False
    ) -> None:
        cfg = ExchangeConfig(
            api_key=emu.api_key, api_secret=emu.secret, base_url=emu.url, timeout=1.0
        )
        self.exchange = build_exchange("binance", cfg)
        self.exchange.enableRateLimit = False
        markets = self.exchange.load_markets()
        self.inst = instrument_of(markets[SYMBOL], "binance", self.exchange.precisionMode)
        self.portfolio = Portfolio(lambda iid: 50000.0, {self.inst.id: self.inst.money_quantum})
        self.portfolio.add_sleeve("s", D("10000"))
        self.engine = ExecutionEngine(self.portfolio, {self.inst.id: self.inst})
        self.caller = Caller(self.exchange, Backoff(0.01, 0.05, attempts=3, seed=1))
        self.client = CcxtExecutionClient(
            "binance",
            self.caller,
            {self.inst.id: self.inst},
            id_prefix=PREFIX,
            resolve_after_s=resolve_after_s,
            mark=lambda iid: self.price,
        )
        self.events: list[OrderEvent] = []
        self.price = D("50000")  # the last price genebot knows (the client's pre-send checks)
        if native:  # stops and targets rest on the exchange (a stop and a target: one OCO)
            self.client.native_types, self.client.oco = native_protection(self.exchange, [SYMBOL])
            venue = ExchangeVenue(self.client, {self.inst.id: self.inst})
            venue.load_balances({"USDT": D("10000")})
            self.engine.register_client(venue)
        else:
            self.engine.register_client(self.client)
        self.engine.observe(self.events.append)

    def buy(self, qty: str, kind: str = "MARKET", **kw: Any) -> Order:
        return self.engine.create("s", self.inst, "BUY", D(qty), kind, **kw)

    def kinds(self, order: Order) -> list[str]:
        return [type(e).__name__ for e in self.events if e.client_order_id == order.client_order_id]
