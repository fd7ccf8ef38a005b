"""The ccxt execution client: genebot's orders on a real exchange, each exactly once.

The execution engine journals ``OrderSubmitted`` (with the client order id) *before* it calls
:meth:`CcxtExecutionClient.submit`, and the client sends that id as the exchange's own client
order id (genebot's prefix + the deployment's tag + the order id, so a restarted deployment and
the reconciler recognise genebot's orders among the account's). Then:

* a reply: ``OrderAccepted`` with the exchange's order id, and a fill per trade it carries;
* a refusal (insufficient funds, filters): ``OrderRejected`` naming the exchange's reason;
* an order that cannot be valid (under the venue's minimum amount or notional, off its
  price grid): ``OrderRejected`` with the rule named, *without sending*;
* no usable reply (timeout, 5xx, dropped connection, garbage): the order is **in flight** — it
  stays ``SUBMITTED`` and is never resent; :meth:`resolve_in_flight` asks the exchange by
  client order id (then its open orders) and adopts what it finds, or marks it rejected once
  the exchange has had ``resolve_after_s`` to show it.

:meth:`sync` brings working orders up to date: new trades (deduplicated by trade id, across
restarts too: pass the journal's trade ids as ``seen_trades``) and orders that ended on the
exchange (canceled, expired). Access lost (bad key, IP ban) halts the client: nothing more is
sent, and ``halted`` says why.

Protective exits rest on the exchange where it holds them (:func:`native_protection`, Binance
spot): a stop-loss as a STOP_LOSS order, a stop and a target together as one OCO
(:meth:`CcxtExecutionClient.submit_oco`; the coins are locked once and the exchange expires
the other leg when one fills). One whose level the price has already crossed is refused
before sending with :data:`~genebot.execution.protective.CROSSED`, and the engine exits at
market.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from genebot.core.errors import GenebotError
from genebot.domain.events import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
)
from genebot.domain.instrument import Instrument
from genebot.domain.orders import Order
from genebot.execution.protective import CROSSED
from genebot.venues.ccxt.calls import Caller
from genebot.venues.ccxt.errors import ExchangeRefused, OrderNotOnExchange, OrderOutcomeUnknown

log = logging.getLogger("genebot.venues.ccxt")
ZERO = Decimal(0)
_TYPES = {"MARKET": "market", "LIMIT": "limit", "STOP_MARKET": "market"}
_CROSSED_REPLIES = ("would trigger immediately", "relationship of the prices")
NATIVE_EXITS = frozenset({"STOP_MARKET", "LIMIT"})
_ENDED = {"canceled": OrderCanceled, "expired": OrderExpired, "rejected": OrderRejected}
VENUE_ID_CHARS = 36  # Binance's limit for a client order id; most exchanges allow as much


@dataclass
class InFlight:
    """An order sent without a usable reply: its fate is asked, never assumed."""

    order: Order
    venue_client_id: str
    sent_ns: int
    cause: str
    checks: int = 0


def native_protection(exchange: Any, symbols: Iterable[str]) -> tuple[frozenset[str], bool]:
    """The protective order types the exchange holds for these markets through genebot, and
    whether it takes a stop and a target as one OCO (Binance spot; elsewhere genebot's
    emulator holds them)."""
    if not str(getattr(exchange, "id", "")).startswith("binance"):
        return frozenset(), False
    infos = [exchange.markets[s].get("info") or {} for s in symbols]
    if not infos or not all("STOP_LOSS" in (i.get("orderTypes") or ()) for i in infos):
        return frozenset(), False
    return NATIVE_EXITS, all(i.get("ocoAllowed") for i in infos)


class CcxtExecutionClient:
    """One ccxt exchange as genebot's execution client (synchronous: the kernel's thread)."""

    locks_exits = True  # spot: a resting sell holds its coins (see genebot.execution.protective)

    def __init__(
        self,
        venue: str,
        caller: Caller,
        instruments: Mapping[str, Instrument],
        *,
        id_prefix: str,
        clock: Callable[[], int] = time.time_ns,
        resolve_after_s: float = 5.0,
        seen_trades: Iterable[str] = (),
        mark: Callable[[str], Decimal | None] | None = None,
    ) -> None:
        self.venue = venue
        self.call = caller
        self.exchange = caller.exchange
        self.instruments = dict(instruments)
        self.id_prefix = id_prefix
        self.clock = clock
        self.resolve_after_ns = int(resolve_after_s * 1e9)
        self.working: dict[str, Order] = {}  # sent and not ended, by genebot's client id
        self.venue_ids: dict[str, str] = {}  # genebot client id -> exchange order id
        self.in_flight: dict[str, InFlight] = {}
        self.seen_trades: set[str] = set(seen_trades)
        self.mark = mark  # the last price per instrument: market orders' minimum notional
        self.native_types: frozenset[str] = frozenset()  # protective types the exchange holds
        self.oco = False  # a stop and a target go out as one OCO
        self._report: Callable[[OrderEvent], None] = lambda event: None

    def set_reporter(self, report: Callable[[OrderEvent], None]) -> None:
        self._report = report

    @property
    def halted(self) -> str | None:
        return self.call.halted

    # -- ids ------------------------------------------------------------------------------
    def venue_client_id(self, client_order_id: str) -> str:
        vid = f"{self.id_prefix}{client_order_id}"
        if len(vid) > VENUE_ID_CHARS:
            raise ValueError(f"client order id {vid!r} is longer than {VENUE_ID_CHARS}")
        return vid

    def genebot_id(self, venue_client_id: str | None) -> str | None:
        if venue_client_id and venue_client_id.startswith(self.id_prefix):
            return venue_client_id[len(self.id_prefix) :]
        return None

    # -- commands -------------------------------------------------------------------------
    def submit(self, order: Order) -> None:
        now = self.clock()
        instrument = self.instruments.get(order.instrument_id)
        problem = self._venue_problem(order, instrument)
        if problem or instrument is None:
            self._report(OrderRejected(order.client_order_id, problem or "", now, now))
            return
        vid = self.venue_client_id(order.client_order_id)
        self.working[order.client_order_id] = order
        try:
            reply = self.call(
                "create",
                self.exchange.create_order,
                instrument.symbol,
                _TYPES[order.order_type],
                order.side.lower(),
                float(order.quantity),
                None if order.price is None else float(order.price),
                self._order_params(order, vid),
            )
        except OrderOutcomeUnknown as exc:
            log.warning("order %s in flight: %s", vid, exc)
            self.in_flight[order.client_order_id] = InFlight(order, vid, now, str(exc))
            return
        except GenebotError as exc:  # refused (or access lost): it was not taken
            self.working.pop(order.client_order_id, None)
            self._report(OrderRejected(order.client_order_id, _refusal(exc), now, self.clock()))
            return
        if not isinstance(reply, Mapping) or not reply.get("id"):  # a reply that says nothing
            cause = f"the reply carried no order id: {str(reply)[:120]!r}"
            log.warning("order %s in flight: %s", vid, cause)
            self.in_flight[order.client_order_id] = InFlight(order, vid, now, cause)
            return
        self._adopt(order, reply)

    def submit_oco(self, legs: Sequence[Order]) -> None:
        """A position's stop (STOP_MARKET) and target (LIMIT) as one OCO list; a leg's fills
        and end come back by :meth:`sync` like any order's."""
        stop, target = sorted(legs, key=lambda o: o.order_type != "STOP_MARKET")
        instrument = self.instruments.get(stop.instrument_id)
        now = self.clock()
        problem = self._venue_problem(stop, instrument) or self._venue_problem(target, instrument)
        refused, problem = (stop, problem) if problem else self._oco_problem(stop, target)
        if problem or instrument is None:
            # The other leg ends first: the refused one may make the engine exit at market.
            other = target if refused is stop else stop
            why = f"not sent: the other leg of its OCO was refused ({problem})"
            self._report(OrderRejected(other.client_order_id, why, now, now))
            self._report(OrderRejected(refused.client_order_id, problem or "", now, now))
            return
        params = self._oco_params(instrument.symbol, stop, target)
        for leg in (stop, target):
            self.working[leg.client_order_id] = leg
        try:
            reply = self.call("create", self.exchange.private_post_orderlist_oco, params)
        except OrderOutcomeUnknown as exc:
            self._oco_in_flight((stop, target), now, str(exc))
            return
        except GenebotError as exc:
            for leg in (stop, target):
                self.working.pop(leg.client_order_id, None)
                self._report(OrderRejected(leg.client_order_id, _refusal(exc), now, now))
            return
        reports = reply.get("orderReports") if isinstance(reply, Mapping) else None
        by_vid = {str(r.get("clientOrderId")): r for r in reports or () if isinstance(r, Mapping)}
        market = self.exchange.market(instrument.symbol)
        for leg in (stop, target):
            report = by_vid.get(self.venue_client_id(leg.client_order_id))
            if report is None:
                self._oco_in_flight(
                    (leg,), now, f"the OCO reply lacks the leg: {str(reply)[:120]!r}"
                )
            else:
                self._adopt(leg, self.exchange.parse_order(report, market))

    def _oco_in_flight(self, legs: Sequence[Order], now: int, cause: str) -> None:
        for leg in legs:
            vid = self.venue_client_id(leg.client_order_id)
            log.warning("OCO leg %s in flight: %s", vid, cause)
            self.in_flight[leg.client_order_id] = InFlight(leg, vid, now, cause)

    def _oco_problem(self, stop: Order, target: Order) -> tuple[Order, str | None]:
        """Binance's OCO rule for a sell: stop below the price below the target."""
        if stop.side != "SELL" or stop.quantity != target.quantity:
            return stop, "an OCO here is a SELL of one quantity (a spot position's exits)"
        mark = self._mark(stop)
        if mark is not None and target.price is not None and mark >= target.price:
            return target, f"{CROSSED}: the price {mark} is at or above the target {target.price}"
        return stop, None

    def _oco_params(self, symbol: str, stop: Order, target: Order) -> dict[str, Any]:
        ex = self.exchange
        return {
            "symbol": ex.market_id(symbol), "side": "SELL",
            "quantity": ex.amount_to_precision(symbol, float(stop.quantity)),
            "aboveType": "LIMIT_MAKER",
            "abovePrice": ex.price_to_precision(symbol, float(target.price or 0)),
            "aboveClientOrderId": self.venue_client_id(target.client_order_id),
            "belowType": "STOP_LOSS",
            "belowStopPrice": ex.price_to_precision(symbol, float(stop.trigger_price or 0)),
            "belowClientOrderId": self.venue_client_id(stop.client_order_id),
            "listClientOrderId": self.venue_client_id(f"L{stop.client_order_id}"),
            "newOrderRespType": "RESULT",
        }  # fmt: skip

    def cancel(self, order: Order, reason: str = "canceled") -> None:
        coid = order.client_order_id
        instrument = self.instruments[order.instrument_id]
        if coid in self.in_flight:
            return  # cannot cancel what is not known yet: resolve_in_flight decides
        try:
            reply = self.call(
                "cancel",
                self.exchange.cancel_order,
                self.venue_ids.get(coid, ""),
                instrument.symbol,
                {"clientOrderId": self.venue_client_id(coid)},
            )
        except ExchangeRefused as exc:
            log.info("cancel of %s refused (%s): asking its status", coid, exc)
            self.refresh(order)
            return
        except OrderOutcomeUnknown:  # e.g. already ended on the exchange: ask
            self.refresh(order)
            return
        self._update(order, reply, reason)

    # -- what the exchange says -----------------------------------------------------------
    def refresh(self, order: Order) -> None:
        """Ask the exchange about one order and report what changed (fills, its end)."""
        instrument = self.instruments[order.instrument_id]
        reply = self.call(
            "read",
            self.exchange.fetch_order,
            self.venue_ids.get(order.client_order_id, ""),
            instrument.symbol,
            {"clientOrderId": self.venue_client_id(order.client_order_id)},
        )
        self._update(order, reply, "canceled on the exchange")

    def sync(self) -> None:
        """Bring every working order up to date with the exchange (fills, ends)."""
        self.resolve_in_flight()
        for order in list(self.working.values()):
            if order.client_order_id not in self.in_flight and order.is_open:
                self.refresh(order)

    def resolve_in_flight(self) -> None:
        for pending in list(self.in_flight.values()):
            try:
                self._resolve(pending)
            except GenebotError as exc:  # still unknown: ask again next time
                log.warning("order %s still in flight: %s", pending.venue_client_id, exc)

    def _resolve(self, pending: InFlight) -> None:
        order, now = pending.order, self.clock()
        symbol = self.instruments[order.instrument_id].symbol
        pending.checks += 1
        try:
            reply = self.call(
                "read",
                self.exchange.fetch_order,
                "",
                symbol,
                {"clientOrderId": pending.venue_client_id},
            )
        except OrderNotOnExchange:  # not (yet) on the exchange
            reply = self._in_open_orders(symbol, pending.venue_client_id)
        if reply is not None:
            del self.in_flight[order.client_order_id]
            log.info("order %s found on the exchange: adopted", pending.venue_client_id)
            self._adopt(order, reply)
            return
        if now - pending.sent_ns >= self.resolve_after_ns:
            del self.in_flight[order.client_order_id]
            self.working.pop(order.client_order_id, None)
            reason = (
                f"not on the exchange {pending.checks} checks and "
                f"{(now - pending.sent_ns) / 1e9:.1f} s after an unanswered send "
                f"({pending.cause}); never resent"
            )
            self._report(OrderRejected(order.client_order_id, reason, now, now))

    def open_orders(self) -> list[dict[str, Any]]:
        """Every open order on the account in the instruments this client trades (anyone's)."""
        symbols = sorted({i.symbol for i in self.instruments.values()})
        fetch = self.exchange.fetch_open_orders
        return [dict(reply) for symbol in symbols for reply in self.call("read", fetch, symbol)]

    def _in_open_orders(self, symbol: str, vid: str) -> dict[str, Any] | None:
        for reply in self.call("read", self.exchange.fetch_open_orders, symbol):
            if reply.get("clientOrderId") == vid:
                return dict(reply)
        return None

    def _adopt(self, order: Order, reply: Mapping[str, Any]) -> None:
        """The exchange has the order: accepted, then whatever it did with it."""
        now = self.clock()
        venue_order_id = str(reply.get("id") or "")
        self.venue_ids[order.client_order_id] = venue_order_id
        self._report(OrderAccepted(order.client_order_id, venue_order_id, now, now))
        self._update(order, reply, "canceled on the exchange")

    def _update(self, order: Order, reply: Mapping[str, Any], reason: str) -> None:
        trades = reply.get("trades") or []
        filled = Decimal(str(reply.get("filled") or 0))
        if filled > order.filled_qty and not self._all_trades_known(order, trades, filled):
            trades = self._order_trades(order)
        for trade in trades:
            self._fill(order, trade)
        ended = _ENDED.get(str(reply.get("status")))
        if ended is not None and order.is_open:
            now = self.clock()
            if ended is OrderExpired:
                self._report(OrderExpired(order.client_order_id, now, now))
            else:
                self._report(ended(order.client_order_id, reason, now, now))
        if not order.is_open:
            self.working.pop(order.client_order_id, None)

    def _all_trades_known(self, order: Order, trades: list[Any], filled: Decimal) -> bool:
        qty = sum((Decimal(str(t.get("amount") or 0)) for t in trades if t.get("id")), ZERO)
        return qty >= filled

    def _order_trades(self, order: Order) -> list[dict[str, Any]]:
        symbol = self.instruments[order.instrument_id].symbol
        vid = self.venue_ids.get(order.client_order_id)
        if not vid:
            return []
        trades = self.call(
            "read", self.exchange.fetch_my_trades, symbol, None, None, {"orderId": vid}
        )
        return [t for t in trades if str(t.get("order")) == vid]

    def _fill(self, order: Order, trade: Mapping[str, Any]) -> None:
        trade_id = f"{self.venue}:{trade.get('id')}"
        if trade.get("id") is None or trade_id in self.seen_trades:
            return
        self.seen_trades.add(trade_id)
        fee = trade.get("fee") or {}
        ts = int(trade.get("timestamp") or 0) * 1_000_000 or self.clock()
        self._report(
            OrderFilled(
                order.client_order_id,
                trade_id,
                order.instrument_id,
                order.side,
                Decimal(str(trade["amount"])),
                Decimal(str(trade["price"])),
                Decimal(str(fee.get("cost") or 0)),
                str(fee.get("currency") or self.instruments[order.instrument_id].quote),
                "MAKER" if trade.get("takerOrMaker") == "maker" else "TAKER",
                ts,
                self.clock(),
            )
        )

    # -- rules checked before sending -----------------------------------------------------
    def _venue_problem(self, order: Order, instrument: Instrument | None) -> str | None:
        if instrument is None:
            return f"instrument {order.instrument_id} is not traded on {self.venue}"
        if order.order_type not in _TYPES or (
            order.order_type == "STOP_MARKET" and order.order_type not in self.native_types
        ):
            return (
                f"{order.order_type} orders are not sent to {self.venue} natively; set "
                f"exchanges.{self.venue}.native_stops: false to have genebot emulate them"
            )
        for name, level in (("price", order.price), ("stop price", order.trigger_price)):
            if level is not None and instrument.round_price(level) != level:
                return (
                    f"venue rule PRICE_FILTER: {name} {level} is not a multiple of the "
                    f"tick {instrument.tick_size}"
                )
        if order.order_type == "STOP_MARKET":
            return self._stop_problem(order, instrument)
        px = order.price or self._mark(order)
        problem = instrument.minimum_problem(order.quantity, px) if px else None
        return f"venue rule {_rule(problem)}: {problem}" if problem else None

    def _stop_problem(self, order: Order, instrument: Instrument) -> str | None:
        trigger, mark = order.trigger_price or ZERO, self._mark(order)
        if mark is not None and (mark <= trigger if not order.is_buy else mark >= trigger):
            return f"{CROSSED}: the price {mark} is already through the stop {trigger}"
        problem = instrument.minimum_problem(order.quantity, trigger)
        return f"venue rule {_rule(problem)}: {problem}" if problem else None

    def _mark(self, order: Order) -> Decimal | None:
        return self.mark(order.instrument_id) if self.mark is not None else None

    def _order_params(self, order: Order, vid: str) -> dict[str, Any]:
        params: dict[str, Any] = {"clientOrderId": vid}
        if order.order_type == "LIMIT":
            params["timeInForce"] = order.time_in_force
        if order.order_type == "STOP_MARKET":
            params["stopLossPrice"] = float(order.trigger_price or 0)
        return params


def _refusal(exc: Exception) -> str:
    """The exchange's refusal as a reason; a level already crossed says so (exit at once)."""
    text = str(exc)
    return f"{CROSSED}: {text}" if any(m in text for m in _CROSSED_REPLIES) else text


def _rule(problem: str) -> str:
    return "MIN_NOTIONAL" if problem.startswith("notional") else "LOT_SIZE"
