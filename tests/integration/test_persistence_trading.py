"""The trading path's store and the repositories, driven by the real execution engine and the
simulated exchange, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from genebot.backtest.runner import run
from genebot.backtest.store import store_run
from genebot.config.loader import load_config
from genebot.core.errors import InputError
from genebot.domain.orders import Order
from genebot.domain.position import ClosedTrade
from genebot.persistence.database import Database
from genebot.persistence.journal import TradingStore
from genebot.persistence.repositories import (
    BacktestRunRepository,
    DeploymentRepository,
    EquityRepository,
    JournalRepository,
    OrderRepository,
    PositionRepository,
    RiskRepository,
    TradeRepository,
)
from genebot.persistence.tables import FillRow, OrderRow
from genebot.testkit import ma_config
from genebot.testkit.venue import SimVenue

D = Decimal
WAVE = [(100, 101, 99, 100), (101, 103, 100, 102), (103, 104, 101, 102), (99, 100, 97, 98)] * 5


class Session:
    """A deployment trading on the simulated venue, every event stored as it happens."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.deployment = DeploymentRepository(db).start("test", "paper", {"strategies": ["s"]})
        self.store = TradingStore(db, self.deployment)
        self.venue = SimVenue(WAVE)
        self.venue.engine.observe(self.store.on_order_event)
        self.venue.engine.listen("s", self._on_fill)
        self.closed: list[ClosedTrade] = []

    def _on_fill(self, order: Order, _fill: object, closed: list[ClosedTrade]) -> None:
        for trade in closed:
            self.store.record_trade(trade)
            self.closed.append(trade)
        position = self.venue.portfolio.position("s", order.instrument_id)
        self.store.save_position("s", order.instrument_id, position)

    def round_trips(self, n: int) -> None:
        for _ in range(n):
            self.venue.place("BUY qty=1.5")
            self.venue.step()
            self.venue.place("SELL qty=1.5")
            self.venue.step()


def test_an_order_row_is_committed_before_the_venue_hears_of_it(database: Database) -> None:
    session = Session(database)
    reader = Database(database.url.render_as_string(hide_password=False))  # another connection
    seen: list[str | None] = []
    send = session.venue.ex.submit

    def submit(order: Order) -> None:
        with reader.session() as s:
            row = s.scalars(
                select(OrderRow).where(OrderRow.client_order_id == order.client_order_id)
            ).one_or_none()
            seen.append(row.status if row else None)
        send(order)

    session.venue.ex.submit = submit  # type: ignore[method-assign]
    session.round_trips(2)
    reader.dispose()
    assert seen == ["SUBMITTED"] * 4


def test_orders_and_fills_are_stored_exactly_and_rebuild_from_the_journal(
    database: Database,
) -> None:
    session = Session(database)
    session.round_trips(3)
    session.venue.place("BUY LIMIT px=90 qty=0.25")  # rests: still open at the end
    session.venue.step()
    orders = OrderRepository(database)
    for order in session.venue.engine.order_log:
        row = orders.get(session.deployment, order.client_order_id)
        assert row is not None
        assert (row.status, row.filled_qty, row.avg_px) == (
            order.status.value,
            order.filled_qty,
            order.avg_px,
        )
        assert row.venue_order_id == order.venue_order_id
        rebuilt = orders.rebuild(session.deployment, order.client_order_id)
        assert rebuilt.events == order.events  # every field of every event, exactly
        fills = orders.fills(session.deployment, order.client_order_id)
        assert sum((f.quantity for f in fills), D(0)) == order.filled_qty
    open_ids = [r.client_order_id for r in orders.open_orders(session.deployment)]
    assert open_ids == [o.client_order_id for o in session.venue.engine.order_log if o.is_open]
    assert len(open_ids) == 1


def test_deployments_number_their_orders_independently(database: Database) -> None:
    first, second = Session(database), Session(database)
    first.round_trips(1)
    second.round_trips(2)  # the same client order ids again, in another deployment
    orders = OrderRepository(database)
    for s in (first, second):
        for order in s.venue.engine.order_log:
            assert orders.rebuild(s.deployment, order.client_order_id).events == order.events
    assert orders.get(first.deployment, "O-00000003") is None
    assert orders.get(second.deployment, "O-00000003") is not None


def test_trade_history_pages_newest_first(database: Database) -> None:
    session = Session(database)
    session.round_trips(7)
    trades = TradeRepository(database)
    page = trades.history(session.deployment, page=2, per_page=3)
    assert (page.total, page.pages, len(page.items)) == (7, 3, 3)
    newest_first = sorted(session.closed, key=lambda t: t.exit_ts, reverse=True)
    assert [t.pnl for t in page.items] == [t.pnl for t in newest_first[3:6]]
    assert trades.history(session.deployment, strategy="other").total == 0
    with pytest.raises(InputError, match="per_page"):
        trades.history(session.deployment, per_page=10_000)


