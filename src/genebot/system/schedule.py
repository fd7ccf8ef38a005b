"""The trading schedule in the kernel: entries outside the market's hours or the user's
windows are denied (rule ``schedule``, counted), and positions are closed before a market
close when asked. One gate for backtest, paper and live."""

from __future__ import annotations

from collections import Counter

from genebot.engine.sessions import TradingScheduler, Window, market_hours
from genebot.risk.types import OrderIntent, Verdict
from genebot.system.kernel import Kernel


class ScheduleGate:
    def __init__(self, kernel: Kernel, scheduler: TradingScheduler) -> None:
        self.kernel = kernel
        self.scheduler = scheduler
        self.denied: Counter[str] = Counter()  # strategy -> entries denied
        self.flattened = 0  # positions sent to close before a market close
        self._flat_until = -1
        inner = kernel.execution.risk_gate

        def gate(intent: OrderIntent) -> Verdict | None:
            now = kernel.now()
            closed = not scheduler.can_trade(now)
            if (closed or scheduler.should_flatten(now)) and not self._reduces(intent):
                self.denied[intent.strategy_id] += 1
                why = "outside the trading schedule" if closed else "too close to the close"
                return Verdict.deny("schedule", why)
            return inner(intent) if inner is not None else None

        kernel.execution.risk_gate = gate
        if scheduler.flatten_before_close_ns:
            kernel.bar_hooks.append(self._before_bar)

    def _reduces(self, intent: OrderIntent) -> bool:
        position = self.kernel.portfolio.position(intent.strategy_id, intent.instrument.id)
        return intent.reduces(position.quantity)

    def _before_bar(self, ts: int) -> None:
        if ts <= self._flat_until or not self.scheduler.should_flatten(ts):
            return
        self._flat_until = self.scheduler.market.next_change(ts)  # once per close
        execution = self.kernel.execution
        for sid, sleeve in self.kernel.portfolio.sleeves.items():
            for iid, position in list(sleeve.positions.items()):
                if position.quantity == 0 or iid not in self.kernel.instruments:
                    continue
                for order in execution.open_orders(sid):
                    if order.instrument_id == iid and order.parent_id is None:
                        execution.cancel(order, "flatten before the market close")
                side = "SELL" if position.quantity > 0 else "BUY"
                execution.create(
                    sid, self.kernel.instruments[iid], side, abs(position.quantity),
                    reduce_only=True, tag="schedule_exit",
                )  # fmt: skip
                self.flattened += 1

    def summary(self) -> dict[str, object]:
        return {"denied": dict(self.denied), "flattened": self.flattened}


def scheduler_for(
    market: str, exchange: str | None, windows: list[tuple[list[str], str, str, str]],
    flatten_before_close_minutes: int,
) -> TradingScheduler:  # fmt: skip
    """The scheduler of a ``schedule:`` section's values."""
    return TradingScheduler(
        market_hours(market, exchange),  # type: ignore[arg-type]
        [Window(days, start, end, zone) for days, start, end, zone in windows],
        flatten_before_close_s=flatten_before_close_minutes * 60,
    )
