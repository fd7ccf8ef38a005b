"""What ``GET /metrics`` shows, in the Prometheus text format (0.0.4).

Each app has its own :class:`CollectorRegistry` (never the process-global one: a process may
build many apps, and a test builds one per test) holding two things:

* the API's own request metrics, counted by :class:`RequestMetrics` (a pure ASGI middleware,
  added by :func:`install`): requests by method, route *template* and status code, and a
  latency histogram by route template — never the raw path, whose ids would make a new series
  per deployment or order;
* :class:`DatabaseCollector`, which reads the database at scrape time, in one read-only
  snapshot: the deployments, and for each running one its orders by status, fills, trades and
  win rate, risk denials by rule, the kill switch, and its runner's status row (equity, P&L,
  drawdown, exposure, positions, staleness). Every query is a GROUP BY over the running
  deployments' indexed rows; the journal is only read incrementally by primary key (it is
  append-only), for the runtime errors and stale-data events it records.

Deployment metrics are labelled ``deployment`` (its name), ``deployment_id`` (names need not
be unique; two series may not share labels) and ``mode`` (paper or live). The names:

* process: ``genebot_up``, ``genebot_build_info{version}``, ``genebot_api_start_time_seconds``,
  ``genebot_runner_up``, ``genebot_database_up``, ``genebot_metrics_collect_seconds``,
  ``genebot_deployments{mode,status}``;
* trading (running deployments): ``genebot_orders{status}``, ``genebot_fills_total``,
  ``genebot_trades_total``, ``genebot_win_rate``, ``genebot_equity``, ``genebot_total_pnl``,
  ``genebot_daily_pnl``, ``genebot_drawdown``, ``genebot_exposure``,
  ``genebot_unrealized_pnl``, ``genebot_open_positions``, ``genebot_strategy_errors_total``,
  ``genebot_exchange_errors_total``, ``genebot_exchange_call_seconds{operation}`` (a summary:
  count and sum of every attempt) and ``genebot_exchange_call_max_seconds{operation}`` (live);
* risk: ``genebot_risk_denials_total{rule}``, ``genebot_risk_state{state}``,
  ``genebot_kill_switch_active``;
* runners: ``genebot_status_age_seconds`` (since the runner last wrote its status: its loop
  lag), ``genebot_data_age_seconds`` (live: since the last data's time),
  ``genebot_runtime_errors_total{type}``, ``genebot_data_stale_events_total``;
* API: ``genebot_http_requests_total{method,route,status}``,
  ``genebot_http_request_duration_seconds{method,route}`` (histogram),
  ``genebot_http_requests_in_progress``; the process: ``process_*`` (CPU, memory, open files);
* per strategy, the 7-day Sharpe ratio, alerts: :mod:`genebot.api.metrics_strategies`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.process_collector import ProcessCollector
from sqlalchemy import Float, case, cast, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from genebot.api import metrics_strategies
from genebot.api.context import ApiContext
from genebot.core.errors import GenebotError
from genebot.persistence.tables import (
    Deployment,
    FillRow,
    JournalEntry,
    KillSwitchEvent,
    OrderRow,
    RiskEventRow,
    RuntimeStatusRow,
    TradeRow,
)

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # text/plain; version=0.0.4; charset=utf-8
DEP = ("deployment", "deployment_id", "mode")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # the route label of a request no route matched (404 scanners)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
RISK_STATES = ("ACTIVE", "REDUCING", "HALTED", "OFF")
DENY = "deny"  # the action the risk engine records for a refused order (risk/types.py)
ERROR, STALE = "runtime.error", "runtime.stale"  # journal kinds the runners write
JOURNAL_MARGIN = 1000  # journal ids re-counted each scrape (a transaction may commit late)


def _version() -> str:
    try:
        return metadata.version("genebot")
    except metadata.PackageNotFoundError:
        return "unknown"


# -- the API's own requests -------------------------------------------------------------------
class HttpMetrics:
    """The request counter, latency histogram and in-flight gauge, in one app's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "genebot_http_requests",
            "API requests by method, route template and status code",
            ("method", "route", "status"),
            registry=registry,
        )
        self.latency = Histogram(
            "genebot_http_request_duration_seconds",
            "API request latency (to the end of the response body) by route template",
            ("method", "route"),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.in_progress = Gauge(
            "genebot_http_requests_in_progress", "API requests being served", registry=registry
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)


def route_template(scope: Scope) -> str:
    """The matched route's path template (``/api/trading/history/{deployment_id}``)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


class RequestMetrics:
    """Pure ASGI middleware: counts every HTTP request once it has been answered (a request
    that raised counts as 500, what the error handler answers)."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        self.metrics.in_progress.inc()
        try:
            await self.app(scope, receive, sending)
        finally:
            self.metrics.in_progress.dec()
            elapsed = time.perf_counter() - started
            method = str(scope.get("method", ""))
            method = method if method in METHODS else "other"  # any verb: bounded labels
            self.metrics.observe(method, route_template(scope), status, elapsed)


# -- what the database holds, read at scrape time ---------------------------------------------
@dataclass(frozen=True)
class Dep:
    id: str
    name: str
    mode: str
    status: str

    @property
    def labels(self) -> list[str]:
        return [self.name, self.id, self.mode]


_number = metrics_strategies.number


def _error_type(payload: str) -> str:
    """``runtime.error``'s ``{"error": "ExchangeAccessLost: ..."}`` → ``ExchangeAccessLost``."""
    try:
        text = str(json.loads(payload).get("error", ""))
    except (ValueError, AttributeError):
        return "unknown"
    name = text.split(":", 1)[0].strip()
    return name[:64] if name.isidentifier() else "unknown"


class JournalTally:
    """Runtime errors (by type) and stale-data events per deployment, counted from the
    journal by primary key: each scrape reads only the entries added since the last one.

    Entries more than :data:`JOURNAL_MARGIN` ids behind the newest are *settled* and counted
    once; the newest ones are recounted each scrape, so an entry whose transaction commits
    after a later-numbered one (PostgreSQL sequences) is still counted."""

    def __init__(self, margin: int = JOURNAL_MARGIN) -> None:
        self.margin = margin
        self._lock = threading.Lock()
        self._settled_to = 0
        self._settled: Tally[tuple[str, str, str]] = Tally()

    def read(self, session: Session) -> Tally[tuple[str, str, str]]:
        """(deployment id, kind, error type) → how many entries."""
        with self._lock:
            newest = int(session.scalar(select(func.max(JournalEntry.id))) or 0)
            if newest < self._settled_to:  # the journal was emptied (a test's database)
                self._settled_to, self._settled = 0, Tally()
            cut = max(self._settled_to, newest - self.margin)
            if cut > self._settled_to:
                self._settled.update(self._count(session, self._settled_to, cut))
                self._settled_to = cut
            return self._settled + self._count(session, cut, newest)

    @staticmethod
    def _count(session: Session, after: int, upto: int) -> Tally[tuple[str, str, str]]:
        if upto <= after:
            return Tally()
        rows = session.execute(
            select(JournalEntry.deployment_id, JournalEntry.kind, JournalEntry.payload).where(
                JournalEntry.id > after,
                JournalEntry.id <= upto,
                JournalEntry.kind.in_((ERROR, STALE)),
            )
        )
        return Tally(
            (dep or "", kind, _error_type(payload) if kind == ERROR else "")
            for dep, kind, payload in rows
        )


@dataclass
class Snapshot:
    """One scrape's reading of the database (one read-only transaction)."""

    deployments: list[Dep]
    orders: list[tuple[str, str, int]]  # deployment id, status, count
    fills: dict[str, int]
    trades: dict[str, tuple[int, int]]  # deployment id → (trades, winners)
    denials: list[tuple[str, str, int]]  # deployment id, rule, count
    kill_switch: dict[str, str]  # deployment id → the last event's kind
    statuses: dict[str, tuple[datetime, dict[str, Any]]]  # id → (updated_at, payload)
    journal: Tally[tuple[str, str, str]]

    @property
    def running(self) -> list[Dep]:
        return [d for d in self.deployments if d.status == "running"]


def read_snapshot(session: Session, journal: JournalTally) -> Snapshot:
    deployments = [
        Dep(*row)
        for row in session.execute(
            select(Deployment.id, Deployment.name, Deployment.mode, Deployment.status)
        )
    ]
    ids = [d.id for d in deployments if d.status == "running"]
    return Snapshot(
        deployments=deployments,
        orders=_grouped(session, OrderRow.deployment_id, OrderRow.status, ids),
        fills=_fills(session, ids),
        trades=_trades(session, ids),
        denials=_grouped(
            session, RiskEventRow.deployment_id, RiskEventRow.rule, ids, RiskEventRow.action == DENY
        ),
        kill_switch=_kill_switch(session, ids),
        statuses=_statuses(session, ids),
        journal=journal.read(session),
    )


def _grouped(
    session: Session, dep: Any, key: Any, ids: Sequence[str], *where: Any
) -> list[tuple[str, str, int]]:
    if not ids:
        return []
    query = (
        select(dep, key, func.count())
        .where(dep.in_(ids), *where)
        .group_by(dep, key)
        .order_by(dep, key)
    )
    return [(d, k, int(n)) for d, k, n in session.execute(query)]


def _fills(session: Session, ids: Sequence[str]) -> dict[str, int]:
    if not ids:
        return {}
    query = (
        select(OrderRow.deployment_id, func.count(FillRow.id))
        .join(OrderRow, FillRow.order_id == OrderRow.id)
        .where(OrderRow.deployment_id.in_(ids))
        .group_by(OrderRow.deployment_id)
    )
    return {d: int(n) for d, n in session.execute(query)}


def _trades(session: Session, ids: Sequence[str]) -> dict[str, tuple[int, int]]:
    if not ids:
        return {}
    # pnl is exact (NUMERIC, or TEXT on SQLite): only its sign is read here, as a float
    won = func.sum(case((cast(TradeRow.pnl, Float) > 0, 1), else_=0))
    query = (
        select(TradeRow.deployment_id, func.count(), won)
        .where(TradeRow.deployment_id.in_(ids))
        .group_by(TradeRow.deployment_id)
    )
    return {d: (int(n), int(w or 0)) for d, n, w in session.execute(query)}


def _kill_switch(session: Session, ids: Sequence[str]) -> dict[str, str]:
    if not ids:
        return {}
    last = (
        select(func.max(KillSwitchEvent.id))
        .where(KillSwitchEvent.deployment_id.in_(ids))
        .group_by(KillSwitchEvent.deployment_id)
    )
    query = select(KillSwitchEvent.deployment_id, KillSwitchEvent.kind).where(
        KillSwitchEvent.id.in_(last.scalar_subquery())
    )
    return {d: k for d, k in session.execute(query)}


def _statuses(session: Session, ids: Sequence[str]) -> dict[str, tuple[datetime, dict[str, Any]]]:
    if not ids:
        return {}
    query = select(
        RuntimeStatusRow.deployment_id, RuntimeStatusRow.updated_at, RuntimeStatusRow.payload
    ).where(RuntimeStatusRow.deployment_id.in_(ids))
    out: dict[str, tuple[datetime, dict[str, Any]]] = {}
    for dep, updated, payload in session.execute(query):
        try:
            data = json.loads(payload)
        except ValueError:
            data = {}
        out[dep] = (updated, data if isinstance(data, dict) else {})
    return out


def _gauge(name: str, doc: str, *extra: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=[*DEP, *extra])


def _counter(name: str, doc: str, *extra: str) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, labels=[*DEP, *extra])


