"""PerformanceTracker: the backtest's statistics (``genebot.reporting.statistics``: the same
formulas, Sharpe, drawdown, win rate, profit factor …) on a running deployment, recomputed from
its equity curve and closed round trips up to the bar handled (at most every ``interval_s``)."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from genebot.backtest.recorder import EquityRecorder
from genebot.backtest.result import trades_frame
from genebot.reporting.statistics import StatValue, compute_stats, trading_days_per_year
from genebot.system.kernel import Kernel


class PerformanceTracker:
    def __init__(
        self, kernel: Kernel, recorder: EquityRecorder, initial: float, interval_s: float = 300.0
    ) -> None:
        self.kernel, self.recorder, self.initial = kernel, recorder, initial
        self.interval_s = interval_s
        self.metrics: dict[str, StatValue] = {}
        self._next = 0.0

    def update(self, step: int) -> dict[str, StatValue]:
        """The statistics of bars ``0 .. step`` (call from the runner's thread)."""
        equity, in_market, kept = self.recorder.build(self.initial)
        rows = kept <= step
        equity, in_market = equity[rows], in_market[rows]
        portfolio = self.kernel.portfolio
        trades = trades_frame(list(portfolio.trades), None, portfolio.trade_rates)
        fees: Any = sum((s.fees for s in portfolio.sleeves.values()), Decimal(0))
        self.metrics = compute_stats(
            equity,
            trades,
            initial_equity=self.initial,
            fees=float(fees),
            in_market=in_market,
            periods_per_year=trading_days_per_year(equity.index),  # type: ignore[arg-type]
        )
        return self.metrics

    def maybe_update(self, step: int, now: float | None = None) -> dict[str, StatValue] | None:
        now = time.monotonic() if now is None else now
        if now < self._next or step < 0:
            return None
        self._next = now + self.interval_s
        return self.update(step)
