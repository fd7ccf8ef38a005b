"""Builds the equity curve from the ledger: balances change only at fills, so the engine logs
them there and the curve is assembled with numpy after the run (cheap on the hot path)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import numpy.typing as npt
import pandas as pd

from genebot.core.errors import InputError
from genebot.data.feed import Timeline, forward_fill_on_steps
from genebot.domain.events import OrderFilled
from genebot.domain.instrument import AccountType, Instrument
from genebot.system.kernel import Kernel
from genebot.venues.sim.exchange import SimulatedExchange

F64 = npt.NDArray[np.float64]


class EquityRecorder:
    """Logs balances, venue positions and open-position counts at every fill."""

    def __init__(self, kernel: Kernel, venues: list[SimulatedExchange], currency: str) -> None:
        self.kernel = kernel
        self.venues = {v.venue: v for v in venues}
        self.currency = currency
        self.balance_log: list[tuple[int, str, str, float]] = []
        self.position_log: list[tuple[int, str, float, float]] = []
        self.open_log: list[tuple[int, int]] = []
        self.initial: dict[tuple[str, str], float] = {}
        kernel.fill_listeners.append(self.on_fill)

    def snapshot_initial(self) -> None:
        for name, venue in self.venues.items():
            for currency, amount in venue.account.balances.items():
                self.initial[(name, currency)] = float(amount)

    def on_fill(self, instrument: Instrument, fill: OrderFilled) -> None:
        step = self.kernel.step
        venue = self.venues[instrument.venue]
        for currency in (instrument.base, instrument.quote):
            self.balance_log.append(
                (step, venue.venue, currency, float(venue.account.balance(currency)))
            )
        if venue.account.account_type is AccountType.MARGIN:  # spot holdings are balances
            pos = venue.positions[instrument.id]
            self.position_log.append((step, instrument.id, float(pos.quantity), float(pos.cost)))
        self.open_log.append((step, self.kernel.portfolio.open_count))

    def on_financing(self, step: int, venue: str, currency: str) -> None:
        """A rollover booked at ``step``: log the new balance there."""
        account = self.venues[venue].account
        self.balance_log.append((step, venue, currency, float(account.balance(currency))))

    # -- assembly -------------------------------------------------------------------------
    def build(self) -> tuple[pd.DataFrame, npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
        """Equity frame (one row per distinct bar time), in-market flags and the step kept."""
        tl = self.kernel.timeline
        n = len(tl)
        equity = np.zeros(n)
        cash = np.zeros(n)
        grouped: dict[tuple[str, str], list[tuple[int, float]]] = {k: [] for k in self.initial}
        for step, venue_name, currency, balance in self.balance_log:
            grouped.setdefault((venue_name, currency), []).append((step, balance))
        rates: dict[str, F64 | float] = {}  # one n-sized array per currency, built once
        for (venue, currency), changes in sorted(grouped.items()):
            series = self._series(changes, self.initial.get((venue, currency), 0.0), n)
            del changes
            if currency == self.currency:
                cash += series
            if np.any(series != 0):
                if currency not in rates:
                    rates[currency] = self._rate(currency, tl)
                series *= rates[currency]  # in place: no n-sized temporary
                equity += series
            del series
        grouped.clear()
        for venue in self.venues.values():
            if venue.account.account_type is AccountType.MARGIN:
                equity += self._unrealized(venue, tl, n)
        opened = self._series([(s, float(k)) for s, k in self.open_log], 0.0, n)
        if tl.single:  # every step is its own bar time
            keep = np.arange(n, dtype=np.int64)
            eq, csh, ts = equity, cash, tl.step_ts
        else:
            keep = np.flatnonzero(np.diff(tl.step_known, append=np.iinfo(np.int64).max) != 0)
            eq, csh, ts = equity[keep], cash[keep], tl.step_ts[keep]
        peak = np.maximum.accumulate(eq)
        frame = pd.DataFrame(
            {"equity": eq, "cash": csh, "drawdown": np.where(peak > 0, eq / peak - 1.0, 0.0)},
            index=pd.DatetimeIndex(pd.to_datetime(ts, utc=True), name="timestamp"),
        )
        in_market = (opened > 0) if tl.single else (opened[keep] > 0)
        return frame, in_market, keep

    @staticmethod
    def _series(changes: list[tuple[int, float]], initial: float, n: int) -> F64:
        """A value per step from (step, value) changes: the last change of a step wins, later
        steps carry it forward, steps before the first change hold ``initial``."""
        if not changes or not n:
            return np.full(n, initial)
        steps = np.fromiter((c[0] for c in changes), dtype=np.int64, count=len(changes))
        values = np.fromiter((c[1] for c in changes), dtype=np.float64, count=len(changes))
        last = np.ones(len(steps), dtype=bool)  # keep the last change of each step
        last[:-1] = steps[1:] != steps[:-1]
        steps, values = steps[last], values[last]
        # Piecewise constant: repeat each value until the next change (one n-sized array).
        bounds = np.concatenate(([0], steps, [n]))
        return np.repeat(np.concatenate(([initial], values)), np.diff(bounds))

    def _rate(self, currency: str, tl: Timeline) -> F64 | float:
        if currency == self.currency:
            return 1.0
        for feed in self.kernel.exec_feed.values():
            inst = feed.instrument
            if inst.base == currency and inst.quote == self.currency:
                return np.nan_to_num(forward_fill_on_steps(feed, feed.close, len(tl)), copy=False)
            if inst.quote == currency and inst.base == self.currency:
                inverse = np.reciprocal(forward_fill_on_steps(feed, feed.close, len(tl)))
                return np.nan_to_num(inverse, copy=False)
        raise InputError(
            f"cannot value {currency} in {self.currency}: add data for {currency}/{self.currency} "
            "or set backtest.quote_currency"
        )

    def _unrealized(self, venue: SimulatedExchange, tl: Timeline, n: int) -> F64:
        total = np.zeros(n)
        for iid, feed in self.kernel.exec_feed.items():
            if feed.instrument.venue != venue.venue:
                continue
            rows = [(s, q, c) for s, i, q, c in self.position_log if i == iid]
            if not rows:
                continue
            qty = self._series([(s, q) for s, q, _ in rows], 0.0, n)
            cost = self._series([(s, c) for s, _, c in rows], 0.0, n)
            close = np.nan_to_num(forward_fill_on_steps(feed, feed.close, n))
            total += (qty * close - cost) * self._rate(feed.instrument.quote, tl)
        return total


def exact_equity(venues: list[SimulatedExchange], currency: str, kernel: Kernel) -> Decimal:
    """Final equity from the exact ledger at the last marks (Decimal)."""
    total = Decimal(0)
    for venue in venues:
        for cur, bal in venue.account.balances.items():
            if cur == currency:
                total += bal
                continue
            if bal == 0:
                continue
            total += bal * _rate_or_fail(cur, currency, kernel)
        if venue.account.account_type is AccountType.MARGIN:
            for iid, pos in venue.positions.items():
                px = kernel.mark(iid)
                if pos.quantity and px is not None:
                    inst = venue.instruments[iid]
                    total += pos.unrealized_pnl(Decimal(repr(px))) * _rate_or_fail(
                        inst.quote, currency, kernel
                    )
    return total


def _rate_or_fail(cur: str, currency: str, kernel: Kernel) -> Decimal:
    """The kernel's rate of ``cur`` in the account currency; a clear error if there is none."""
    rate = kernel.currency_rate(cur) if cur != currency else Decimal(1)
    if rate is None:
        raise InputError(f"cannot value {cur} in {currency}: add data for {cur}/{currency}")
    return rate