def trading_families(snap: Snapshot) -> list[Metric]:
    """Orders by status, fills, trades and win rate, risk denials by rule."""
    by_id = {d.id: d for d in snap.deployments}
    orders = _gauge("genebot_orders", "Orders by their current status", "status")
    for dep_id, status, n in snap.orders:
        orders.add_metric([*by_id[dep_id].labels, status], n)
    fills = _counter("genebot_fills", "Fills (executions) of the deployment's orders")
    trades = _counter("genebot_trades", "Closed round trips")
    win_rate = _gauge("genebot_win_rate", "Share of closed round trips with a positive P&L")
    for dep in snap.running:
        fills.add_metric(dep.labels, snap.fills.get(dep.id, 0))
        count, won = snap.trades.get(dep.id, (0, 0))
        trades.add_metric(dep.labels, count)
        if count:
            win_rate.add_metric(dep.labels, won / count)
    denials = _counter("genebot_risk_denials", "Orders the risk engine denied, by rule", "rule")
    for dep_id, rule, n in snap.denials:
        denials.add_metric([*by_id[dep_id].labels, rule], n)
    return [orders, fills, trades, win_rate, denials]


class _StatusFamilies:
    """The families read from the runners' status rows."""

    def __init__(self) -> None:
        g = _gauge
        self.equity = g("genebot_equity", "Equity at the runner's marks (quote currency)")
        self.total_pnl = g("genebot_total_pnl", "P&L since the deployment started")
        self.daily_pnl = g("genebot_daily_pnl", "P&L since the UTC day began")
        self.drawdown = g("genebot_drawdown", "Drawdown from the peak equity (fraction)")
        self.exposure = g(
            "genebot_exposure", "Sum of |quantity| x mark (else entry price) over open positions"
        )
        self.unrealized = g("genebot_unrealized_pnl", "Unrealized P&L of the open positions")
        self.positions = g("genebot_open_positions", "Open positions")
        self.state = g("genebot_risk_state", "The risk engine's state (1 for the current)", "state")
        self.kill = g("genebot_kill_switch_active", "1 while the kill switch is active")
        self.age = g("genebot_status_age_seconds", "Seconds since the runner wrote its status")
        self.data_age = g(
            "genebot_data_age_seconds", "Live: seconds since the time of the last data seen"
        )
        self.strategy_errors = _counter(
            "genebot_strategy_errors", "Errors the strategies raised (each caught and counted)"
        )
        self.exchange_errors = _counter(
            "genebot_exchange_errors", "Live: exchange calls that failed (retried or not)"
        )
        self.latency = SummaryMetricFamily(
            "genebot_exchange_call_seconds",
            "Live: time spent in exchange calls, each attempt, by operation",
            labels=[*DEP, "operation"],
        )
        self.slowest = g(
            "genebot_exchange_call_max_seconds", "Live: the slowest exchange call", "operation"
        )

    def all(self) -> list[Metric]:
        return list(vars(self).values())

    def add(self, dep: Dep, data: dict[str, Any]) -> None:
        labels = dep.labels
        for family, key in (
            (self.equity, "equity"),
            (self.total_pnl, "total_pnl"),
            (self.daily_pnl, "daily_pnl"),
            (self.drawdown, "drawdown"),
        ):
            value = _number(data.get(key))
            if value is not None:
                family.add_metric(labels, value)
        positions = [p for p in data.get("positions") or [] if isinstance(p, dict)]
        exposure = unrealized = 0.0
        for p in positions:  # no mark yet: the entry price is the best one known
            mark = _number(p.get("current_price")) or _number(p.get("entry_price")) or 0.0
            exposure += abs(_number(p.get("quantity")) or 0.0) * mark
            unrealized += _number(p.get("unrealized_pnl")) or 0.0
        self.exposure.add_metric(labels, exposure)
        self.unrealized.add_metric(labels, unrealized)
        self.positions.add_metric(labels, len(positions))
        for counter, key in (
            (self.strategy_errors, "strategy_errors"),
            (self.exchange_errors, "exchange_errors"),
        ):
            count = _number(data.get(key))
            if count is not None:
                counter.add_metric(labels, count)
        latency = data.get("exchange_latency")
        for op, seen in latency.items() if isinstance(latency, dict) else ():
            calls, seconds = _number(seen.get("calls")), _number(seen.get("seconds"))
            if calls is not None and seconds is not None:
                self.latency.add_metric([*labels, str(op)], int(calls), seconds)
                self.slowest.add_metric([*labels, str(op)], _number(seen.get("max_s")) or 0.0)


