"""Orders and their lifecycle, written as data: a transition table.

``TRANSITIONS[(status, event type)]`` gives the next status. Anything not in the table is an
illegal transition and raises :class:`InvalidStateTransition`. An ``OrderFilled`` event moves to
``PARTIALLY_FILLED`` or ``FILLED`` depending on the quantity left, which the table expresses as
the special target ``_FILL``.

Live venues race: a cancel is a request (``PENDING_CANCEL``) that a fill may overtake or the
venue may refuse (the order goes back to what it was); a fill may arrive after the venue already
reported the order canceled or expired (a *late fill*: it is booked, the order keeps its end
status unless it filled completely); an order genebot did not send (found on the venue at
reconciliation) starts ``INITIALIZED`` and is ``ACCEPTED`` directly.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from decimal import Decimal

from genebot.core.errors import InvalidStateTransition
from genebot.domain.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderDenied,
    OrderEmulated,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderInitialized,
    OrderPendingCancel,
    OrderRejected,
    OrderReleased,
    OrderSubmitted,
    OrderTriggered,
    OrderUpdated,
)


class OrderStatus(enum.Enum):
    # Members are singletons compared by identity; identity hashing keeps transition-table and
    # status-set lookups in C (Enum.__hash__ is Python code on the hot path).
    __hash__ = object.__hash__

    INITIALIZED = "INITIALIZED"
    DENIED = "DENIED"
    SUBMITTED = "SUBMITTED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    TRIGGERED = "TRIGGERED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    EMULATED = "EMULATED"  # held locally by the stop emulator
    RELEASED = "RELEASED"  # the emulator's trigger fired; a market order took over
    PENDING_CANCEL = "PENDING_CANCEL"  # a cancel was sent, the venue has not confirmed it


S = OrderStatus
_ZERO = Decimal(0)
_FILL = "fill"  # resolved to PARTIALLY_FILLED or FILLED by the remaining quantity
_RESTORE = "restore"  # a refused cancel: back to the status before the cancel request

TRANSITIONS: dict[tuple[OrderStatus, type], OrderStatus | str] = {
    (S.INITIALIZED, OrderDenied): S.DENIED,
    (S.INITIALIZED, OrderSubmitted): S.SUBMITTED,
    (S.INITIALIZED, OrderEmulated): S.EMULATED,
    (S.EMULATED, OrderUpdated): S.EMULATED,
    (S.EMULATED, OrderCanceled): S.CANCELED,
    (S.EMULATED, OrderReleased): S.RELEASED,
    (S.SUBMITTED, OrderAccepted): S.ACCEPTED,
    (S.SUBMITTED, OrderRejected): S.REJECTED,
    (S.SUBMITTED, OrderCanceled): S.CANCELED,
    (S.SUBMITTED, OrderFilled): _FILL,
    (S.ACCEPTED, OrderTriggered): S.TRIGGERED,
    (S.ACCEPTED, OrderUpdated): S.ACCEPTED,
    (S.ACCEPTED, OrderFilled): _FILL,
    (S.ACCEPTED, OrderCanceled): S.CANCELED,
    (S.ACCEPTED, OrderExpired): S.EXPIRED,
    (S.TRIGGERED, OrderFilled): _FILL,
    (S.TRIGGERED, OrderCanceled): S.CANCELED,
    (S.TRIGGERED, OrderExpired): S.EXPIRED,
    (S.PARTIALLY_FILLED, OrderFilled): _FILL,
    (S.PARTIALLY_FILLED, OrderCanceled): S.CANCELED,
    (S.PARTIALLY_FILLED, OrderExpired): S.EXPIRED,
    (S.PARTIALLY_FILLED, OrderUpdated): S.PARTIALLY_FILLED,
    # cancel requests and their races (live venues)
    (S.SUBMITTED, OrderPendingCancel): S.PENDING_CANCEL,
    (S.ACCEPTED, OrderPendingCancel): S.PENDING_CANCEL,
    (S.TRIGGERED, OrderPendingCancel): S.PENDING_CANCEL,
    (S.PARTIALLY_FILLED, OrderPendingCancel): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, OrderAccepted): S.PENDING_CANCEL,  # the ack overtaken by the request
    (S.PENDING_CANCEL, OrderFilled): _FILL,
    (S.PENDING_CANCEL, OrderCanceled): S.CANCELED,
    (S.PENDING_CANCEL, OrderExpired): S.EXPIRED,
    (S.PENDING_CANCEL, OrderCancelRejected): _RESTORE,
    # late fills: the venue filled before it canceled or expired the order
    (S.CANCELED, OrderFilled): _FILL,
    (S.EXPIRED, OrderFilled): _FILL,
    # an order found on the venue that genebot did not send (reconciliation)
    (S.INITIALIZED, OrderAccepted): S.ACCEPTED,
}

_WITH_REASON = frozenset({OrderRejected, OrderDenied, OrderCanceled, OrderCancelRejected})
TERMINAL = frozenset({S.DENIED, S.REJECTED, S.FILLED, S.CANCELED, S.EXPIRED, S.RELEASED})
OPEN = frozenset(
    {S.SUBMITTED, S.ACCEPTED, S.TRIGGERED, S.PARTIALLY_FILLED, S.EMULATED, S.PENDING_CANCEL}
)
# Statuses a fill leaves as they are unless it completes the order: a cancel still pending,
# and the ends a late fill arrives after.
_STICKY = frozenset({S.PENDING_CANCEL, S.CANCELED, S.EXPIRED})


class Order:
    """A mutable order whose every change goes through :meth:`apply`.

    Read its fields; change it only by applying events. ``Order.rebuild(events)`` gives an
    identical order from its event history.
    """

    __slots__ = (
        "avg_px",
        "client_order_id",
        "events",
        "filled_qty",
        "instrument_id",
        "order_type",
        "parent_id",
        "price",
        "prior_status",
        "quantity",
        "reason",
        "reduce_only",
        "side",
        "status",
        "strategy_id",
        "tag",
        "time_in_force",
        "trailing_offset",
        "trigger_price",
        "ts_init",
        "ts_last",
        "venue_order_id",
    )

    def __init__(self, init: OrderInitialized) -> None:
        self.client_order_id = init.client_order_id
        self.strategy_id = init.strategy_id
        self.instrument_id = init.instrument_id
        self.side = init.side
        self.order_type = init.order_type
        self.quantity = init.quantity
        self.price = init.price
        self.trigger_price = init.trigger_price
        self.time_in_force = init.time_in_force
        self.reduce_only = init.reduce_only
        self.tag = init.tag
        self.parent_id = init.parent_id
        self.trailing_offset = init.trailing_offset
        self.ts_init = init.ts_init
        self.ts_last = init.ts_event
        self.status = S.INITIALIZED
        self.prior_status = S.INITIALIZED  # the status a cancel request left (to restore)
        self.filled_qty = _ZERO
        self.avg_px = _ZERO
        self.venue_order_id: str | None = None
        self.reason = ""
        self.events: list[OrderEvent] = [init]

    @property
    def leaves_qty(self) -> Decimal:
        return self.quantity - self.filled_qty if self.filled_qty else self.quantity

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def is_buy(self) -> bool:
        return self.side == "BUY"

    def check(self, event: OrderEvent) -> None:
        """Raise :class:`InvalidStateTransition` if ``event`` may not be applied now; change
        nothing (so an event can be journaled before the order moves)."""
        kind = type(event)
        if (self.status, kind) not in TRANSITIONS:
            raise InvalidStateTransition(
                f"order {self.client_order_id}: {kind.__name__} is not allowed "
                f"in status {self.status.value}"
            )
        if kind is OrderFilled:
            last_qty = event.last_qty  # type: ignore[union-attr]
            if last_qty <= 0 or self.filled_qty + last_qty > self.quantity:
                raise InvalidStateTransition(
                    f"order {self.client_order_id}: fill of {last_qty} exceeds the "
                    f"{self.leaves_qty} left"
                )

    def apply(self, event: OrderEvent) -> None:
        """Move to the next status by the transition table, or raise if the move is illegal."""
        kind = type(event)
        target = TRANSITIONS.get((self.status, kind))
        if target is None:
            self.check(event)  # raises, naming the event and the status
        if kind is OrderFilled:
            self._apply_fill(event)  # type: ignore[arg-type]
        elif target is _RESTORE:
            self.status = self.prior_status
            self.reason = event.reason  # type: ignore[union-attr]
        else:
            if kind is OrderPendingCancel:
                self.prior_status = self.status
            self.status = target  # type: ignore[assignment]
            if kind is OrderAccepted:
                self.venue_order_id = event.venue_order_id  # type: ignore[union-attr]
            elif kind is OrderUpdated:
                self.trigger_price = event.trigger_price  # type: ignore[union-attr]
            elif kind in _WITH_REASON:
                self.reason = event.reason  # type: ignore[union-attr]
            elif kind is OrderReleased:
                self.reason = f"released as {event.released_id}"  # type: ignore[union-attr]
        self.ts_last = event.ts_event
        self.events.append(event)

    def _apply_fill(self, fill: OrderFilled) -> None:
        last_qty = fill.last_qty
        first = not self.filled_qty
        new_filled = last_qty if first else self.filled_qty + last_qty
        if last_qty <= 0 or new_filled > self.quantity:
            raise InvalidStateTransition(
                f"order {self.client_order_id}: fill of {last_qty} exceeds the "
                f"{self.leaves_qty} left"
            )
        if first:  # the usual case: one fill, its price is the average
            self.avg_px = fill.last_px
        else:
            self.avg_px = (self.avg_px * self.filled_qty + fill.last_px * last_qty) / new_filled
        self.filled_qty = new_filled
        if new_filled == self.quantity:
            self.status = S.FILLED
        elif self.status not in _STICKY:
            self.status = S.PARTIALLY_FILLED
        elif self.status is S.PENDING_CANCEL:
            self.prior_status = S.PARTIALLY_FILLED  # a refused cancel leaves it part-filled

    @classmethod
    def rebuild(cls, events: Iterable[OrderEvent]) -> Order:
        """Replay an event history into the order it describes."""
        iterator = iter(events)
        first = next(iterator)
        if not isinstance(first, OrderInitialized):
            raise InvalidStateTransition("an order history must start with OrderInitialized")
        order = cls(first)
        for event in iterator:
            order.apply(event)
        return order

    def __repr__(self) -> str:
        return (
            f"Order({self.client_order_id} {self.side} {self.quantity} {self.instrument_id} "
            f"{self.order_type} {self.status.value})"
        )


def is_triggered(order: Order) -> bool:
    """A stop order whose trigger was reached (a part of it may have filled since)."""
    return order.status is S.TRIGGERED or bool(order.filled_qty)


def crossed_at(order: Order, px: float) -> bool:
    """Whether a trade at ``px`` executes (a limit) or triggers (a stop) ``order``: the orders
    a bar's open crosses act before those the rest of the bar may reach."""
    kind = order.order_type
    if kind == "MARKET":
        return True
    if kind == "LIMIT" or (kind == "STOP_LIMIT" and is_triggered(order)):
        limit = float(order.price)  # type: ignore[arg-type]
        return px <= limit if order.is_buy else px >= limit
    stop = float(order.trigger_price)  # type: ignore[arg-type]
    return px >= stop if order.is_buy else px <= stop


def open_first(orders: list[Order], px: float) -> list[Order]:
    """``orders`` with those a bar's open ``px`` already crosses first (the open is the bar's
    first trade: a gap through a target fills the target even if the bar then reaches the
    stop); otherwise, and within each part, their own order (adverse first). Only a resting
    limit can be moved ahead, so only limits are compared unless one is crossed."""
    limit_crossed = any(
        crossed_at(o, px)
        for o in orders
        if o.order_type == "LIMIT" or (o.order_type == "STOP_LIMIT" and is_triggered(o))
    )
    return sorted(orders, key=lambda o: not crossed_at(o, px)) if limit_crossed else orders
