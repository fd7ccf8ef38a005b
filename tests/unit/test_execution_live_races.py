"""What a live venue does and a bar simulator never does: fills after a cancel, events for
orders that ended long ago, events for orders genebot never sent. The real engine, portfolio
and simulated venue (the venue's report path is the same the ccxt client will use)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from genebot.core.errors import StopError, UnknownOrderError
from genebot.domain.events import OrderFilled
from genebot.domain.orders import Order, OrderStatus
from genebot.execution.engine import Protection
from genebot.testkit.venue import MIN
from genebot.testkit.venue import SimVenue as Venue

D = Decimal
S = OrderStatus
BRACKET = Protection(stop_loss=D("0.02"), take_profit=D("0.05"))
BARS = [(100.0, 101.0, 99.0, 100.0)] * 6


def late_fill(venue: Venue, order: Order, qty: str, px: str) -> OrderFilled:
    ts = venue.engine.now_ns
    return OrderFilled(
        order.client_order_id, f"T-late-{qty}", venue.inst.id, order.side, D(qty), D(px),
        D("0.01"), "USDT", "MAKER", ts, ts,
    )  # fmt: skip


def canceled_limit_entry(protection: Protection | None = BRACKET) -> tuple[Venue, Order]:
    venue = Venue(BARS)
    entry = venue.place("BUY LIMIT px=90 qty=2", protection=protection)
    venue.step()
    venue.engine.cancel(entry, "exit signal")
    assert entry.status is S.CANCELED and entry.client_order_id not in venue.engine.orders
    return venue, entry


def test_a_fill_after_the_cancel_is_booked_not_a_crash() -> None:
    venue, entry = canceled_limit_entry()
    venue.engine.on_event(late_fill(venue, entry, "0.5", "90"))
    assert (entry.status, entry.filled_qty) == (S.CANCELED, D("0.5"))
    position = venue.portfolio.position("s", venue.inst.id)
    assert position.quantity == D("0.5")
    children = [o for o in venue.engine.open_orders() if o.parent_id == entry.client_order_id]
    assert sorted((o.tag, o.quantity) for o in children) == [
        ("stop_loss", D("0.5")),
        ("take_profit", D("0.5")),
    ]
    stop = next(o for o in children if o.tag == "stop_loss")
    assert stop.trigger_price == D("88.2")  # 2 % under the late fill's price


def test_a_late_fill_completing_the_order_fills_it() -> None:
    venue, entry = canceled_limit_entry(protection=None)
    venue.engine.on_event(late_fill(venue, entry, "1.5", "90"))
    venue.engine.on_event(late_fill(venue, entry, "0.5", "89"))
    assert (entry.status, entry.filled_qty, entry.avg_px) == (S.FILLED, 2, D("89.75"))
    assert venue.portfolio.position("s", venue.inst.id).quantity == 2
    assert venue.engine.index[entry.client_order_id] is entry  # the index outlives the end


def test_an_event_for_an_order_genebot_never_sent_stops_with_the_id() -> None:
    venue = Venue(BARS)
    stranger = Order.__new__(Order)
    stranger.client_order_id, stranger.side = "X-1", "BUY"
    with pytest.raises(UnknownOrderError, match=r"X-1.*reconcile") as caught:
        venue.engine.on_event(late_fill(venue, stranger, "1", "100"))
    assert isinstance(caught.value, StopError)  # it stops trading, never counted as user error
    assert venue.portfolio.position("s", venue.inst.id).is_flat


def test_a_fill_over_what_a_canceled_order_had_left_is_refused() -> None:
    venue, entry = canceled_limit_entry()
    with pytest.raises(StopError, match="exceeds"):
        venue.engine.on_event(late_fill(venue, entry, "2.5", "90"))
    assert venue.portfolio.position("s", venue.inst.id).is_flat


def test_ended_orders_stay_known_after_many_more() -> None:
    venue = Venue(BARS * 20)
    first = venue.place("BUY LIMIT px=50 qty=1")
    venue.engine.cancel(first)
    for _ in range(50):
        venue.engine.cancel(venue.place("BUY LIMIT px=50 qty=1"))
    venue.engine.now_ns = 3 * MIN
    venue.engine.on_event(late_fill(venue, first, "1", "50"))
    assert first.status is S.FILLED


def test_the_journal_is_written_before_the_order_moves_and_is_sent() -> None:
    """A failed write of the submit leaves the order INITIALIZED and the venue untouched."""
    venue = Venue(BARS)
    written: list[str] = []

    def journal(event: object) -> None:
        if type(event).__name__ == "OrderSubmitted":
            raise OSError("disk full")
        written.append(type(event).__name__)

    venue.engine.observe(journal)
    with pytest.raises(OSError, match="disk full"):
        venue.place("BUY LIMIT px=90 qty=1")
    (order,) = venue.engine.order_log
    assert order.status is S.INITIALIZED and written == ["OrderInitialized"]
    assert venue.working() == []  # never sent


def test_an_illegal_event_is_never_journaled() -> None:
    venue, entry = canceled_limit_entry(protection=None)
    written: list[object] = []
    venue.engine.observe(written.append)
    with pytest.raises(StopError):
        venue.engine.on_event(late_fill(venue, entry, "3", "90"))  # more than it had left
    assert written == [] and entry.filled_qty == 0


def test_ids_continue_after_the_highest_used_with_the_prefix() -> None:
    from genebot.core.ids import IdGenerator

    ids = IdGenerator("O")
    ids.continue_after(["O-00000007", "O-00000012", "X-00000099", "O-bad", "stray"])
    assert ids.next() == "O-00000013"
    ids.continue_after(["O-00000002"])  # never goes back
    assert ids.next() == "O-00000014"
    assert IdGenerator("O", after=41).next() == "O-00000042"
