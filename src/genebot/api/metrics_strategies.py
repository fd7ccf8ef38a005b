"""The ``/metrics`` families per strategy, the 7-day Sharpe ratio and the alerts fired, read
in the scrape's read-only snapshot (:mod:`genebot.api.observability` calls :func:`families`).

Every series is a running deployment's, labelled like the others (``deployment``,
``deployment_id``, ``mode``), and ``strategy`` (its sleeve's id) where it is per strategy:

* from the closed round trips (``trades``, P&L net of fees): ``genebot_strategy_realized_pnl``,
  ``genebot_strategy_trades_total``, ``genebot_strategy_win_rate`` and, per deployment,
  ``genebot_sharpe_7d`` (the alert rules' ``sharpe_7d``: the daily P&L of the trades closed in
  the seven days to the runner's clock, mean / sd x sqrt(365); two days at least);
* from the orders and the risk engine: ``genebot_strategy_orders_total`` (orders placed: its
  rate is the strategy's signal frequency), ``genebot_strategy_risk_denials_total``;
* from the runner's status row: ``genebot_strategy_allocation`` (the sleeve's capital),
  ``genebot_strategy_exposure``, ``genebot_strategy_unrealized_pnl``,
  ``genebot_strategy_open_positions`` and ``genebot_strategy_paused`` (1: an operator paused it);
* from the ``alerts`` table: ``genebot_alerts_total{rule,severity}`` (alerts fired) and
  ``genebot_alerts_unacknowledged{severity}``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import Float, case, cast, func, select
from sqlalchemy.orm import Session

from genebot.persistence.tables import AlertRow, OrderRow, RiskEventRow, TradeRow

if TYPE_CHECKING:
    from genebot.api.observability import Snapshot

DEP = ("deployment", "deployment_id", "mode")
DENY = "deny"
WEEK = timedelta(days=7)
DAY_S = 86_400
ALL = "*"  # paused: every strategy


def number(value: object) -> float | None:
    """An exact decimal (as text) or a number as a float; None when missing or not a number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return float(number) if number.is_finite() else None


def _gauge(name: str, doc: str, *extra: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=[*DEP, *extra])


def _counter(name: str, doc: str, *extra: str) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, labels=[*DEP, *extra])


def sharpe(daily: Sequence[float]) -> float | None:
    """Annualized Sharpe ratio of daily P&L (None under two days or with no dispersion)."""
    if len(daily) < 2:
        return None
    mean = sum(daily) / len(daily)
    sd = math.sqrt(sum((v - mean) ** 2 for v in daily) / (len(daily) - 1))
    return mean / sd * math.sqrt(365) if sd > 0 else None


# -- the queries (GROUP BYs over the running deployments' rows) -------------------------------
def _trades(session: Session, ids: Sequence[str]) -> list[tuple[str, str, int, int, float]]:
    """(deployment id, strategy, trades, winners, Σ pnl)."""
    pnl = cast(TradeRow.pnl, Float)
    query = (
        select(
            TradeRow.deployment_id,
            TradeRow.strategy_id,
            func.count(),
            func.sum(case((pnl > 0, 1), else_=0)),
            func.sum(pnl),
        )
        .where(TradeRow.deployment_id.in_(ids))
        .group_by(TradeRow.deployment_id, TradeRow.strategy_id)
        .order_by(TradeRow.deployment_id, TradeRow.strategy_id)
    )
    return [
        (d or "", s, int(n), int(w or 0), float(p or 0)) for d, s, n, w, p in session.execute(query)
    ]


def _counts(session: Session, dep: Any, *keys: Any, where: Any) -> list[tuple[Any, ...]]:
    query = select(dep, *keys, func.count()).where(where).group_by(dep, *keys).order_by(dep, *keys)
    return [tuple(row) for row in session.execute(query)]


def _recent_trades(
    session: Session, ids: Sequence[str], since: datetime
) -> list[tuple[str, datetime, float]]:
    pnl = cast(TradeRow.pnl, Float)
    query = select(TradeRow.deployment_id, TradeRow.exit_time, pnl).where(
        TradeRow.deployment_id.in_(ids), TradeRow.exit_time >= since
    )
    return [(d or "", t, float(p or 0)) for d, t, p in session.execute(query)]


def _clock(data: dict[str, Any], now: datetime) -> datetime:
    """The runner's clock (its data's time: a replay's is in the past), else the wall's."""
    ts_ns = number(data.get("ts_ns"))
    return datetime.fromtimestamp(ts_ns / 1e9, UTC) if ts_ns else now


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# -- the families -----------------------------------------------------------------------------
def families(session: Session, snap: Snapshot, now: datetime | None = None) -> list[Metric]:
    """Per-strategy, Sharpe and alert families of the snapshot's running deployments."""
    running = {d.id: d.labels for d in snap.running}
    ids = sorted(running)
    now = now or datetime.now(UTC)
    out: list[Metric] = []
    out += _trade_families(session, running, ids)
    out += _order_families(session, running, ids)
    out += _status_families(snap, running)
    out.append(_sharpe_family(session, snap, running, now))
    out += _alert_families(session, running, ids)
    return out


