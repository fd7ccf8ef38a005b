"""A restart after a crash or a stop: earlier live deployments' orders finished from what the
exchange says, never resent, and their open positions carried into the new deployment.

For each earlier live deployment of the same name not yet recovered, every order its journal
leaves open is resolved by asking the exchange by its client order id
(``gb-<deployment>-<order id>``):

* journaled but never submitted (the runner died before the write barrier's send): denied;
* submitted but not on the exchange (died between the journal write and the send, or the send
  never arrived): rejected — *not resent*;
* on the exchange: accepted, every trade the journal lacks booked as a fill (by trade id, so
  none twice), its end (canceled, expired) recorded; one still working there is canceled
  (a restart does not take over an earlier run's working orders) and its fills kept;
* the stopped runner's stops and targets, held locally or resting on the exchange (native
  STOP_LOSS / OCO legs): canceled (in its journal; on the exchange) and re-placed by the new
  deployment for the carried position, at the same trigger and limit prices, native or
  emulated as the new deployment's venue holds them. (Between the cancel and the re-place,
  a second or so at start-up, the position has no resting stop.)

The events go to the earlier deployment's own journal, which is then marked recovered. The
net position per strategy and instrument that its fills leave is carried into the new
deployment as one opening fill at the position's average price (``carried:<deployment>``), so
the strategies know what they hold and the exits work; the account is the exchange's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import exists, select

from genebot.core.errors import StopError
from genebot.domain.events import (
    OrderAccepted,
    OrderCanceled,
    OrderDenied,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
)
from genebot.domain.position import Position
from genebot.execution.protective import ExitSpec
from genebot.live.exchange_setup import GENEBOT_PREFIX, ExchangeParts, LiveKernel
from genebot.live.risk_state import prior_deployments
from genebot.persistence.database import Database
from genebot.persistence.journal import TradingStore
from genebot.persistence.tables import Deployment, FillRow, JournalEntry, OrderRow
from genebot.venues.ccxt.errors import OrderNotOnExchange

log = logging.getLogger("genebot.live")
RECOVERED = "runtime.recovered"
OPEN = ("INITIALIZED", "SUBMITTED", "ACCEPTED", "PARTIALLY_FILLED", "TRIGGERED", "EMULATED")
ZERO = Decimal(0)


class BooksDisagree(StopError):
    """genebot's books and the exchange's differ: trading is refused until resolved."""


@dataclass
class Held:
    """A protective order the stopped runner held for a position (re-placed on restart)."""

    client_order_id: str
    order_type: str
    side: str
    price: Decimal | None
    trigger_price: Decimal | None
    trailing_offset: Decimal | None
    tag: str


@dataclass
class Carried:
    strategy_id: str
    instrument_id: str
    quantity: Decimal
    avg_px: Decimal
    source: str  # the deployment it comes from
    protect: list[Held] = field(default_factory=list)


@dataclass
class Recovered:
    lines: list[str] = field(default_factory=list)
    carried: list[Carried] = field(default_factory=list)
    venue_client_ids: set[str] = field(default_factory=set)  # every earlier genebot order


def recover(
    db: Database,
    parts: ExchangeParts,
    name: str,
    now: Callable[[], int],
    *,
    skip: str | None = None,
    dry: bool = False,
) -> Recovered:
    """Resolve the earlier deployments' open orders and collect their positions (``skip``:
    the deployment starting now; ``dry``: say what would be done, change nothing)."""
    out = Recovered()
    protect: dict[tuple[str, str], list[Held]] = {}
    for dep in _earlier(db, name):
        if dep.id == skip:
            continue
        store = TradingStore(db, dep.id)
        tag = f"{GENEBOT_PREFIX}{dep.id[:6]}-"
        out.venue_client_ids |= {tag + r.client_order_id for r in orders_of(db, dep.id, None)}
        lines = []
        held: dict[tuple[str, str], list[Held]] = {}
        lists: set[str] = set()  # the OCO lists canceled at this restart
        for row in orders_of(db, dep.id, OPEN):
            if row.parent_id is not None and row.order_type != "MARKET":
                held.setdefault((row.strategy_id, row.instrument_id), []).append(held_of(row))
            vid = tag + row.client_order_id
            events = _resolve(parts, row, vid, _trade_ids(db, row.id), now, dry, lists)
            if not dry:
                store.on_order_events(events)
            lines.append(f"deployment {dep.id[:12]} {_line(row, events)}")
        out.lines += lines
        protect.update(held)
        if dry:
            continue
        store.record_runtime(RECOVERED, dep.id, {"lines": lines, "ts_event": now()})
    out.carried = net_positions(db, prior_deployments(db, name, "live", skip))  # all of them
    for c in out.carried:
        c.protect = protect.get((c.strategy_id, c.instrument_id), [])
    return out


def _earlier(db: Database, name: str) -> list[Deployment]:
    done = exists().where(
        JournalEntry.deployment_id == Deployment.id, JournalEntry.kind == RECOVERED
    )
    with db.reader() as session:
        rows = session.scalars(
            select(Deployment)
            .where(Deployment.mode == "live", Deployment.name == name, ~done)
            .order_by(Deployment.started_at)
        )
        return list(rows)


def orders_of(db: Database, dep_id: str, statuses: tuple[str, ...] | None) -> list[OrderRow]:
    query = select(OrderRow).where(OrderRow.deployment_id == dep_id).order_by(OrderRow.id)
    if statuses is not None:
        query = query.where(OrderRow.status.in_(statuses))
    with db.reader() as session:
        return list(session.scalars(query))


def _trade_ids(db: Database, order_row_id: int) -> set[str]:
    with db.reader() as session:
        return set(
            session.scalars(select(FillRow.trade_id).where(FillRow.order_id == order_row_id))
        )


def _resolve(
    parts: ExchangeParts,
    row: OrderRow,
    vid: str,
    known: set[str],
    now: Callable[[], int],
    dry: bool = False,
    lists: set[str] | None = None,
) -> list[OrderEvent]:
    coid, t = row.client_order_id, now()
    lists = set() if lists is None else lists
    if row.status == "INITIALIZED":
        return [OrderDenied(coid, "the runner stopped before sending it (restart)", t, t)]
    if row.status in ("EMULATED", "TRIGGERED") and not row.venue_order_id:
        return [OrderCanceled(coid, "held by the stopped runner: canceled at restart", t, t)]
    symbol = parts.instruments[row.instrument_id].symbol
    try:
        known_id = row.venue_order_id or ""  # (MT5: a stop or target on the position)
        reply = parts.caller(
            "read", parts.exchange.fetch_order, known_id, symbol, {"clientOrderId": vid}
        )
    except OrderNotOnExchange:
        why = "not on the exchange at restart: the send never reached it; never resent"
        return [OrderRejected(coid, why, t, t)]
    events: list[OrderEvent] = []
    if row.status == "SUBMITTED":
        events.append(OrderAccepted(coid, str(reply.get("id")), t, t))
    events += _fills(parts, row, reply, known, t)
    status = str(reply.get("status"))
    oco = str((reply.get("info") or {}).get("orderListId", -1))
    protecting = "protecting the stopped runner's position: canceled at restart (re-placed)"
    if status == "open":
        if not dry:
            _cancel(parts, str(reply.get("id")), symbol)
        lists.add(oco)
        why = protecting if row.parent_id is not None else "working at restart: canceled by genebot"
        events.append(OrderCanceled(coid, why, t, t))
    elif status == "canceled" and oco != "-1" and oco in lists:  # with its list's other leg
        events.append(OrderCanceled(coid, protecting, t, t))
    elif status == "canceled":
        events.append(OrderCanceled(coid, "canceled on the exchange", t, t))
    elif status == "expired":
        events.append(OrderExpired(coid, t, t))
    elif status == "rejected":
        events.append(OrderRejected(coid, "rejected by the exchange", t, t))
    return events


def _cancel(parts: ExchangeParts, venue_id: str, symbol: str) -> None:
    try:
        parts.caller("cancel", parts.exchange.cancel_order, venue_id, symbol)
    except OrderNotOnExchange:  # an OCO leg: canceling the other leg canceled its list
        log.info("order %s already ended on the exchange", venue_id)


def _fills(
    parts: ExchangeParts, row: OrderRow, reply: dict[str, Any], known: set[str], t: int
) -> list[OrderEvent]:
    if not Decimal(str(reply.get("filled") or 0)):
        return []
    symbol = parts.instruments[row.instrument_id].symbol
    venue_id = str(reply.get("id"))
    trades = parts.caller(
        "read", parts.exchange.fetch_my_trades, symbol, None, None, {"orderId": venue_id}
    )
    out: list[OrderEvent] = []
    for trade in trades:
        trade_id = f"{parts.name}:{trade.get('id')}"
        if str(trade.get("order")) != venue_id or trade_id in known:
            continue
        fee = trade.get("fee") or {}
        ts = int(trade.get("timestamp") or 0) * 1_000_000 or t
        fill = OrderFilled(
            row.client_order_id, trade_id, row.instrument_id, row.side,
            Decimal(str(trade["amount"])), Decimal(str(trade["price"])),
            Decimal(str(fee.get("cost") or 0)),
            str(fee.get("currency") or parts.instruments[row.instrument_id].quote),
            "MAKER" if trade.get("takerOrMaker") == "maker" else "TAKER", ts, t,
        )  # fmt: skip
        out.append(fill)
    return out


def net_positions(db: Database, dep_ids: list[str]) -> list[Carried]:
    """The net position per (strategy, instrument) the deployments' fills leave."""
    if not dep_ids:
        return []
    with db.reader() as session:
        rows = session.execute(
            select(OrderRow.strategy_id, FillRow.instrument_id, FillRow.side, FillRow.quantity,
                   FillRow.price, FillRow.ts_event)
            .join(OrderRow, FillRow.order_id == OrderRow.id)
            .where(OrderRow.deployment_id.in_(dep_ids))
            .order_by(FillRow.id)
        ).all()  # fmt: skip
    books: dict[tuple[str, str], Position] = {}
    for strategy, iid, side, qty, px, ts in rows:
        pos = books.setdefault((strategy, iid), Position(strategy, iid))
        pos.apply_fill(side, qty, px, ZERO, ts, "carried")
    source = dep_ids[-1]
    return [
        Carried(s, i, p.quantity, p.avg_px, source) for (s, i), p in books.items() if p.quantity
    ]


