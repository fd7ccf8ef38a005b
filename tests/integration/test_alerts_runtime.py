"""Alerts in a running deployment: the config's rules over live metrics with their cool-down
and action (journaled as an operator command the runner applies), and the built-in alerts a
replay scenario causes (a risk halt), each recorded, journaled and handed to the notifier."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from genebot.config.loader import load_config
from genebot.live import control
from genebot.live.runtime import PaperRuntime
from genebot.monitoring.alerts import AlertEngine, Fired, builtin
from genebot.persistence.database import Database
from genebot.persistence.migrate import ensure_current
from genebot.persistence.repositories import AlertRepository, JournalRepository

ROOT = Path(__file__).resolve().parents[2]


def _config(rules: list[dict[str, Any]], **risk: Any) -> dict[str, Any]:
    return {
        "backtest": {
            "data_dir": str(ROOT / "data" / "sample"),
            "start_date": "2021-05-01",
            "end_date": "2021-05-04",
        },
        "strategies": {
            "moving_average": {
                "parameters": {"short_period": 10, "long_period": 20},
                "symbols": ["BTC/USDT"],
                "timeframes": ["5m"],
            }
        },
        "alerting": {"rules": rules},
        "risk_management": risk,
    }


def _run(
    tmp_path: Path, cfg: dict[str, Any], speed: float = 30000.0
) -> tuple[Database, str, list[tuple[Fired, str]]]:
    db = Database(f"sqlite:///{tmp_path / 'a.db'}")
    ensure_current(db)
    runtime = PaperRuntime(load_config(cfg), db, speed=speed, status_every_s=0.05)
    got: list[tuple[Fired, str]] = []
    runtime.notifier = lambda alert, name: got.append((alert, name))
    assert runtime.writer is None
    outcome = runtime.run()
    return db, outcome.deployment_id, got


def test_a_rule_fires_once_per_cooldown_and_its_action_pauses(tmp_path: Path) -> None:
    rules = [
        {
            "name": "first_trade",
            "condition": "trades_today >= 1",
            "severity": "WARNING",
            "message": "{trades_today:.0f} trade(s) today",
            "cooldown_s": 3600,
            "action": "pause_deployment",
        },
    ]
    db, dep, notified = _run(tmp_path, _config(rules))
    alerts = [a for a in AlertRepository(db).recent() if a.rule == "first_trade"]
    assert len(alerts) == 1  # true for the rest of the run, but cooling down for an hour
    assert alerts[0].severity == "WARNING" and alerts[0].message == "1 trade(s) today"
    assert [(a.rule, n) for a, n in notified if a.rule == "first_trade"] == [
        ("first_trade", "paper")
    ]
    entries = JournalRepository(db).read(dep, limit=100000)
    fired = [json.loads(e.payload) for e in entries if e.kind == "alert.fired"]
    assert fired[0]["rule"] == "first_trade" and fired[0]["values"]["trades_today"] == 1.0
    pause = next(e for e in entries if e.kind == "operator.pause")
    assert pause.actor == "operator:alert:first_trade"
    outcomes = [outcome for _, cid, outcome in control.applied(db, dep) if cid == pause.id]
    assert outcomes and outcomes[0].startswith("paused")  # the runner applied it


def test_a_risk_halt_raises_the_builtin_alert(tmp_path: Path) -> None:
    risk = {"limits": {"max_consecutive_losses": 1}}
    db, _, notified = _run(tmp_path, _config([], **risk))
    halts = [a for a in AlertRepository(db).recent() if a.rule == "risk_halt"]
    assert halts and halts[0].severity == "ERROR" and "consecutive" in halts[0].message
    assert any(a.builtin and a.rule == "risk_halt" for a, _ in notified)


def test_engine_cooldown_and_messages() -> None:
    class Rule:
        name, condition, severity = "dd", "drawdown > 10%", "critical"
        message, cooldown_s, channels, action = "drawdown {drawdown:.0%}", 60.0, (), None

    engine = AlertEngine([Rule()])
    assert engine.check({"drawdown": 0.05}, 0.0) == []
    first = engine.check({"drawdown": 0.12}, 1.0)
    assert [f.message for f in first] == ["drawdown 12%"]
    assert engine.check({"drawdown": 0.2}, 30.0) == []  # cooling down
    assert len(engine.check({"drawdown": 0.2}, 61.5)) == 1
    assert engine.check({"drawdown": None}, 500.0) == []  # no value yet: not an alert


def test_builtin_events() -> None:
    tripped = builtin("kill_switch.activated", "daily_loss", {"reason": "loss 5.5%"})
    assert tripped is not None and tripped.severity == "critical" and "5.5%" in tripped.message
    assert builtin("runtime.restarted", "replay", {"after_crash": False}) is None
    crash = builtin("runtime.restarted", "replay", {"after_crash": True, "checkpoint": 12})
    assert crash is not None and crash.rule == "restart_after_crash"
    assert builtin("runtime.reconciled", "binance", {"agrees": True}) is None
    bad = builtin("runtime.reconciled", "binance", {"agrees": False, "lines": ["BTC 1 != 2"]})
    assert bad is not None and "BTC 1 != 2" in bad.message
    assert builtin("OrderFilled", "O-1", {}) is None


def test_alerts_on_the_cli_and_the_api(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from genebot.api.app import create_app
    from genebot.api.security import Tokens
    from genebot.cli.main import app
    from genebot.persistence.repositories import DeploymentRepository

    db = Database(f"sqlite:///{tmp_path / 'c.db'}")
    ensure_current(db)
    dep = DeploymentRepository(db).start("paper-a", "paper", {"strategies": {}})
    first = AlertRepository(db).add("drawdown", "CRITICAL", "drawdown 12%", dep)
    AlertRepository(db).add("first_trade", "WARNING", "1 trade(s) today", dep)
    url = f"sqlite:///{tmp_path / 'c.db'}"
    shown = CliRunner().invoke(
        app, ["alerts", "--since", "1h", "--format", "json", "--database-url", url]
    )
    assert shown.exit_code == 0, shown.output
    assert [a["rule"] for a in json.loads(shown.output)] == ["first_trade", "drawdown"]
    critical = CliRunner().invoke(
        app, ["alerts", "--severity", "critical", "--format", "json", "--database-url", url]
    )
    assert [a["rule"] for a in json.loads(critical.output)] == ["drawdown"]
    bad = CliRunner().invoke(app, ["alerts", "--since", "yesterday", "--database-url", url])
    assert bad.exit_code == 2 and "--since yesterday" in bad.output
    tokens = Tokens(
        {
            "GENEBOT_API_ADMIN_TOKEN": "admin-token-0123456789",
            "GENEBOT_API_VIEWER_TOKEN": "viewer-token-0123456789",
        }
    )
    api = TestClient(create_app(db, tokens))
    admin = {"Authorization": "Bearer admin-token-0123456789"}
    viewer = {"Authorization": "Bearer viewer-token-0123456789"}
    listed = api.get("/api/alerts?unacknowledged=true", headers=viewer).json()
    assert listed["count"] == 2 and listed["alerts"][0]["rule"] == "first_trade"
    assert api.post(f"/api/alerts/{first}/acknowledge", headers=viewer).status_code == 403
    done = api.post(f"/api/alerts/{first}/acknowledge", headers=admin, json={"reason": "seen"})
    assert done.status_code == 200 and done.json()["alert"]["acknowledged"] is True
    assert api.get("/api/alerts?unacknowledged=true", headers=viewer).json()["count"] == 1
    assert api.post("/api/alerts/999/acknowledge", headers=admin).status_code == 404
    kinds = [e.kind for e in JournalRepository(db).read(dep)]
    assert "api.alert_acknowledged" in kinds


def test_orchestration_alerts_on_an_orchestrated_replay(tmp_path: Path) -> None:
    import yaml

    cfg = yaml.safe_load((ROOT / "config" / "orchestrator.yaml").read_text())
    cfg.setdefault("backtest", {}).update(
        data_dir=str(ROOT / "data" / "sample"), start_date="2021-05-01", end_date="2021-05-12"
    )
    cfg["orchestration_alerts"] = {
        "allocation_change": {"threshold": 0.001},
        "performance_degradation": {"threshold": -0.001, "lookback_days": 7},
    }
    db, _, notified = _run(tmp_path, cfg, speed=150000.0)
    rules = {a.rule for a, _ in notified}
    assert {"allocation_change", "performance_degradation"} <= rules
    change = next(a for a, _ in notified if a.rule == "allocation_change")
    assert "->" in change.message and change.values["change"] > 0.001
    stored = {a.rule for a in AlertRepository(db).recent(500)}
    assert "allocation_change" in stored


def test_genebot_run_sends_its_alerts_to_the_webhook(tmp_path: Path) -> None:
    import http.server
    import os
    import subprocess
    import sys
    import threading

    got: list[dict[str, Any]] = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            got.append(json.loads(self.rfile.read(length) or b"{}"))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    rules = [
        {
            "name": "first_trade",
            "condition": "trades_today >= 1",
            "severity": "error",
            "message": "a trade closed",
            "cooldown_s": 3600,
        }
    ]
    path = tmp_path / "c.yaml"
    path.write_text(json.dumps(_config(rules)), encoding="utf-8")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'n.db'}",
        "GENEBOT_WEBHOOK_URL": f"http://127.0.0.1:{server.server_port}/hook",
    }
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "genebot.cli.main",
                "run",
                "--config",
                str(path),
                "--speed",
                "30000",
                "--quiet",
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stderr[-1500:]
    titles = [str(body.get("title")) for body in got]
    assert any("first_trade" in t and "ERROR" in t for t in titles), titles


def test_the_daily_summary_hook_sends_the_days_figures(tmp_path: Path) -> None:
    import http.server
    import threading
    from datetime import UTC, datetime, timedelta

    from genebot.cli.api_thread import daily_summary
    from genebot.config.notifications import NotificationsConfig
    from genebot.notify.dispatcher import DailySummary

    got: list[dict[str, Any]] = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {"GENEBOT_WEBHOOK_URL": f"http://127.0.0.1:{server.server_port}/hook"}
    dispatcher = NotificationsConfig().dispatcher(env)
    now = datetime.now(UTC)
    before = now - timedelta(minutes=5)
    earlier = (
        before.time().replace(second=0, microsecond=0)
        if before.date() == now.date()
        else (now.time().replace(hour=0, minute=0, second=0, microsecond=0))
    )  # a slot earlier today, also just after midnight
    hook = daily_summary(dispatcher, DailySummary(earlier, "UTC", None))
    values = {
        "daily_pnl_abs": -125.5,
        "daily_pnl": -0.0125,
        "equity": 99874.5,
        "trades_today": 4.0,
        "drawdown": 0.02,
        "risk_state": "ACTIVE",
    }
    hook(values)
    hook(values)  # once a day
    assert dispatcher.close(timeout_s=10)
    server.shutdown()
    assert len(got) == 1 and "Daily summary" in str(got[0]["title"])
    assert "ACTIVE" in str(got[0]["message"]) and "-125.5" in str(got[0]["message"])


BROKEN = """
from genebot.strategies.moving_average import MovingAverageStrategy


