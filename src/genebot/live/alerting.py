"""Alerts inside a runner: the config's rules evaluated on the deployment's live metrics each
time its status is written, and the built-in events read from its journal (whoever wrote them:
the engine, an operator through the API or the CLI).

An alert is recorded (``alerts`` table, for ``genebot alerts``, the API and the dashboard), is
journaled (``alert.fired``), goes to the notifier, and a rule's action (``pause_deployment``,
``emergency_stop``) is posted as an operator command through the journal, so the runner applies
it between two bars like any command and a restart re-applies it at the same bar.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from genebot.live import control
from genebot.live.baseline import baseline_flag
from genebot.monitoring.alerts import AlertEngine, Fired, builtin
from genebot.monitoring.thresholds import ErrorWindow, FailureStreaks, Thresholds
from genebot.persistence.database import Database
from genebot.persistence.journal import TradingStore
from genebot.persistence.repositories import AlertRepository, JournalRepository
from genebot.persistence.tables import JournalEntry
from genebot.system.kernel import Kernel

log = logging.getLogger("genebot.alerts")
FIRED = "alert.fired"
ACTIONS = {
    "pause_deployment": "pause",
    "stop_deployment": "stop",
    "emergency_stop": "emergency_stop",
}
DAY_NS, WEEK_NS, HOUR_NS = 86_400 * 10**9, 7 * 86_400 * 10**9, 3_600 * 10**9
Notifier = Callable[[Fired, str], None]  # (alert, deployment name)


def _system() -> dict[str, float | None]:
    try:
        import psutil  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - a dependency
        return {"cpu": None, "memory": None, "disk": None}
    return {
        "cpu": psutil.Process().cpu_percent(None) / 100.0,
        "memory": psutil.virtual_memory().percent / 100.0,
        "disk": psutil.disk_usage(".").percent / 100.0,
    }


def _streak(trades: list[Any]) -> int:
    streak = 0
    for t in reversed(trades):
        if t.pnl >= 0:
            break
        streak += 1
    return streak


def _week(trades: list[Any], now_ns: int) -> tuple[float | None, float | None]:
    recent = [t for t in trades if t.exit_ts >= now_ns - WEEK_NS]
    if not recent:
        return None, None
    win_rate = sum(1 for t in recent if t.pnl > 0) / len(recent)
    daily: dict[int, float] = {}
    for t in recent:
        daily[t.exit_ts // DAY_NS] = daily.get(t.exit_ts // DAY_NS, 0.0) + float(t.pnl)
    values = list(daily.values())
    if len(values) < 2:
        return win_rate, None
    mean = sum(values) / len(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return win_rate, (mean / sd * math.sqrt(365)) if sd > 0 else None


def metrics(
    kernel: Kernel,
    fields: Mapping[str, Any],
    drawdown: float,
    max_daily_loss: float,
    staleness_s: float | None,
) -> dict[str, float | None]:
    """The documented metrics (genebot.monitoring.conditions.METRICS) of a running kernel."""
    now_ns = int(fields.get("ts_ns") or 0)
    equity = Decimal(str(fields.get("equity", 0)))
    daily = Decimal(str(fields.get("daily_pnl", 0)))
    start = equity - daily
    trades = list(kernel.portfolio.trades)
    win_rate, sharpe = _week(trades, now_ns)
    rejected = sum(
        1
        for o in kernel.execution.order_log
        if o.status.value == "REJECTED" and o.ts_last >= now_ns - HOUR_NS
    )
    return {
        "daily_pnl": float(daily / start) if start else None,
        "daily_pnl_abs": float(daily),
        "total_pnl": float(Decimal(str(fields.get("total_pnl", 0)))),
        "equity": float(equity),
        "drawdown": drawdown,
        "consecutive_losses": float(_streak(trades)),
        "trades_today": float(sum(1 for t in trades if t.exit_ts // DAY_NS == now_ns // DAY_NS)),
        "open_positions": float(len(kernel.portfolio.open_positions())),
        "win_rate_7d": win_rate,
        "sharpe_7d": sharpe,
        "strategy_errors": None,  # counted within the hour by RunnerAlerts
        "rejected_orders": float(rejected),
        "exchange_errors": None,
        "data_staleness_s": staleness_s,
        "max_daily_loss": max_daily_loss,
        **_system(),
    }


class RunnerAlerts:
    """One deployment's alerts: ``check(kernel, fields, drawdown)`` after each status write."""

    def __init__(
        self,
        cfg: Any,
        db: Database,
        deployment_id: str,
        name: str,
        notify: Notifier | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.db, self.deployment_id, self.name = db, deployment_id, name
        self.engine = AlertEngine(cfg.alerting.rules)
        self.max_daily_loss = float(cfg.risk_management.daily_loss_limit)
        self.notify, self._wall = notify, wall
        self.store = TradingStore(db, deployment_id)
        self.last_id = _newest(db, deployment_id)  # only what happens from now on
        self.fired: list[Fired] = []
        self.orchestration = OrchestrationAlerts(cfg.orchestration_alerts)
        self.hooks: list[Callable[[Mapping[str, Any]], None]] = []  # e.g. the daily summary
        self.thresholds = Thresholds(cfg.monitoring)
        failure = cfg.orchestration_alerts.strategy_failure
        self.failures = FailureStreaks(failure.consecutive_failures) if failure else None
        self.exchange_errors: Callable[[], int] | None = None  # the venue's running error count
        self._windows = {"exchange_errors": ErrorWindow(), "strategy_errors": ErrorWindow()}
        self.baseline = baseline_flag(db, cfg.monitoring.baseline, deployment_id)

    def check(
        self,
        kernel: Kernel,
        fields: Mapping[str, Any],
        drawdown: float,
        staleness_s: float | None = None,
    ) -> list[Fired]:
        values = metrics(kernel, fields, drawdown, self.max_daily_loss, staleness_s)
        now_s = self._wall()
        values.update(self._error_counts(kernel, now_s))
        fired = self.engine.check(values, now_s) + self._builtins()
        fired += self.thresholds.check(values, now_s)
        fired += self.orchestration.check(kernel.orchestrator)
        if self.failures is not None:
            fired += self.failures.check(_slot_errors(kernel))
        if self.baseline is not None:  # seed 001: > 20 % worse than the paper/backtest baseline
            fired += self.baseline.check(kernel.portfolio.trades)
        risk = kernel.risk
        for hook in self.hooks:
            try:
                hook({**values, "risk_state": risk.state.value if risk is not None else "OFF"})
            except Exception:  # a hook must never stop the trading loop
                log.exception("alert hook failed")
        for alert in fired:
            self._raise(alert)
        return fired

    def _error_counts(self, kernel: Kernel, now_s: float) -> dict[str, float | None]:
        """Strategy and exchange errors within the last hour (None: not counted here)."""
        strategy = sum(_slot_errors(kernel).values())
        out: dict[str, float | None] = {
            "strategy_errors": float(self._windows["strategy_errors"].observe(strategy, now_s))
        }
        if self.exchange_errors is not None:
            total = self.exchange_errors()
            out["exchange_errors"] = float(self._windows["exchange_errors"].observe(total, now_s))
        return out

    def _builtins(self) -> list[Fired]:
        entries = JournalRepository(self.db).read(self.deployment_id, after_id=self.last_id)
        out = []
        for entry in entries:
            self.last_id = entry.id
            if entry.kind == FIRED:
                continue
            try:
                payload = json.loads(entry.payload)
            except ValueError:
                payload = {}
            found = builtin(entry.kind, entry.subject, payload if isinstance(payload, dict) else {})
            if found is not None:
                out.append(found)
        return out

    def _raise(self, alert: Fired) -> None:
        self.fired.append(alert)
        AlertRepository(self.db).add(
            alert.rule, alert.severity.upper(), alert.message, self.deployment_id
        )
        detail: dict[str, object] = {
            "rule": alert.rule,
            "severity": alert.severity,
            "message": alert.message,
            "action": alert.action,
            "values": alert.values,
            "builtin": alert.builtin,
            "at": datetime.now(UTC).isoformat(),
        }
        self.store.record_runtime(FIRED, alert.rule, detail)
        level = logging.CRITICAL if alert.severity == "critical" else logging.WARNING
        log.log(level, "ALERT %s [%s] %s", alert.rule, alert.severity.upper(), alert.message)
        if alert.action is not None:
            control.post(
                self.db,
                self.deployment_id,
                ACTIONS[alert.action],
                f"alert:{alert.rule}",
                reason=f"alert {alert.rule}: {alert.message}",
            )
        if self.notify is not None:
            try:
                self.notify(alert, self.name)
            except Exception:  # a notifier must never stop the trading loop
                log.exception("notifier failed for alert %s", alert.rule)


class OrchestrationAlerts:
    """The seed's ``orchestration_alerts``: an allocation that moves more than its threshold,
    a correlation between strategies above its threshold, a strategy down more than its
    degradation threshold from its peak (each on its rising edge)."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.seen = 0  # allocation changes looked at
        self.weights: dict[str, float] = {}
        self.correlated = False
        self.degraded: set[str] = set()

    def check(self, orchestrator: Any) -> list[Fired]:
        if orchestrator is None:
            return []
        return (
            self._allocations(orchestrator)
            + self._correlation(orchestrator)
            + (self._degradation(orchestrator))
        )

    def _allocations(self, orchestrator: Any) -> list[Fired]:
        out = []
        rule = self.settings.allocation_change
        for change in orchestrator.history[self.seen :]:
            before = self.weights.get(change.strategy)
            self.weights[change.strategy] = change.weight
            moved = None if before is None else abs(change.weight - before)
            if rule is not None and moved is not None and moved > rule.threshold:
                out.append(
                    Fired(
                        "allocation_change",
                        "info",
                        f"{change.strategy}: "
                        f"{before:.1%} -> {change.weight:.1%} ({change.trigger})",
                        values={"change": moved},
                        builtin=True,
                    )
                )
        self.seen = len(orchestrator.history)
        return out

    def _correlation(self, orchestrator: Any) -> list[Fired]:
        rule = self.settings.correlation_spike
        if rule is None:
            return []
        top = float(orchestrator._max_correlation())
        high = top > rule.threshold
        rising, self.correlated = high and not self.correlated, high
        if not rising:
            return []
        text = f"strategies correlate at {top:.2f} (threshold {rule.threshold:.2f})"
        return [
            Fired("correlation_spike", "warning", text, values={"correlation": top}, builtin=True)
        ]

    def _degradation(self, orchestrator: Any) -> list[Fired]:
        rule = self.settings.performance_degradation
        if rule is None:
            return []
        out = []
        for name in orchestrator.names:
            peak = orchestrator._peak_index[name]
            drawdown = 1 - orchestrator._index[name] / peak if peak else 0.0
            if drawdown <= -rule.threshold:
                self.degraded.discard(name)
                continue
            if name not in self.degraded:
                self.degraded.add(name)
                text = f"{name} is down {drawdown:.1%} from its peak"
                out.append(
                    Fired(
                        "performance_degradation",
                        "warning",
                        text,
                        values={"drawdown": drawdown},
                        builtin=True,
                    )
                )
        return out


def _slot_errors(kernel: Kernel) -> dict[str, int]:
    return {slot.strategy.strategy_id: slot.errors for slot in kernel.slots}


def _newest(db: Database, deployment_id: str) -> int:
    with db.reader() as session:
        newest = session.scalar(
            select(func.max(JournalEntry.id)).where(JournalEntry.deployment_id == deployment_id)
        )
    return int(newest or 0)
