"""Daily rollover (swap) financing on open forex positions of margin accounts.

At each rollover (default 17:00 New York, the forex market's day end) an open position in
BASE/QUOTE earns or pays ``quantity × price × (rate(BASE) − rate(QUOTE) ∓ markup) / 365`` in the
quote currency, three days' worth on Wednesday (the weekend's settlement), nothing on Saturday
and Sunday. It is booked to the venue's ledger, to the strategy's sleeve, and to the position's
round trip, so carry shows up in the trade's PnL.

Applied at the first bar at or after each rollover, before that bar's fills: positions only
change at fills, so a backtest that skips bars books exactly what one that visits every bar does.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np

from genebot.core.calendar import DailyBoundary
from genebot.core.precision import to_decimal
from genebot.data.rates import RatesTable
from genebot.domain.instrument import AccountType

if TYPE_CHECKING:
    from genebot.system.kernel import Kernel

DAYS_PER_YEAR = Decimal(365)
WEDNESDAY, SATURDAY, SUNDAY = 2, 5, 6


class Rollover:
    """Books swap financing on every rollover boundary."""

    def __init__(
        self,
        kernel: Kernel,
        rates: RatesTable,
        boundary: DailyBoundary,
        markup: float = 0.0,
    ) -> None:
        self.kernel = kernel
        self.rates = rates
        self.boundary = boundary
        self.markup = to_decimal(markup)
        self.next_ns: int | None = None
        self.listeners: list[Callable[[int, str, str], None]] = []  # (step, venue, currency)

    def start(self, first_ts: int) -> None:
        self.next_ns = self.boundary.after(self.boundary.at_or_before(first_ts))

    def apply(self, bar_ts: int) -> None:
        """Book every rollover that has passed by ``bar_ts``."""
        while self.next_ns is not None and self.next_ns <= bar_ts:
            self._accrue(self.next_ns)
            self.next_ns = self.boundary.after(self.next_ns)

    def _days(self, at_ns: int) -> int:
        weekday = self.boundary.weekday(at_ns)
        if weekday in (SATURDAY, SUNDAY):
            return 0
        return 3 if weekday == WEDNESDAY else 1

    def _accrue(self, at_ns: int) -> None:
        days = self._days(at_ns)
        if days == 0:
            return
        kernel = self.kernel
        step = int(np.searchsorted(kernel.timeline.step_ts, at_ns, side="left"))
        for position in kernel.portfolio.open_positions():
            inst = kernel.instruments[position.instrument_id]
            venue = kernel.venues[inst.venue]
            if venue.account.account_type is not AccountType.MARGIN:  # type: ignore[attr-defined]
                continue
            diff = self.rates.differential(inst.base, inst.quote, at_ns)
            price = kernel.price_at(inst.id, at_ns)
            if diff is None or price is None:
                continue
            direction = 1 if position.quantity > 0 else -1
            yearly = to_decimal(diff) * direction - self.markup
            amount = inst.round_money(
                abs(position.quantity) * to_decimal(price) * yearly * days / DAYS_PER_YEAR
            )
            if not amount:
                continue
            venue.account.post_financing(
                at_ns,
                inst.quote,
                amount,  # type: ignore[attr-defined]
                f"rollover {position.strategy_id} {inst.symbol}",
            )
            position.accrue_financing(amount)
            sleeve = kernel.portfolio.sleeves[position.strategy_id]
            sleeve.financing += kernel.portfolio.to_account(inst.id, amount)
            for listener in self.listeners:
                listener(min(step, len(kernel.timeline) - 1), inst.venue, inst.quote)
