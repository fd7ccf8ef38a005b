"""The MT5 execution client against the MetaTrader5 stand-in: orders, deals and commissions as
the account books them, the retcode table applied per answer, and exactly-once: an order whose
reply was lost is never resent, and is adopted (found by its comment) or rejected."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mt5_harness import MAGIC, PREFIX, Mt5Venue, standin

from genebot.domain.events import OrderFilled
from genebot.domain.orders import OrderStatus
from genebot.execution.engine import ExecutionEngine
from genebot.testkit.mt5_standin import C, Mt5Standin
from genebot.venues.mt5.execution import Mt5ExecutionClient
from genebot.venues.mt5.venue import Mt5Venue as Mt5KernelVenue

D = Decimal


def sends(mt5: Mt5Standin, comment: str | None = None) -> list[dict[str, Any]]:
    return [
        r for name, r in mt5.calls
        if name == "order_send" and (comment is None or r.get("comment") == comment)
    ]  # fmt: skip


def test_market_buy_fills_with_the_commission_as_its_fee() -> None:
    mt5 = standin()
    v = Mt5Venue(mt5)
    order = v.order("BUY", "10000")
    assert order.status is OrderStatus.FILLED
    assert v.kinds(order) == ["OrderInitialized", "OrderSubmitted", "OrderAccepted", "OrderFilled"]
    (request,) = sends(mt5)
    assert request["action"] == C.TRADE_ACTION_DEAL and request["type"] == C.ORDER_TYPE_BUY
    assert request["volume"] == 0.1 and request["magic"] == MAGIC
    assert request["comment"] == PREFIX + order.client_order_id
    assert request["type_filling"] == C.ORDER_FILLING_IOC and request["deviation"] == 20
    fill = next(e for e in v.events if isinstance(e, OrderFilled))
    (deal,) = mt5.deals
    assert fill.trade_id == f"mt5:{deal.ticket}" and fill.last_qty == D("10000")
    assert fill.last_px == D(str(deal.price)) == D(str(request["price"]))
    assert (fill.fee, fill.fee_currency) == (D("0.35"), "USD")
    assert fill.ts_event == 1520332200 * 10**9  # 10:30 UTC (the server's 12:30)
    assert mt5.positions_get(symbol="EURUSD")[0].volume == 0.1


def test_sl_and_tp_are_attached_and_too_close_stops_are_denied_with_the_distance() -> None:
    mt5 = standin()
    v = Mt5Venue(mt5)
    ask = mt5.symbol_info_tick("EURUSD").ask
    near = _send_with_stops(v, sl=D(str(round(ask - 0.00005, 5))))  # 5 points: under 10
    assert near.status is OrderStatus.REJECTED
    assert "TRADE_RETCODE_INVALID_STOPS" in (near.reason or "")
    assert "minimum stop distance is 0.00010" in (near.reason or "")
    assert mt5.positions_get() == ()
    ok = _send_with_stops(v, sl=D("1.2"), tp=D("1.3"))
    assert ok.status is OrderStatus.FILLED
    assert (sends(mt5)[-1]["sl"], sends(mt5)[-1]["tp"]) == (1.2, 1.3)
    assert (mt5.positions_get()[0].sl, mt5.positions_get()[0].tp) == (1.2, 1.3)


def _send_with_stops(v: Mt5Venue, **stops: Decimal) -> Any:
    """An order sent straight through the client with stops (the engine's risk layer asks)."""
    original = v.client.submit
    v.client.submit = lambda order: original(order, **stops)  # type: ignore[method-assign]
    try:
        return v.order("BUY", "10000")
    finally:
        v.client.submit = original  # type: ignore[method-assign]


def test_limit_rests_then_fills_once_when_the_price_reaches_it() -> None:
    mt5 = standin()
    v = Mt5Venue(mt5)
    order = v.order("BUY", "10000", "LIMIT", price=D("1.23"))
    assert order.status is OrderStatus.ACCEPTED
    assert sends(mt5)[0]["type"] == C.ORDER_TYPE_BUY_LIMIT
    v.client.sync()
    assert order.status is OrderStatus.ACCEPTED
    mt5.set_time("2018-03-09T15:00:00Z")  # EUR/USD trades down through 1.23 on the 9th
    assert [o.ticket for o in mt5.orders_get()] == []
    v.client.sync()
    v.client.sync()
    assert order.status is OrderStatus.FILLED and v.kinds(order).count("OrderFilled") == 1


def test_cancel_a_pending_order_and_one_canceled_on_the_terminal() -> None:
    mt5 = standin()
    v = Mt5Venue(mt5)
    mine = v.order("BUY", "10000", "LIMIT", price=D("1.1"))
    v.engine.cancel(mine)
    assert mine.status is OrderStatus.CANCELED and mt5.orders_get() == ()
    theirs = v.order("SELL", "10000", "STOP_MARKET", trigger_price=D("1.1"))
    assert sends(mt5)[-1]["type"] == C.ORDER_TYPE_SELL_STOP
    mt5.order_send({"action": C.TRADE_ACTION_REMOVE, "order": int(theirs.venue_order_id or 0)})
    v.client.sync()
    assert theirs.status is OrderStatus.CANCELED


def test_a_requote_is_resent_once_with_a_fresh_price_within_the_deviation() -> None:
    mt5 = standin()
    v = Mt5Venue(mt5)
    mt5.inject(C.TRADE_RETCODE_REQUOTE)
    order = v.order("BUY", "10000")
    assert order.status is OrderStatus.FILLED
    first, second = sends(mt5)
    assert first["comment"] == second["comment"] and v.client.requotes == 1


def test_a_price_that_moved_beyond_the_deviation_is_not_chased() -> None:
    mt5 = standin()
    v = Mt5Venue(mt5, deviation=5)
    mt5.inject(C.TRADE_RETCODE_PRICE_CHANGED)
    real_tick = mt5.symbol_info_tick
    v.client.mt5 = _Moved(mt5, real_tick)
    order = v.order("BUY", "10000")
    assert order.status is OrderStatus.REJECTED
    assert "TRADE_RETCODE_PRICE_CHANGED" in (order.reason or "")
    assert "beyond the allowed deviation" in (order.reason or "")
    assert len(sends(mt5)) == 1 and mt5.positions_get() == ()


class _Moved:
    """The stand-in whose ticks move 50 points after the first send."""

    def __init__(self, mt5: Mt5Standin, tick: Any) -> None:
        self._mt5, self._tick, self._sent = mt5, tick, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._mt5, name)

    def order_send(self, request: dict[str, Any]) -> Any:
        self._sent = True
        return self._mt5.order_send(request)

    def symbol_info_tick(self, symbol: str) -> Any:
        t = self._tick(symbol)
        return t._replace(bid=t.bid + 0.0005, ask=t.ask + 0.0005) if self._sent else t


