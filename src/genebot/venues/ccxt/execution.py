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
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
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
from genebot.venues.ccxt.calls import Caller
from genebot.venues.ccxt.errors import ExchangeRefused, OrderNotOnExchange, OrderOutcomeUnknown

log = logging.getLogger("genebot.venues.ccxt")
ZERO = Decimal(0)
_TYPES = {"MARKET": "market", "LIMIT": "limit"}
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


class CcxtExecutionClient:
    """One ccxt exchange as genebot's execution client (synchronous: the kernel's thread)."""

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
            self._report(OrderRejected(order.client_order_id, str(exc), now, self.clock()))
            return
        if not isinstance(reply, Mapping) or not reply.get("id"):  # a reply that says nothing
            cause = f"the reply carried no order id: {str(reply)[:120]!r}"
            log.warning("order %s in flight: %s", vid, cause)
            self.in_flight[order.client_order_id] = InFlight(order, vid, now, cause)
            return
        self._adopt(order, reply)

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
        if order.order_type not in _TYPES:
            return (
                f"{order.order_type} orders are not sent to {self.venue} natively; set "
                f"exchanges.{self.venue}.native_stops: false to have genebot emulate them"
            )
        if order.price is not None and instrument.round_price(order.price) != order.price:
            return (
                f"venue rule PRICE_FILTER: price {order.price} is not a multiple of the "
                f"tick {instrument.tick_size}"
            )
        px = order.price or self._mark(order)
        problem = instrument.minimum_problem(order.quantity, px) if px else None
        return f"venue rule {_rule(problem)}: {problem}" if problem else None

    def _mark(self, order: Order) -> Decimal | None:
        return self.mark(order.instrument_id) if self.mark is not None else None

    def _order_params(self, order: Order, vid: str) -> dict[str, Any]:
        params: dict[str, Any] = {"clientOrderId": vid}
        if order.order_type == "LIMIT":
            params["timeInForce"] = order.time_in_force
        return params


def _rule(problem: str) -> str:
    return "MIN_NOTIONAL" if problem.startswith("notional") else "LOT_SIZE"
