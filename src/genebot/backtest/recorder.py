"""Builds the equity curve from the ledger: balances change only at fills, so the engine logs
them there and the curve is assembled with numpy after the run (cheap on the hot path)."""

from __future__ import annotations

from array import array
from decimal import Decimal
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd

from genebot.core.errors import InputError
from genebot.data.feed import Timeline, forward_fill_on_steps
from genebot.data.timeindex import utc_index
from genebot.domain.events import OrderFilled
from genebot.domain.instrument import AccountType, Instrument
from genebot.domain.position import Position
from genebot.system.kernel import Kernel
from genebot.venues.sim.exchange import SimulatedExchange

F64 = npt.NDArray[np.float64]
EQUITY_COLUMNS = ["equity", "cash", "drawdown"]


class ChangeLog:
    """(step, value) changes of one series in typed arrays: 16 bytes a change, no objects."""

    __slots__ = ("steps", "values")

    def __init__(self) -> None:
        self.steps = array("q")
        self.values = array("d")

    def add(self, step: int, value: float) -> None:
        self.steps.append(step)
        self.values.append(value)

    def series(self, initial: float, n: int) -> F64:
        """A value per step: the last change of a step wins, later steps carry it forward,
        steps before the first change hold ``initial``."""
        if not self.steps or not n:
            return np.full(n, initial)
        steps = np.frombuffer(self.steps, dtype=np.int64)
        values = np.frombuffer(self.values, dtype=np.float64)
        last = np.ones(len(steps), dtype=bool)  # keep the last change of each step
        last[:-1] = steps[1:] != steps[:-1]
        steps, values = steps[last], values[last]
        # Piecewise constant: repeat each value until the next change (one n-sized array).
        bounds = np.concatenate(([0], steps, [n]))
        return np.repeat(np.concatenate(([initial], values)), np.diff(bounds))


# A fill's changes, prepared once per instrument: the balances, the (steps, values, currency)
# of its base and of its quote currency's log, and a margin venue's position with its logs.
_Column = tuple["array[int]", "array[float]", str]
_FillPlan = tuple[
    dict[str, Decimal], _Column, _Column, Position | None, tuple[ChangeLog, ChangeLog] | None
]


class EquityCurve(NamedTuple):
    """The equity curve as arrays: bar times (epoch ns), one float block of rows equity, cash
    and drawdown, the in-market flag per bar and the timeline step each bar is taken at."""

    ts: npt.NDArray[np.int64]
    block: F64
    in_market: npt.NDArray[np.bool_]
    kept: npt.NDArray[np.int64]

    @property
    def equity(self) -> F64:
        return self.block[0]

    def until(self, step: int) -> EquityCurve:
        """The bars taken at ``step`` or before (a run stopped there)."""
        rows = self.kept <= step
        return EquityCurve(
            self.ts[rows], self.block[:, rows], self.in_market[rows], self.kept[rows]
        )

    def frame(self) -> pd.DataFrame:
        """The equity frame: columns equity, cash, drawdown, a UTC index named timestamp."""
        return pd.DataFrame(
            self.block.T,
            index=utc_index(self.ts, name="timestamp"),
            columns=EQUITY_COLUMNS,
            copy=False,
        )