class AlwaysFails(MovingAverageStrategy):
    def on_bar(self, bar):
        raise RuntimeError("broken on purpose")
"""


def test_built_in_thresholds_fire_in_a_run_and_errors_reach_the_status(
    tmp_path: Path, monkeypatch: Any
) -> None:
    from genebot.live.status_store import read_status

    (tmp_path / "broken_strategy.py").write_text(BROKEN)
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = _config([])
    cfg["strategies"]["moving_average"]["type"] = "broken_strategy:AlwaysFails"
    cfg["monitoring"] = {"max_memory_usage": 0.001, "max_strategy_errors": 5}
    cfg["orchestration_alerts"] = {"strategy_failure": {"consecutive_failures": 3}}
    db, dep, notified = _run(tmp_path, cfg)
    rules = [a.rule for a, _ in notified]
    assert rules.count("memory_high") == 1  # over the limit all run, then cooling down
    assert rules.count("strategy_errors") == 1
    assert "strategy_failure" in rules
    recorded = {a.rule: a for a in AlertRepository(db).recent()}
    assert "over monitoring.max_memory_usage" in recorded["memory_high"].message
    assert "in the last hour (monitoring.max_strategy_errors: 5)" in (
        recorded["strategy_errors"].message
    )
    status = read_status(db, dep)
    assert status is not None and status["strategy_errors"] > 5