def status_families(snap: Snapshot, now: datetime) -> list[Metric]:
    """Equity, P&L, drawdown, exposure, risk state, kill switch, staleness per deployment."""
    fam = _StatusFamilies()
    for dep in snap.running:
        updated, data = snap.statuses.get(dep.id, (None, {}))
        risk = data.get("risk")
        state = str(risk.get("state") or "") if isinstance(risk, dict) else ""
        halted = state == "HALTED" or snap.kill_switch.get(dep.id) == "activated"
        fam.kill.add_metric(dep.labels, 1.0 if halted else 0.0)
        if updated is None:
            continue  # its runner never wrote a status row
        fam.add(dep, data)
        for name in RISK_STATES:
            fam.state.add_metric([*dep.labels, name], 1.0 if name == state else 0.0)
        fam.age.add_metric(dep.labels, max(0.0, (now - updated).total_seconds()))
        ts_ns = _number(data.get("ts_ns"))
        if dep.mode == "live" and ts_ns:
            fam.data_age.add_metric(dep.labels, max(0.0, now.timestamp() - ts_ns / 1e9))
    return fam.all()


def runner_families(snap: Snapshot) -> list[Metric]:
    """Deployments by mode and status; the runners' journaled errors and stale-data events."""
    count = GaugeMetricFamily("genebot_deployments", "Deployments", labels=["mode", "status"])
    for (mode, status), n in sorted(Tally((d.mode, d.status) for d in snap.deployments).items()):
        count.add_metric([mode, status], n)
    errors = _counter("genebot_runtime_errors", "Errors that stopped a runner, by type", "type")
    stale = _counter("genebot_data_stale_events", "Times a live feed went stale")
    by_id = {d.id: d for d in snap.deployments}
    for (dep_id, kind, kind_type), n in sorted(snap.journal.items()):
        dep = by_id.get(dep_id, Dep(dep_id, "", "", ""))
        if kind == ERROR:
            errors.add_metric([*dep.labels, kind_type], n)
        else:
            stale.add_metric(dep.labels, n)
    return [count, errors, stale]


