"""Positions per strategy and instrument, closed trades, and each strategy's capital sleeve.

A sleeve is the share of the account a strategy may use: ``allocated`` capital plus its realized
PnL, minus its fees, plus financing and the unrealized PnL of its open positions — all in the
account currency (PnL of an instrument quoted in another currency, e.g. ETH/BTC, is converted at
the rate of the moment). Strategies size orders from
their sleeve, never from the whole account; the orchestrator later moves ``allocated``.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from genebot.core.precision import to_decimal
from genebot.domain.events import OrderFilled
from genebot.domain.position import DEFAULT_QUANTUM, ClosedTrade, Position

ZERO = Decimal(0)
MarkFn = Callable[[str], float | None]
RateFn = Callable[[str], Decimal | None]  # currency → account-currency rate
ONE = Decimal(1)


class Sleeve:
    """Capital held for one strategy."""

    __slots__ = (
        "_portfolio",
        "allocated",
        "fees",
        "financing",
        "positions",
        "realized_pnl",
        "strategy_id",
    )

    def __init__(
        self, strategy_id: str, allocated: Decimal, portfolio: Portfolio | None = None
    ) -> None:
        self._portfolio = portfolio
        self.strategy_id = strategy_id
        self.allocated = allocated
        self.realized_pnl = ZERO
        self.fees = ZERO
        self.financing = ZERO
        self.positions: dict[str, Position] = {}

    def equity(self, mark: MarkFn) -> Decimal:
        total = self.allocated + self.realized_pnl - self.fees + self.financing
        for iid, pos in self.positions.items():
            if pos.quantity:
                px = mark(iid)
                if px is not None:
                    pnl = pos.unrealized_pnl(to_decimal(px))
                    total += self._portfolio.to_account(iid, pnl) if self._portfolio else pnl
        return total

    def exposure(self, mark: MarkFn) -> Decimal:
        """Gross notional of open positions at current marks."""
        total = ZERO
        for iid, pos in self.positions.items():
            px = mark(iid)
            if pos.quantity and px is not None:
                total += abs(pos.quantity) * to_decimal(px)
        return total


class Portfolio:
    """All sleeves, their positions and the closed round trips."""

    def __init__(
        self,
        mark: MarkFn,
        quanta: dict[str, Decimal] | None = None,
        quotes: dict[str, str] | None = None,
        rate: RateFn | None = None,
    ) -> None:
        self.mark = mark
        self.quotes = quotes or {}  # instrument id → quote currency
        self.rate: RateFn = rate or (lambda currency: ONE)
        self.quanta = quanta or {}  # money quantum per instrument id (default 1e-8)
        self.sleeves: dict[str, Sleeve] = {}
        self.trades: list[ClosedTrade] = []
        self.open_count = 0  # positions not flat, kept up to date at every fill

    def add_sleeve(self, strategy_id: str, allocated: Decimal) -> Sleeve:
        sleeve = Sleeve(strategy_id, allocated, self)
        self.sleeves[strategy_id] = sleeve
        return sleeve

    def position(self, strategy_id: str, instrument_id: str) -> Position:
        positions = self.sleeves[strategy_id].positions
        pos = positions.get(instrument_id)
        if pos is None:
            quantum = self.quanta.get(instrument_id, DEFAULT_QUANTUM)
            pos = positions[instrument_id] = Position(strategy_id, instrument_id, quantum)
        return pos

    def on_fill(self, strategy_id: str, fill: OrderFilled, tag: str) -> list[ClosedTrade]:
        sleeve = self.sleeves[strategy_id]
        pos = self.position(strategy_id, fill.instrument_id)
        was_open = pos.quantity != 0
        realized, closed = pos.apply_fill(
            fill.side, fill.last_qty, fill.last_px, fill.fee, fill.ts_event, tag
        )
        sleeve.realized_pnl += self.to_account(fill.instrument_id, realized)
        sleeve.fees += self.to_account(fill.instrument_id, fill.fee)
        self.trades.extend(closed)
        self.open_count += (pos.quantity != 0) - was_open
        return closed

    def to_account(self, instrument_id: str, amount: Decimal) -> Decimal:
        """``amount`` in the instrument's quote currency, in the account currency now."""
        if not amount:
            return amount
        quote = self.quotes.get(instrument_id)
        rate = self.rate(quote) if quote is not None else ONE
        return amount if rate is None or rate == ONE else amount * rate

    def open_positions(self) -> list[Position]:
        return [p for s in self.sleeves.values() for p in s.positions.values() if p.quantity]
