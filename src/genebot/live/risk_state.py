"""The risk engine's state across a restart of a run that does not re-execute its history
(live, and paper on an exchange's prices): journaled when it changes, restored at the start.

A halted kill switch, the consecutive-loss count, the day's starting equity, the drawdown's
peak and the order-rate window are what :meth:`~genebot.risk.engine.RiskEngine.snapshot`
holds. Each loop of the runner writes a ``risk.state`` journal entry when the snapshot differs
from the last one written; a restart of the same deployment name restores the newest one (and
gives the engine the closed trades of the earlier deployments, which the performance rules
read), so a halt survives a crash or a stop: only its own reset rule (the daily reset, or
``genebot risk reset``) lifts it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import select

from genebot.core.time import datetime_to_ns
from genebot.domain.position import ClosedTrade
from genebot.persistence.database import Database
from genebot.persistence.journal import TradingStore
from genebot.persistence.tables import Deployment, JournalEntry, TradeRow
from genebot.system.kernel import Kernel

RISK_STATE = "risk.state"


class RiskJournal:
    """Writes the kernel's risk snapshot to the journal whenever it changed."""

    def __init__(self, kernel: Kernel, store: TradingStore) -> None:
        self.kernel, self.store = kernel, store
        self._last: str | None = None

    def flush(self, now_ns: int) -> bool:
        """Journal the snapshot if it changed since the last write; whether it was written."""
        risk = self.kernel.risk
        if risk is None:
            return False
        snapshot = risk.snapshot()
        text = json.dumps(snapshot, sort_keys=True)
        if text == self._last:
            return False
        self.store.record_runtime(RISK_STATE, "risk", {"snapshot": snapshot, "ts_event": now_ns})
        self._last = text
        return True


def prior_deployments(db: Database, name: str, mode: str, skip: str | None) -> list[str]:
    """The ids of the earlier deployments called ``name`` in ``mode``, oldest first."""
    with db.reader() as session:
        ids = session.scalars(
            select(Deployment.id)
            .where(Deployment.name == name, Deployment.mode == mode)
            .order_by(Deployment.started_at)
        )
        return [i for i in ids if i != skip]


def restore_risk(db: Database, kernel: Kernel, earlier: Sequence[str]) -> str | None:
    """Restore the newest journaled risk state of the ``earlier`` deployments (oldest first)
    into the kernel's risk engine; a line saying what was restored, or None."""
    risk = kernel.risk
    if risk is None or not earlier:
        return None
    with db.reader() as session:
        row = session.execute(
            select(JournalEntry.deployment_id, JournalEntry.payload)
            .where(JournalEntry.deployment_id.in_(list(earlier)), JournalEntry.kind == RISK_STATE)
            .order_by(JournalEntry.id.desc())
            .limit(1)
        ).first()
        if row is None:
            return None
        trades = [
            _closed(t)
            for t in session.scalars(
                select(TradeRow)
                .where(TradeRow.deployment_id.in_(list(earlier)))
                .order_by(TradeRow.exit_time, TradeRow.id)
            )
        ]
    snapshot = json.loads(row.payload)["snapshot"]
    risk.restore(snapshot, trades)
    active = ", ".join(f"{rule} ({detail})" for rule, (_, detail) in risk.active.items())
    return (
        f"risk state {risk.state.value} restored from deployment {row.deployment_id[:12]}"
        + (f": {active}" if active else "")
        + f"; {risk.consecutive_losses} consecutive loss(es), {len(trades)} earlier trade(s)"
    )


def _closed(row: TradeRow) -> ClosedTrade:
    entry, exit_ = datetime_to_ns(row.entry_time), datetime_to_ns(row.exit_time)
    return ClosedTrade(
        row.strategy_id, row.instrument_id, row.side, entry, row.entry_price, exit_,
        row.exit_price, row.quantity, row.pnl, row.fees, row.exit_reason,
    )  # fmt: skip
