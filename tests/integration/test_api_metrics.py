"""``GET /metrics`` over a real database (SQLite and PostgreSQL): Prometheus text, behind a
token; what it reports equals what the database holds; requests are counted by route template;
and every metric the Grafana dashboards chart is one it exposes."""

from __future__ import annotations

import json
import math
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from genebot.api import metrics_strategies, observability
from genebot.api.app import create_app
from genebot.api.context import ApiSettings
from genebot.api.security import Tokens
from genebot.config.loader import load_config
from genebot.domain.events import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderFilled,
    OrderInitialized,
    OrderSubmitted,
)
from genebot.domain.position import ClosedTrade
from genebot.live.runtime import PaperRuntime
from genebot.persistence.codec import to_json
from genebot.persistence.database import Database
from genebot.persistence.journal import TradingStore
from genebot.persistence.repositories import AlertRepository, DeploymentRepository
from genebot.persistence.tables import AlertRow, Deployment, OrderRow, RuntimeStatusRow, TradeRow

D = Decimal
T0 = 1_700_000_000_000_000_000
ADMIN, VIEWER = "admin-token-0123456789", "viewer-token-0123456789"
ENV = {"GENEBOT_API_ADMIN_TOKEN": ADMIN, "GENEBOT_API_VIEWER_TOKEN": VIEWER}
DASHBOARDS = Path(__file__).resolve().parents[2] / "deployment" / "grafana" / "dashboards"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def counting(app: FastAPI) -> int:
    """How many request-counting middlewares the app has."""
    return sum(getattr(m, "cls", None) is observability.RequestMetrics for m in app.user_middleware)


def app_for(db: Database) -> FastAPI:
    app = create_app(db, Tokens(ENV), settings=ApiSettings(metrics_cache_s=0))  # every scrape fresh
    if not counting(app):
        observability.install(app)  # until create_app calls it
    return app


