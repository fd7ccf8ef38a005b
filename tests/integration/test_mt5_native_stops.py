"""Stops and targets on the MT5 position itself (against the MetaTrader5 stand-in): an entry's
stop-loss and take-profit set with one TRADE_ACTION_SLTP right after the fill, the broker's
minimum stop distance respected, the terminal's SL/TP close booked as the protective order's
fill exactly once, a trailing stop moved on the terminal, a genebot-side exit clearing them,
and a restart that asks for them by comment."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mt5_harness import Mt5Venue, standin

from genebot.domain.events import OrderFilled, OrderUpdated
from genebot.domain.orders import Order, OrderStatus
from genebot.execution.engine import Protection
from genebot.execution.protective import CROSSED
from genebot.testkit.mt5_standin import C, Mt5Standin
from genebot.venues.mt5.ccxt_facade import Mt5Facade

D = Decimal
GUARD = Protection(stop_loss=D("0.005"), take_profit=D("0.02"))


def sltp_sends(mt5: Mt5Standin) -> list[dict[str, Any]]:
    return [
        r for name, r in mt5.calls if name == "order_send" and r["action"] == C.TRADE_ACTION_SLTP
    ]


def children(v: Mt5Venue) -> dict[str, Order]:
    return {
        o.tag: o for o in v.engine.order_log if o.parent_id is not None and o.order_type != "MARKET"
    }


def protected(mt5: Mt5Standin, protection: Protection = GUARD, side: str = "BUY") -> Mt5Venue:
    v = Mt5Venue(mt5)
    entry = v.order(side, "10000", protection=protection)
    assert entry.status is OrderStatus.FILLED
    return v


def test_the_stop_and_target_are_set_on_the_position_with_one_sltp() -> None:
    mt5 = standin()
    v = protected(mt5)
    legs = children(v)
    stop, target = legs["stop_loss"], legs["take_profit"]
    assert stop.status is target.status is OrderStatus.ACCEPTED
    (request,) = sltp_sends(mt5)
    (position,) = mt5.positions_get()
    assert request["position"] == position.ticket
    assert (position.sl, position.tp) == (float(stop.trigger_price), float(target.price))
    assert stop.venue_order_id == f"sltp:{position.ticket}:sl"
    assert mt5.orders_get() == ()  # no pending order: the position holds them


def test_the_terminal_closes_at_the_stop_and_genebot_books_it_once() -> None:
    mt5 = standin()
    v = protected(mt5)
    stop, target = children(v)["stop_loss"], children(v)["take_profit"]
    mt5.set_time("2018-03-10T00:00:00Z")  # EUR/USD falls through 0.5 % below the entry
    assert mt5.positions_get() == ()
    (close,) = [d for d in mt5.deals if d.reason == C.DEAL_REASON_SL]
    assert close.price == float(stop.trigger_price) and close.comment.startswith("[sl ")
    v.client.sync()
    v.client.sync()
    assert stop.status is OrderStatus.FILLED and stop.avg_px == D(str(close.price))
    assert target.status is OrderStatus.CANCELED
    fills = [e for e in v.events if isinstance(e, OrderFilled)]
    assert [f.trade_id for f in fills].count(f"mt5:{close.ticket}") == 1
    assert v.portfolio.position("s", v.inst.id).is_flat


def test_a_target_hit_fills_the_target() -> None:
    mt5 = standin("2018-03-09T15:00:00Z")
    v = protected(mt5, Protection(stop_loss=D("0.02"), take_profit=D("0.005")))
    target = children(v)["take_profit"]
    mt5.set_time("2018-03-14T00:00:00Z")
    v.client.sync()
    (close,) = [d for d in mt5.deals if d.reason == C.DEAL_REASON_TP]
    assert target.status is OrderStatus.FILLED and target.avg_px == D(str(close.price))
    assert children(v)["stop_loss"].status is OrderStatus.CANCELED


def test_a_genebot_exit_closes_the_position_and_ends_its_stop_and_target() -> None:
    mt5 = standin()
    v = protected(mt5)
    exit_ = v.order("SELL", "10000", reduce_only=True)
    assert exit_.status is OrderStatus.FILLED and mt5.positions_get() == ()
    assert {o.status for o in children(v).values()} == {OrderStatus.CANCELED}
    mt5.set_time("2018-03-09T15:00:00Z")
    assert not [d for d in mt5.deals if d.reason in (C.DEAL_REASON_SL, C.DEAL_REASON_TP)]


def test_a_canceled_stop_is_cleared_on_the_terminal() -> None:
    mt5 = standin()
    v = protected(mt5)
    stop = children(v)["stop_loss"]
    v.engine.cancel(stop, "test")
    assert stop.status is OrderStatus.CANCELED
    (position,) = mt5.positions_get()
    assert position.sl == 0.0 and position.tp == float(children(v)["take_profit"].price or 0)


def test_a_stop_nearer_than_the_minimum_distance_is_denied_with_it() -> None:
    mt5 = standin()
    v = protected(mt5, Protection(stop_loss=D("0.00015")))  # 6 points from the bid: not 10
    stop = children(v)["stop_loss"]
    assert stop.status is OrderStatus.REJECTED
    assert "INVALID_STOPS" in (stop.reason or "")
    assert "minimum stop distance is 0.00010" in (stop.reason or "")
    assert sltp_sends(mt5) == []  # refused before sending


def test_the_terminal_refuses_invalid_stops_with_the_same_reaction() -> None:
    mt5 = standin()
    v = protected(mt5, Protection(stop_loss=D("0.01")))
    (position,) = mt5.positions_get()
    request = {"action": C.TRADE_ACTION_SLTP, "symbol": "EURUSD", "position": position.ticket,
               "sl": position.price_open, "tp": 0.0}  # fmt: skip
    assert mt5.order_send(request).retcode == C.TRADE_RETCODE_INVALID_STOPS
    assert mt5.order_send({**request, "sl": position.sl}).retcode == C.TRADE_RETCODE_NO_CHANGES
    assert children(v)["stop_loss"].status is OrderStatus.ACCEPTED


def test_a_stop_already_crossed_exits_at_market() -> None:
    mt5 = standin()
    v = Mt5Venue(mt5)
    v.order("BUY", "10000")
    child = v.engine.create("s", v.inst, "SELL", D("10000"), "STOP_MARKET", reduce_only=True,
                            parent_id="x", trigger_price=D("1.5"), tag="stop_loss")  # fmt: skip
    assert child.status is OrderStatus.REJECTED and (child.reason or "").startswith(CROSSED)
    assert v.portfolio.position("s", v.inst.id).is_flat  # the engine exited at market


def test_a_trailing_stop_moves_the_terminals_sl_in_the_positions_favour() -> None:
    mt5 = standin()
    v = protected(mt5, Protection(trailing=D("0.005")))
    trail = children(v)["trailing_stop"]
    first = mt5.positions_get()[0].sl
    levels = [first]
    for day in ("2018-03-06T13:00:00Z", "2018-03-06T17:00:00Z", "2018-03-06T21:00:00Z"):
        mt5.set_time(day)
        v.client.sync()
        if mt5.positions_get():
            levels.append(mt5.positions_get()[0].sl)
    assert levels == sorted(levels) and len(set(levels)) > 1  # up only, and it moved
    moves = [e for e in v.events if isinstance(e, OrderUpdated)]
    assert moves and moves[-1].trigger_price == D(str(levels[-1]))
    assert len(sltp_sends(mt5)) == len(moves) + 1
    assert trail.trigger_price == D(str(levels[-1]))


def test_a_short_is_protected_above_and_below() -> None:
    mt5 = standin()
    protected(mt5, side="SELL")
    (position,) = mt5.positions_get()
    assert position.type == C.POSITION_TYPE_SELL and position.sl > position.price_open > position.tp


def test_a_restart_asks_by_comment_and_gets_the_hit_once() -> None:
    mt5 = standin()
    v = protected(mt5)
    stop, target = children(v)["stop_loss"], children(v)["take_profit"]
    mt5.set_time("2018-03-10T00:00:00Z")  # hit while genebot is down
    fresh = Mt5Venue(mt5).client  # a new process: no memory of the guards
    facade = Mt5Facade("mt5", fresh)
    first = facade.fetch_order(
        "", "EUR/USD", {"clientOrderId": fresh.id_prefix + stop.client_order_id}
    )
    ask = {"clientOrderId": fresh.id_prefix + target.client_order_id}
    second = facade.fetch_order("", "EUR/USD", ask)
    (close,) = [d for d in mt5.deals if d.reason == C.DEAL_REASON_SL]
    assert (first["status"], first["id"], first["filled"]) == ("closed", str(close.order), 10000.0)
    trades = facade.fetch_my_trades("EUR/USD", params={"orderId": first["id"]})
    assert [t["id"] for t in trades] == [str(close.ticket)]
    assert second["status"] == "canceled"


def test_a_restart_finds_the_levels_on_an_open_position_and_clears_them_once() -> None:
    mt5 = standin()
    v = protected(mt5)
    stop, target = children(v)["stop_loss"], children(v)["take_profit"]
    fresh = Mt5Venue(mt5).client
    facade = Mt5Facade("mt5", fresh)
    ask = {"clientOrderId": fresh.id_prefix + stop.client_order_id}
    reply = facade.fetch_order("", "EUR/USD", ask)
    assert reply["status"] == "open" and reply["id"].startswith("sltp:")
    facade.cancel_order(reply["id"], "EUR/USD")
    assert (mt5.positions_get()[0].sl, mt5.positions_get()[0].tp) == (0.0, 0.0)
    other = facade.fetch_order(
        "", "EUR/USD", {"clientOrderId": fresh.id_prefix + target.client_order_id}
    )
    assert other["status"] == "canceled"
    assert other["info"]["orderListId"] == reply["info"]["orderListId"]
