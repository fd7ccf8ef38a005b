"""The orders and fills tables as the journal writes them, one Core statement per kind a batch.

The ORM's unit of work cost most of a paper replay's time (a mapped instance per order, one
tracked attribute set per field). Here a batch of order events becomes at most three
statements: one multi-row insert of the new orders (returning their ids), one executemany
update of the orders that changed, one multi-row insert of the fills. Every event is still
checked by the domain transition table first, on a cached domain order: an open order is
read from the table only after a restart, an ended one only if a late event arrives.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from genebot.core.time import ns_to_datetime
from genebot.domain.events import OrderEvent, OrderFilled, OrderInitialized
from genebot.domain.orders import Order, OrderStatus
from genebot.persistence.bulk import DriverInsert
from genebot.persistence.tables import FillRow, OrderRow, core_table

ORDERS = core_table(OrderRow)
FILLS = core_table(FillRow)
_CHANGING = ("status", "filled_qty", "avg_px", "trigger_price", "reason", "venue_order_id")
# Rows are found by (deployment, client order id), the table's unique key: no insert needs
# to return its id (SQLite can only return ids one row at a time).
_UPDATE = (
    update(ORDERS)
    .where(ORDERS.c.deployment_id == bindparam("_dep"))
    .where(ORDERS.c.client_order_id == bindparam("_coid"))
    .values({name: bindparam(name) for name in (*_CHANGING, "ts_last", "updated_at")})
)
_INSERT = DriverInsert(ORDERS, [c.name for c in ORDERS.columns if c.name != "id"])
_FILL = insert(FILLS).values(
    order_id=select(ORDERS.c.id)
    .where(ORDERS.c.deployment_id == bindparam("_dep"))
    .where(ORDERS.c.client_order_id == bindparam("_coid"))
    .scalar_subquery()
)


class _Known:
    """One order's domain state, and whether the table holds its row yet."""

    __slots__ = ("created_ns", "order", "stored")

    def __init__(self, order: Order, *, stored: bool) -> None:
        self.order = order
        self.stored = stored
        self.created_ns = order.ts_last


class OrderRows:
    """Writes one deployment's order events to the orders and fills tables."""

    def __init__(self, deployment_id: str) -> None:
        self.deployment_id = deployment_id
        self._known: dict[str, _Known] = {}

    def write(self, conn: Connection, events: Sequence[OrderEvent]) -> None:
        """Apply ``events`` in order (an illegal move raises before anything is written),
        then write the batch's new orders, changed orders and fills."""
        new: list[str] = []
        changed: dict[str, _Known] = {}
        fills: list[OrderFilled] = []
        for event in events:
            coid = event.client_order_id
            if type(event) is OrderInitialized:
                self._known[coid] = _Known(_bare(Order(event)), stored=False)
                new.append(coid)
                continue
            known = self._known.get(coid) or self._load(conn, coid)
            known.order.apply(event)  # the engine's transition table: an illegal move raises
            known.order.events.clear()  # this copy needs no history
            if known.stored:  # a new order goes in once, as the batch leaves it
                changed[coid] = known
            if type(event) is OrderFilled:
                fills.append(event)
        if new:
            _INSERT.execute(conn, [self._insert_values(self._known[c]) for c in new])
            for coid in new:
                self._known[coid].stored = True
        dep = self.deployment_id
        if changed:
            conn.execute(_UPDATE, [_update_values(dep, k) for k in changed.values()])
        if fills:
            conn.execute(_FILL, [_fill_values(dep, f) for f in fills])

    def settle(self, events: Iterable[OrderEvent]) -> None:
        """After a commit: ended orders leave the cache (memory stays flat over a long run)."""
        for event in events:
            known = self._known.get(event.client_order_id)
            if known is not None and not known.order.is_open:
                del self._known[event.client_order_id]

    def forget(self, events: Iterable[OrderEvent]) -> None:
        """After a failed commit: what the batch touched is read again from the table."""
        for event in events:
            self._known.pop(event.client_order_id, None)

    def _load(self, conn: Connection, coid: str) -> _Known:
        row = conn.execute(
            select(ORDERS).where(
                ORDERS.c.deployment_id == self.deployment_id, ORDERS.c.client_order_id == coid
            )
        ).one()
        known = self._known[coid] = _Known(replayable(row), stored=True)
        return known

    def _insert_values(self, known: _Known) -> dict[str, object]:
        order = known.order
        return {
            "deployment_id": self.deployment_id,
            "client_order_id": order.client_order_id,
            "venue_order_id": order.venue_order_id,
            "strategy_id": order.strategy_id,
            "instrument_id": order.instrument_id,
            "side": order.side,
            "order_type": order.order_type,
            "quantity": order.quantity,
            "price": order.price,
            "trigger_price": order.trigger_price,
            "trailing_offset": order.trailing_offset,
            "time_in_force": order.time_in_force,
            "reduce_only": order.reduce_only,
            "tag": order.tag,
            "parent_id": order.parent_id,
            "status": order.status.value,
            "filled_qty": order.filled_qty,
            "avg_px": order.avg_px,
            "reason": order.reason,
            "ts_init": order.ts_init,
            "ts_last": order.ts_last,
            "created_at": ns_to_datetime(known.created_ns),
            "updated_at": ns_to_datetime(order.ts_last),
        }


def _bare(order: Order) -> Order:
    order.events.clear()
    return order


def _update_values(deployment_id: str, known: _Known) -> dict[str, object]:
    order = known.order
    values: dict[str, object] = {name: getattr(order, name) for name in _CHANGING}
    values["status"] = order.status.value
    values["_dep"] = deployment_id
    values["_coid"] = order.client_order_id
    values["ts_last"] = order.ts_last
    values["updated_at"] = ns_to_datetime(order.ts_last)
    return values


def _fill_values(deployment_id: str, fill: OrderFilled) -> dict[str, object]:
    return {
        "_dep": deployment_id,
        "_coid": fill.client_order_id,
        "trade_id": fill.trade_id,
        "instrument_id": fill.instrument_id,
        "side": fill.side,
        "quantity": fill.last_qty,
        "price": fill.last_px,
        "fee": fill.fee,
        "fee_currency": fill.fee_currency,
        "liquidity": fill.liquidity,
        "ts_event": fill.ts_event,
        "filled_at": ns_to_datetime(fill.ts_event),
    }


def replayable(row: Any) -> Order:
    """An orders-table row as a domain order, so its next event is checked by the
    transition table."""
    order = Order(
        OrderInitialized(
            row.client_order_id,
            row.strategy_id,
            row.instrument_id,
            row.side,
            row.order_type,
            row.quantity,
            row.price,
            row.trigger_price,
            row.time_in_force,
            row.reduce_only,
            row.tag,
            row.parent_id,
            row.trailing_offset,
            row.ts_init,
            row.ts_init,
        )
    )
    order.events.clear()
    order.status = OrderStatus(row.status)
    if order.status is OrderStatus.PENDING_CANCEL:  # what a refused cancel goes back to
        partly = row.filled_qty > 0
        order.prior_status = OrderStatus.PARTIALLY_FILLED if partly else OrderStatus.ACCEPTED
    order.filled_qty = row.filled_qty
    order.avg_px = row.avg_px if row.avg_px is not None else Decimal(0)
    order.venue_order_id = row.venue_order_id
    order.reason = row.reason or ""
    order.ts_last = row.ts_last
    return order
