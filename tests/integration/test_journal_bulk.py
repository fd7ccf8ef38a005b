"""The journal's bulk write path (Core statements, driver-level inserts, the order cache)
stores exactly what the ORM stored, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from genebot.core.time import ns_to_datetime
from genebot.domain.events import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderFilled,
    OrderInitialized,
    OrderSubmitted,
)
from genebot.domain.orders import InvalidStateTransition, Order
from genebot.persistence.bulk import DriverInsert
from genebot.persistence.database import Database
from genebot.persistence.journal import TradingStore
from genebot.persistence.repositories import DeploymentRepository, OrderRepository
from genebot.persistence.tables import FillRow, JournalEntry, RiskEventRow, core_table

D = Decimal
T0 = 1_700_000_000_000_000_000


def _init(coid: str, qty: str = "1.5", ts: int = T0) -> OrderInitialized:
    return OrderInitialized(
        coid, "s", "BTC/USDT.SIM", "BUY", "LIMIT", D(qty), D("100.25"), None, "GTC",
        False, "signal", None, None, ts, ts,
    )  # fmt: skip


def _fill(coid: str, trade: str, qty: str, px: str, ts: int) -> OrderFilled:
    return OrderFilled(coid, trade, "BTC/USDT.SIM", "BUY", D(qty), D(px), D("0.01"), "USDT",
                       "MAKER", ts, ts)  # fmt: skip


def _store(db: Database) -> tuple[TradingStore, str]:
    dep = DeploymentRepository(db).start("bulk", "paper", {"strategies": ["s"]})
    return TradingStore(db, dep), dep


def _lifecycle(coid: str) -> list[OrderEvent]:
    return [
        _init(coid),
        OrderSubmitted(coid, T0 + 1, T0 + 1),
        OrderAccepted(coid, f"V-{coid}", T0 + 2, T0 + 2),
        _fill(coid, f"{coid}-t1", "0.5", "100.25", T0 + 3),
        _fill(coid, f"{coid}-t2", "1.0", "100.00", T0 + 4),
    ]


@pytest.mark.parametrize("cut", [1, 2, 3, 4, 5])
def test_an_order_stored_in_any_batching_equals_the_domain_order(
    database: Database, cut: int
) -> None:
    """Whatever the batch boundaries, the row holds what the domain order holds after all
    its events, and every fill is stored once against its order."""
    store, dep = _store(database)
    events = _lifecycle("O-1")
    store.on_order_events(events[:cut])
    if events[cut:]:
        store.on_order_events(events[cut:])
    expected = Order.rebuild(events)
    row = OrderRepository(database).get(dep, "O-1")
    assert row is not None
    assert (row.status, row.filled_qty, row.avg_px, row.venue_order_id) == (
        expected.status.value, expected.filled_qty, expected.avg_px, "V-O-1"
    )  # fmt: skip
    assert row.created_at == ns_to_datetime(T0)  # when it was created, not last changed
    assert row.ts_last == T0 + 4
    with database.reader() as s:
        fills = s.scalars(select(FillRow).order_by(FillRow.id)).all()
        assert [(f.order_id, f.trade_id, f.quantity) for f in fills] == [
            (row.id, "O-1-t1", D("0.5")), (row.id, "O-1-t2", D("1.0"))
        ]  # fmt: skip
        kinds = s.scalars(select(JournalEntry.kind).order_by(JournalEntry.id)).all()
    assert kinds == [type(e).__name__ for e in events]


def test_a_restarted_store_reads_the_order_it_does_not_know_and_checks_the_move(
    database: Database,
) -> None:
    store, dep = _store(database)
    store.on_order_events(_lifecycle("O-1")[:3])
    again = TradingStore(database, dep)  # a new process: nothing cached
    again.on_order_events([_fill("O-1", "t1", "1.5", "99", T0 + 9)])
    row = OrderRepository(database).get(dep, "O-1")
    assert row is not None and (row.status, row.filled_qty) == ("FILLED", D("1.5"))
    with pytest.raises(InvalidStateTransition, match="O-1"):  # from the table's status
        TradingStore(database, dep).on_order_events([OrderAccepted("O-1", "V", T0, T0)])


def test_a_late_fill_after_a_cancel_reaches_an_order_that_left_the_cache(
    database: Database,
) -> None:
    store, dep = _store(database)
    events = [*_lifecycle("O-1")[:3], OrderCanceled("O-1", "canceled", T0 + 5, T0 + 5)]
    store.on_order_events(events)
    assert store._orders._known == {}  # an ended order is not kept in memory
    store.on_order_events([_fill("O-1", "late", "0.2", "100", T0 + 6)])
    row = OrderRepository(database).get(dep, "O-1")
    assert row is not None and (row.status, row.filled_qty) == ("CANCELED", D("0.2"))


def test_an_illegal_move_writes_nothing_of_its_batch(database: Database) -> None:
    store, dep = _store(database)
    store.on_order_events(_lifecycle("O-1")[:2])
    with pytest.raises(InvalidStateTransition):
        store.on_order_events([_init("O-2"), _fill("O-1", "t", "9", "100", T0 + 3)])
    assert OrderRepository(database).get(dep, "O-2") is None
    with database.reader() as s:
        assert s.scalar(select(func.count()).select_from(JournalEntry)) == 2
    store.on_order_events(_lifecycle("O-1")[2:])  # the store goes on from the table's state
    row = OrderRepository(database).get(dep, "O-1")
    assert row is not None and row.status == "FILLED"


def test_a_failed_commit_leaves_no_state_behind(database: Database) -> None:
    """A batch the database refuses (a client order id used twice) is not half-remembered:
    the order it touched is read again from the table next time."""
    store, dep = _store(database)
    store.on_order_events(_lifecycle("O-1")[:2])
    with pytest.raises(IntegrityError):
        store.on_order_events([OrderAccepted("O-1", "V-1", T0 + 2, T0 + 2), _init("O-1")])
    row = OrderRepository(database).get(dep, "O-1")
    assert row is not None and (row.status, row.venue_order_id) == ("SUBMITTED", None)
    store.on_order_events([OrderAccepted("O-1", "V-2", T0 + 2, T0 + 2)])
    row = OrderRepository(database).get(dep, "O-1")
    assert row is not None and (row.status, row.venue_order_id) == ("ACCEPTED", "V-2")


def test_the_driver_insert_stores_what_core_stores(database: Database) -> None:
    dep = DeploymentRepository(database).start("bulk", "paper", {})
    table = core_table(RiskEventRow)
    when = datetime(2024, 3, 10, 1, 59, 59, 123456, tzinfo=UTC)
    rows = [
        {"deployment_id": dep, "ts": when + timedelta(seconds=i), "strategy": "s",
         "symbol": "BTC/USDT", "rule": "max_positions", "action": "deny", "detail": f"d{i} é"}
        for i in range(3)
    ]  # fmt: skip
    with database.session() as s:
        s.connection().execute(insert(table), rows[:1])
        DriverInsert(table, list(rows[0])).execute(s.connection(), rows)
    with database.reader() as s:
        stored = s.scalars(select(RiskEventRow).order_by(RiskEventRow.id)).all()
    got = [(r.ts, r.detail) for r in stored]
    assert got[0] == got[1] == (when, "d0 é")
    assert got[2:] == [(when + timedelta(seconds=i), f"d{i} é") for i in (1, 2)]
    assert all(r.ts.tzinfo is not None for r in stored)
