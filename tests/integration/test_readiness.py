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
    # the paper Sharpe is not computed yet: 4 of the 5 paper criteria can pass
    assert report.part("paper") == (4, 5) and report.score == 96.0
    assert report.ready and not report.critical


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
