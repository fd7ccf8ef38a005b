"""The MT5 execution client: genebot's orders through ``order_send``, each exactly once.

The execution engine journals ``OrderSubmitted`` before :meth:`Mt5ExecutionClient.submit`; the
request carries genebot's id in its ``comment`` (prefix + deployment tag + order id, at most 31
characters, MT5's limit) and the deployment's ``magic`` number, so a restarted genebot finds
its orders, deals and positions among the account's. A MARKET order is a
``TRADE_ACTION_DEAL`` at the current ask/bid with the allowed ``deviation`` (points); a LIMIT
or STOP_MARKET order is a ``TRADE_ACTION_PENDING`` BUY/SELL_LIMIT or BUY/SELL_STOP. ``sl``/``tp``
are attached when asked; the filling mode is the one the symbol allows.

The reply's ``retcode`` goes through the one table (:mod:`genebot.venues.mt5.retcodes`):
done → accepted (and the deals it made are fills, commissions included); requote / price
changed → resent with a fresh price while that price is within the deviation of the first one
(at most ``max_requotes`` times); no money, invalid volume, invalid stops (the reason names the
broker's minimum distance) → rejected; market closed → rejected, the session is awaited;
timeout, connection lost, no reply → **in flight**: never resent; :meth:`resolve_in_flight`
looks for the comment in the open orders and the history and adopts what it finds, or rejects
the order once the terminal has had ``resolve_after_s`` to show it.

Protective children of an entry (stop-loss, take-profit, trailing stop) are not orders on MT5:
their levels are set on the position (:mod:`genebot.venues.mt5.protection`), which the terminal
holds while genebot is down. A new entry while the symbol's market is closed (the broker's
sessions, :mod:`genebot.venues.mt5.sessions`) is refused before it is sent
(:meth:`Mt5ExecutionClient.entry_refusal`: the engine denies it, rule ``market_closed``).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

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
from genebot.venues.mt5 import retcodes
from genebot.venues.mt5.protection import NATIVE_TYPES, Guards, is_guard
from genebot.venues.mt5.retcodes import Reaction
from genebot.venues.mt5.sessions import BrokerSessions
from genebot.venues.mt5.symbols import ServerClock, SymbolSpec

log = logging.getLogger("genebot.venues.mt5")
ZERO = Decimal(0)
COMMENT_CHARS = 31
# MetaTrader5 constants (official values)
ACTION_DEAL, ACTION_PENDING, ACTION_REMOVE = 1, 5, 8
TYPE_BUY, TYPE_SELL, TYPE_BUY_LIMIT, TYPE_SELL_LIMIT, TYPE_BUY_STOP, TYPE_SELL_STOP = range(6)
ORDER_TIME_GTC = 0
STATE_STARTED, STATE_PLACED, STATE_CANCELED, STATE_PARTIAL, STATE_FILLED = range(5)
STATE_REJECTED, STATE_EXPIRED = 5, 6
DEAL_TYPE_BUY, DEAL_TYPE_SELL = 0, 1
_PENDING_TYPES = {
    ("LIMIT", "BUY"): TYPE_BUY_LIMIT, ("LIMIT", "SELL"): TYPE_SELL_LIMIT,
    ("STOP_MARKET", "BUY"): TYPE_BUY_STOP, ("STOP_MARKET", "SELL"): TYPE_SELL_STOP,
}  # fmt: skip
HISTORY_DAYS = 7  # how far back the history is searched for an order's comment


@dataclass
class InFlight:
    order: Order
    comment: str
    sent_ns: int
    cause: str
    checks: int = 0

    @property
    def venue_client_id(self) -> str:  # the ccxt client's name for it (reconciliation)
        return self.comment


@dataclass(frozen=True)
class Charge:
    """A swap (financing) or commission the broker booked on a deal, for the ledger."""

    ts: int
    currency: str
    amount: Decimal  # signed as the broker books it: negative is a cost
    kind: str  # "swap" | "commission"
    ref: str


class Mt5ExecutionClient:
    """One MT5 account as genebot's execution client (synchronous: the kernel's thread)."""

    locks_exits = False  # a margin account: a resting exit locks no coins
    oco = True  # a stop and a target: one SLTP on the position (the server's own OCO)

    def __init__(
        self,
        venue: str,
        mt5: Any,
        instruments: Mapping[str, Instrument],
        specs: Mapping[str, SymbolSpec],
        *,
        id_prefix: str,
        magic: int,
        currency: str = "USD",
        clock: Callable[[], int] = time.time_ns,
        server: ServerClock | None = None,
        deviation: int = 20,
        max_requotes: int = 2,
        resolve_after_s: float = 5.0,
        seen_trades: Iterable[str] = (),
        sessions: Mapping[str, BrokerSessions] | None = None,
    ) -> None:
        self.venue, self.mt5 = venue, mt5
        self.instruments, self.specs = dict(instruments), dict(specs)
        self.id_prefix, self.magic, self.currency = id_prefix, magic, currency
        self.family = id_prefix.split("-")[0] + "-"  # every deployment's comments start so
        self.clock = clock
        self.server = server or ServerClock("UTC")
        self.deviation, self.max_requotes = deviation, max_requotes
        self.resolve_after_ns = int(resolve_after_s * 1e9)
        self.working: dict[str, Order] = {}
        self.venue_ids: dict[str, str] = {}  # genebot client id -> MT5 order ticket
        self.in_flight: dict[str, InFlight] = {}
        self.seen_trades: set[str] = set(seen_trades)
        self.charges: list[Charge] = []
        self.on_charge: Callable[[Charge], None] | None = None
        self.halted: str | None = None
        self.requotes = 0
        self.mark: Callable[[str], Decimal | None] | None = None  # set by the kernel's assembly
        self.call: Any = None  # a ccxt Caller over the Mt5Facade (the live runtime's calls)
        self.exchange: Any = None  # that facade
        self._report: Callable[[OrderEvent], None] = lambda event: None
        self.native_types: frozenset[str] = NATIVE_TYPES  # held on the position (sl/tp)
        self.guards = Guards(self)
        self.sessions: dict[str, BrokerSessions] = dict(sessions or {})

    def set_reporter(self, report: Callable[[OrderEvent], None]) -> None:
        self._report = report

    # -- ids ------------------------------------------------------------------------------
    def comment_of(self, client_order_id: str) -> str:
        comment = f"{self.id_prefix}{client_order_id}"
        if len(comment) > COMMENT_CHARS:
            raise ValueError(f"order comment {comment!r} is longer than {COMMENT_CHARS}")
        return comment

    def venue_client_id(self, client_order_id: str) -> str:
        """The ccxt client's name for :meth:`comment_of` (the runtime and reconciliation)."""
        return self.comment_of(client_order_id)

    def genebot_id(self, comment: str | None) -> str | None:
        if comment and comment.startswith(self.id_prefix):
            return comment[len(self.id_prefix) :]
        return None

    # -- the broker's sessions ------------------------------------------------------------
    def entry_refusal(self, instrument_id: str) -> str | None:
        """Why no new entry in ``instrument_id`` may be sent now (its market is closed or in
        the rollover pause), as a denial (``rule: detail``); None: it may."""
        sessions = self.sessions.get(instrument_id)
        why = None if sessions is None else sessions.closed_reason(self.clock())
        if why is None:
            return None
        return f"market_closed: {self.specs[instrument_id].name}: {why}"

    # -- commands -------------------------------------------------------------------------
    def submit(self, order: Order, *, sl: Decimal | None = None, tp: Decimal | None = None) -> None:
        now = self.clock()
        problem = self._problem(order)
        if problem:
            self._reject(order, problem)
            return
        if self.halted:
            self._reject(order, f"not sent: {self.halted}")
            return
        if is_guard(order):  # a stop or target: set on the position, not sent as an order
            self.working[order.client_order_id] = order
            self.guards.place([order])
            return
        request = self._request(order, sl, tp)
        if request is None:
            self._reject(order, f"no quote for {self.specs[order.instrument_id].name}")
            return
        self.working[order.client_order_id] = order
        first_price = float(request["price"])
        for attempt in range(self.max_requotes + 1):
            result = self.mt5.order_send(request)
            row = retcodes.lookup(None if result is None else result.retcode)
            if row.reaction is Reaction.RETRY and attempt < self.max_requotes:
                fresh = self._fresh(order, request, first_price)
                if fresh is not None:
                    self.requotes += 1
                    log.info("order %s: %s, resending at %s", request["comment"], row.name, fresh)
                    request = {**request, "price": fresh}
                    continue
            self._answer(order, request, result, row, now)
            return

    def _answer(
        self, order: Order, request: Mapping[str, Any], result: Any, row: retcodes.Retcode,
        now: int,
    ) -> None:  # fmt: skip
        comment = str(request["comment"])
        broker = "" if result is None else str(getattr(result, "comment", "") or "")
        if result is None:
            broker = f"last_error {self.mt5.last_error()}"
        text = retcodes.describe(row.code if result is not None else None, broker)
        if row.reaction is Reaction.DONE:
            self._adopt(order, int(result.order), int(result.deal or 0))
            return
        if row.reaction is Reaction.QUERY:
            log.warning("order %s in flight: %s", comment, text)
            self.in_flight[order.client_order_id] = InFlight(order, comment, now, text)
            return
        self.working.pop(order.client_order_id, None)
        if row.reaction is Reaction.STOP:
            self.halted = f"the terminal refuses trading: {text}"
            log.error("%s: stopped sending: %s", self.venue, text)
        elif row.reaction is Reaction.CLOSED:
            text += "; market closed: waiting for the session"
        elif row.code == retcodes.INVALID_STOPS:
            spec = self.specs[order.instrument_id]
            text += f"; the broker's minimum stop distance is {spec.min_stop_distance}"
        elif row.reaction is Reaction.RETRY:
            text += "; the price moved beyond the allowed deviation"
        self._reject(order, text)

    def _fresh(self, order: Order, request: Mapping[str, Any], first: float) -> float | None:
        """A fresh price for a market order, if within the deviation of the first one."""
        if request["action"] != ACTION_DEAL:
            return None
        spec = self.specs[order.instrument_id]
        tick = self.mt5.symbol_info_tick(spec.name)
        if tick is None:
            return None
        price = float(tick.ask if order.side == "BUY" else tick.bid)
        if abs(price - first) > self.deviation * float(spec.point) + 1e-12:
            return None
        return price

    def _request(
        self, order: Order, sl: Decimal | None, tp: Decimal | None
    ) -> dict[str, Any] | None:
        spec = self.specs[order.instrument_id]
        request: dict[str, Any] = {
            "symbol": spec.name, "volume": spec.lots(order.quantity),
            "magic": self.magic, "comment": self.comment_of(order.client_order_id),
            "type_time": ORDER_TIME_GTC, "type_filling": spec.filling(),
        }  # fmt: skip
        if order.order_type == "MARKET":
            tick = self.mt5.symbol_info_tick(spec.name)
            if tick is None:
                return None
            buy = order.side == "BUY"
            request.update(
                action=ACTION_DEAL, type=TYPE_BUY if buy else TYPE_SELL,
                price=float(tick.ask if buy else tick.bid), deviation=self.deviation,
            )  # fmt: skip
        else:
            level = order.price if order.order_type == "LIMIT" else order.trigger_price
            request.update(
                action=ACTION_PENDING, type=_PENDING_TYPES[(order.order_type, order.side)],
                price=float(level or 0),
            )  # fmt: skip
        if sl is not None:
            request["sl"] = float(sl)
        if tp is not None:
            request["tp"] = float(tp)
        return request

    def _problem(self, order: Order) -> str | None:
        instrument = self.instruments.get(order.instrument_id)
        spec = self.specs.get(order.instrument_id)
        if instrument is None or spec is None:
            return f"instrument {order.instrument_id} is not traded on {self.venue}"
        pending = (order.order_type, order.side) in _PENDING_TYPES or is_guard(order)
        if order.order_type != "MARKET" and not pending:
            return f"{order.order_type} orders are not sent to {self.venue}"
        if spec.trade_mode != "full":
            return f"{spec.name}: the broker allows {spec.trade_mode} trading only"
        lots = Decimal(str(spec.lots(order.quantity)))
        if lots < spec.volume_min:
            return (
                f"venue rule LOT_SIZE: {order.quantity} is {lots} lots, under the minimum "
                f"{spec.volume_min} lots ({spec.volume_min * spec.contract_size} units)"
            )
        if lots > spec.volume_max:
            return f"venue rule LOT_SIZE: {lots} lots is over the maximum {spec.volume_max}"
        return None

    def _reject(self, order: Order, reason: str) -> None:
        now = self.clock()
        self._report(OrderRejected(order.client_order_id, reason, now, now))

    def submit_oco(self, legs: Sequence[Order]) -> None:
        """A stop and a target of one position: both levels with one TRADE_ACTION_SLTP."""
        problems = [(o, self._problem(o) or (self.halted and f"not sent: {self.halted}"))
                    for o in legs]  # fmt: skip
        if any(p for _, p in problems) or not all(is_guard(o) for o in legs):
            for o, p in problems:
                self._reject(o, p or "sent with a leg that cannot be sent")
            return
        for o in legs:
            self.working[o.client_order_id] = o
        self.guards.place(legs)

    def set_break_even(self, order: Order, level: Decimal, new_stop: Decimal) -> None:
        """Move the position's stop to ``new_stop`` once the price reaches ``level``."""
        self.guards.set_break_even(order, level, new_stop)

    def cancel(self, order: Order, reason: str = "canceled") -> None:
        coid = order.client_order_id
        if coid in self.guards.by_id:
            self.guards.cancel(order, reason)
            return
        ticket = self.venue_ids.get(coid)
        if coid in self.in_flight or ticket is None:
            return  # not known on the terminal yet: resolve_in_flight decides
        result = self.mt5.order_send({"action": ACTION_REMOVE, "order": int(ticket)})
        if result is not None and result.retcode in retcodes.DONE_CODES:
            now = self.clock()
            self._report(OrderCanceled(coid, reason, now, now))
            self.working.pop(coid, None)
            return
        self.refresh(order)  # filled meanwhile, or no answer: ask

    # -- what the terminal says -----------------------------------------------------------
    def sync(self) -> None:
        """Working orders up to date: deals made, pending orders that ended."""
        self.resolve_in_flight()
        for order in list(self.working.values()):
            coid = order.client_order_id
            if coid not in self.in_flight and coid not in self.guards.by_id and order.is_open:
                self.refresh(order)
        self.guards.sync()

    def refresh(self, order: Order) -> None:
        ticket = self.venue_ids.get(order.client_order_id)
        if ticket is None or ticket.startswith("sltp:"):
            return
        self._deals(order, int(ticket))
        if not order.is_open:
            self.working.pop(order.client_order_id, None)
            return
        if self.mt5.orders_get(ticket=int(ticket)):
            return  # still pending on the server
        history = self.mt5.history_orders_get(ticket=int(ticket)) or ()
        state = int(history[0].state) if history else None
        now = self.clock()
        coid = order.client_order_id
        if state == STATE_CANCELED:
            self._report(OrderCanceled(coid, "canceled on the terminal", now, now))
        elif state == STATE_EXPIRED:
            self._report(OrderExpired(coid, now, now))
        elif state == STATE_REJECTED:
            self._report(OrderRejected(coid, "rejected by the trade server", now, now))
        if not order.is_open:
            self.working.pop(coid, None)

    def resolve_in_flight(self) -> None:
        for pending in list(self.in_flight.values()):
            self._resolve(pending)

    def _resolve(self, pending: InFlight) -> None:
        order, now = pending.order, self.clock()
        pending.checks += 1
        ticket = self.find_by_comment(pending.comment)
        if ticket is not None:
            del self.in_flight[order.client_order_id]
            log.info("order %s found on the terminal (ticket %s): adopted", pending.comment, ticket)
            self._adopt(order, ticket, 0)
            return
        if now - pending.sent_ns >= self.resolve_after_ns:
            del self.in_flight[order.client_order_id]
            self.working.pop(order.client_order_id, None)
            self._reject(
                order,
                f"not on the terminal {pending.checks} checks and "
                f"{(now - pending.sent_ns) / 1e9:.1f} s after an unanswered send "
                f"({pending.cause}); never resent",
            )

    def find_by_comment(self, comment: str) -> int | None:
        """The ticket of genebot's order with this comment: open, else in the history."""
        spec_names = sorted({s.name for s in self.specs.values()})
        for name in spec_names:
            for o in self.mt5.orders_get(symbol=name) or ():
                if o.comment == comment and int(o.magic) == self.magic:
                    return int(o.ticket)
        since, until = self._history_window()
        for o in self.mt5.history_orders_get(since, until) or ():
            if o.comment == comment and int(o.magic) == self.magic:
                return int(o.ticket)
        return None

    def _history_window(self) -> tuple[dt.datetime, dt.datetime]:
        now_s = self.server.to_server_s(self.clock())
        until = dt.datetime.fromtimestamp(now_s + 86_400, dt.UTC)
        return until - dt.timedelta(days=HISTORY_DAYS + 1), until

    def open_orders(self) -> list[dict[str, Any]]:
        """Every pending order on the account in the symbols this client trades (anyone's),
        shaped as ccxt's (``id``, ``clientOrderId``, ``symbol``, ``side``, ``amount``,
        ``price``), amounts in base units."""
        out = []
        for iid, spec in sorted(self.specs.items()):
            symbol = self.instruments[iid].symbol
            for o in self.mt5.orders_get(symbol=spec.name) or ():
                out.append({
                    "id": str(o.ticket), "clientOrderId": str(o.comment) or None,
                    "symbol": symbol, "side": "sell" if int(o.type) % 2 else "buy",
                    "amount": spec.units(float(o.volume_current)),
                    "price": Decimal(str(o.price_open)) if o.price_open else None,
                    "magic": int(o.magic),
                })  # fmt: skip
        return out

    def _adopt(self, order: Order, ticket: int, deal: int) -> None:
        now = self.clock()
        self.venue_ids[order.client_order_id] = str(ticket)
        self._report(OrderAccepted(order.client_order_id, str(ticket), now, now))
        self._deals(order, ticket)
        if order.is_open and order.order_type == "MARKET" and deal:
            log.warning("order %s: deal %s not in the history yet", ticket, deal)
        if not order.is_open:
            self.working.pop(order.client_order_id, None)

    def _deals(self, order: Order, ticket: int) -> None:
        for deal in self.mt5.history_deals_get(ticket=ticket) or ():
            self._fill(order, deal)

    def _fill(self, order: Order, deal: Any, most: Decimal | None = None) -> None:
        trade_id = f"{self.venue}:{deal.ticket}"
        if trade_id in self.seen_trades or int(deal.type) not in (DEAL_TYPE_BUY, DEAL_TYPE_SELL):
            return
        self.seen_trades.add(trade_id)
        spec = self.specs[order.instrument_id]
        msc = int(getattr(deal, "time_msc", 0) or 0)
        ts = self.server.to_utc_ns(msc // 1000) + (msc % 1000) * 1_000_000
        commission = Decimal(str(deal.commission)) + Decimal(str(getattr(deal, "fee", 0) or 0))
        swap = Decimal(str(deal.swap))
        qty = spec.units(float(deal.volume))
        if most is not None and qty > most:  # a netting position closed with more than it
            log.warning("deal %s closed %s of %s; %s is booked to %s", deal.ticket, qty,
                        spec.name, most, order.client_order_id)  # fmt: skip
            qty = most
        if swap:
            self._charge(Charge(ts, self.currency, swap, "swap", trade_id))
        if commission:  # booked with the fill (its fee): recorded, not booked again
            self.charges.append(Charge(ts, self.currency, commission, "commission", trade_id))
        self._report(
            OrderFilled(
                order.client_order_id, trade_id, order.instrument_id, order.side,
                qty, Decimal(str(deal.price)), -commission,
                self.currency, "TAKER", ts, self.clock(),
            )
        )  # fmt: skip

    def _charge(self, charge: Charge) -> None:
        self.charges.append(charge)
        if self.on_charge is not None:
            self.on_charge(charge)
