"""The ccxt execution client against the local Binance emulator, through the real ccxt:
orders, fills and fees as the exchange books them, the error table applied per fault (one row
per fault: the reaction, the order's state, what the exchange holds), and exactly-once: an
order whose reply was lost is never resent, and is adopted or rejected by asking."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from genebot.domain.events import OrderFilled
from genebot.domain.orders import OrderStatus
from genebot.testkit.binance_emulator import BinanceEmulator, Fault
from genebot.testkit.ccxt_venue import SYMBOL, Venue, funded_emulator

D = Decimal


@pytest.fixture
def emu() -> Iterator[BinanceEmulator]:
    with funded_emulator() as emulator:
        yield emulator


def posts(emu: BinanceEmulator, vid: str) -> int:
    return sum(
        1
        for method, path, params in emu.requests
        if method == "POST" and path.endswith("/order") and params.get("newClientOrderId") == vid
    )


def test_market_buy_fills_as_the_exchange_books_it(emu: BinanceEmulator) -> None:
    v = Venue(emu)
    order = v.buy("0.1")
    assert order.status is OrderStatus.FILLED
    assert v.kinds(order) == ["OrderInitialized", "OrderSubmitted", "OrderAccepted", "OrderFilled"]
    fill = next(e for e in v.events if isinstance(e, OrderFilled))
    (trade,) = emu.trades()
    assert fill.trade_id == f"binance:{trade['id']}"
    assert (fill.last_qty, fill.last_px) == (D("0.1"), D("50000"))
    assert fill.fee == D(str(trade["commission"])) == D("5")
    assert emu.orders()[0]["clientOrderId"] == "gbtest-" + order.client_order_id
    assert v.portfolio.position("s", v.inst.id).quantity == D("0.1")
    assert emu.balances()["BTC"][0] == D("0.1")


def test_limit_rests_then_fills_once_on_sync(emu: BinanceEmulator) -> None:
    v = Venue(emu)
    order = v.buy("0.1", "LIMIT", price=D("49000"))
    assert order.status is OrderStatus.ACCEPTED
    emu.set_price(SYMBOL, "48900")
    v.client.sync()
    v.client.sync()  # the same trade seen twice is booked once
    assert order.status is OrderStatus.FILLED
    assert v.kinds(order).count("OrderFilled") == 1
    assert v.portfolio.position("s", v.inst.id).quantity == D("0.1")


def test_cancel_and_canceled_on_the_exchange(emu: BinanceEmulator) -> None:
    v = Venue(emu)
    mine = v.buy("0.1", "LIMIT", price=D("40000"))
    v.engine.cancel(mine)
    assert mine.status is OrderStatus.CANCELED
    theirs = v.buy("0.1", "LIMIT", price=D("41000"))
    emu.cancel_on_exchange("gbtest-" + theirs.client_order_id)
    v.client.sync()
    assert theirs.status is OrderStatus.CANCELED
    assert [o["status"] for o in emu.orders()] == ["CANCELED", "CANCELED"]


def test_an_order_that_cannot_be_valid_is_refused_before_sending(emu: BinanceEmulator) -> None:
    v = Venue(emu)
    order = v.buy("0.00002")  # 1 USDT of notional, the market's minimum is 5
    assert order.status is OrderStatus.REJECTED
    assert "venue rule MIN_NOTIONAL" in (order.reason or "")
    assert emu.orders() == [] and not any(m == "POST" for m, _, _ in emu.requests)


# fault → (order status right after submit, status after resolve, orders on the exchange)
FAULTS = [
    (Fault.RATE_LIMIT, "FILLED", "FILLED", 1),  # refused before taken: retried, same id
    (Fault.CLOCK_SKEW, "FILLED", "FILLED", 1),  # re-synced, retried with the same id
    (Fault.SERVER_ERROR, "SUBMITTED", "REJECTED", 0),  # not taken: resolved by asking
    (Fault.TIMEOUT, "SUBMITTED", "REJECTED", 0),
    (Fault.EXECUTED_TIMEOUT, "SUBMITTED", "FILLED", 1),  # taken, reply lost: adopted
    (Fault.DROP, "SUBMITTED", "FILLED", 1),
    (Fault.GARBAGE, "SUBMITTED", "FILLED", 1),
    (Fault.IP_BAN, "REJECTED", "REJECTED", 0),  # stop sending and alert
]


@pytest.mark.parametrize(("fault", "after_submit", "resolved", "on_exchange"), FAULTS)
def test_fault_table(
    emu: BinanceEmulator, fault: Fault, after_submit: str, resolved: str, on_exchange: int
) -> None:
    v = Venue(emu)
    emu.inject(fault, path="/api/v3/order", method="POST")
    order = v.buy("0.1")
    assert order.status.value == after_submit
    v.client.resolve_in_flight()
    assert order.status.value == resolved
    assert len(emu.orders()) == on_exchange
    assert order.client_order_id not in v.client.in_flight
    vid = "gbtest-" + order.client_order_id
    sends = posts(emu, vid)
    retried = fault in (Fault.RATE_LIMIT, Fault.CLOCK_SKEW)
    assert sends == (2 if retried else 1)  # an unknown outcome is never resent
    if fault is Fault.IP_BAN:
        assert v.client.halted is not None
        again = v.buy("0.1")
        assert again.status is OrderStatus.REJECTED and emu.orders() == []


def test_insufficient_funds_is_denied_with_the_exchange_reason(emu: BinanceEmulator) -> None:
    v = Venue(emu)
    order = v.buy("1")  # 50,000 USDT of a 10,000 balance
    assert order.status is OrderStatus.REJECTED
    assert "InsufficientFunds" in (order.reason or "")
    assert emu.orders() == []


def test_in_flight_waits_for_the_exchange_before_giving_up(emu: BinanceEmulator) -> None:
    v = Venue(emu, resolve_after_s=60.0)
    emu.inject(Fault.TIMEOUT, path="/api/v3/order", method="POST")
    order = v.buy("0.1")
    v.client.resolve_in_flight()  # not on the exchange, but it may still show up
    assert order.status is OrderStatus.SUBMITTED
    assert order.client_order_id in v.client.in_flight
    assert posts(emu, "gbtest-" + order.client_order_id) == 1