def auth(token: str = VIEWER) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def scrape(api: TestClient) -> Samples:
    got = api.get("/metrics", headers=auth())
    assert got.status_code == 200, got.text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(got.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    """The one sample of ``name`` whose labels include ``labels`` (None if there is none)."""
    want = set(labels.items())
    found = [v for (n, ls), v in samples.items() if n == name and want <= ls]
    assert len(found) <= 1, f"{name} {labels}: {len(found)} samples"
    return found[0] if found else None


# -- what the tests write -------------------------------------------------------------------
def _order(coid: str, *then: str) -> list[OrderEvent]:
    init = OrderInitialized(
        coid, "s", "BTC/USDT.SIM", "BUY", "LIMIT", D("1"), D("100"), None, "GTC",
        False, "signal", None, None, T0, T0,
    )  # fmt: skip
    events: list[OrderEvent] = [init, OrderSubmitted(coid, T0 + 1, T0 + 1)]
    events.append(OrderAccepted(coid, f"V-{coid}", T0 + 2, T0 + 2))
    if "fill" in then:
        fill = OrderFilled(coid, f"{coid}-t", "BTC/USDT.SIM", "BUY", D("1"), D("100"), D("0.1"),
                           "USDT", "MAKER", T0 + 3, T0 + 3)  # fmt: skip
        events.append(fill)
    if "cancel" in then:
        events.append(OrderCanceled(coid, "operator", T0 + 3, T0 + 3))
    return events


def _trade(pnl: str, exit_ts: int = T0 + 10, strategy: str = "s") -> ClosedTrade:
    return ClosedTrade(
        strategy, "BTC/USDT.SIM", "long", exit_ts - 10, D("100"), exit_ts, D("101"), D("1"),
        D(pnl), D("0.1"), "signal",
    )  # fmt: skip


def write_status(db: Database, dep: str, payload: dict[str, Any], age_s: float = 0.0) -> None:
    """The runner's status row, shaped as ``status_store.read_status`` reads it."""
    stamp = datetime.now(UTC) - timedelta(seconds=age_s)
    with db.session() as session:
        row = session.get(RuntimeStatusRow, dep)
        if row is None:
            session.add(RuntimeStatusRow(deployment_id=dep, updated_at=stamp, payload=""))
            session.flush()
            row = session.get(RuntimeStatusRow, dep)
        assert row is not None
        row.updated_at, row.payload = stamp, to_json(payload)


def status(equity: str, state: str = "ACTIVE", **extra: Any) -> dict[str, Any]:
    position = {"strategy": "s", "instrument_id": "BTC/USDT.SIM", "symbol": "BTC/USDT",
                "side": "long", "quantity": "0.5", "entry_price": "100", "current_price": "110",
                "unrealized_pnl": "5", "unrealized_pnl_pct": 0.1}  # fmt: skip
    return {
        "mode": "paper", "equity": equity, "total_pnl": "123.45", "daily_pnl": "-7.5",
        "drawdown": 0.025, "positions": [position],
        "risk": {"state": state, "halt_rule": None, "halt_detail": None},
        "orders": 3, "trades": 2, "ts_ns": T0, **extra,
    }  # fmt: skip


def paper_deployment(db: Database) -> str:
    dep = DeploymentRepository(db).start("paper-btc", "paper", {})
    store = TradingStore(db, dep)
    store.on_order_events(_order("O-1", "fill") + _order("O-2", "cancel") + _order("O-3"))
    store.record_trades([_trade("9.5"), _trade("-2")])
    store.record_risk_events(
        [
            (T0, "s", "BTC/USDT", "max_position_size", "deny", "too big"),
            (T0, "s", "BTC/USDT", "max_position_size", "deny", "too big"),
            (T0, "s", "BTC/USDT", "daily_loss", "deny", "limit hit"),
            (T0, "s", "BTC/USDT", "all", "approve", "quantity 1"),
            (T0, "s", "BTC/USDT", "heat", "resize", "to 0.5"),
        ]
    )
    latency = {"read": {"calls": 40, "seconds": 2.0, "max_s": 0.25}}
    write_status(
        db, dep, status("10123.45", strategy_errors=4, exchange_errors=2, exchange_latency=latency)
    )
    return dep


# -- the tests --------------------------------------------------------------------------------
def test_metrics_need_a_token_and_answer_prometheus_text(database: Database) -> None:
    api = TestClient(app_for(database))
    assert api.get("/metrics").status_code == 401
    assert api.get("/metrics", headers=auth("wrong-token-0123456789")).status_code == 401
    got = api.get("/metrics", headers=auth())
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = scrape(api)
    assert value(samples, "genebot_up") == 1.0
    assert value(samples, "genebot_database_up") == 1.0
    assert value(samples, "genebot_runner_up") == 0.0  # nothing holds the runner lock
    assert value(samples, "genebot_build_info", version=observability._version()) == 1.0


def test_trading_metrics_equal_what_the_database_holds(database: Database) -> None:
    dep = paper_deployment(database)
    samples = scrape(TestClient(app_for(database)))
    me = {"deployment": "paper-btc", "deployment_id": dep, "mode": "paper"}
    assert value(samples, "genebot_equity", **me) == 10123.45
    assert value(samples, "genebot_total_pnl", **me) == 123.45
    assert value(samples, "genebot_daily_pnl", **me) == -7.5
    assert value(samples, "genebot_drawdown", **me) == 0.025
    assert value(samples, "genebot_strategy_errors_total", **me) == 4.0
    assert value(samples, "genebot_exchange_errors_total", **me) == 2.0
    assert value(samples, "genebot_exchange_call_seconds_count", operation="read", **me) == 40
    assert value(samples, "genebot_exchange_call_seconds_sum", operation="read", **me) == 2.0
    assert value(samples, "genebot_exchange_call_max_seconds", operation="read", **me) == 0.25
    assert value(samples, "genebot_exposure", **me) == 55.0  # 0.5 x 110
    assert value(samples, "genebot_unrealized_pnl", **me) == 5.0
    assert value(samples, "genebot_open_positions", **me) == 1.0
    for status_name, n in (("FILLED", 1.0), ("CANCELED", 1.0), ("ACCEPTED", 1.0)):
        assert value(samples, "genebot_orders", status=status_name, **me) == n
    assert value(samples, "genebot_fills_total", **me) == 1.0
    assert value(samples, "genebot_trades_total", **me) == 2.0
    assert value(samples, "genebot_win_rate", **me) == 0.5
    assert value(samples, "genebot_risk_denials_total", rule="max_position_size", **me) == 2.0
    assert value(samples, "genebot_risk_denials_total", rule="daily_loss", **me) == 1.0
    assert value(samples, "genebot_risk_denials_total", rule="heat", **me) is None  # a resize
    assert value(samples, "genebot_risk_denials_total", rule="all", **me) is None  # approvals
    assert value(samples, "genebot_risk_state", state="ACTIVE", **me) == 1.0
    assert value(samples, "genebot_risk_state", state="HALTED", **me) == 0.0
    assert value(samples, "genebot_kill_switch_active", **me) == 0.0
    age = value(samples, "genebot_status_age_seconds", **me)
    assert age is not None and 0.0 <= age < 30.0
    assert value(samples, "genebot_data_age_seconds", **me) is None  # paper: replayed data
    assert value(samples, "genebot_deployments", mode="paper", status="running") == 1.0


def test_the_kill_switch_shows_from_its_events_and_from_the_risk_state(
    database: Database,
) -> None:
    dep = paper_deployment(database)
    api = TestClient(app_for(database))
    me = {"deployment_id": dep}
    store = TradingStore(database, dep)
    store.record_kill_switch("activated", "daily_loss", "engine", "loss 5.5%")
    assert value(scrape(api), "genebot_kill_switch_active", **me) == 1.0
    store.record_kill_switch("reset", "admin", "admin#1", "reviewed")
    assert value(scrape(api), "genebot_kill_switch_active", **me) == 0.0
    write_status(database, dep, status("10000", state="HALTED"))  # the engine's own halt
    samples = scrape(api)
    assert value(samples, "genebot_kill_switch_active", **me) == 1.0
    assert value(samples, "genebot_risk_state", state="HALTED", **me) == 1.0
    DeploymentRepository(database).stop(dep)  # a stopped deployment has no trading series
    samples = scrape(api)
    assert value(samples, "genebot_kill_switch_active", **me) is None
    assert value(samples, "genebot_equity", **me) is None


def test_live_staleness_data_age_and_runner_errors(database: Database) -> None:
    dep = DeploymentRepository(database).start("live-eth", "live", {})
    data_ts = time.time_ns() - 90 * 10**9  # the last bar seen 90 s ago
    write_status(database, dep, status("5000", mode="live", ts_ns=data_ts), age_s=12.0)
    store = TradingStore(database, dep)
    store.record_runtime("runtime.stale", "ETH/USDT", {"feed": "ETH/USDT", "ts_event": data_ts})
    store.record_runtime("runtime.error", "live", {"error": "ExchangeAccessLost: keys refused"})
    api = TestClient(app_for(database))
    samples = scrape(api)
    me = {"deployment": "live-eth", "deployment_id": dep, "mode": "live"}
    age = value(samples, "genebot_status_age_seconds", **me)
    assert age is not None and 12.0 <= age < 40.0
    data_age = value(samples, "genebot_data_age_seconds", **me)
    assert data_age is not None and 90.0 <= data_age < 120.0
    assert value(samples, "genebot_data_stale_events_total", **me) == 1.0
    errors = value(samples, "genebot_runtime_errors_total", type="ExchangeAccessLost", **me)
    assert errors == 1.0
    store.record_runtime("runtime.error", "live", {"error": "ExchangeAccessLost: again"})
    DeploymentRepository(database).stop(dep, "crashed")  # errors still count once it crashed
    samples = scrape(api)
    assert value(samples, "genebot_runtime_errors_total", type="ExchangeAccessLost", **me) == 2.0
    assert value(samples, "genebot_deployments", mode="live", status="crashed") == 1.0


def test_the_journal_tally_counts_each_entry_once_across_scrapes(database: Database) -> None:
    """Settled entries are counted once, the newest recounted: the total never drifts."""
    dep = DeploymentRepository(database).start("live-x", "live", {})
    store = TradingStore(database, dep)
    tally = observability.JournalTally(margin=2)
    for n in range(1, 8):
        store.record_runtime("runtime.error", "live", {"error": f"Boom: {n}"})
        store.record_runtime("runtime.finished", "live", {"why": "noise"})
        with database.reader() as session:
            assert tally.read(session)[(dep, "runtime.error", "Boom")] == n


def test_requests_are_counted_by_route_template(database: Database) -> None:
    dep = paper_deployment(database)
    api = TestClient(app_for(database))
    route = "/api/trading/history/{deployment_id}"
    before = value(scrape(api), "genebot_http_requests_total", route=route, status="200") or 0.0
    for _ in range(3):
        assert api.get(f"/api/trading/history/{dep}", headers=auth()).status_code == 200
    assert api.get("/api/trading/history/nosuch", headers=auth()).status_code == 404
    assert api.get("/no/such/path/at/all").status_code == 404
    assert api.request("BREW", "/health").status_code == 405  # any verb: one "other" label
    samples = scrape(api)
    assert value(samples, "genebot_http_requests_total", route=route, status="200") == before + 3
    assert value(samples, "genebot_http_requests_total", route=route, status="404") == 1.0
    assert value(samples, "genebot_http_requests_total", route="unmatched", status="404") == 1.0
    assert value(samples, "genebot_http_requests_total", route="/metrics", status="200")
    assert value(samples, "genebot_http_requests_total", method="other", route="/health") == 1.0
    count = value(samples, "genebot_http_request_duration_seconds_count", route=route)
    assert count == before + 4
    assert not any(dep in dict(labels).get("route", "") for _, labels in samples)  # templates


def test_install_adds_the_middleware_once(database: Database) -> None:
    app = app_for(database)
    observability.install(app)
    assert counting(app) == 1
    with TestClient(app) as api:
        assert api.get("/health").status_code == 200
        with pytest.raises(RuntimeError):  # middleware cannot be added to a started app
            observability.metrics_of(app).installed = False
            observability.install(app)


# -- per strategy, the Sharpe ratio, alerts, the process ----------------------------------
DAY_NS = 86_400 * 10**9


def test_strategy_sharpe_and_alert_metrics_equal_what_the_database_holds(
    database: Database,
) -> None:
    dep = paper_deployment(database)  # orders, denials and trades (9.5, -2) of strategy "s"
    store = TradingStore(database, dep)
    store.record_trades(
        [
            _trade("10", T0 - DAY_NS),
            _trade("-4", T0 - 2 * DAY_NS),
            _trade("1000", T0 - 8 * DAY_NS),  # older than the 7 days: not in the Sharpe ratio
            _trade("-1", strategy="t"),
        ]
    )
    unmarked = {"strategy": "t", "instrument_id": "ETH/USDT.SIM", "symbol": "ETH/USDT",
                "side": "short", "quantity": "2", "entry_price": "50", "current_price": None,
                "unrealized_pnl": None}  # fmt: skip
    row = status("10000", allocation={"s": "6000", "t": "4000", "u": "0"}, paused=["t"])
    row["positions"] = [*row["positions"], unmarked]
    write_status(database, dep, row)
    alerts = AlertRepository(database)
    first = alerts.add("drawdown", "CRITICAL", "drawdown 12%", dep)
    alerts.add("drawdown", "CRITICAL", "drawdown 15%", dep)
    alerts.add("daily_loss", "WARNING", "daily loss 4%", dep)
    alerts.acknowledge(first)
    alerts.add("system", "ERROR", "no deployment")  # not a running deployment's: not shown
    other = DeploymentRepository(database).start("old", "paper", {})
    alerts.add("drawdown", "CRITICAL", "of a stopped deployment", other)
    DeploymentRepository(database).stop(other)

    api = TestClient(app_for(database))
    samples = scrape(api)
    me = {"deployment": "paper-btc", "deployment_id": dep, "mode": "paper"}
    s, t, u = ({**me, "strategy": name} for name in "stu")
    assert value(samples, "genebot_strategy_trades_total", **s) == 5.0
    assert value(samples, "genebot_strategy_realized_pnl", **s) == 1013.5  # 9.5-2+10-4+1000
    assert value(samples, "genebot_strategy_win_rate", **s) == 0.6
    assert value(samples, "genebot_strategy_trades_total", **t) == 1.0
    assert value(samples, "genebot_strategy_realized_pnl", **t) == -1.0
    assert value(samples, "genebot_strategy_win_rate", **t) == 0.0
    assert value(samples, "genebot_strategy_trades_total", **u) is None  # no trade yet
    assert value(samples, "genebot_strategy_orders_total", **s) == 3.0
    assert value(samples, "genebot_strategy_risk_denials_total", **s) == 3.0  # not the resize
    assert value(samples, "genebot_strategy_orders_total", **t) is None
    for labels, capital, exposure, unrealized, held, paused in (
        (s, 6000.0, 55.0, 5.0, 1.0, 0.0),  # 0.5 x 110
        (t, 4000.0, 100.0, 0.0, 1.0, 1.0),  # no mark: 2 x the entry price
        (u, 0.0, 0.0, 0.0, 0.0, 0.0),
    ):
        assert value(samples, "genebot_strategy_allocation", **labels) == capital
        assert value(samples, "genebot_strategy_exposure", **labels) == exposure
        assert value(samples, "genebot_strategy_unrealized_pnl", **labels) == unrealized
        assert value(samples, "genebot_strategy_open_positions", **labels) == held
        assert value(samples, "genebot_strategy_paused", **labels) == paused
    daily = [9.5 - 2 - 1, 10.0, -4.0]  # by UTC day, to the runner's clock (ts_ns = T0)
    sharpe = statistics.mean(daily) / statistics.stdev(daily) * math.sqrt(365)
    assert value(samples, "genebot_sharpe_7d", **me) == pytest.approx(sharpe)
    assert metrics_strategies.sharpe(daily) == pytest.approx(sharpe)
    fired = "genebot_alerts_total"
    assert value(samples, fired, rule="drawdown", severity="critical", **me) == 2.0
    assert value(samples, fired, rule="daily_loss", severity="warning", **me) == 1.0
    assert value(samples, "genebot_alerts_unacknowledged", severity="critical", **me) == 1.0
    assert value(samples, "genebot_alerts_unacknowledged", severity="warning", **me) == 1.0
    assert not [k for k in samples if k[0] == fired and ("deployment_id", dep) not in k[1]]

    write_status(database, dep, status("10000", allocation={"s": "1", "t": "1"}, paused=["*"]))
    samples = scrape(api)
    assert value(samples, "genebot_strategy_paused", **s) == 1.0  # "*": all of them
    assert value(samples, "genebot_strategy_paused", **t) == 1.0
    assert value(samples, "genebot_strategy_allocation", **u) is None  # no longer a sleeve
    assert value(samples, "genebot_strategy_realized_pnl", **u) is None


def test_strategy_metrics_after_a_paper_replay(database: Database) -> None:
    """The status rows and tables a real runner writes, read back: every per-strategy number
    equals what the database holds for that strategy."""
    data = str(Path(__file__).resolve().parents[2] / "data" / "sample")
    strategies = {
        "moving_average": {"parameters": {"short_period": 10, "long_period": 20},
                           "symbols": ["BTC/USDT"], "timeframes": ["5m"]},
        "rsi_strategy": {"symbols": ["ETH/USDT"], "timeframes": ["5m"]},
    }  # fmt: skip
    cfg = load_config(
        {
            "backtest": {"data_dir": data, "start_date": "2021-05-01", "end_date": "2021-05-12"},
            "strategies": strategies,
            "risk_management": {"performance": {"enabled": False}},  # trades on most days
        }
    )
    outcome = PaperRuntime(cfg, database, speed=None).run()
    assert outcome.finished
    dep = outcome.deployment_id
    with database.session() as session:  # as if its runner were still at its last bar
        found = session.get(Deployment, dep)
        assert found is not None
        found.status = "running"
    with database.reader() as session:
        row = session.get(RuntimeStatusRow, dep)
        assert row is not None, "the runner wrote no status row"
        payload = json.loads(row.payload)
        trades = session.execute(
            select(TradeRow.strategy_id, TradeRow.exit_time, TradeRow.pnl).where(
                TradeRow.deployment_id == dep
            )
        ).all()
        orders = dict(
            session.execute(
                select(OrderRow.strategy_id, func.count())
                .where(OrderRow.deployment_id == dep)
                .group_by(OrderRow.strategy_id)
            ).all()
        )
        fired = session.execute(
            select(AlertRow.rule, AlertRow.severity, func.count())
            .where(AlertRow.deployment_id == dep)
            .group_by(AlertRow.rule, AlertRow.severity)
        ).all()
    samples = scrape(TestClient(app_for(database)))
    assert set(payload["allocation"]) == set(strategies)
    for name in strategies:
        mine = [pnl for sid, _, pnl in trades if sid == name]
        labels = {"deployment_id": dep, "strategy": name}
        assert mine, f"{name}: the replay closed no trade"
        assert value(samples, "genebot_strategy_trades_total", **labels) == len(mine)
        realized = value(samples, "genebot_strategy_realized_pnl", **labels)
        assert realized == pytest.approx(float(sum(mine)), abs=1e-6)
        won = sum(1 for pnl in mine if pnl > 0) / len(mine)
        assert value(samples, "genebot_strategy_win_rate", **labels) == pytest.approx(won)
        assert value(samples, "genebot_strategy_orders_total", **labels) == orders[name]
        allocated = float(Decimal(payload["allocation"][name]))
        assert value(samples, "genebot_strategy_allocation", **labels) == allocated
        held = sum(1 for p in payload["positions"] if p["strategy"] == name)
        assert value(samples, "genebot_strategy_open_positions", **labels) == held
        assert value(samples, "genebot_strategy_paused", **labels) == 0.0
    clock = datetime.fromtimestamp(payload["ts_ns"] / 1e9, UTC)
    daily: dict[int, float] = {}
    for _, exit_time, pnl in trades:
        at = exit_time if exit_time.tzinfo else exit_time.replace(tzinfo=UTC)
        if at >= clock - timedelta(days=7):
            day = int(at.timestamp()) // 86_400
            daily[day] = daily.get(day, 0.0) + float(pnl)
    assert len(daily) >= 2
    expected = statistics.mean(daily.values()) / statistics.stdev(daily.values()) * math.sqrt(365)
    assert value(samples, "genebot_sharpe_7d", deployment_id=dep) == pytest.approx(expected)
    assert fired, "the replay fired no alert"
    for rule, severity, n in fired:
        labels = {"deployment_id": dep, "rule": rule, "severity": severity.lower()}
        assert value(samples, "genebot_alerts_total", **labels) == n


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process_* reads /proc")
def test_process_cpu_and_memory_are_exposed(database: Database) -> None:
    samples = scrape(TestClient(app_for(database)))
    assert (value(samples, "process_resident_memory_bytes") or 0) > 10 * 2**20
    assert (value(samples, "process_cpu_seconds_total") or 0) > 0
    assert (value(samples, "process_open_fds") or 0) > 0


# -- the dashboards chart only what /metrics exposes ------------------------------------------
