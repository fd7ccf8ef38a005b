"""The order lifecycle: the transition table, fills, and rebuilding an order from its events."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
from genebot.domain.orders import TERMINAL, TRANSITIONS, Order, OrderStatus

S = OrderStatus
CID = "O-1"
QTY = Decimal("2")


# -- builders -------------------------------------------------------------------------------
def init(quantity: Decimal = QTY, ts: int = 1) -> OrderInitialized:
    return OrderInitialized(
        CID, "s", "BTC/USDT@sim", "BUY", "STOP_LIMIT", quantity, Decimal("100"),
        Decimal("101"), "GTC", False, "signal", None, None, ts, ts,
    )  # fmt: skip


def fill(qty: str | Decimal, px: str | Decimal = "100", ts: int = 9) -> OrderFilled:
    return OrderFilled(
        CID, f"T-{ts}", "BTC/USDT@sim", "BUY", Decimal(qty), Decimal(px), Decimal("0.1"),
        "USDT", "TAKER", ts, ts,
    )  # fmt: skip


EVENTS: dict[type, Callable[[int], OrderEvent]] = {
    OrderInitialized: lambda ts: init(ts=ts),
    OrderDenied: lambda ts: OrderDenied(CID, "risk", ts, ts),
    OrderSubmitted: lambda ts: OrderSubmitted(CID, ts, ts),
    OrderAccepted: lambda ts: OrderAccepted(CID, f"V-{ts}", ts, ts),
    OrderRejected: lambda ts: OrderRejected(CID, "no funds", ts, ts),
    OrderTriggered: lambda ts: OrderTriggered(CID, ts, ts),
    OrderUpdated: lambda ts: OrderUpdated(CID, Decimal(ts), ts, ts),
    OrderFilled: lambda ts: fill("1", ts=ts),
    OrderCanceled: lambda ts: OrderCanceled(CID, "user", ts, ts),
    OrderExpired: lambda ts: OrderExpired(CID, ts, ts),
    OrderEmulated: lambda ts: OrderEmulated(CID, ts, ts),
    OrderReleased: lambda ts: OrderReleased(CID, f"O-{ts}", ts, ts),
    OrderPendingCancel: lambda ts: OrderPendingCancel(CID, ts, ts),
    OrderCancelRejected: lambda ts: OrderCancelRejected(CID, "too late", ts, ts),
}

# How to reach each status from INITIALIZED (fills are 1 of the order's 2).
PATHS: dict[OrderStatus, list[type]] = {
    S.INITIALIZED: [],
    S.DENIED: [OrderDenied],
    S.SUBMITTED: [OrderSubmitted],
    S.ACCEPTED: [OrderSubmitted, OrderAccepted],
    S.REJECTED: [OrderSubmitted, OrderRejected],
    S.TRIGGERED: [OrderSubmitted, OrderAccepted, OrderTriggered],
    S.PARTIALLY_FILLED: [OrderSubmitted, OrderAccepted, OrderFilled],
    S.FILLED: [OrderSubmitted, OrderAccepted, OrderFilled, OrderFilled],
    S.CANCELED: [OrderSubmitted, OrderAccepted, OrderCanceled],
    S.EXPIRED: [OrderSubmitted, OrderAccepted, OrderExpired],
    S.EMULATED: [OrderEmulated],
    S.RELEASED: [OrderEmulated, OrderReleased],
    S.PENDING_CANCEL: [OrderSubmitted, OrderAccepted, OrderPendingCancel],
}

# Every legal move, written out by hand (a fill of 1 from a status with 2 left).
LEGAL: dict[tuple[OrderStatus, type], OrderStatus] = {
    (S.INITIALIZED, OrderDenied): S.DENIED,
    (S.INITIALIZED, OrderSubmitted): S.SUBMITTED,
    (S.SUBMITTED, OrderAccepted): S.ACCEPTED,
    (S.SUBMITTED, OrderRejected): S.REJECTED,
    (S.SUBMITTED, OrderCanceled): S.CANCELED,
    (S.SUBMITTED, OrderFilled): S.PARTIALLY_FILLED,
    (S.ACCEPTED, OrderTriggered): S.TRIGGERED,
    (S.ACCEPTED, OrderUpdated): S.ACCEPTED,
    (S.ACCEPTED, OrderFilled): S.PARTIALLY_FILLED,
    (S.ACCEPTED, OrderCanceled): S.CANCELED,
    (S.ACCEPTED, OrderExpired): S.EXPIRED,
    (S.TRIGGERED, OrderFilled): S.PARTIALLY_FILLED,
    (S.TRIGGERED, OrderCanceled): S.CANCELED,
    (S.TRIGGERED, OrderExpired): S.EXPIRED,
    (S.PARTIALLY_FILLED, OrderFilled): S.FILLED,  # the last 1 of 2
    (S.PARTIALLY_FILLED, OrderCanceled): S.CANCELED,
    (S.PARTIALLY_FILLED, OrderExpired): S.EXPIRED,
    (S.PARTIALLY_FILLED, OrderUpdated): S.PARTIALLY_FILLED,
    (S.INITIALIZED, OrderEmulated): S.EMULATED,
    (S.EMULATED, OrderUpdated): S.EMULATED,
    (S.EMULATED, OrderCanceled): S.CANCELED,
    (S.EMULATED, OrderReleased): S.RELEASED,
    # live races: cancel requests, refused cancels, late fills, orders found on the venue
    (S.SUBMITTED, OrderPendingCancel): S.PENDING_CANCEL,
    (S.ACCEPTED, OrderPendingCancel): S.PENDING_CANCEL,
    (S.TRIGGERED, OrderPendingCancel): S.PENDING_CANCEL,
    (S.PARTIALLY_FILLED, OrderPendingCancel): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, OrderAccepted): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, OrderFilled): S.PENDING_CANCEL,  # 1 of 2: the cancel still pends
    (S.PENDING_CANCEL, OrderCanceled): S.CANCELED,
    (S.PENDING_CANCEL, OrderExpired): S.EXPIRED,
    (S.PENDING_CANCEL, OrderCancelRejected): S.ACCEPTED,  # back to what it was
    (S.CANCELED, OrderFilled): S.CANCELED,  # a late fill of 1 of 2: booked, still canceled
    (S.EXPIRED, OrderFilled): S.EXPIRED,
    (S.INITIALIZED, OrderAccepted): S.ACCEPTED,  # found on the venue, not sent by genebot
}
ILLEGAL = [(s, e) for s in S for e in EVENTS if (s, e) not in LEGAL]


def order_in(status: OrderStatus) -> Order:
    order = Order(init())
    for ts, kind in enumerate(PATHS[status], start=2):
        order.apply(EVENTS[kind](ts))
    assert order.status is status
    return order


def _id(case: tuple[OrderStatus, type]) -> str:
    return f"{case[0].value}-{case[1].__name__}"


# -- the table ------------------------------------------------------------------------------
def test_the_written_out_table_is_the_engines_table() -> None:
    assert set(LEGAL) == set(TRANSITIONS)
    assert len(ILLEGAL) == len(S) * len(EVENTS) - len(LEGAL)


@pytest.mark.parametrize("case", list(LEGAL), ids=_id)
def test_legal_transition(case: tuple[OrderStatus, type]) -> None:
    status, kind = case
    order = order_in(status)
    event = EVENTS[kind](50)
    order.apply(event)
    assert order.status is LEGAL[case]
    assert order.events[-1] is event
    assert order.ts_last == 50


@pytest.mark.parametrize("case", ILLEGAL, ids=_id)
def test_illegal_transition_raises_and_changes_nothing(case: tuple[OrderStatus, type]) -> None:
    status, kind = case
    order = order_in(status)
    before = (order.status, order.filled_qty, order.avg_px, len(order.events), order.ts_last)
    with pytest.raises(InvalidStateTransition, match=kind.__name__):
        order.apply(EVENTS[kind](50))
    assert (order.status, order.filled_qty, order.avg_px, len(order.events), order.ts_last) == (
        before
    )


def test_events_set_their_fields() -> None:
    order = order_in(S.SUBMITTED)
    order.apply(OrderAccepted(CID, "V-77", 3, 3))
    assert order.venue_order_id == "V-77"
    order.apply(OrderUpdated(CID, Decimal("104.5"), 4, 4))
    assert order.trigger_price == Decimal("104.5")
    order.apply(OrderCanceled(CID, "one-cancels-other", 5, 5))
    assert order.reason == "one-cancels-other"
    assert not order.is_open
    denied = Order(init())
    denied.apply(OrderDenied(CID, "over the limit", 2, 2))
    assert denied.reason == "over the limit"
    rejected = order_in(S.SUBMITTED)
    rejected.apply(OrderRejected(CID, "insufficient USDT", 3, 3))
    assert rejected.reason == "insufficient USDT"


# -- fills ----------------------------------------------------------------------------------
def test_fills_average_their_prices_by_quantity() -> None:
    order = Order(init(quantity=Decimal("3")))
    for event in (OrderSubmitted(CID, 2, 2), OrderAccepted(CID, "V", 3, 3)):
        order.apply(event)
    order.apply(fill("1", "100"))
    assert (order.status, order.filled_qty, order.leaves_qty) == (S.PARTIALLY_FILLED, 1, 2)
    order.apply(fill("2", "103"))
    assert order.status is S.FILLED
    assert order.avg_px == Decimal("102")  # (100×1 + 103×2) / 3
    assert order.leaves_qty == 0


@pytest.mark.parametrize(
    ("status", "qty"),
    [
        (S.ACCEPTED, "2.001"),
        (S.PARTIALLY_FILLED, "1.001"),
        (S.TRIGGERED, "3"),
        (S.ACCEPTED, "0"),
        (S.ACCEPTED, "-1"),
    ],
    ids=["overfill-from-accepted", "overfill-rest", "overfill-triggered", "zero", "negative"],
)
def test_fill_outside_the_leaves_quantity_raises(status: OrderStatus, qty: str) -> None:
    order = order_in(status)
    filled = order.filled_qty
    with pytest.raises(InvalidStateTransition, match="exceeds"):
        order.apply(fill(qty))
    assert (order.status, order.filled_qty) == (status, filled)


def test_rebuild_needs_an_initialized_event_first() -> None:
    with pytest.raises(InvalidStateTransition, match="OrderInitialized"):
        Order.rebuild([OrderSubmitted(CID, 1, 1)])


# -- properties -----------------------------------------------------------------------------
@st.composite
def legal_histories(draw: st.DrawFn) -> Order:
    """A random order driven only by events its status allows."""
    lots = draw(st.integers(1, 50))
    order = Order(init(quantity=Decimal(lots) / 10, ts=0))
    for ts in range(1, draw(st.integers(0, 25)) + 1):
        allowed = sorted(
            (e for (s, e) in TRANSITIONS if s is order.status), key=lambda e: e.__name__
        )
        if not allowed:
            break
        kind = draw(st.sampled_from(allowed))
        if kind is OrderFilled:
            leaves = int(order.leaves_qty * 10)
            qty = Decimal(draw(st.integers(1, leaves))) / 10
            px = Decimal(draw(st.integers(1, 10**7))) / 100
            event: OrderEvent = fill(qty, px, ts)
        elif kind is OrderUpdated:
            event = OrderUpdated(CID, Decimal(draw(st.integers(1, 10**6))) / 100, ts, ts)
        else:
            event = EVENTS[kind](ts)
        order.apply(event)
        assert order.filled_qty <= order.quantity
    return order


@settings(max_examples=300, deadline=None)
@given(legal_histories())
def test_rebuild_reproduces_the_order(order: Order) -> None:
    again = Order.rebuild(order.events)
    for field in Order.__slots__:
        assert getattr(again, field) == getattr(order, field), field
    assert order.filled_qty <= order.quantity
    assert (order.status is S.FILLED) == (order.filled_qty == order.quantity)


@settings(max_examples=200, deadline=None)
@given(legal_histories(), st.sampled_from(sorted(EVENTS, key=lambda e: e.__name__)))
def test_terminal_orders_accept_nothing_but_a_late_fill(order: Order, kind: type) -> None:
    if order.status is S.INITIALIZED:
        order.apply(OrderDenied(CID, "risk", 90, 90))
    elif order.is_open:
        order.apply(OrderCanceled(CID, "user", 90, 90))
    assert order.status in TERMINAL
    if kind is OrderFilled and order.status in (S.CANCELED, S.EXPIRED):
        return  # a late fill (its own test below)
    before = (order.status, order.filled_qty, order.avg_px, len(order.events))
    with pytest.raises(InvalidStateTransition):
        order.apply(EVENTS[kind](99))
    assert (order.status, order.filled_qty, order.avg_px, len(order.events)) == before


# -- live races -----------------------------------------------------------------------------
def test_a_refused_cancel_restores_the_status_it_interrupted() -> None:
    order = order_in(S.TRIGGERED)
    order.apply(OrderPendingCancel(CID, 10, 10))
    assert order.is_open and order.status is S.PENDING_CANCEL
    order.apply(OrderCancelRejected(CID, "order is filling", 11, 11))
    assert (order.status, order.reason) == (S.TRIGGERED, "order is filling")
    partly = order_in(S.ACCEPTED)
    partly.apply(OrderPendingCancel(CID, 10, 10))
    partly.apply(fill("1", ts=11))  # a fill overtakes the cancel
    assert partly.status is S.PENDING_CANCEL and partly.filled_qty == 1
    partly.apply(OrderCancelRejected(CID, "too late", 12, 12))
    assert partly.status is S.PARTIALLY_FILLED


@pytest.mark.parametrize("end", [S.CANCELED, S.EXPIRED])
def test_a_late_fill_is_booked_and_a_complete_one_fills_the_order(end: OrderStatus) -> None:
    order = order_in(end)
    order.apply(fill("1", "101", ts=20))
    assert (order.status, order.filled_qty, order.avg_px) == (end, 1, 101)
    order.apply(fill("1", "103", ts=21))
    assert (order.status, order.filled_qty, order.avg_px) == (S.FILLED, 2, 102)
    assert Order.rebuild(order.events).status is S.FILLED
