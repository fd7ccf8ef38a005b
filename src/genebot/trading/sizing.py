"""Position sizing: how many units an entry buys when the strategy does not say.

Two calls exist. ``quantity(instrument, price, sleeve_equity)`` is the short one the strategy
base class makes today. ``size(ctx)`` takes a :class:`SizingContext`, which also carries the
stop distance, the ATR, the clock and the closed trades, so risk-based sizers
(:class:`FixedFractional`, :class:`AtrRisk`, and ``genebot.trading.staged.StagedRamp``) can
work. Every sizer has both; every result is floored to the instrument's lot and never negative.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from genebot.core.errors import InputError
from genebot.domain.instrument import Instrument
from genebot.domain.position import ClosedTrade

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class SizingContext:
    """Everything a sizer may look at for one entry.

    ``equity`` is the strategy's sleeve equity in quote currency. ``stop_distance`` is
    ``|entry − stop|`` per unit (``None``: the entry has no stop). ``atr`` is the instrument's
    current average true range. ``now_ns`` is the event time (never the wall clock).
    ``trades`` are the strategy's closed trades so far, oldest first. ``equity_peak`` is the
    highest sleeve equity seen so far (``None``: unknown).
    """

    instrument: Instrument
    price: Decimal
    equity: Decimal
    stop_distance: Decimal | None = None
    atr: Decimal | None = None
    now_ns: int = 0
    trades: Sequence[ClosedTrade] = ()
    equity_peak: Decimal | None = None


class PositionSizer(Protocol):
    needs_equity: bool  # False lets the engine skip valuing the sleeve

    def quantity(self, instrument: Instrument, price: Decimal, sleeve_equity: Decimal) -> Decimal:
        """Units to trade, rounded down to the instrument's lot."""

    def size(self, ctx: SizingContext) -> Decimal:
        """Units to trade given the full context, rounded down to the instrument's lot."""


class StopRule(Protocol):
    """Where a risk-based sizer takes its per-unit stop distance from."""

    def stop_distance(self, ctx: SizingContext) -> Decimal | None:
        """Per-unit distance from entry to stop, or ``None`` when there is none."""


def risk_quantity(
    instrument: Instrument, equity: Decimal, fraction: Decimal, stop_distance: Decimal | None
) -> Decimal:
    """Units whose loss at the stop is at most ``equity × fraction``, floored to the lot.

    Without a positive stop distance the loss per unit is undefined, so the answer is 0.
    """
    if stop_distance is None or stop_distance <= 0 or equity <= 0 or fraction <= 0:
        return ZERO
    budget = equity * fraction
    qty = instrument.round_quantity(budget / stop_distance)
    # Division rounds to the context precision; a quotient rounded up onto a lot boundary
    # would overshoot the budget by one lot, so check the product and back off.
    lot = instrument.lot_size
    while qty > 0 and lot > 0 and qty * stop_distance > budget:
        qty -= lot
    return max(qty, ZERO)


def _check_fraction(name: str, value: Decimal) -> None:
    if not ZERO < value <= 1:
        raise InputError(f"{name} {value} is not allowed: use a fraction in (0, 1], e.g. 0.02")


@dataclass(frozen=True, slots=True)
class FixedQuantity:
    units: Decimal
    needs_equity = False

    def quantity(self, instrument: Instrument, price: Decimal, sleeve_equity: Decimal) -> Decimal:
        return instrument.round_quantity(self.units)

    def size(self, ctx: SizingContext) -> Decimal:
        return self.quantity(ctx.instrument, ctx.price, ctx.equity)


@dataclass(frozen=True, slots=True)
class PercentEquity:
    """A fraction of the strategy's sleeve equity, in quote currency, converted at ``price``."""

    fraction: Decimal
    needs_equity = True

    def quantity(self, instrument: Instrument, price: Decimal, sleeve_equity: Decimal) -> Decimal:
        if price <= 0 or sleeve_equity <= 0:
            return Decimal(0)
        return instrument.round_quantity(sleeve_equity * self.fraction / price)

    def size(self, ctx: SizingContext) -> Decimal:
        return self.quantity(ctx.instrument, ctx.price, ctx.equity)


@dataclass(frozen=True, slots=True)
class FixedAmount:
    """A fixed amount of quote currency per entry."""

    amount: Decimal
    needs_equity = False

    def quantity(self, instrument: Instrument, price: Decimal, sleeve_equity: Decimal) -> Decimal:
        if price <= 0:
            return Decimal(0)
        return instrument.round_quantity(self.amount / price)

    def size(self, ctx: SizingContext) -> Decimal:
        return self.quantity(ctx.instrument, ctx.price, ctx.equity)


@dataclass(frozen=True, slots=True)
class FixedFractional:
    """Risk a fixed fraction of equity per trade: ``equity × risk_fraction / stop_distance``.

    With equity 10,000, ``risk_fraction`` 0.02 and a stop 1,000 away, the entry buys 0.2 units:
    hitting the stop loses 200, i.e. 2 % of equity (before fees and slippage). When the entry
    has no stop (``stop_distance`` ``None`` or <= 0) the loss per unit is undefined, so the
    risk cannot be bounded and the sizer answers 0: no order. The short ``quantity`` call
    carries no stop, so it always answers 0; use ``size``.
    """

    risk_fraction: Decimal
    needs_equity = True

    def __post_init__(self) -> None:
        _check_fraction("risk_fraction", self.risk_fraction)

    def stop_distance(self, ctx: SizingContext) -> Decimal | None:
        return ctx.stop_distance

    def quantity(self, instrument: Instrument, price: Decimal, sleeve_equity: Decimal) -> Decimal:
        return self.size(SizingContext(instrument, price, sleeve_equity))

    def size(self, ctx: SizingContext) -> Decimal:
        return risk_quantity(ctx.instrument, ctx.equity, self.risk_fraction, ctx.stop_distance)


@dataclass(frozen=True, slots=True)
class AtrRisk:
    """Fixed-fractional risk with the stop ``atr_multiple × ATR`` away from the entry.

    With ATR 500 and ``atr_multiple`` 2 the stop is 1,000 away; equity 10,000 at
    ``risk_fraction`` 0.02 then buys 0.2 units. The caller places the stop at
    :meth:`stop_distance` so the sized risk is the real one. Without a positive ATR there is no
    stop distance and the answer is 0 (the short ``quantity`` call carries no ATR: always 0).
    """

    risk_fraction: Decimal
    atr_multiple: Decimal = Decimal(2)
    needs_equity = True

    def __post_init__(self) -> None:
        _check_fraction("risk_fraction", self.risk_fraction)
        if self.atr_multiple <= 0:
            raise InputError(f"atr_multiple {self.atr_multiple} is not allowed: use a value > 0")

    def stop_distance(self, ctx: SizingContext) -> Decimal | None:
        """``atr_multiple × atr`` per unit, or ``None`` when the ATR is missing or not positive."""
        if ctx.atr is None or ctx.atr <= 0:
            return None
        return self.atr_multiple * ctx.atr

    def quantity(self, instrument: Instrument, price: Decimal, sleeve_equity: Decimal) -> Decimal:
        return self.size(SizingContext(instrument, price, sleeve_equity))

    def size(self, ctx: SizingContext) -> Decimal:
        return risk_quantity(
            ctx.instrument, ctx.equity, self.risk_fraction, self.stop_distance(ctx)
        )
