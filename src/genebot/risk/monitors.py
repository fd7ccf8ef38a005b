"""State monitors: conditions that move the trading state (not tied to one order)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from genebot.domain.position import ClosedTrade
from genebot.risk.config import RiskManagementConfig
from genebot.risk.types import TradingState

if TYPE_CHECKING:
    from genebot.risk.engine import RiskEngine

Outcome = tuple[TradingState, str, str] | None
NS_PER_YEAR = 365.25 * 86_400 * 1e9


class Monitor(Protocol):
    rule: str

    def evaluate(self, engine: RiskEngine, equity: Decimal) -> Outcome: ...


def _pct(x: Decimal | float) -> str:
    return f"{float(x):.2%}"


class DailyLossMonitor:
    """Loss since the start of the trading day (realized + unrealized) → HALTED until the
    daily reset."""

    rule = "daily_loss"

    def __init__(self, limit: float) -> None:
        self.limit = Decimal(str(limit))

    def evaluate(self, engine: RiskEngine, equity: Decimal) -> Outcome:
        start = engine.start_of_day_equity
        if start is None or start <= 0:
            return None
        loss = start - equity
        if loss > 0 and loss / start >= self.limit:
            return (
                TradingState.HALTED,
                self.rule,
                f"loss {loss:.2f} = {_pct(loss / start)} of start-of-day equity "
                f"{start:.2f} >= limit {_pct(self.limit)}",
            )
        return None


class DrawdownMonitor:
    """Drawdown from the equity peak → HALTED (admin reset)."""

    rule = "max_drawdown"

    def __init__(self, limit: float) -> None:
        self.limit = Decimal(str(limit))

    def evaluate(self, engine: RiskEngine, equity: Decimal) -> Outcome:
        peak = engine.peak_equity
        if peak is None or peak <= 0:
            return None
        drawdown = (peak - equity) / peak
        if drawdown >= self.limit:
            return (
                TradingState.HALTED,
                self.rule,
                f"drawdown {_pct(drawdown)} from peak {peak:.2f} (equity {equity:.2f}) "
                f">= limit {_pct(self.limit)}",
            )
        return None


class ConsecutiveLossesMonitor:
    """N losing round trips in a row → HALTED (admin reset)."""

    rule = "consecutive_losses"

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def evaluate(self, engine: RiskEngine, equity: Decimal) -> Outcome:
        if engine.consecutive_losses >= self.limit:
            return (
                TradingState.HALTED,
                self.rule,
                f"{engine.consecutive_losses} losing trades in a row (limit {self.limit})",
            )
        return None


class PerformanceMonitor:
    """Red flags over the last N closed trades: win rate below the minimum, or the trades'
    annualized Sharpe (mean/std of trade returns × √(trades per year)) below the minimum."""

    rule = "performance"

    def __init__(self, config: RiskManagementConfig) -> None:
        perf = config.performance
        self.window = perf.window_trades
        self.min_win_rate = perf.min_win_rate
        self.min_sharpe = perf.min_sharpe
        self.target = TradingState.HALTED if perf.action == "halted" else TradingState.REDUCING

    def evaluate(self, engine: RiskEngine, equity: Decimal) -> Outcome:
        trades = engine.trades_since_reset[-self.window :]
        if len(trades) < self.window:
            return None
        wins = sum(1 for t in trades if t.pnl > 0)
        win_rate = wins / len(trades)
        if win_rate < self.min_win_rate:
            return (
                self.target,
                self.rule,
                f"win rate {_pct(win_rate)} over the last "
                f"{len(trades)} trades < {_pct(self.min_win_rate)}",
            )
        sharpe = _trade_sharpe(trades)
        if sharpe is not None and sharpe < self.min_sharpe:
            return (
                self.target,
                self.rule,
                f"Sharpe {sharpe:.2f} over the last {len(trades)} trades < {self.min_sharpe:g}",
            )
        return None


def _trade_sharpe(trades: Sequence[ClosedTrade]) -> float | None:
    returns = [float(t.pnl_pct) for t in trades]
    n = len(returns)
    mean = sum(returns) / n
    var = sum((r - mean) ** 2 for r in returns) / (n - 1)
    span = trades[-1].exit_ts - trades[0].entry_ts
    if var <= 0 or span <= 0:
        return None
    per_year = n / (span / NS_PER_YEAR)
    return mean / math.sqrt(var) * math.sqrt(per_year)


def default_monitors(config: RiskManagementConfig) -> list[Monitor]:
    monitors: list[Monitor] = [DailyLossMonitor(config.daily_loss_limit)]
    if config.global_.max_drawdown is not None:
        monitors.append(DrawdownMonitor(config.global_.max_drawdown))
    monitors.append(ConsecutiveLossesMonitor(config.limits.max_consecutive_losses))
    if config.performance.enabled:
        monitors.append(PerformanceMonitor(config))
    return monitors
