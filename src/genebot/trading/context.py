"""The services a running strategy reaches through (the same object in every mode)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from genebot.data.rates import RatesTable
from genebot.domain.instrument import Instrument
from genebot.domain.orders import Order
from genebot.domain.position import Position
from genebot.execution.engine import ExecutionEngine, Protection
from genebot.portfolio.portfolio import Portfolio, Sleeve


class TradingContext:
    """Order entry, positions, sleeves and marks for strategies."""

    def __init__(
        self,
        execution: ExecutionEngine,
        portfolio: Portfolio,
        instruments: dict[str, Instrument],
        mark: Callable[[str], float | None],
        atr: Callable[[str, int], float | None] | None = None,
    ) -> None:
        self.execution = execution
        self.portfolio = portfolio
        self.instruments = instruments
        self.mark = mark
        self.atr = atr or (lambda iid, period: None)
        self.rates: RatesTable | None = None  # interest rates, where the run has them

    @property
    def now_ns(self) -> int:
        return self.execution.now_ns

    def submit(
        self,
        strategy_id: str,
        instrument: Instrument,
        side: str,
        quantity: Decimal,
        order_type: str,
        *,
        price: Decimal | None,
        trigger_price: Decimal | None,
        time_in_force: str,
        reduce_only: bool,
        tag: str,
        protection: Protection | None,
        signal_price: Decimal | None = None,
    ) -> Order:
        return self.execution.create(
            strategy_id,
            instrument,
            side,
            quantity,
            order_type,
            price=price,
            trigger_price=trigger_price,
            time_in_force=time_in_force,
            reduce_only=reduce_only,
            tag=tag,
            protection=protection,
            signal_price=signal_price,
        )

    def cancel(self, order: Order, reason: str) -> None:
        self.execution.cancel(order, reason)

    def position(self, strategy_id: str, instrument_id: str) -> Position:
        return self.portfolio.position(strategy_id, instrument_id)

    def sleeve(self, strategy_id: str) -> Sleeve:
        return self.portfolio.sleeves[strategy_id]

    def open_orders(self, strategy_id: str) -> list[Order]:
        return self.execution.open_orders(strategy_id)

    def has_working_entry(self, strategy_id: str, instrument_id: str) -> bool:
        return self.execution.has_working_entry(strategy_id, instrument_id)

    def working_entries(self, strategy_id: str, instrument_id: str) -> list[Order]:
        return list(self.execution.working_entries(strategy_id, instrument_id))
