"""Protective orders for venues without native stop orders: a local price monitor.

Stop-loss, take-profit and trailing stops are held here (status EMULATED) instead of resting on
the venue. After each bar of the instrument closes, the monitor checks them — what the bar's open
already crossed first (a gap through a target), then stops before targets, so when one bar
touches both from between them the adverse exit wins — and on a trigger it releases the
order as a reduce-only MARKET order (which the venue fills like any market order: at the next
bar's open by default) and cancels the other exits of the same entry. A trailing stop moves with
each bar's extreme after that bar was checked against the old level.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from genebot.core.precision import to_decimal
from genebot.domain.events import OrderCanceled, OrderEmulated, OrderReleased, OrderUpdated
from genebot.domain.orders import Order, open_first
from genebot.engine.scan import (
    HighLow,
    scan_level,
    scan_trailing,
    trail_over,
    trailing_stop_rule,
)

if TYPE_CHECKING:
    from genebot.execution.engine import ExecutionEngine

_PRIORITY = {"STOP_MARKET": 0, "TRAILING_STOP_MARKET": 0, "LIMIT": 1}


class StopEmulator:
    """Holds protective orders locally and releases them as market orders on trigger."""

    def __init__(self, execution: ExecutionEngine, clock: Callable[[], int]) -> None:
        self.execution = execution
        self.clock = clock
        self.held: dict[str, list[Order]] = {}
        self._bars: dict[str, HighLow] = {}
        self._watermark: dict[str, Decimal] = {}
        self._last_row: dict[str, int] = {}

    def attach_bars(self, iid: str, bars: HighLow) -> None:
        self._bars[iid] = bars

    def hold(self, order: Order, row: int) -> None:
        """Take ``order`` (just created, never sent) into emulation from bar ``row`` on."""
        now = self.clock()
        self.execution.apply_event(order, OrderEmulated(order.client_order_id, now, now))
        if order.order_type == "TRAILING_STOP_MARKET":
            self._watermark[order.client_order_id] = order.price or Decimal(0)
        self._last_row[order.client_order_id] = row
        book = self.held.setdefault(order.instrument_id, [])
        book.append(order)
        book.sort(key=lambda o: _PRIORITY.get(o.order_type, 2))

    def cancel(self, order: Order, reason: str) -> None:
        book = self.held.get(order.instrument_id, [])
        if order in book:
            # Fast mode may not have visited the bars since the last check: trail over them
            # first, so the canceled order's last level is the one per_bar mode gives.
            iid = order.instrument_id
            self._catch_up(order, self._bars[iid], self.execution.current_row(iid))
            book.remove(order)
            self._forget(order)
            now = self.clock()
            self.execution.apply_event(
                order, OrderCanceled(order.client_order_id, reason, now, now)
            )

    def on_bar(self, iid: str, row: int) -> None:
        """Check the held orders of ``iid`` against bar ``row`` (after it closed)."""
        bars = self._bars[iid]
        high, low = float(bars.high[row]), float(bars.low[row])
        quote = getattr(bars, "bid", None) is not None and getattr(bars, "timeframe_ns", 1) == 0
        held = list(self.held.get(iid, ()))
        opened = getattr(bars, "open", None)
        if len(held) > 1 and not quote and opened is not None:
            held = open_first(held, float(opened[row]))
        for order in held:
            if not order.is_open:
                continue
            self._catch_up(order, bars, row)
            if quote:  # a quote: an exit that buys meets the ask, one that sells the bid
                side = bars.ask if order.is_buy else bars.bid  # type: ignore[attr-defined]
                high = low = float(side[row])
            if self._triggered(order, high, low):
                self._release(order)
            elif order.order_type == "TRAILING_STOP_MARKET":
                self._trail(order, high, low)
            self._last_row[order.client_order_id] = row

    def trail_to_end(self) -> None:
        """Fast mode's end: held trailing stops follow the bars after the last visited one."""
        for iid, orders in self.held.items():
            bars = self._bars[iid]
            for order in orders:
                self._catch_up(order, bars, len(bars))

    def _triggered(self, order: Order, high: float, low: float) -> bool:
        if order.order_type == "LIMIT":  # a target: reached when the bar trades through it
            level = float(order.price)  # type: ignore[arg-type]
            return high >= level if not order.is_buy else low <= level
        level = float(order.trigger_price)  # type: ignore[arg-type]
        return high >= level if order.is_buy else low <= level

    def _trail(self, order: Order, high: float, low: float) -> None:
        mark = self._watermark[order.client_order_id]
        extreme = to_decimal(low if order.is_buy else high)
        if (order.is_buy and extreme < mark) or (not order.is_buy and extreme > mark):
            self._move_trail(order, extreme)

    def _move_trail(self, order: Order, extreme: Decimal) -> None:
        self._watermark[order.client_order_id] = extreme
        stop = self._stop_rule(order)(extreme)
        if stop != order.trigger_price:
            now = self.clock()
            self.execution.apply_event(order, OrderUpdated(order.client_order_id, stop, now, now))

    def _stop_rule(self, order: Order) -> Callable[[Decimal], Decimal]:
        inst = self.execution.instruments[order.instrument_id]
        return trailing_stop_rule(inst.round_price, order.is_buy, order.trailing_offset)

    def _catch_up(self, order: Order, bars: HighLow, row: int) -> None:
        """Fast mode skips bars that could not trigger; the trail still moves with them, each
        change stamped with the close of the bar that made it (as per_bar mode stamps it)."""
        last = self._last_row.get(order.client_order_id)
        if order.order_type != "TRAILING_STOP_MARKET" or last is None or last >= row - 1:
            return
        cid = order.client_order_id
        extremes = bars.low[last + 1 : row] if order.is_buy else bars.high[last + 1 : row]
        mark, stop, at = trail_over(
            extremes,
            self._watermark[cid],
            order.is_buy,
            self._stop_rule(order),
            order.trigger_price,
        )
        self._watermark[cid] = mark
        if stop is not None:
            opened = int(bars.ts[last + 1 + at])  # type: ignore[attr-defined]
            closed = opened + int(getattr(bars, "timeframe_ns", 0))
            self.execution.apply_event(order, OrderUpdated(cid, stop, closed, closed))

    def _release(self, order: Order) -> None:
        self.held[order.instrument_id].remove(order)
        self._forget(order)
        engine = self.execution
        now = self.clock()
        engine.cancel_siblings_of(order, "one-cancels-other")  # before the link is forgotten
        released_id = engine.next_order_id()
        engine.apply_event(order, OrderReleased(order.client_order_id, released_id, now, now))
        engine.create(
            order.strategy_id,
            engine.instruments[order.instrument_id],
            order.side,
            order.quantity,
            "MARKET",
            reduce_only=True,
            tag=order.tag,
            parent_id=order.parent_id,
        )

    def _forget(self, order: Order) -> None:
        self._watermark.pop(order.client_order_id, None)
        self._last_row.pop(order.client_order_id, None)

    def next_event_row(self, iid: str, start: int) -> int | None:
        """First row >= start at which a held order of ``iid`` may trigger (fast mode)."""
        bars = self._bars.get(iid)
        best: int | None = None
        for order in self.held.get(iid, ()):
            if bars is None or start >= len(bars):
                return None
            if order.order_type == "TRAILING_STOP_MARKET":
                inst = self.execution.instruments[iid]
                row = scan_trailing(
                    bars,
                    start,
                    self._watermark[order.client_order_id],
                    order.trailing_offset or Decimal(0),
                    order.is_buy,
                    inst.tick_size,
                )
            elif order.order_type == "LIMIT":
                row = scan_level(bars, start, order.price, above=not order.is_buy)  # type: ignore[arg-type]
            else:
                row = scan_level(bars, start, order.trigger_price, above=order.is_buy)  # type: ignore[arg-type]
            if row is not None and (best is None or row < best):
                best = row
        return best
