"""Crash safety and concurrency of the store, on SQLite and on PostgreSQL.

A child process trades on the simulated venue with every event stored, and is killed with
SIGKILL at a random moment, 50 times over. After each kill the database must hold everything
the child saw committed; at the end it must be consistent: no fill without its order, every
order's filled quantity equal to the sum of its fills and to its journal's replay, every round
trip with its journal entry.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import threading
import time
from decimal import Decimal

import numpy as np
from sqlalchemy import func, select

from genebot.persistence.database import Database
from genebot.persistence.journal import TradingStore
from genebot.persistence.repositories import (
    DeploymentRepository,
    JournalRepository,
    OrderRepository,
    TradeRepository,
)
from genebot.persistence.tables import FillRow, JournalEntry, OrderRow, TradeRow
from genebot.testkit.venue import SimVenue

KILLS = 50


def _bars(n: int, seed: int) -> list[tuple[float, float, float, float]]:
    closes = 100 * np.exp(np.cumsum(np.random.default_rng(seed).normal(0, 0.002, n)))
    return [(c, c * 1.002, c * 0.998, c) for c in closes]


def _writer(url: str, deployment: str, run: int, report_fd: int) -> None:
    """The child: trade forever, reporting each event after its commit returned."""
    db = Database(url)
    store = TradingStore(db, deployment)
    venue = SimVenue(_bars(20_000, run))
    # Every run is its own deployment and numbers its orders from O-00000001 again.

    def stored(event: object) -> None:
        store.on_order_event(event)  # type: ignore[arg-type]
        os.write(report_fd, b"e")

    def closed(_order: object, _fill: object, trades: list) -> None:  # type: ignore[type-arg]
        for trade in trades:
            store.record_trade(trade)
            os.write(report_fd, b"e")

    venue.engine.observe(stored)
    venue.engine.listen("s", closed)
    os.write(report_fd, b"S")
    while True:
        venue.place("BUY qty=1.5")
        venue.place("SELL LIMIT px=1000 qty=0.5")  # rests, later canceled
        venue.step()
        for order in venue.engine.open_orders("s"):
            venue.engine.cancel(order)
        venue.place("SELL qty=1.5")
        venue.step()


def _committed(db: Database, deployment: str) -> int:
    with db.session() as s:
        return (
            s.scalar(
                select(func.count())
                .select_from(JournalEntry)
                .where(JournalEntry.deployment_id == deployment)
            )
            or 0
        )


def _kill_at_random(url: str, deployment: str, run: int, delay: float) -> int:
    """Run a writer, SIGKILL it after ``delay`` seconds; how many commits it reported."""
    ctx = multiprocessing.get_context("fork")
    read_fd, write_fd = os.pipe()
    child = ctx.Process(target=_writer, args=(url, deployment, run, write_fd))
    child.start()
    os.close(write_fd)
    started = os.read(read_fd, 1)
    assert started == b"S", "the writer did not start"
    time.sleep(delay)
    os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
    child.join()
    reported = b""
    while chunk := os.read(read_fd, 65536):
        reported += chunk
    os.close(read_fd)
    return reported.count(b"e")


def test_sigkill_at_random_points_loses_nothing_committed(database: Database) -> None:
    url = database.url.render_as_string(hide_password=False)
    deployments = DeploymentRepository(database)
    rng = random.Random(20261121)
    for run in range(KILLS):
        deployment = deployments.start(f"run {run}", "paper", {})
        reported = _kill_at_random(url, deployment, run, rng.uniform(0.0, 0.08))
        stored = _committed(database, deployment)
        assert stored >= reported, f"run {run}: {reported} commits reported, {stored} stored"
        assert stored <= reported + 1  # at most the one commit the kill cut off from its report
    _assert_consistent(database)


def _assert_consistent(db: Database) -> None:
    if db.dialect == "sqlite":
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    with db.session() as s:
        orphans = s.scalar(
            select(func.count())
            .select_from(FillRow)
            .outerjoin(OrderRow, FillRow.order_id == OrderRow.id)
            .where(OrderRow.id.is_(None))
        )
        assert orphans == 0
        ids = s.execute(select(OrderRow.deployment_id, OrderRow.client_order_id)).all()
        trades = s.scalar(select(func.count()).select_from(TradeRow))
        closed = s.scalar(
            select(func.count()).select_from(JournalEntry).where(JournalEntry.kind == "TradeClosed")
        )
    assert len(ids) > KILLS and trades == closed
    orders = OrderRepository(db)
    for deployment, coid in ids:
        row = orders.get(deployment, coid)
        assert row is not None
        fills = orders.fills(deployment, coid)
        assert sum((f.quantity for f in fills), Decimal(0)) == row.filled_qty, coid
        replayed = orders.rebuild(deployment, coid)
        assert (replayed.status.value, replayed.filled_qty) == (row.status, row.filled_qty)


def test_readers_run_while_the_engine_writes(database: Database) -> None:
    deployment = DeploymentRepository(database).start("live", "paper", {})
    store = TradingStore(database, deployment)
    venue = SimVenue(_bars(200, 7))
    venue.engine.observe(store.on_order_event)
    venue.engine.listen("s", lambda _o, _f, closed: [store.record_trade(t) for t in closed])
    done = threading.Event()
    errors: list[BaseException] = []
    reads = [0]

    def reader() -> None:
        trades, orders, journal = (
            TradeRepository(database),
            OrderRepository(database),
            JournalRepository(database),
        )
        while not done.is_set():
            try:
                trades.history(deployment, per_page=20)
                orders.open_orders(deployment)
                journal.read(deployment, limit=50)
                reads[0] += 1
            except BaseException as exc:  # any error at all fails the test
                errors.append(exc)
                return

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for _ in range(60):
        venue.place("BUY qty=1")
        venue.step()
        venue.place("SELL qty=1")
        venue.step()
    done.set()
    for t in threads:
        t.join(timeout=30)
    assert errors == [] and reads[0] > 0
    assert TradeRepository(database).history(deployment).total == 60
    with database.engine.connect() as conn:  # no lock left behind: a write goes straight in
        if database.dialect == "sqlite":
            conn.exec_driver_sql("PRAGMA busy_timeout = 0")
        conn.exec_driver_sql("UPDATE deployments SET name = 'after'")
        conn.commit()


def test_a_read_then_write_waits_for_another_writer_instead_of_failing(
    database: Database,
) -> None:
    """Two writers at once (the engine and a backtest storing its run): the second waits its
    turn; on SQLite a deferred transaction would fail at once with "database is locked"."""
    deployment = DeploymentRepository(database).start("a", "paper", {})
    other = Database(database.url.render_as_string(hide_password=False))
    started, errors = threading.Event(), []

    def second_writer() -> None:
        started.wait(10)
        try:
            DeploymentRepository(other).start("b", "paper", {})
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=second_writer)
    thread.start()
    with database.session() as session:  # read, let the other writer try, then write
        session.execute(select(func.count()).select_from(JournalEntry)).scalar()
        started.set()
        time.sleep(0.3)
        TradingStore(database, deployment)._journal(
            session, "operator.note", "operator:test", "-", {"ts_event": 1}
        )
    thread.join(30)
    other.dispose()
    assert errors == []
    assert len(DeploymentRepository(database).recent()) == 2