def _single(name: str, doc: str, value: float, **labels: str) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=list(labels))
    family.add_metric(list(labels.values()), value)
    return family


class DatabaseCollector:
    """Reads the database when Prometheus scrapes (see the module docstring). A database that
    cannot be read answers ``genebot_database_up 0``, never an error page."""

    def __init__(self, ctx_of: Callable[[], ApiContext]) -> None:
        self._ctx_of = ctx_of
        self.journal = JournalTally()

    def describe(self) -> Iterable[Metric]:
        return []  # nothing at registration: the database is read at scrape time only

    def collect(self) -> Iterable[Metric]:
        started = time.perf_counter()
        ctx = self._ctx_of()
        out: list[Metric] = [
            _single("genebot_up", "1: the API answers", 1.0),
            _single("genebot_build_info", "genebot's version", 1.0, version=_version()),
            _single("genebot_api_start_time_seconds", "When the API started (Unix)", ctx.started),
        ]
        try:
            out += self._database(ctx)
            db_up = 1.0
        except (SQLAlchemyError, GenebotError) as exc:
            log.warning(
                "metrics: the database could not be read: %s", ctx.redactor.redact(str(exc))
            )
            db_up = 0.0
        out.append(_single("genebot_database_up", "1: the database could be read", db_up))
        took = time.perf_counter() - started
        out.append(_single("genebot_metrics_collect_seconds", "This scrape's database time", took))
        return out

    def _database(self, ctx: ApiContext) -> list[Metric]:
        runner = _single("genebot_runner_up", "1: a runner owns the database", ctx.runner_up())
        now = datetime.now(UTC)
        with ctx.db.reader() as session:
            snap = read_snapshot(session, self.journal)
            strategies = metrics_strategies.families(session, snap, now)
        return [
            runner,
            *trading_families(snap),
            *status_families(snap, now),
            *runner_families(snap),
            *strategies,
        ]


