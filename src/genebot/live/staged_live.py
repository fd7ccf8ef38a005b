"""The seed's staged position sizing, on by default for live: the first weeks of a live
deployment trade a fraction of the configured size (``live.staged_weekly``: 25 %, 50 %, 75 %,
75 % of it in weeks 1–4 — the seed's 0.5 % → 1 % → 1.5 % of 2 %), full size after.

Weeks count from the first live deployment of that name (a restart does not start the ramp
over), in event time. Entries only: exits, stops and targets close what is held. Every resize
is a risk event (rule ``staged_sizing``, in the journal and the run's risk lines), never silent;
an entry the fraction takes under the lot is denied with the rule named.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from decimal import Decimal

from sqlalchemy import func, select

from genebot.persistence.database import Database
from genebot.persistence.tables import Deployment
from genebot.risk.types import OrderIntent, RiskEvent, Verdict
from genebot.system.kernel import Kernel

log = logging.getLogger("genebot.live")
RULE = "staged_sizing"
WEEK_NS = 7 * 86_400 * 10**9


def ramp_start_ns(db: Database, name: str, default_ns: int) -> int:
    """When the first live deployment called ``name`` started (else ``default_ns``)."""
    with db.reader() as session:
        first = session.scalar(
            select(func.min(Deployment.started_at)).where(
                Deployment.mode == "live", Deployment.name == name
            )
        )
    return int(first.timestamp() * 1e9) if first is not None else default_ns


class StagedGate:
    """Wraps the kernel's risk gate: the risk engine decides first, then the ramp scales."""

    def __init__(self, kernel: Kernel, start_ns: int, weekly: Sequence[float]) -> None:
        self.kernel = kernel
        self.start_ns = start_ns
        self.weekly = [Decimal(str(f)) for f in weekly]
        self.inner: Callable[[OrderIntent], Verdict | None] | None = kernel.execution.risk_gate
        kernel.execution.risk_gate = self

    def fraction(self, now_ns: int) -> tuple[int, Decimal] | None:
        """(week, fraction) while the ramp lasts, else None."""
        week = max(0, (now_ns - self.start_ns) // WEEK_NS)
        return (week + 1, self.weekly[week]) if week < len(self.weekly) else None

    def __call__(self, intent: OrderIntent) -> Verdict | None:
        verdict = self.inner(intent) if self.inner is not None else None
        if verdict is not None and verdict.action == "deny":
            return verdict
        held = self.kernel.portfolio.position(intent.strategy_id, intent.instrument.id)
        stage = self.fraction(self.kernel.now())
        if stage is None or intent.reduces(held.quantity):
            return verdict
        week, share = stage
        asked = verdict.quantity if verdict is not None else intent.quantity
        scaled = intent.instrument.round_quantity(asked * share)
        detail = (
            f"live week {week}: {share:.0%} of the configured size "
            f"({asked.normalize():f} → {scaled.normalize():f})"
        )
        if scaled <= 0:
            out = Verdict.deny(RULE, detail + ": under the lot")
        else:
            out = Verdict.resize(RULE, detail, scaled)
            if verdict is not None and verdict.as_limit is not None:
                out = Verdict("resize", RULE, detail, scaled, verdict.as_limit)
        self._record(intent, out)
        return out

    def _record(self, intent: OrderIntent, verdict: Verdict) -> None:
        risk = self.kernel.risk
        event = RiskEvent(
            self.kernel.now(), intent.strategy_id, intent.instrument.symbol, RULE,
            verdict.action, verdict.detail,
        )  # fmt: skip
        if risk is not None:
            risk.events.append(event)
        log.info("%s %s: %s", RULE, intent.strategy_id, verdict.detail)
