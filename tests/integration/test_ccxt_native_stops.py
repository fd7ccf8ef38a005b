"""Protective exits resting on the exchange (Binance spot through the real ccxt, against the
local emulator): a stop and a target as one OCO that locks the coins once, the exchange filling
one leg and expiring the other, a stop alone as STOP_LOSS, a strategy's own exit freeing the
coins first (and re-protecting what a partial exit leaves), a level already crossed exiting at
market, and an OCO whose reply was lost resolved by asking, never resent."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from genebot.domain.orders import Order, OrderStatus
from genebot.execution.engine import Protection
from genebot.execution.protective import CROSSED
from genebot.testkit.binance_emulator import BinanceEmulator, Fault
from genebot.testkit.ccxt_venue import PREFIX, SYMBOL, Venue, funded_emulator

D = Decimal
GUARD = Protection(stop_loss=D("0.02"), take_profit=D("0.04"))


@pytest.fixture
def emu() -> Iterator[BinanceEmulator]:
    with funded_emulator() as emulator:
        yield emulator


def children(v: Venue) -> dict[str, Order]:
    """The protective orders by tag (not the market exits a trigger makes)."""
    return {
        o.tag: o for o in v.engine.order_log if o.parent_id is not None and o.order_type != "MARKET"
    }


def on_exchange(emu: BinanceEmulator, order: Order) -> dict[str, object]:
    (row,) = [o for o in emu.orders() if o["clientOrderId"] == PREFIX + order.client_order_id]
    return row


def position(v: Venue) -> Decimal:
    return v.portfolio.position("s", v.inst.id).quantity


def protected_entry(emu: BinanceEmulator) -> tuple[Venue, Order, Order]:
    v = Venue(emu, native=True)
    entry = v.buy("0.1", protection=GUARD)
    assert entry.status is OrderStatus.FILLED
    legs = children(v)
    return v, legs["stop_loss"], legs["take_profit"]


def test_a_stop_and_a_target_rest_as_one_oco_locking_the_coins_once(emu: BinanceEmulator) -> None:
    _, stop, target = protected_entry(emu)
    assert stop.status is target.status is OrderStatus.ACCEPTED
    s, t = on_exchange(emu, stop), on_exchange(emu, target)
    assert (s["type"], s["stopPrice"]) == ("STOP_LOSS", D("49000"))
    assert (t["type"], t["price"]) == ("LIMIT_MAKER", D("52000"))
    assert s["orderListId"] == t["orderListId"] != -1
    assert emu.balances()["BTC"] == (D(0), D("0.1"))  # locked once, not twice
    oco_posts = [p for m, p, _ in emu.requests if m == "POST" and p.endswith("orderList/oco")]
    assert len(oco_posts) == 1


def test_the_exchange_fills_the_stop_and_expires_the_target(emu: BinanceEmulator) -> None:
    v, stop, target = protected_entry(emu)
    emu.set_price(SYMBOL, "48990")  # through the stop while genebot does nothing
    v.client.sync()
    assert stop.status is OrderStatus.FILLED and stop.avg_px == D("48990")
    assert target.status is OrderStatus.EXPIRED
    assert on_exchange(emu, target)["status"] == "EXPIRED"
    assert position(v) == 0 and emu.balances()["BTC"] == (D(0), D(0))
    assert len(emu.trades()) == 2  # the entry and the stop: nothing else sold


def test_the_target_fills_and_the_stop_expires(emu: BinanceEmulator) -> None:
    v, stop, target = protected_entry(emu)
    emu.set_price(SYMBOL, "52010")
    v.client.sync()
    assert target.status is OrderStatus.FILLED and target.avg_px == D("52000")
    assert stop.status is OrderStatus.EXPIRED
    assert position(v) == 0


def test_a_strategy_exit_frees_the_coins_first(emu: BinanceEmulator) -> None:
    v, stop, target = protected_entry(emu)
    exit_order = v.engine.create("s", v.inst, "SELL", D("0.1"), "MARKET", reduce_only=True)
    assert exit_order.status is OrderStatus.FILLED  # not refused for coins the OCO held
    assert stop.status is target.status is OrderStatus.CANCELED
    assert "replaced by exit" in (stop.reason or "")
    assert position(v) == 0 and not v.engine.open_orders()
    assert all(o["status"] in ("FILLED", "CANCELED") for o in emu.orders())


def test_a_partial_exit_re_protects_what_is_left(emu: BinanceEmulator) -> None:
    v, stop, _ = protected_entry(emu)
    v.engine.create("s", v.inst, "SELL", D("0.04"), "MARKET", reduce_only=True)
    assert position(v) == D("0.06")
    again = [o for o in v.engine.open_orders() if o.parent_id is not None]
    assert sorted((o.tag, o.quantity, o.price or o.trigger_price) for o in again) == [
        ("stop_loss", D("0.06"), D("49000")),
        ("take_profit", D("0.06"), D("52000")),
    ]
    rows = [on_exchange(emu, o) for o in again]
    assert rows[0]["orderListId"] == rows[1]["orderListId"] != on_exchange(emu, stop)["orderListId"]
    assert emu.balances()["BTC"] == (D(0), D("0.06"))


def test_a_stop_alone_rests_as_stop_loss(emu: BinanceEmulator) -> None:
    v = Venue(emu, native=True)
    v.buy("0.1", protection=Protection(stop_loss=D("0.02")))
    stop = children(v)["stop_loss"]
    row = on_exchange(emu, stop)
    assert (row["type"], row["stopPrice"], row["orderListId"]) == ("STOP_LOSS", D("49000"), -1)
    emu.set_price(SYMBOL, "48000")
    v.client.sync()
    assert stop.status is OrderStatus.FILLED and position(v) == 0


def test_a_stop_already_crossed_exits_at_market(emu: BinanceEmulator) -> None:
    v = Venue(emu, native=True)
    v.price = D("48500")  # genebot's last price is already under the stop to be placed
    v.buy("0.1", protection=GUARD)
    legs = children(v)
    assert legs["stop_loss"].status is OrderStatus.REJECTED
    assert (legs["stop_loss"].reason or "").startswith(CROSSED)
    exit_order = next(o for o in v.engine.order_log if o.order_type == "MARKET" and o.parent_id)
    assert exit_order.status is OrderStatus.FILLED and exit_order.tag == "stop_loss"
    assert position(v) == 0
    assert not any(p.endswith("orderList/oco") for _, p, _ in emu.requests)


def test_an_oco_whose_reply_was_lost_is_resolved_never_resent(emu: BinanceEmulator) -> None:
    v = Venue(emu, native=True, resolve_after_s=30)
    emu.inject(Fault.DROP, path="/api/v3/orderList/oco")
    v.buy("0.1", protection=GUARD)
    legs = children(v)
    assert set(v.client.in_flight) == {o.client_order_id for o in legs.values()}
    v.client.sync()
    assert all(o.status is OrderStatus.ACCEPTED for o in legs.values())
    assert not v.client.in_flight
    oco_posts = [p for m, p, _ in emu.requests if m == "POST" and p.endswith("orderList/oco")]
    assert len(oco_posts) == 1
    assert len([o for o in emu.orders() if o["orderListId"] != -1]) == 2
