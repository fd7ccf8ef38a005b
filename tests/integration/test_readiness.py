"""Go-live readiness (seed 001): the score's parts from a real out-of-sample backtest, the
system checks and the paper record; a strategy that passes and one that fails."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from genebot.cli.main import app
from genebot.config.loader import load_config
from genebot.live.runtime import PaperRuntime
from genebot.persistence.database import Database
from genebot.persistence.migrate import ensure_current
from genebot.services.readiness_run import readiness

ROOT = Path(__file__).resolve().parents[2]


def _config(**extra: Any) -> dict[str, Any]:
    return {
        "backtest": {
            "data_dir": str(ROOT / "data" / "sample"),
            "start_date": "2021-05-01",
            "end_date": "2021-05-20",
        },
        "strategies": {
            "moving_average": {
                "parameters": {"short_period": 10, "long_period": 20},
                "symbols": ["BTC/USDT"],
                "timeframes": ["5m"],
            }
        },
        **extra,
    }


def test_a_strategy_that_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    rules = {"rules": [{"name": "loss", "condition": "daily_pnl < -0.03"}]}
    cfg = load_config(_config(alerting=rules))
    db = Database(f"sqlite:///{tmp_path / 'r.db'}")
    ensure_current(db)
    PaperRuntime(cfg, db, name="paper-ma").run()  # the paper record
    lenient = {
        "win_rate": 0.0,
        "sharpe": -99.0,
        "max_drawdown": 0.5,
        "profit_factor": 0.0,
        "total_return": -1.0,
    }
    report = readiness(cfg, "moving_average", db, thresholds=lenient)
    assert report.part("system") == (5, 5) and report.part("performance") == (5, 5)
    assert report.part("paper") == (5, 5) and report.score == 100.0
    assert report.ready and not report.critical
    # the paper record is judged on the paper run's own statistics: a replay of the same
    # bars trades like the backtest, so its Sharpe is the backtest's
    from genebot.backtest import run as backtest

    sharpe = next(i for i in report.items if i.part == "paper" and i.name == "sharpe")
    assert sharpe.passed and f"{backtest(cfg).stats['sharpe']:.4g}" in sharpe.detail


def test_a_running_paper_deployment_is_judged_on_its_equity_snapshots(tmp_path: Path) -> None:
    """No finished record yet: the equity snapshots (data time) give the Sharpe, drawdown and
    return by the same definitions, the trades the win rate and profit factor."""
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from genebot.persistence.repositories import DeploymentRepository
    from genebot.persistence.tables import EquitySnapshot
    from genebot.services.readiness_run import paper_stats

    db = Database(f"sqlite:///{tmp_path / 's.db'}")
    ensure_current(db)
    dep = DeploymentRepository(db).start("p", "paper", {})
    day0 = datetime(2021, 5, 1, 23, tzinfo=UTC)
    values = ["10000", "10100", "10050", "10200", "10150"]
    with db.session() as session:
        for i, v in enumerate(values):
            session.add(EquitySnapshot(deployment_id=dep, ts=day0 + timedelta(days=i),
                                       equity=Decimal(v), cash=Decimal(v)))  # fmt: skip
    stats = paper_stats(db, dep)
    assert stats["total_return"] == pytest.approx(0.015)
    assert stats["max_drawdown"] == pytest.approx(10050 / 10100 - 1)
    assert stats["sharpe"] is not None and stats["sharpe"] > 0


def test_a_strategy_that_fails_says_why_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(json.dumps(_config(risk_management={"enabled": False})), encoding="utf-8")
    got = CliRunner().invoke(
        app,
        [
            "validate",
            "--strategy",
            "moving_average",
            "--config",
            str(path),
            "--format",
            "json",
            "--database-url",
            f"sqlite:///{tmp_path / 'f.db'}",
        ],
    )
    assert got.exit_code == 1, got.output
    report = json.loads(got.output[got.output.index("{") :])
    assert report["ready"] is False and report["score"] < 80
    failed = {i["name"] for i in report["items"] if not i["passed"] and i["part"] == "system"}
    assert {"alerting", "circuit_breakers"} <= failed
    assert any("circuit_breakers" in c for c in report["critical"])
    assert any("no paper deployment" in w for w in report["warnings"])


def test_the_report_on_the_api(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from genebot.api.app import create_app
    from genebot.api.context import ApiSettings
    from genebot.api.security import Tokens

    path = tmp_path / "c.yaml"
    path.write_text(json.dumps(_config()), encoding="utf-8")
    db = Database(f"sqlite:///{tmp_path / 'a.db'}")
    ensure_current(db)
    token = "viewer-token-0123456789"
    api = TestClient(
        create_app(
            db,
            Tokens({"GENEBOT_API_VIEWER_TOKEN": token}),
            settings=ApiSettings(base_config=str(path)),
        )
    )
    got = api.get(
        "/api/strategies/moving_average/readiness", headers={"Authorization": f"Bearer {token}"}
    )
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["strategy"] == "moving_average" and len(body["items"]) == 15
    assert body["ready"] is False and 0 <= body["score"] <= 100