def test_denials_no_money_invalid_volume_and_market_closed() -> None:
    mt5 = standin()
    v = Mt5Venue(mt5)
    broke = v.order("BUY", "10000000")  # 100 lots: 123,000 USD of margin on 10,000
    assert broke.status is OrderStatus.REJECTED and "NO_MONEY" in (broke.reason or "")
    tiny = v.order("BUY", "500")  # under 0.01 lot: refused before sending
    assert tiny.status in (OrderStatus.DENIED, OrderStatus.REJECTED)
    assert len(sends(mt5)) == 1
    mt5.set_time("2018-03-10T12:00:00Z")  # a Saturday
    closed = v.order("BUY", "10000")
    assert closed.status is OrderStatus.REJECTED
    assert "MARKET_CLOSED" in (closed.reason or "") and "waiting for the session" in (
        closed.reason or ""
    )


def test_a_lost_reply_is_never_resent_and_is_adopted_by_its_comment() -> None:
    mt5 = standin()
    v = Mt5Venue(mt5, resolve_after_s=30)
    mt5.inject(C.TRADE_RETCODE_TIMEOUT, executed=True)
    order = v.order("BUY", "10000")
    assert order.status is OrderStatus.SUBMITTED and order.client_order_id in v.client.in_flight
    v.client.sync()
    assert order.status is OrderStatus.FILLED
    assert len(sends(mt5)) == 1 and len(mt5.deals) == 1 and not v.client.in_flight


def test_no_reply_and_nothing_on_the_terminal_is_rejected_after_the_wait() -> None:
    mt5 = standin()
    v = Mt5Venue(mt5, resolve_after_s=60)
    mt5.inject(None)
    order = v.order("BUY", "10000")
    v.client.sync()
    assert order.status is OrderStatus.SUBMITTED  # asked, not found yet: still waiting
    mt5.set_time(mt5.now + 61)
    v.client.sync()
    assert order.status is OrderStatus.REJECTED and "never resent" in (order.reason or "")
    assert len(sends(mt5)) == 1 and mt5.positions_get() == ()


def test_auto_trading_disabled_stops_sending() -> None:
    mt5 = standin()
    v = Mt5Venue(mt5)
    mt5.inject(C.TRADE_RETCODE_CLIENT_DISABLES_AT)
    first = v.order("BUY", "10000")
    second = v.order("BUY", "10000")
    assert first.status is second.status is OrderStatus.REJECTED
    assert v.client.halted and "not sent" in (second.reason or "")
    assert len(sends(mt5)) == 1


def test_a_restarted_client_finds_its_orders_by_comment() -> None:
    mt5 = standin()
    v = Mt5Venue(mt5)
    resting = v.order("BUY", "10000", "LIMIT", price=D("1.1"))
    filled = v.order("BUY", "10000")
    later = Mt5ExecutionClient(
        "mt5", mt5, v.client.instruments, v.client.specs, id_prefix=PREFIX, magic=MAGIC,
        clock=v.client.clock, server=v.client.server,
    )  # fmt: skip
    assert later.find_by_comment(PREFIX + resting.client_order_id) == int(
        resting.venue_order_id or 0
    )
    assert later.find_by_comment(PREFIX + filled.client_order_id) == int(filled.venue_order_id or 0)
    other = Mt5ExecutionClient(
        "mt5", mt5, v.client.instruments, v.client.specs, id_prefix=PREFIX, magic=1,
        clock=v.client.clock, server=v.client.server,
    )  # fmt: skip
    assert other.find_by_comment(PREFIX + filled.client_order_id) is None  # another magic


def test_the_kernel_venue_books_a_round_trip_like_the_terminal() -> None:
    mt5 = standin(at="2018-03-05T10:30:00Z")
    v = Mt5Venue(mt5)
    venue = Mt5KernelVenue(v.client, {v.inst.id: v.inst})
    venue.load_balance("USD", D(str(mt5.account_info().balance)))
    engine = ExecutionEngine(v.portfolio, {v.inst.id: v.inst})
    engine.register_client(venue)
    engine.create("s", v.inst, "SELL", D("100000"), "MARKET")  # a short: a margin account
    mt5.set_time("2018-03-06T10:30:00Z")  # one night: swap_short +1.2 points
    engine.create("s", v.inst, "BUY", D("100000"), "MARKET")
    assert mt5.positions_get() == ()
    assert venue.account.balance("USD") == D(str(mt5.account_info().balance))
    kinds = {e.kind for e in venue.account.entries}
    assert {"realized_pnl", "fee", "financing"} <= kinds
    assert venue.positions[v.inst.id].quantity == 0
