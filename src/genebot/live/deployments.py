"""A paper deployment's record in the database: found again on restart, journaled once.

A deployment is resumed when the same name runs again on the same database and its replay did
not finish: the config must be the one it started with (else: ``--fresh``). What the journal
already holds is read back so that a re-executed run writes every event exactly once.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from genebot.core.errors import InputError
from genebot.persistence.codec import to_json
from genebot.persistence.database import Database
from genebot.persistence.repositories import DeploymentRepository
from genebot.persistence.tables import Deployment, JournalEntry, RiskEventRow, TradeRow

CHECKPOINT = "runtime.checkpoint"
FINISHED = "runtime.finished"
RESTARTED = "runtime.restarted"
ALLOCATION = "orchestrator.allocation"
INTERVENTION = "orchestrator.intervention"
ORDER_EVENTS = frozenset(
    {
        "OrderInitialized",
        "OrderDenied",
        "OrderSubmitted",
        "OrderAccepted",
        "OrderRejected",
        "OrderPendingCancel",
        "OrderCancelRejected",
        "OrderCanceled",
        "OrderExpired",
        "OrderTriggered",
        "OrderUpdated",
        "OrderFilled",
    }
)


@dataclass
class Journaled:
    """What a deployment's journal already holds (empty for a new deployment)."""

    order_events: dict[str, list[str]] = field(default_factory=dict)  # client id -> kinds
    trades: int = 0
    risk_events: int = 0
    checkpoint_step: int = -1
    last_event_ns: int = -1  # the newest order event's time: the replay must regenerate all
    counts: dict[str, int] = field(default_factory=dict)  # orchestrator records by kind
    crashed: bool = False


@dataclass(frozen=True)
class DeploymentRef:
    id: str
    name: str
    resumed: bool
    journaled: Journaled


def trading_config_of(stored: str) -> dict[str, Any]:
    """The trading config a deployment row holds (a paper deployment's is wrapped with the
    fingerprint of its data: ``{"config": ..., "data": ...}``)."""
    found: dict[str, Any] = json.loads(stored)
    inner: dict[str, Any] = found["config"] if "config" in found and "data" in found else found
    return inner


def open_deployment(
    db: Database, name: str, config: Mapping[str, object], fresh: bool, mode: str = "paper"
) -> DeploymentRef:
    """The unfinished deployment called ``name`` (resumed), or a new one."""
    repo = DeploymentRepository(db)
    text = to_json(config)
    current = None if fresh else _unfinished(db, name)
    if current is None:
        deployment_id = repo.start(name, mode, config)
        return DeploymentRef(deployment_id, name, False, Journaled())
    if to_json(json.loads(current.config)) != to_json(json.loads(text)):
        raise InputError(
            f"deployment {name!r} ({current.id[:12]}) was started with another config or "
            "data; run with --fresh to start a new deployment (the old one stays in the "
            "database), or restore the config it was started with"
        )
    journaled = read_journal(db, current.id)
    journaled.crashed = current.status == "running"  # its runner died without stopping it
    with db.session() as session:
        row = session.get(Deployment, current.id)
        assert row is not None
        row.status, row.stopped_at = "running", None
    return DeploymentRef(current.id, name, True, journaled)


def _unfinished(db: Database, name: str) -> Deployment | None:
    with db.reader() as session:
        rows = session.scalars(
            select(Deployment)
            .where(Deployment.name == name, Deployment.mode == "paper")
            .order_by(Deployment.started_at.desc())
        ).all()
        for row in rows:
            done = session.scalar(
                select(func.count())
                .select_from(JournalEntry)
                .where(JournalEntry.deployment_id == row.id, JournalEntry.kind == FINISHED)
            )
            return None if done else row
    return None


def read_journal(db: Database, deployment_id: str) -> Journaled:
    out = Journaled()
    events: defaultdict[str, list[str]] = defaultdict(list)
    with db.reader() as session:
        rows = session.execute(
            select(JournalEntry.kind, JournalEntry.subject, JournalEntry.payload,
                   JournalEntry.ts_event)
            .where(JournalEntry.deployment_id == deployment_id)
            .order_by(JournalEntry.id)
        )  # fmt: skip
        for kind, subject, payload, ts_event in rows:
            if kind in ORDER_EVENTS:
                events[subject].append(kind)
                out.last_event_ns = max(out.last_event_ns, ts_event)
            elif kind == CHECKPOINT:
                out.checkpoint_step = int(json.loads(payload)["step"])
            elif kind in (ALLOCATION, INTERVENTION):
                out.counts[kind] = out.counts.get(kind, 0) + 1
        out.trades = int(
            session.scalar(
                select(func.count())
                .select_from(TradeRow)
                .where(TradeRow.deployment_id == deployment_id)
            )
            or 0
        )
        out.risk_events = int(
            session.scalar(
                select(func.count())
                .select_from(RiskEventRow)
                .where(RiskEventRow.deployment_id == deployment_id)
            )
            or 0
        )
    out.order_events = dict(events)
    return out


def finish(db: Database, deployment_id: str, status: str = "stopped") -> None:
    with db.session() as session:
        row = session.get(Deployment, deployment_id)
        if row is not None:
            row.status, row.stopped_at = status, datetime.now(UTC)