def held_of(row: OrderRow) -> Held:
    return Held(
        row.client_order_id, row.order_type, row.side, row.price, row.trigger_price,
        row.trailing_offset, row.tag,
    )  # fmt: skip


def _line(row: OrderRow, events: list[OrderEvent]) -> str:
    kinds = ", ".join(type(e).__name__.removeprefix("Order") for e in events) or "nothing new"
    return f"order {row.client_order_id} ({row.side} {row.quantity} {row.instrument_id}): {kinds}"


def plain(c: Carried) -> dict[str, object]:
    return {"strategy": c.strategy_id, "instrument": c.instrument_id,
            "quantity": str(c.quantity), "avg_px": str(c.avg_px)}  # fmt: skip


def carry(live: LiveKernel, carried: list[Carried]) -> None:
    """Open the carried positions in the new deployment's portfolio (one fill each)."""
    kernel = live.kernel
    for c in carried:
        if c.strategy_id not in kernel.portfolio.sleeves:
            raise BooksDisagree(
                f"deployment {c.source[:12]} left {c.strategy_id} holding {c.quantity} "
                f"{c.instrument_id}, and {c.strategy_id} is not enabled now: enable it, or "
                "close the position on the exchange, then start again"
            )
        inst = kernel.instruments[c.instrument_id]
        ts = int(kernel.timeline.step_known[-1])
        fill = OrderFilled(
            f"carried:{c.source[:12]}", f"carried:{c.source}:{c.strategy_id}", c.instrument_id,
            "BUY" if c.quantity > 0 else "SELL", abs(c.quantity), c.avg_px, ZERO, inst.quote,
            "TAKER", ts, ts,
        )  # fmt: skip
        kernel.portfolio.on_fill(c.strategy_id, fill, "carried")
        specs = [
            ExitSpec(h.order_type, h.tag, h.price, h.trigger_price, h.trailing_offset,
                     f"carried:{h.client_order_id}")
            for h in c.protect
        ]  # fmt: skip
        side = "SELL" if c.quantity > 0 else "BUY"
        protector = kernel.execution.protector
        placed = protector.place(c.strategy_id, inst, side, abs(c.quantity), specs, "")
        protector.link(placed)
        log.warning(
            "carried from %s: %s holds %s %s at %s; protection re-placed: %s",
            c.source[:12], c.strategy_id, c.quantity, c.instrument_id, c.avg_px,
            ", ".join(f"{o.tag} {o.client_order_id}" for o in placed) or "none",
        )  # fmt: skip
