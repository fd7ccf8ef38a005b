"""Queries the API, CLI and reports need. No SQL lives in routes or commands: they call these.

Reads return ORM rows detached from their session (plain values; nothing lazy-loads later).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Generic, TypeVar

from sqlalchemy import func, insert, select

from genebot.core.errors import InputError
from genebot.domain.orders import OPEN, Order, OrderStatus
from genebot.domain.position import ClosedTrade
from genebot.persistence.codec import EVENT_TYPES, event_from_payload, to_json
from genebot.persistence.database import Database
from genebot.persistence.journal import trade_values
from genebot.persistence.tables import (
    AlertRow,
    AllocationRow,
    BacktestRun,
    Deployment,
    EquitySnapshot,
    FillRow,
    JournalEntry,
    KillSwitchEvent,
    OrderRow,
    PositionRow,
    RiskEventRow,
    TradeRow,
)

T = TypeVar("T")
MAX_PAGE = 500
_BATCH = 2_000  # rows per bulk insert: a long run's trades never all as parameter dicts at once
# Orders a restart must resume: the working ones, and those journaled but maybe not yet sent.
_OPEN = tuple(sorted(s.value for s in OPEN | {OrderStatus.INITIALIZED}))


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _paging(page: int, per_page: int) -> tuple[int, int]:
    if page < 1:
        raise InputError(f"page {page}: pages start at 1")
    if not 1 <= per_page <= MAX_PAGE:
        raise InputError(f"per_page {per_page}: use 1 to {MAX_PAGE}")
    return (page - 1) * per_page, per_page


class DeploymentRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def start(self, name: str, mode: str, config: object, *, now: datetime | None = None) -> str:
        if mode not in ("paper", "live"):
            raise InputError(f"deployment mode {mode!r}: use paper or live")
        deployment_id = uuid.uuid4().hex
        with self.db.session() as session:
            session.add(
                Deployment(
                    id=deployment_id,
                    name=name,
                    mode=mode,
                    config=to_json(config),
                    status="running",
                    started_at=now or datetime.now(UTC),
                )
            )
        return deployment_id

    def stop(self, deployment_id: str, status: str = "stopped") -> None:
        with self.db.session() as session:
            row = session.get(Deployment, deployment_id)
            if row is None:
                raise InputError(f"deployment {deployment_id!r} does not exist")
            row.status = status
            row.stopped_at = datetime.now(UTC)

    def get(self, deployment_id: str) -> Deployment | None:
        with self.db.reader() as session:
            return session.get(Deployment, deployment_id)

    def recent(self) -> list[Deployment]:
        with self.db.reader() as session:
            return list(session.scalars(select(Deployment).order_by(Deployment.started_at)))


class OrderRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, deployment_id: str, client_order_id: str) -> OrderRow | None:
        with self.db.reader() as session:
            return session.scalars(
                select(OrderRow).where(
                    OrderRow.deployment_id == deployment_id,
                    OrderRow.client_order_id == client_order_id,
                )
            ).one_or_none()

    def open_orders(self, deployment_id: str) -> list[OrderRow]:
        """Orders not yet in a final state: what recovery must reconcile with the venue."""
        with self.db.reader() as session:
            query = (
                select(OrderRow)
                .where(OrderRow.deployment_id == deployment_id, OrderRow.status.in_(_OPEN))
                .order_by(OrderRow.id)
            )
            return list(session.scalars(query))

    def last_client_order_id(self, deployment_id: str, prefix: str = "O") -> str | None:
        """The highest client order id the deployment used with ``prefix`` (ids are zero-padded,
        so the text order is the number order): a resumed engine numbers on from it."""
        with self.db.reader() as session:
            query = select(func.max(OrderRow.client_order_id)).where(
                OrderRow.deployment_id == deployment_id,
                OrderRow.client_order_id.like(f"{prefix}-%"),
            )
            return session.scalar(query)

    def fills(self, deployment_id: str, client_order_id: str) -> list[FillRow]:
        with self.db.reader() as session:
            query = (
                select(FillRow)
                .join(OrderRow, FillRow.order_id == OrderRow.id)
                .where(
                    OrderRow.deployment_id == deployment_id,
                    OrderRow.client_order_id == client_order_id,
                )
                .order_by(FillRow.id)
            )
            return list(session.scalars(query))

    def rebuild(self, deployment_id: str, client_order_id: str) -> Order:
        """The order replayed from its journalled events (what a restart recovers)."""
        with self.db.reader() as session:
            rows = session.scalars(
                select(JournalEntry)
                .where(
                    JournalEntry.deployment_id == deployment_id,
                    JournalEntry.subject == client_order_id,
                    JournalEntry.kind.in_(tuple(EVENT_TYPES)),
                )
                .order_by(JournalEntry.id)
            ).all()
        if not rows:
            raise InputError(f"order {client_order_id!r} has no journalled events")
        return Order.rebuild(event_from_payload(r.kind, r.payload) for r in rows)


class TradeRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def history(
        self,
        deployment_id: str,
        *,
        page: int = 1,
        per_page: int = 50,
        strategy: str | None = None,
        symbol: str | None = None,
        reason: str | None = None,
    ) -> Page[TradeRow]:
        """Closed round trips of a deployment, newest first (``symbol``: an instrument id or
        its symbol; ``reason``: the exit reason)."""
        offset, limit = _paging(page, per_page)
        where = [TradeRow.deployment_id == deployment_id]
        if strategy is not None:
            where.append(TradeRow.strategy_id == strategy)
        if symbol is not None:
            where.append(
                (TradeRow.instrument_id == symbol) | TradeRow.instrument_id.startswith(f"{symbol}@")
            )
        if reason is not None:
            where.append(TradeRow.exit_reason == reason)
        with self.db.reader() as session:
            total = session.scalar(select(func.count()).select_from(TradeRow).where(*where))
            items = session.scalars(
                select(TradeRow)
                .where(*where)
                .order_by(TradeRow.exit_time.desc(), TradeRow.id.desc())
                .offset(offset)
                .limit(limit)
            ).all()
        return Page(list(items), int(total or 0), page, per_page)

    def for_run(self, run_id: int) -> list[TradeRow]:
        with self.db.reader() as session:
            query = select(TradeRow).where(TradeRow.backtest_run_id == run_id)
            return list(session.scalars(query.order_by(TradeRow.id)))


class PositionRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def open_positions(self, deployment_id: str) -> list[PositionRow]:
        with self.db.reader() as session:
            rows = session.scalars(
                select(PositionRow)
                .where(PositionRow.deployment_id == deployment_id)
                .order_by(PositionRow.strategy_id, PositionRow.instrument_id)
            ).all()
        return [r for r in rows if r.quantity != 0]  # exact compare: done in Python


class EquityRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def curve(self, deployment_id: str) -> list[tuple[datetime, Decimal]]:
        with self.db.reader() as session:
            rows = session.execute(
                select(EquitySnapshot.ts, EquitySnapshot.equity)
                .where(EquitySnapshot.deployment_id == deployment_id)
                .order_by(EquitySnapshot.ts, EquitySnapshot.id)
            ).all()
        return [(ts, equity) for ts, equity in rows]

    def daily_pnl(self, deployment_id: str) -> list[tuple[date, Decimal]]:
        """PnL per UTC day: the day's last equity minus the previous day's last (the first
        day against its first snapshot), so unrealized moves count on the day they happen."""
        last: dict[date, Decimal] = {}
        first: Decimal | None = None
        for ts, equity in self.curve(deployment_id):
            first = equity if first is None else first
            last[ts.date()] = equity
        out: list[tuple[date, Decimal]] = []
        previous = first
        for day in sorted(last):
            assert previous is not None
            out.append((day, last[day] - previous))
            previous = last[day]
        return out


class RiskRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def events(self, deployment_id: str, limit: int = 200) -> list[RiskEventRow]:
        with self.db.reader() as session:
            query = (
                select(RiskEventRow)
                .where(RiskEventRow.deployment_id == deployment_id)
                .order_by(RiskEventRow.ts.desc(), RiskEventRow.id.desc())
                .limit(limit)
            )
            return list(session.scalars(query))

    def kill_switch_history(self, deployment_id: str) -> list[KillSwitchEvent]:
        with self.db.reader() as session:
            query = select(KillSwitchEvent).where(KillSwitchEvent.deployment_id == deployment_id)
            return list(session.scalars(query.order_by(KillSwitchEvent.id)))


class JournalRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def read(
        self, deployment_id: str | None = None, *, after_id: int = 0, limit: int = 500
    ) -> list[JournalEntry]:
        """Entries in the order they were written, from ``after_id`` on (for streaming)."""
        query = select(JournalEntry).where(JournalEntry.id > after_id)
        if deployment_id is not None:
            query = query.where(JournalEntry.deployment_id == deployment_id)
        with self.db.reader() as session:
            return list(session.scalars(query.order_by(JournalEntry.id).limit(limit)))


class AlertRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, rule: str, severity: str, message: str, deployment_id: str | None = None) -> int:
        with self.db.session() as session:
            row = AlertRow(
                deployment_id=deployment_id,
                ts=datetime.now(UTC),
                rule=rule,
                severity=severity,
                message=message,
                acknowledged=False,
            )
            session.add(row)
            session.flush()
            return row.id

    def recent(
        self,
        limit: int = 100,
        *,
        since: datetime | None = None,
        severity: str | None = None,
        deployment_id: str | None = None,
        unacknowledged: bool = False,
    ) -> list[AlertRow]:
        """Newest first, filtered."""
        query = select(AlertRow)
        if since is not None:
            query = query.where(AlertRow.ts >= since)
        if severity is not None:
            query = query.where(AlertRow.severity == severity.upper())
        if deployment_id is not None:
            query = query.where(AlertRow.deployment_id == deployment_id)
        if unacknowledged:
            query = query.where(AlertRow.acknowledged.is_(False))
        with self.db.reader() as session:
            return list(session.scalars(query.order_by(AlertRow.id.desc()).limit(limit)))

    def acknowledge(self, alert_id: int) -> AlertRow:
        with self.db.session() as session:
            row = session.get(AlertRow, alert_id)
            if row is None:
                raise InputError(f"alert {alert_id}: no such alert (`genebot alerts`)")
            row.acknowledged = True
            session.flush()
            session.expunge(row)
            return row


@dataclass(frozen=True)
class AllocationRecord:
    ts: datetime
    strategy: str
    weight: Decimal
    capital: Decimal
    trigger: str


@dataclass(frozen=True)
class RunRecord:
    """What a backtest stores: the stats and config it ran with, and where its files are."""

    title: str
    strategies: Sequence[str]
    config: object
    stats: dict[str, object]
    output_dir: str | None
    start: datetime | None
    end: datetime | None
    final_equity: Decimal
    attribution: list[dict[str, object]] | None = None  # orchestrated runs


class BacktestRunRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def save(
        self,
        run: RunRecord,
        trades: Sequence[ClosedTrade],
        allocations: Sequence[AllocationRecord] = (),
    ) -> int:
        """Store a finished backtest in one transaction, rows in bulk."""
        with self.db.session() as session:
            row = BacktestRun(
                title=run.title,
                created_at=datetime.now(UTC),
                strategies=",".join(run.strategies),
                config=to_json(run.config),
                stats=to_json(run.stats),
                output_dir=run.output_dir,
                start=run.start,
                end=run.end,
                final_equity=run.final_equity,
                attribution=to_json(run.attribution) if run.attribution is not None else None,
            )
            session.add(row)
            session.flush()
            for start in range(0, len(trades), _BATCH):  # bulk, a batch of rows at a time
                batch = trades[start : start + _BATCH]
                session.execute(insert(TradeRow), [trade_values(t, None, row.id) for t in batch])
            if allocations:
                session.execute(
                    insert(AllocationRow),
                    [{**a.__dict__, "backtest_run_id": row.id} for a in allocations],
                )
            return row.id

    def recent(self, limit: int = 50) -> list[BacktestRun]:
        with self.db.reader() as session:
            query = select(BacktestRun).order_by(BacktestRun.id.desc()).limit(limit)
            return list(session.scalars(query))

    def get(self, run_id: int) -> BacktestRun:
        with self.db.reader() as session:
            row = session.get(BacktestRun, run_id)
        if row is None:
            raise InputError(f"backtest run {run_id} does not exist (`genebot report runs`)")
        return row

    def stats(self, run_id: int) -> dict[str, object]:
        loaded: dict[str, object] = json.loads(self.get(run_id).stats)
        return loaded

    def latest_orchestrated(self) -> BacktestRun:
        """The newest run that had an orchestrator (for the orchestrator commands)."""
        with self.db.reader() as session:
            row = session.scalars(
                select(BacktestRun)
                .where(BacktestRun.attribution.is_not(None))
                .order_by(BacktestRun.id.desc())
                .limit(1)
            ).one_or_none()
        if row is None:
            raise InputError(
                "no orchestrated backtest is stored: run `genebot backtest orchestration` first"
            )
        return row

    def attribution(self, run_id: int) -> list[dict[str, object]]:
        row = self.get(run_id)
        if row.attribution is None:
            raise InputError(f"backtest run {run_id} had no orchestrator")
        loaded: list[dict[str, object]] = json.loads(row.attribution)
        return loaded

    def allocations(self, run_id: int) -> list[AllocationRow]:
        with self.db.reader() as session:
            query = select(AllocationRow).where(AllocationRow.backtest_run_id == run_id)
            return list(session.scalars(query.order_by(AllocationRow.ts, AllocationRow.id)))
