"""Position sizing: how many units an entry buys when the strategy does not say."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from genebot.domain.instrument import Instrument


class PositionSizer(Protocol):
    needs_equity: bool  # False lets the engine skip valuing the sleeve

    def quantity(self, instrument: Instrument, price: Decimal, sleeve_equity: Decimal) -> Decimal:
        """Units to trade, rounded down to the instrument's lot."""


@dataclass(frozen=True, slots=True)
class FixedQuantity:
    units: Decimal
    needs_equity = False

    def quantity(self, instrument: Instrument, price: Decimal, sleeve_equity: Decimal) -> Decimal:
        return instrument.round_quantity(self.units)


@dataclass(frozen=True, slots=True)
class PercentEquity:
    """A fraction of the strategy's sleeve equity, in quote currency, converted at ``price``."""

    fraction: Decimal
    needs_equity = True

    def quantity(self, instrument: Instrument, price: Decimal, sleeve_equity: Decimal) -> Decimal:
        if price <= 0 or sleeve_equity <= 0:
            return Decimal(0)
        return instrument.round_quantity(sleeve_equity * self.fraction / price)


@dataclass(frozen=True, slots=True)
class FixedAmount:
    """A fixed amount of quote currency per entry."""

    amount: Decimal
    needs_equity = False

    def quantity(self, instrument: Instrument, price: Decimal, sleeve_equity: Decimal) -> Decimal:
        if price <= 0:
            return Decimal(0)
        return instrument.round_quantity(self.amount / price)