# -- one registry per app -----------------------------------------------------------------------
class ApiMetrics:
    """An app's registry: its request metrics and the database collector."""

    def __init__(self, app: FastAPI) -> None:
        self.registry = CollectorRegistry()
        self.http = HttpMetrics(self.registry)
        self.database = DatabaseCollector(lambda: _ctx(app))
        self.registry.register(self.database)
        ProcessCollector(registry=self.registry)  # process_cpu_seconds_total, memory (Linux)
        self.installed = False

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _ctx(app: FastAPI) -> ApiContext:
    ctx: ApiContext = app.state.ctx
    return ctx


_CREATE = threading.Lock()


def metrics_of(app: FastAPI) -> ApiMetrics:
    """The app's metrics (made on first use)."""
    with _CREATE:
        found = getattr(app.state, "metrics", None)
        if not isinstance(found, ApiMetrics):
            found = app.state.metrics = ApiMetrics(app)
        return found


def install(app: FastAPI) -> None:
    """Count the app's requests (call from ``create_app``, before the app starts; twice is
    once)."""
    metrics = metrics_of(app)
    if not metrics.installed:
        app.add_middleware(RequestMetrics, metrics=metrics.http)
        metrics.installed = True


__all__ = [
    "CONTENT_TYPE",
    "ApiMetrics",
    "DatabaseCollector",
    "HttpMetrics",
    "RequestMetrics",
    "install",
    "metrics_of",
    "route_template",
]
