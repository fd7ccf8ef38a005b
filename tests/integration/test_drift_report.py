"""`genebot report drift`: a paper replay of the configured files against a backtest of the same
config and period drifts by nothing (one kernel); a changed deployment history shows up as
missed, extra and price differences; bad input is one clear line."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select, update
from typer.testing import CliRunner

from genebot.cli.main import app
from genebot.config.loader import load_config
from genebot.live.runtime import PaperRuntime
from genebot.persistence.database import Database
from genebot.persistence.migrate import ensure_current
from genebot.persistence.tables import TradeRow

ROOT = Path(__file__).resolve().parents[2]
CONFIG = {
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
}


def _paper(tmp_path: Path) -> tuple[Database, str, str]:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    db = Database(url)
    ensure_current(db)
    outcome = PaperRuntime(load_config(CONFIG), db, speed=30000.0).run()
    return db, url, outcome.deployment_id


def _drift(url: str, dep: str, *extra: str) -> dict:
    got = CliRunner().invoke(
        app, ["report", "drift", "--deployment", dep, "--database-url", url, "--format", "json",
              *extra],
    )  # fmt: skip
    assert got.exit_code == 0, got.output
    return json.loads(got.output, parse_float=Decimal)


def test_a_paper_replay_has_no_drift_from_its_backtest(tmp_path: Path) -> None:
    _, url, dep = _paper(tmp_path)
    report = _drift(url, dep, "--output", str(tmp_path / "drift.csv"))
    s = report["summary"]
    assert s["backtest_trades"] > 5 and s["deployed_trades"] == s["backtest_trades"]
    assert s["matched"] == s["backtest_trades"] and s["missed"] == 0 and s["extra"] == 0
    assert s["pnl_diff"] == 0 and s["mean_entry_diff_bps"] == 0 and s["max_abs_entry_lag_s"] == 0
    assert (report["start"], report["end"]) == ("2021-05-01", "2021-05-04")
    lines = (tmp_path / "drift.csv").read_text().splitlines()
    assert len(lines) == s["matched"] + 1 and lines[0].startswith("kind,strategy")


def test_a_changed_history_shows_as_drift(tmp_path: Path) -> None:
    db, url, dep = _paper(tmp_path)
    with db.session() as session:
        ids = list(session.scalars(select(TradeRow.id).where(TradeRow.deployment_id == dep)))
        session.execute(update(TradeRow).where(TradeRow.id == ids[0]).values(
            entry_price=TradeRow.entry_price * Decimal("1.001")))  # fmt: skip
        session.execute(TradeRow.__table__.delete().where(TradeRow.id == ids[1]))
    s = _drift(url, dep)["summary"]
    assert s["missed"] == 1 and s["extra"] == 0 and s["matched"] == s["backtest_trades"] - 1
    assert s["mean_entry_diff_bps"] != 0


def test_an_unknown_deployment_is_one_clear_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'e.db'}"
    ensure_current(Database(url))
    got = CliRunner().invoke(
        app, ["report", "drift", "--deployment", "nope", "--database-url", url]
    )
    assert got.exit_code == 2, got.output  # bad input, as every command answers it
    assert "no deployment 'nope'" in got.output and "Traceback" not in got.output