class EquityRecorder:
    """Logs balances, venue positions and open-position counts at every fill."""

    def __init__(self, kernel: Kernel, venues: list[SimulatedExchange], currency: str) -> None:
        self.kernel = kernel
        self.venues = {v.venue: v for v in venues}
        self.currency = currency
        self.balance_log: dict[tuple[str, str], ChangeLog] = {}  # (venue, currency) → changes
        self.position_log: dict[str, tuple[ChangeLog, ChangeLog]] = {}  # iid → quantity, cost
        self.open_log = ChangeLog()
        self.initial: dict[tuple[str, str], float] = {}
        # instrument id → what its fills change (see _fill_plan)
        self._fill_plans: dict[str, _FillPlan] = {}
        kernel.fill_listeners.append(self.on_fill)

    def snapshot_initial(self) -> None:
        for name, venue in self.venues.items():
            for currency, amount in venue.account.balances.items():
                self.initial[(name, currency)] = float(amount)

    def _log(self, venue: str, currency: str) -> ChangeLog:
        log = self.balance_log.get((venue, currency))
        if log is None:
            log = self.balance_log[(venue, currency)] = ChangeLog()
        return log

    def on_fill(self, instrument: Instrument, fill: OrderFilled) -> None:
        step = self.kernel.step
        plan = self._fill_plans.get(instrument.id) or self._fill_plan(instrument)
        balances, base, quote, position, pos_logs = plan
        base[0].append(step)
        base[1].append(float(balances.get(base[2], 0)))
        quote[0].append(step)
        quote[1].append(float(balances.get(quote[2], 0)))
        if position is not None:  # a margin venue's position (spot holdings are balances)
            pos_logs[0].add(step, float(position.quantity))  # type: ignore[index]
            pos_logs[1].add(step, float(position.cost))  # type: ignore[index]
        self.open_log.add(step, self.kernel.portfolio.open_count)

    def _fill_plan(self, instrument: Instrument) -> _FillPlan:
        venue = self.venues[instrument.venue]
        base, quote = (
            (log.steps, log.values, c)
            for c in (instrument.base, instrument.quote)
            for log in (self._log(instrument.venue, c),)
        )
        position, pos_logs = None, None
        if venue.account.account_type is AccountType.MARGIN:
            position = venue.positions[instrument.id]
            pos_logs = self.position_log.setdefault(instrument.id, (ChangeLog(), ChangeLog()))
        plan = (venue.account.balances, base, quote, position, pos_logs)
        self._fill_plans[instrument.id] = plan
        return plan

    def on_financing(self, step: int, venue: str, currency: str) -> None:
        """A rollover booked at ``step``: log the new balance there."""
        account = self.venues[venue].account
        self._log(venue, currency).add(step, float(account.balance(currency)))

    # -- assembly -------------------------------------------------------------------------
    def build(
        self, initial_equity: float = 0.0
    ) -> tuple[pd.DataFrame, npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
        """Equity frame (one row per distinct bar time), in-market flags and the step kept.
        The drawdown's peak is never below ``initial_equity`` (a first-bar loss counts)."""
        curve = self.curve(initial_equity)
        return curve.frame(), curve.in_market, curve.kept

    def curve(self, initial_equity: float = 0.0) -> EquityCurve:
        """:meth:`build`'s figures as arrays (no frame, no time index)."""
        tl = self.kernel.timeline
        n = len(tl)
        # The frame's one float block (equity, cash, drawdown rows): built in place, so the
        # DataFrame takes it without a copy. One feed: every step is its own bar time.
        block = np.zeros((3, n)) if tl.single else np.zeros((2, n))
        equity, cash = block[0], block[1]
        rates: dict[str, F64 | float] = {}  # one n-sized array per currency, built once
        for key in sorted({*self.initial, *self.balance_log}):
            log = self.balance_log.get(key, ChangeLog())
            series = log.series(self.initial.get(key, 0.0), n)
            currency = key[1]
            if currency == self.currency:
                cash += series
            if np.any(series != 0):
                if currency not in rates:
                    rates[currency] = self._rate(currency, tl)
                series *= rates[currency]  # in place: no n-sized temporary
                equity += series
            del series
        rates.clear()
        for venue in self.venues.values():
            if venue.account.account_type is AccountType.MARGIN:
                equity += self._unrealized(venue, tl, n)
        opened = self.open_log.series(0.0, n)
        if tl.single:
            keep = tl.feeds[0].row_to_step  # every step: 0 .. n-1
            ts = tl.step_ts
            in_market = opened > 0
        else:  # one row per distinct bar time: the last step of each
            keep = np.flatnonzero(np.diff(tl.step_known, append=np.iinfo(np.int64).max) != 0)
            ts = tl.step_ts[keep]
            in_market = opened[keep] > 0
            block = np.stack((equity[keep], cash[keep], np.empty(len(keep))))
        del opened, equity, cash
        eq, drawdown = block[0], block[2]
        np.maximum.accumulate(eq, out=drawdown)  # the running peak, then in place eq/peak - 1
        np.maximum(drawdown, initial_equity, out=drawdown)
        positive = drawdown > 0
        np.divide(eq, drawdown, out=drawdown, where=positive)
        drawdown[~positive] = 1.0
        drawdown -= 1.0
        return EquityCurve(np.asarray(ts, dtype=np.int64), block, in_market, keep)

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
            logs = self.position_log.get(iid)
            if logs is None:
                continue
            qty, cost = logs[0].series(0.0, n), logs[1].series(0.0, n)
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
