"""Pair locks in the manner of freqtrade's protections: cooldown, stop-loss guard, low profit.

A lock belongs to one instrument and is computed from the engine's record of closed trades
(``state.recent_exits``), so it is the same after a restart and in a backtest. As in freqtrade,
a lock starts at the exit that triggers it and lasts its full duration, even when the lookback
window has since slid past the exits that triggered it.

Windows are ``(t − lookback, t]``: an exit exactly ``lookback`` old no longer counts. A lock
``until`` a time has expired at that time (``now >= until`` passes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from genebot.core.precision import to_decimal
from genebot.risk.config import RiskManagementConfig
from genebot.risk.types import OrderIntent, PreTradeCheck, RiskStateView, RiskView, Verdict

NS_PER_MINUTE = 60_000_000_000
STOP_REASONS = frozenset({"stop_loss", "trailing_stop"})

Exit = tuple[int, str, str, Decimal]  # (exit_ts_ns, instrument_id, exit_reason, pnl_pct)


def _ns(minutes: float) -> int:
    return round(minutes * NS_PER_MINUTE)


def _iso(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _recent(exits: Sequence[Exit], instrument_id: str, since_ns: int, now_ns: int) -> list[Exit]:
    """Exits of one instrument with ``since < ts <= now``, oldest first."""
    found: list[Exit] = []
    for exit_ in reversed(exits):  # oldest first: walk back from the newest
        if exit_[0] <= since_ns:
            break
        if exit_[0] <= now_ns and exit_[1] == instrument_id:
            found.append(exit_)
    found.reverse()
    return found


def _lock(
    exits: Sequence[Exit],
    now_ns: int,
    lookback_ns: int,
    lock_ns: int,
    triggers: Callable[[list[Exit]], bool],
) -> tuple[int, list[Exit]] | None:
    """The latest still-active lock: for each exit ``e`` younger than ``lock_ns``, the exits in
    ``(e.ts − lookback, e.ts]`` are judged by ``triggers``; a hit locks until ``e.ts + lock``.
    Returns (until, the exits that triggered it) or None."""
    for i in range(len(exits) - 1, -1, -1):
        ts = exits[i][0]
        if ts + lock_ns <= now_ns:
            return None  # older exits' locks ended even earlier
        window = [x for x in exits[: i + 1] if x[0] > ts - lookback_ns]
        if triggers(window):
            return ts + lock_ns, window
    return None


class CooldownCheck:
    """Deny new entries in an instrument for ``minutes`` after its last exit: denied while
    ``now − last exit < minutes``, allowed again exactly ``minutes`` after. 0 turns it off."""

    rule = "cooldown"

    def __init__(self, minutes: float) -> None:
        self.minutes = minutes

    def check(self, intent: OrderIntent, view: RiskView, state: RiskStateView) -> Verdict | None:
        if self.minutes <= 0:
            return None
        now = view.now_ns
        recent = _recent(state.recent_exits, intent.instrument.id, now - _ns(self.minutes), now)
        if not recent:
            return None
        last = recent[-1][0]
        return Verdict.deny(
            self.rule,
            f"{intent.instrument.symbol} exited {(now - last) / NS_PER_MINUTE:g} min ago at"
            f" {_iso(last)}; cooldown {self.minutes:g} min until {_iso(last + _ns(self.minutes))}",
        )


class StoplossGuardCheck:
    """Lock an instrument after ``>= trade_limit`` stop-loss or trailing-stop exits within
    ``lookback_minutes``: locked until the last of those exits + ``lock_minutes`` (denied while
    ``now <`` that). ``trade_limit − 1`` stops within the window do not lock."""

    rule = "stoploss_guard"

    def __init__(
        self, trade_limit: int, lookback_minutes: float, lock_minutes: float, enabled: bool = True
    ) -> None:
        self.trade_limit = trade_limit
        self.lookback_minutes = lookback_minutes
        self.lock_minutes = lock_minutes
        self.enabled = enabled

    def check(self, intent: OrderIntent, view: RiskView, state: RiskStateView) -> Verdict | None:
        if not self.enabled:
            return None
        now = view.now_ns
        lookback, lock = _ns(self.lookback_minutes), _ns(self.lock_minutes)
        stops = [
            x
            for x in _recent(state.recent_exits, intent.instrument.id, now - lock - lookback, now)
            if x[2] in STOP_REASONS
        ]
        found = _lock(stops, now, lookback, lock, lambda w: len(w) >= self.trade_limit)
        if found is None:
            return None
        until, window = found
        return Verdict.deny(
            self.rule,
            f"{intent.instrument.symbol} locked until {_iso(until)}: {len(window)} stop exits"
            f" within {self.lookback_minutes:g} min (limit {self.trade_limit}),"
            f" lock {self.lock_minutes:g} min",
        )


class LowProfitCheck:
    """Lock an instrument when its exits within ``lookback_minutes`` number ``>= trade_limit``
    and their summed profit (``pnl_pct``) is below ``required_profit`` (exactly at it passes):
    locked until the last of those exits + ``lock_minutes`` (denied while ``now <`` that)."""

    rule = "low_profit"

    def __init__(
        self,
        trade_limit: int,
        lookback_minutes: float,
        required_profit: float,
        lock_minutes: float,
        enabled: bool = True,
    ) -> None:
        self.trade_limit = trade_limit
        self.lookback_minutes = lookback_minutes
        self.required_profit = to_decimal(required_profit)
        self.lock_minutes = lock_minutes
        self.enabled = enabled

    def _triggers(self, window: list[Exit]) -> bool:
        return len(window) >= self.trade_limit and sum(x[3] for x in window) < self.required_profit

    def check(self, intent: OrderIntent, view: RiskView, state: RiskStateView) -> Verdict | None:
        if not self.enabled:
            return None
        now = view.now_ns
        lookback, lock = _ns(self.lookback_minutes), _ns(self.lock_minutes)
        exits = _recent(state.recent_exits, intent.instrument.id, now - lock - lookback, now)
        found = _lock(exits, now, lookback, lock, self._triggers)
        if found is None:
            return None
        until, window = found
        profit = sum(x[3] for x in window)
        return Verdict.deny(
            self.rule,
            f"{intent.instrument.symbol} locked until {_iso(until)}: {len(window)} exits within"
            f" {self.lookback_minutes:g} min made {float(profit):.4%}"
            f" < required {float(self.required_profit):.4%} (limit {self.trade_limit} trades),"
            f" lock {self.lock_minutes:g} min",
        )


def protection_checks(config: RiskManagementConfig) -> list[PreTradeCheck]:
    """The pair locks configured in ``risk_management.protections``; disabled ones are left out."""
    p = config.protections
    checks: list[PreTradeCheck] = []
    if p.cooldown_minutes > 0:
        checks.append(CooldownCheck(p.cooldown_minutes))
    if p.stoploss_guard.enabled:
        g = p.stoploss_guard
        checks.append(StoplossGuardCheck(g.trade_limit, g.lookback_minutes, g.lock_minutes))
    if p.low_profit.enabled:
        lp = p.low_profit
        checks.append(
            LowProfitCheck(lp.trade_limit, lp.lookback_minutes, lp.required_profit, lp.lock_minutes)
        )
    return checks
