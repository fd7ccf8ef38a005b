"""A staged risk ramp: risk little while a strategy is new, more once it has shown it works.

The per-trade risk fraction follows a schedule measured from the first sizing call (default:
0.5 % in week 1, 1 % in week 2, 1.5 % in weeks 3–4, 2 % after). It climbs only while the
performance gates hold over the last N closed trades, and steps back down one stage when one
fails. Time is the event time in the :class:`SizingContext`, never the wall clock, so a
backtest and a replay give the same stages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from genebot.core.errors import InputError
from genebot.domain.instrument import Instrument
from genebot.domain.position import ClosedTrade
from genebot.trading.sizing import SizingContext, StopRule, risk_quantity

ZERO = Decimal(0)
DAY_NS = 86_400 * 1_000_000_000
YEAR_NS = 365 * DAY_NS


class Stage(NamedTuple):
    """One step of the ramp: ``fraction`` applies until ``until_ns`` after the start.

    ``until_ns`` is elapsed time since the first sizing call; ``None`` means no end (the last
    stage). A stage starts exactly when the one before it ends.
    """

    until_ns: int | None
    fraction: Decimal


class StageChange(NamedTuple):
    """A line of the ramp's history: at ``ts`` it moved to ``stage`` because of ``reason``."""

    ts: int
    stage: int
    reason: str


DEFAULT_SCHEDULE: tuple[Stage, ...] = (
    Stage(7 * DAY_NS, Decimal("0.005")),
    Stage(14 * DAY_NS, Decimal("0.01")),
    Stage(28 * DAY_NS, Decimal("0.015")),
    Stage(None, Decimal("0.02")),
)


def win_rate(trades: Sequence[ClosedTrade]) -> Decimal:
    """Share of trades with a positive net PnL (0 for no trades)."""
    if not trades:
        return ZERO
    return Decimal(sum(1 for t in trades if t.pnl > 0)) / len(trades)


def trade_sharpe(trades: Sequence[ClosedTrade]) -> Decimal:
    """Mean / sample std of ``pnl_pct``, × sqrt(trades per year over the trades' span).

    The span runs from the first trade's entry to the last one's exit; a span of zero leaves
    the ratio unannualized. Equal returns have no spread: +∞ if they gain, 0 if they do not.
    """
    n = len(trades)
    if n < 2:
        return ZERO
    returns = [t.pnl_pct for t in trades]
    mean = sum(returns, ZERO) / n
    variance = sum(((r - mean) ** 2 for r in returns), ZERO) / (n - 1)
    if variance == 0:
        return Decimal("Infinity") if mean > 0 else ZERO
    span = trades[-1].exit_ts - trades[0].entry_ts
    scale = (Decimal(n) * YEAR_NS / span).sqrt() if span > 0 else Decimal(1)
    return mean / variance.sqrt() * scale


def drawdown(equity: Decimal, peak: Decimal | None) -> Decimal:
    """Fall of ``equity`` below ``peak`` as a fraction of the peak (0 without a peak)."""
    if peak is None or peak <= 0 or equity >= peak:
        return ZERO
    return (peak - equity) / peak


@dataclass(frozen=True, slots=True)
class RampGates:
    """What the last ``lookback`` closed trades must show for the ramp to climb."""

    lookback: int = 10
    min_win_rate: Decimal = Decimal("0.40")
    min_sharpe: Decimal = Decimal("0.5")
    max_drawdown: Decimal = Decimal("0.10")

    def __post_init__(self) -> None:
        if self.lookback < 2:
            raise InputError(f"lookback {self.lookback} is not allowed: use 2 or more trades")
        if not ZERO <= self.min_win_rate <= 1:
            raise InputError(f"min_win_rate {self.min_win_rate} is not allowed: use 0 to 1")
        if not ZERO < self.max_drawdown <= 1:
            raise InputError(f"max_drawdown {self.max_drawdown} is not allowed: use (0, 1]")

    def failures(self, ctx: SizingContext) -> list[str]:
        """Why the gates fail for this context (empty: they hold). Needs ``lookback`` trades."""
        n = len(ctx.trades)  # index, not slice: any Sequence (a deque too) works
        recent = [ctx.trades[i] for i in range(max(0, n - self.lookback), n)]
        out = []
        rate = win_rate(recent)
        if rate < self.min_win_rate:
            out.append(f"win rate {rate:.2f} < {self.min_win_rate} over {len(recent)} trades")
        sharpe = trade_sharpe(recent)
        if sharpe < self.min_sharpe:
            out.append(f"Sharpe {sharpe:.2f} < {self.min_sharpe} over {len(recent)} trades")
        dd = drawdown(ctx.equity, ctx.equity_peak)
        if dd > self.max_drawdown:
            out.append(f"drawdown {dd:.4f} > {self.max_drawdown}")
        return out


