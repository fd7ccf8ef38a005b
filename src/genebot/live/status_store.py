"""A running deployment's latest state, in the database for whoever watches it.

The runner rewrites one ``runtime_status`` row per deployment a few times a second (equity,
P&L, drawdown, open positions with their marks and unrealized P&L, the risk state, what an
operator paused) and appends an equity snapshot about once a second: the API, the dashboard
and ``/metrics`` read these, whether they are served by the runner's process (``genebot run``)
or by ``genebot serve`` beside it. Numbers are exact decimals as text.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from genebot.core.time import ns_to_datetime
from genebot.persistence.codec import to_json
from genebot.persistence.database import Database
from genebot.persistence.tables import EquitySnapshot, RuntimeStatusRow
from genebot.system.kernel import Kernel

ZERO = Decimal(0)
PERFORMANCE_EVERY_S = 60.0
perf_log = logging.getLogger("genebot.performance")  # logs/performance.log
STATUS_EVERY_S = 0.5
EQUITY_EVERY_S = 1.0


def _text(value: Decimal | float | None) -> str | None:
    return None if value is None else str(value)


def positions_of(kernel: Kernel) -> list[dict[str, Any]]:
    """Every open position with its mark and unrealized P&L (money and % of its cost)."""
    out = []
    for sid, sleeve in kernel.portfolio.sleeves.items():
        for iid, pos in sleeve.positions.items():
            if not pos.quantity:
                continue
            mark = kernel.mark(iid)
            instrument = kernel.instruments.get(iid)
            entry = pos.avg_px
            unrealized = pos.unrealized_pnl(Decimal(str(mark))) if mark is not None else None
            basis = abs(pos.quantity) * entry
            pct = (unrealized / basis) if unrealized is not None and basis else None
            opened = getattr(pos, "_entry_ts", 0) or 0
            out.append(
                {
                    "strategy": sid,
                    "instrument_id": iid,
                    "symbol": instrument.symbol if instrument is not None else iid,
                    "side": "long" if pos.quantity > 0 else "short",
                    "quantity": str(abs(pos.quantity)),
                    "entry_price": str(entry),
                    "current_price": None if mark is None else str(Decimal(str(mark))),
                    "unrealized_pnl": _text(unrealized),
                    "unrealized_pnl_pct": None if pct is None else float(pct),
                    "opened_at": ns_to_datetime(opened).isoformat() if opened else None,
                }
            )
    return out


def risk_of(kernel: Kernel) -> dict[str, Any]:
    risk = kernel.risk
    if risk is None:
        return {"state": "OFF", "halt_rule": None, "halt_detail": None}
    return {
        "state": risk.state.value,
        "halt_rule": risk.halt_rule or None,
        "halt_detail": risk.halt_detail or None,
    }


def allocation_of(kernel: Kernel) -> dict[str, str]:
    return {sid: str(sl.allocated) for sid, sl in kernel.portfolio.sleeves.items()}


class StatusWriter:
    """Writes a deployment's status row (at most every ``every_s``) and equity snapshots."""

    def __init__(
        self,
        db: Database,
        deployment_id: str,
        header: dict[str, Any],
        *,
        every_s: float = STATUS_EVERY_S,
        equity_every_s: float = EQUITY_EVERY_S,
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db, self.deployment_id, self.header = db, deployment_id, header
        self.every_s, self.equity_every_s, self._wall = every_s, equity_every_s, wall
        self._last = self._last_equity = self._last_perf = -1e18
        self.peak = ZERO
        self.drawdown = 0.0
        self.started = datetime.now(UTC).isoformat()

    def write(self, kernel: Kernel, fields: dict[str, Any], *, force: bool = False) -> bool:
        """Write ``fields`` (what the runtime knows) with the kernel's positions and risk."""
        now = self._wall()
        if not force and now - self._last < self.every_s:
            return False
        self._last = now
        equity = Decimal(str(fields.get("equity", ZERO)))
        self.peak = max(self.peak, equity)
        drawdown = (self.peak - equity) / self.peak if self.peak > 0 else ZERO
        self.drawdown = float(drawdown)
        payload = {
            **self.header,
            "started_at": self.started,
            **{k: (str(v) if isinstance(v, Decimal) else v) for k, v in fields.items()},
            "peak_equity": str(self.peak),
            "drawdown": float(drawdown),
            "strategy_errors": sum(slot.errors for slot in kernel.slots),
            "positions": positions_of(kernel),
            "risk": risk_of(kernel),
            "allocation": allocation_of(kernel),
        }
        snapshot = force or now - self._last_equity >= self.equity_every_s
        if force or now - self._last_perf >= PERFORMANCE_EVERY_S:
            self._last_perf = now
            log_performance(kernel)
        ts_ns = int(fields.get("ts_ns") or 0)
        with self.db.session() as session:
            row = session.get(RuntimeStatusRow, self.deployment_id)
            text, stamp = to_json(payload), datetime.now(UTC)
            if row is None:
                session.add(
                    RuntimeStatusRow(
                        deployment_id=self.deployment_id, updated_at=stamp, payload=text
                    )
                )
            else:
                row.updated_at, row.payload = stamp, text
            if snapshot and ts_ns > 0:
                self._last_equity = now
                cash = Decimal(str(fields.get("cash", equity)))
                session.add(
                    EquitySnapshot(
                        deployment_id=self.deployment_id,
                        ts=ns_to_datetime(ts_ns),
                        equity=equity,
                        cash=cash,
                    )
                )
        return True


class KernelFields:
    """What a runner without a replay's status view reports (the live runtime): equity at the
    kernel's marks, P&L since the start and since the UTC day began, trades, orders."""

    DAY_NS = 86_400 * 10**9

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.initial = sum((sl.allocated for sl in kernel.portfolio.sleeves.values()), ZERO)
        self._day: tuple[int, Decimal] | None = None

    def __call__(self, ts_ns: int, paused: set[str], stop_reason: str | None) -> dict[str, Any]:
        kernel = self.kernel
        equity = sum((sl.equity(kernel.mark) for sl in kernel.portfolio.sleeves.values()), ZERO)
        day = ts_ns // self.DAY_NS
        if self._day is None or self._day[0] != day:
            self._day = (day, equity)
        trades = kernel.portfolio.trades
        wins = sum(1 for t in trades if t.pnl > 0)
        return {
            "ts_ns": ts_ns,
            "equity": equity,
            "initial_equity": self.initial,
            "total_pnl": equity - self.initial,
            "daily_pnl": equity - self._day[1],
            "trades": len(trades),
            "orders": len(kernel.execution.order_log),
            "win_rate": wins / len(trades) if trades else None,
            "open_positions": len(kernel.portfolio.open_positions()),
            "paused": sorted(paused),
            "stop_reason": stop_reason,
            "status": "running",
        }


def log_performance(kernel: Kernel) -> None:
    """One STRATEGY_PERFORMANCE line per strategy (logs/performance.log)."""
    if not perf_log.isEnabledFor(logging.INFO):
        return
    by_strategy: dict[str, list[Any]] = {}
    for t in kernel.portfolio.trades:
        by_strategy.setdefault(t.strategy_id, []).append(t)
    for sid, sleeve in kernel.portfolio.sleeves.items():
        trades = by_strategy.get(sid, [])
        wins = sum(1 for t in trades if t.pnl > 0)
        line = {
            "strategy": sid,
            "equity": str(sleeve.equity(kernel.mark)),
            "realized_pnl": str(sleeve.realized_pnl),
            "trades": len(trades),
            "win_rate": round(wins / len(trades), 4) if trades else None,
        }
        perf_log.info("STRATEGY_PERFORMANCE %s", json.dumps(line), extra={"strategy": sid})


def read_status(db: Database, deployment_id: str) -> dict[str, Any] | None:
    """The deployment's latest status (with ``updated_at``), or None if it never wrote one."""
    with db.reader() as session:
        row = session.get(RuntimeStatusRow, deployment_id)
        if row is None:
            return None
        data: dict[str, Any] = json.loads(row.payload)
        data["updated_at"] = row.updated_at.isoformat()
        return data


__all__ = ["KernelFields", "StatusWriter", "positions_of", "read_status"]
