"""``genebot reconcile``: genebot's books (the live deployments' journals) against the exchange,
without trading.

:func:`show` lists every difference and changes nothing: the earlier deployments' open orders
and what the exchange says of each (what a restart would record), the open orders on the
exchange (genebot's with their journal, genebot's that no journal holds, other people's), and
the balances the last deployment's books expect (its starting balances plus its fills) against
the exchange's. :func:`accept_exchange` makes the exchange the truth: the journals are
finished from the exchange (as a restart does), genebot-prefixed orders that no journal holds
are canceled, and the exchange's balances are journaled as accepted by the operator.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal

from sqlalchemy import select

from genebot.config.loader import GenebotConfig
from genebot.live.exchange_setup import GENEBOT_PREFIX, ExchangeParts, connect, exchange_totals
from genebot.live.recovery import recover
from genebot.persistence.database import Database
from genebot.persistence.journal import TradingStore
from genebot.persistence.tables import Deployment, FillRow, JournalEntry, OrderRow

ACCEPTED = "operator.accept_exchange"
STARTED = "runtime.started"
ZERO = Decimal(0)


def _last_deployment(db: Database, name: str) -> Deployment | None:
    with db.reader() as session:
        return session.scalars(
            select(Deployment)
            .where(Deployment.mode == "live", Deployment.name == name)
            .order_by(Deployment.started_at.desc())
        ).first()


def expected_balances(db: Database, dep: Deployment, parts: ExchangeParts) -> dict[str, Decimal]:
    """The deployment's starting balances (journaled at start) moved by its fills."""
    with db.reader() as session:
        payload = session.scalars(
            select(JournalEntry.payload).where(
                JournalEntry.deployment_id == dep.id, JournalEntry.kind == STARTED
            )
        ).first()
        fills = session.execute(
            select(FillRow.instrument_id, FillRow.side, FillRow.quantity, FillRow.price,
                   FillRow.fee, FillRow.fee_currency)
            .join(OrderRow, FillRow.order_id == OrderRow.id)
            .where(OrderRow.deployment_id == dep.id)
        ).all()  # fmt: skip
    start = json.loads(payload).get("balances", {}) if payload else {}
    out = {k: Decimal(v) for k, v in start.items()}
    for iid, side, qty, px, fee, fee_currency in fills:
        inst = parts.instruments.get(iid)
        if inst is None:
            continue
        sign = 1 if side == "BUY" else -1
        out[inst.base] = out.get(inst.base, ZERO) + sign * qty
        out[inst.quote] = out.get(inst.quote, ZERO) - sign * inst.round_money(qty * px)
        out[fee_currency] = out.get(fee_currency, ZERO) - fee
    return out


def show(cfg: GenebotConfig, db: Database, name: str = "live") -> list[str]:
    """Every difference, exchange order ids included; nothing is changed."""
    parts = connect(cfg, "show00", stream=False)
    recovered = recover(db, parts, name, time.time_ns, dry=True)
    lines = [f"would record: {line}" for line in recovered.lines]
    lines += [
        f"would carry: {c.strategy_id} {c.quantity} {c.instrument_id} at {c.avg_px}"
        for c in recovered.carried
    ]
    for order in parts.client.open_orders():
        cid = str(order.get("clientOrderId") or "")
        who = (
            "genebot's, in a journal"
            if cid in recovered.venue_client_ids
            else "genebot's prefix, in no journal here"
            if cid.startswith(GENEBOT_PREFIX)
            else "not placed by genebot"
        )
        lines.append(
            f"open on the exchange: {order.get('symbol')} {order.get('side')} "
            f"{order.get('amount')} @ {order.get('price')} (exchange id {order.get('id')}, "
            f"client id {cid or '-'}): {who}"
        )
    dep = _last_deployment(db, name)
    if dep is not None:
        want, have = expected_balances(db, dep, parts), exchange_totals(parts)
        for asset in sorted(set(want) | set(have)):
            a, b = want.get(asset, ZERO), have.get(asset, ZERO)
            if a != b:
                lines.append(
                    f"balance {asset}: deployment {dep.id[:12]}'s books {a.normalize():f}, "
                    f"the exchange {b.normalize():f} (difference {(b - a).normalize():+f})"
                )
    return lines or ["genebot's books and the exchange agree"]


def accept_exchange(cfg: GenebotConfig, db: Database, who: str, name: str = "live") -> list[str]:
    """Take the exchange as the truth (journaled); the next start begins from it."""
    parts = connect(cfg, "accept", stream=False)
    recovered = recover(db, parts, name, time.time_ns)
    lines = [f"recorded: {line}" for line in recovered.lines]
    for order in parts.client.open_orders():
        cid = str(order.get("clientOrderId") or "")
        if cid.startswith(GENEBOT_PREFIX) and cid not in recovered.venue_client_ids:
            parts.caller(
                "cancel", parts.exchange.cancel_order, str(order.get("id")), order.get("symbol")
            )
            lines.append(f"canceled {cid} (exchange id {order.get('id')}): in no journal here")
    dep = _last_deployment(db, name)
    if dep is not None:
        totals = {k: str(v) for k, v in sorted(exchange_totals(parts).items())}
        TradingStore(db, dep.id).record_runtime(
            ACCEPTED, who, {"balances": totals, "ts_event": time.time_ns()}
        )
        lines.append(f"accepted the exchange's balances: {totals}")
    return lines or ["nothing to accept: the books agree"]