def _trade_families(
    session: Session, running: dict[str, list[str]], ids: list[str]
) -> list[Metric]:
    realized = _gauge(
        "genebot_strategy_realized_pnl", "Realized P&L of the closed round trips", "strategy"
    )
    trades = _counter("genebot_strategy_trades", "Closed round trips", "strategy")
    win_rate = _gauge(
        "genebot_strategy_win_rate", "Share of closed round trips with a positive P&L", "strategy"
    )
    for dep, strategy, count, won, pnl in _trades(session, ids) if ids else []:
        labels = [*running[dep], strategy]
        realized.add_metric(labels, pnl)
        trades.add_metric(labels, count)
        if count:
            win_rate.add_metric(labels, won / count)
    return [realized, trades, win_rate]


def _order_families(
    session: Session, running: dict[str, list[str]], ids: list[str]
) -> list[Metric]:
    orders = _counter("genebot_strategy_orders", "Orders the strategy placed", "strategy")
    denials = _counter(
        "genebot_strategy_risk_denials", "The strategy's orders the risk engine denied", "strategy"
    )
    if ids:
        where = OrderRow.deployment_id.in_(ids)
        placed = _counts(session, OrderRow.deployment_id, OrderRow.strategy_id, where=where)
        for dep, strategy, n in placed:
            orders.add_metric([*running[dep], strategy], int(n))
        denied = _counts(
            session,
            RiskEventRow.deployment_id,
            RiskEventRow.strategy,
            where=RiskEventRow.deployment_id.in_(ids) & (RiskEventRow.action == DENY),
        )
        for dep, strategy, n in denied:
            denials.add_metric([*running[dep], strategy], int(n))
    return [orders, denials]


def _status_families(snap: Snapshot, running: dict[str, list[str]]) -> list[Metric]:
    allocation = _gauge(
        "genebot_strategy_allocation", "Capital allocated to the strategy's sleeve", "strategy"
    )
    exposure = _gauge(
        "genebot_strategy_exposure", "Sum of |quantity| x mark over its open positions", "strategy"
    )
    unrealized = _gauge(
        "genebot_strategy_unrealized_pnl", "Unrealized P&L of its open positions", "strategy"
    )
    positions = _gauge("genebot_strategy_open_positions", "Its open positions", "strategy")
    paused = _gauge("genebot_strategy_paused", "1 while an operator has it paused", "strategy")
    for dep, labels in running.items():
        if dep not in snap.statuses:
            continue  # its runner never wrote a status row
        data = snap.statuses[dep][1]
        alloc = data.get("allocation")
        capital = {str(k): number(v) for k, v in alloc.items()} if isinstance(alloc, dict) else {}
        held: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
        for p in data.get("positions") or []:
            if not isinstance(p, dict):
                continue
            mark = number(p.get("current_price")) or number(p.get("entry_price")) or 0.0
            seen = held[str(p.get("strategy") or "")]
            seen[0] += abs(number(p.get("quantity")) or 0.0) * mark
            seen[1] += number(p.get("unrealized_pnl")) or 0.0
            seen[2] += 1
        stopped = {str(s) for s in data.get("paused") or []}
        for strategy in sorted(set(capital) | set(held)):
            at = [*labels, strategy]
            amount = capital.get(strategy)
            if amount is not None:
                allocation.add_metric(at, amount)
            worth, pnl, count = held.get(strategy, (0.0, 0.0, 0.0))
            exposure.add_metric(at, worth)
            unrealized.add_metric(at, pnl)
            positions.add_metric(at, count)
            paused.add_metric(at, 1.0 if ALL in stopped or strategy in stopped else 0.0)
    return [allocation, exposure, unrealized, positions, paused]


def _sharpe_family(
    session: Session, snap: Snapshot, running: dict[str, list[str]], now: datetime
) -> Metric:
    family = _gauge(
        "genebot_sharpe_7d", "Annualized Sharpe ratio of the daily P&L of the last 7 days"
    )
    clocks = {dep: _clock(snap.statuses[dep][1], now) for dep in running if dep in snap.statuses}
    if not clocks:
        return family
    daily: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for dep, exit_time, pnl in _recent_trades(session, sorted(clocks), min(clocks.values()) - WEEK):
        moment = _aware(exit_time)
        if moment >= clocks[dep] - WEEK:  # as the alert rules count: no upper bound
            daily[dep][int(moment.timestamp()) // DAY_S] += pnl
    for dep in sorted(clocks):
        ratio = sharpe(list(daily[dep].values()))
        if ratio is not None:
            family.add_metric(running[dep], ratio)
    return family


def _alert_families(
    session: Session, running: dict[str, list[str]], ids: list[str]
) -> list[Metric]:
    fired = _counter("genebot_alerts", "Alerts fired, by rule and severity", "rule", "severity")
    open_ = _gauge(
        "genebot_alerts_unacknowledged", "Alerts not yet acknowledged, by severity", "severity"
    )
    if ids:
        keys = (AlertRow.rule, AlertRow.severity, AlertRow.acknowledged)
        rows = _counts(
            session, AlertRow.deployment_id, *keys, where=AlertRow.deployment_id.in_(ids)
        )
        total: dict[tuple[str, str, str], int] = defaultdict(int)
        pending: dict[tuple[str, str], int] = defaultdict(int)
        for dep, rule, severity, acknowledged, n in rows:
            total[dep, rule, severity.lower()] += int(n)
            pending[dep, severity.lower()] += 0 if acknowledged else int(n)
        for (dep, rule, severity), n in sorted(total.items()):
            fired.add_metric([*running[dep], rule, severity], n)
        for (dep, severity), n in sorted(pending.items()):
            open_.add_metric([*running[dep], severity], n)
    return [fired, open_]


__all__ = ["families", "sharpe"]