def test_open_positions_follow_the_fills(database: Database) -> None:
    session = Session(database)
    positions = PositionRepository(database)
    session.venue.place("BUY qty=2")
    session.venue.step()
    (held,) = positions.open_positions(session.deployment)
    live = session.venue.portfolio.position("s", held.instrument_id)
    assert (held.quantity, held.cost) == (D(2), live.cost)
    session.venue.place("SELL qty=2")
    session.venue.step()
    assert positions.open_positions(session.deployment) == []


def test_daily_pnl_from_the_equity_curve(database: Database) -> None:
    deployment = DeploymentRepository(database).start("d", "live", {})
    store = TradingStore(database, deployment)
    day = 86_400 * 10**9
    start = 1_700_000_000 * 10**9 - (1_700_000_000 * 10**9) % day
    for offset, equity in [(0, "1000"), (3600, "1010.5"), (day, "990"), (2 * day + 60, "1001.25")]:
        ts = start + offset * (1 if offset >= day else 10**9)
        store.record_equity(ts, D(equity), D(equity), {("sim", "USDT"): D(equity)})
    pnl = EquityRepository(database).daily_pnl(deployment)
    assert [v for _, v in pnl] == [D("10.5"), D("-20.5"), D("11.25")]


def test_risk_events_kill_switches_and_operator_actions_are_journalled(
    database: Database,
) -> None:
    deployment = DeploymentRepository(database).start("d", "live", {})
    store = TradingStore(database, deployment)
    store.record_risk_event(10**18, "s", "BTC/USDT", "daily_loss", "halt", "lost 5.1% today")
    store.record_kill_switch("activated", "daily_loss", "engine", "lost 5.1% today")
    store.record_kill_switch("reset", "daily_loss", "alice", "reviewed the losses")
    store.operator_action("alice", "pause_strategy", "s", {"reason": "news"})
    risk = RiskRepository(database)
    assert [e.rule for e in risk.events(deployment)] == ["daily_loss"]
    history = risk.kill_switch_history(deployment)
    assert [(k.kind, k.who) for k in history] == [("activated", "engine"), ("reset", "alice")]
    journal = JournalRepository(database).read(deployment)
    assert [(j.kind, j.actor) for j in journal] == [
        ("risk.halt", "engine"),
        ("kill_switch.activated", "engine"),
        ("kill_switch.reset", "operator:alice"),
        ("operator.pause_strategy", "operator:alice"),
    ]
    later = JournalRepository(database).read(deployment, after_id=journal[1].id)
    assert [j.id for j in later] == [journal[2].id, journal[3].id]


def test_a_backtest_is_stored_in_bulk_with_its_trades(database: Database, tmp_path: object) -> None:
    cfg = load_config(ma_config("BTC/USDT", "5m", 0.1, end_date="2021-05-10"))
    result = run(cfg)
    run_id = store_run(database, cfg, result, str(tmp_path))
    runs = BacktestRunRepository(database)
    assert runs.stats(run_id)["trades"] == result.stats["trades"]
    stored = runs.get(run_id)
    assert stored.final_equity == result.final_equity_exact
    assert stored.start == datetime(2021, 5, 1, tzinfo=UTC)
    trades = TradeRepository(database).for_run(run_id)
    assert len(trades) == len(result.closed_trades) > 10
    assert sum(t.pnl for t in trades) == sum(t.pnl for t in result.closed_trades)
    assert [r.id for r in runs.recent()] == [run_id]


def test_no_fill_without_its_order(database: Database) -> None:
    """The schema itself refuses an orphan fill (foreign keys on, also on SQLite)."""
    with pytest.raises(IntegrityError, match=r"(?i)foreign key"), database.session() as s:
        s.add(
            FillRow(
                order_id=12345,
                trade_id="t",
                instrument_id="x",
                side="BUY",
                quantity=D(1),
                price=D(1),
                fee=D(0),
                fee_currency="USDT",
                liquidity="TAKER",
                ts_event=0,
                filled_at=datetime.now(UTC),
            )
        )
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(FillRow)) == 0


def test_a_resumed_engine_numbers_orders_after_the_journal(database: Database) -> None:
    """Client order ids are unique per deployment: a second process of the same deployment
    continues the numbering instead of colliding with ``O-00000001``."""
    first = Session(database)
    first.round_trips(2)
    repo = OrderRepository(database)
    last = repo.last_client_order_id(first.deployment)
    assert last == first.venue.engine.order_log[-1].client_order_id
    again = SimVenue(WAVE)  # a new process: its engine starts at O-00000001 ...
    again.engine.observe(TradingStore(database, first.deployment).on_order_event)
    again.engine.continue_ids([last] if last else [])  # ... unless told where the journal is
    order = again.place("BUY qty=1")
    assert order.client_order_id == f"O-{int(last.split('-')[1]) + 1:08d}"  # type: ignore[union-attr]
    assert repo.get(first.deployment, order.client_order_id) is not None
    fresh = SimVenue(WAVE)
    fresh.engine.observe(TradingStore(database, first.deployment).on_order_event)
    with pytest.raises(IntegrityError):  # what continuing the numbering prevents
        fresh.place("BUY qty=1")
