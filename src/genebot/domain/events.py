"""Order events. Every change to an order is one of these, with ``ts_event`` and ``ts_init``.

Events are immutable tuples (cheap to create on the backtest hot path). An order is rebuilt by
replaying its events through the transition table in :mod:`genebot.domain.orders`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple


class OrderInitialized(NamedTuple):
    client_order_id: str
    strategy_id: str
    instrument_id: str
    side: str  # "BUY" | "SELL"
    order_type: str  # "MARKET" | "LIMIT" | "STOP_MARKET" | "STOP_LIMIT" | "TRAILING_STOP_MARKET"
    quantity: Decimal
    price: Decimal | None
    trigger_price: Decimal | None
    time_in_force: str  # "GTC" | "IOC"
    reduce_only: bool
    tag: str  # why: "signal", "stop_loss", "take_profit", "trailing_stop", "close" ...
    parent_id: str | None
    trailing_offset: Decimal | None  # fraction, for trailing stops
    ts_event: int
    ts_init: int


class OrderSubmitted(NamedTuple):
    client_order_id: str
    ts_event: int
    ts_init: int


class OrderAccepted(NamedTuple):
    client_order_id: str
    venue_order_id: str
    ts_event: int
    ts_init: int


class OrderRejected(NamedTuple):
    client_order_id: str
    reason: str
    ts_event: int
    ts_init: int


class OrderDenied(NamedTuple):
    """Refused before reaching a venue (risk engine, sizing). A denial is an event, not an error."""

    client_order_id: str
    reason: str
    ts_event: int
    ts_init: int


class OrderTriggered(NamedTuple):
    client_order_id: str
    ts_event: int
    ts_init: int


class OrderUpdated(NamedTuple):
    """A venue-side change of the trigger price (trailing stops)."""

    client_order_id: str
    trigger_price: Decimal
    ts_event: int
    ts_init: int


class OrderFilled(NamedTuple):
    client_order_id: str
    trade_id: str
    instrument_id: str
    side: str
    last_qty: Decimal
    last_px: Decimal
    fee: Decimal
    fee_currency: str
    liquidity: str  # "MAKER" | "TAKER"
    ts_event: int
    ts_init: int


class OrderEmulated(NamedTuple):
    """Held by the local stop emulator instead of resting on a venue without native stops."""

    client_order_id: str
    ts_event: int
    ts_init: int


class OrderReleased(NamedTuple):
    """The emulator's trigger fired: the order is released as ``released_id`` (a market order)."""

    client_order_id: str
    released_id: str
    ts_event: int
    ts_init: int


class OrderCanceled(NamedTuple):
    client_order_id: str
    reason: str
    ts_event: int
    ts_init: int


class OrderExpired(NamedTuple):
    client_order_id: str
    ts_event: int
    ts_init: int


class OrderPendingCancel(NamedTuple):
    """A cancel was sent; the order works on at the venue until the venue confirms it (fills
    may still arrive)."""

    client_order_id: str
    ts_event: int
    ts_init: int


class OrderCancelRejected(NamedTuple):
    """The venue refused the cancel (e.g. the order was already filling): it works on."""

    client_order_id: str
    reason: str
    ts_event: int
    ts_init: int


OrderEvent = (
    OrderInitialized
    | OrderSubmitted
    | OrderAccepted
    | OrderRejected
    | OrderDenied
    | OrderTriggered
    | OrderUpdated
    | OrderFilled
    | OrderCanceled
    | OrderExpired
    | OrderEmulated
    | OrderReleased
    | OrderPendingCancel
    | OrderCancelRejected
)