def _check_schedule(schedule: Sequence[Stage]) -> tuple[Stage, ...]:
    stages = tuple(Stage(*s) for s in schedule)
    if not stages or stages[-1].until_ns is not None:
        raise InputError("schedule is not valid: give at least one stage; the last has no end")
    ends = [s.until_ns if s.until_ns is not None else -1 for s in stages[:-1]]
    if ends != sorted(set(ends)) or (ends and ends[0] <= 0):
        raise InputError("schedule is not valid: stage ends must be positive and increasing")
    for s in stages:
        if not ZERO < s.fraction <= 1:
            raise InputError(f"schedule fraction {s.fraction} is not allowed: use (0, 1]")
    return stages


class StagedRamp:
    """Fixed-fractional sizing whose risk fraction ramps up in stages (1-based ``stage``).

    On each ``size`` call, in order:

    * the first call starts the clock (``now_ns`` then) at stage 1;
    * with fewer than ``gates.lookback`` closed trades there is no evidence: the ramp stays at
      (or returns to) stage 1;
    * when a gate fails (win rate, trades' Sharpe, drawdown from ``equity_peak``) it steps down
      one stage, never below 1, and not again until another trade closes or it has climbed;
    * when the gates hold and the schedule allows a higher stage, it climbs one stage per call.

    Every change is appended to ``history`` as ``(ts, stage, reason)``; ``reason`` says why the
    last call left the stage where it is. The quantity is ``equity × fraction / stop``, where the
    stop distance comes from ``base`` (e.g. ``AtrRisk`` for k × ATR; its own fraction is not
    used) or, without a base, from ``ctx.stop_distance``; no stop distance → 0.
    """

    needs_equity = True

    def __init__(
        self,
        schedule: Sequence[Stage] = DEFAULT_SCHEDULE,
        gates: RampGates | None = None,
        base: StopRule | None = None,
    ) -> None:
        self.schedule = _check_schedule(schedule)
        self.gates = gates or RampGates()
        self.base = base
        self.history: list[StageChange] = []
        self.reason = "not started"
        self._stage = 1
        self._start_ns: int | None = None
        self._down_at: int | None = None  # closed-trade count at the last step down

    @property
    def stage(self) -> int:
        return self._stage

    @property
    def fraction(self) -> Decimal:
        """The risk fraction of the current stage."""
        return self.schedule[self._stage - 1].fraction

    @property
    def start_ns(self) -> int | None:
        return self._start_ns

    def scheduled_stage(self, now_ns: int) -> int:
        """The stage the schedule alone allows at ``now_ns`` (1 before the clock starts)."""
        if self._start_ns is None:
            return 1
        elapsed = now_ns - self._start_ns
        for i, s in enumerate(self.schedule, start=1):
            if s.until_ns is None or elapsed < s.until_ns:
                return i
        return len(self.schedule)  # unreachable: the last stage has no end

    def update(self, ctx: SizingContext) -> Decimal:
        """Advance the ramp to ``ctx`` and return the risk fraction to use now."""
        now = ctx.now_ns
        if self._start_ns is None:
            self._start_ns = now
            self._move(now, 1, "start")
        count = len(ctx.trades)
        if count < self.gates.lookback:
            why = f"{count} closed trades; {self.gates.lookback} needed to go above stage 1"
            if self._stage > 1:
                self._move(now, 1, why)
            else:
                self._hold(why)
            return self.fraction
        failures = self.gates.failures(ctx)
        if failures:
            why = "gate failed: " + "; ".join(failures)
            if self._stage > 1 and self._down_at != count:
                self._down_at = count
                self._move(now, self._stage - 1, why)
            else:
                self._hold(why)
            return self.fraction
        target = self.scheduled_stage(now)
        if self._stage < target:
            self._down_at = None
            days = (now - self._start_ns) / DAY_NS
            self._move(now, self._stage + 1, f"day {days:g}: schedule allows {target}, gates hold")
        else:
            self._hold("gates hold; on schedule")
        return self.fraction

    def size(self, ctx: SizingContext) -> Decimal:
        fraction = self.update(ctx)
        stop = self.base.stop_distance(ctx) if self.base is not None else ctx.stop_distance
        return risk_quantity(ctx.instrument, ctx.equity, fraction, stop)

    def quantity(self, instrument: Instrument, price: Decimal, sleeve_equity: Decimal) -> Decimal:
        """The short call carries no stop and no clock: 0, and the ramp is left untouched."""
        return ZERO

    def _move(self, ts: int, stage: int, reason: str) -> None:
        self._stage = stage
        self.reason = reason
        self.history.append(StageChange(ts, stage, reason))

    def _hold(self, reason: str) -> None:
        self.reason = reason
