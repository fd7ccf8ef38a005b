"""The analytics commands on a paper deployment's history (``--deployment ID``) instead of
fresh backtests: each strategy's trades from the database, its equity its capital plus their
realized P&L; the figures are those trades' own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from genebot.cli.main import app
from genebot.config.loader import load_config
from genebot.live.runtime import PaperRuntime
from genebot.persistence.database import Database
from genebot.persistence.migrate import ensure_current
from genebot.persistence.tables import EquitySnapshot, TradeRow

ROOT = Path(__file__).resolve().parents[2]
STRATEGY = {"symbols": ["BTC/USDT", "ETH/USDT"], "timeframes": ["5m"]}
CONFIG = {
    "backtest": {
        "data_dir": str(ROOT / "data" / "sample"),
        "start_date": "2021-05-01",
        "end_date": "2021-05-15",
    },
    "risk_management": {"enabled": False},
    "strategies": {
        "fast_ma": {"type": "moving_average", **STRATEGY,
                    "parameters": {"short_period": 10, "long_period": 20}},
        "slow_ma": {"type": "moving_average", **STRATEGY,
                    "parameters": {"short_period": 30, "long_period": 90}},
    },
}  # fmt: skip


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, Database]:
    url = f"sqlite:///{tmp_path_factory.mktemp('h') / 'h.db'}"
    db = Database(url)
    ensure_current(db)
    outcome = PaperRuntime(load_config(CONFIG), db, speed=None).run()
    return url, outcome.deployment_id, db


def _json(*args: str) -> Any:
    result = CliRunner().invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_decomposition_is_the_deployments_own_trades(deployment: tuple[str, str, Database]) -> None:
    url, dep, db = deployment
    parts = _json("analytics", "decompose-performance", "--days", "7", "--deployment", dep[:10],
                  "--database-url", url)  # fmt: skip
    with db.reader() as session:
        rows = session.execute(
            select(TradeRow.strategy_id, TradeRow.instrument_id, TradeRow.pnl, TradeRow.exit_time)
            .where(TradeRow.deployment_id == dep)
        ).all()  # fmt: skip
        snapshots = session.scalar(
            select(func.max(EquitySnapshot.ts)).where(EquitySnapshot.deployment_id == dep)
        )
    times = [pd.Timestamp(r.exit_time).tz_localize(None) for r in rows]
    last = max([pd.Timestamp(snapshots).tz_localize(None), *times])  # the period's end
    first = last - pd.Timedelta(days=7)  # the window: its last 7 days
    expected: dict[tuple[str, str], float] = {}
    for sid, iid, pnl, exit_time in rows:
        if pd.Timestamp(exit_time).tz_localize(None) > first:
            key = (sid, iid.split("@")[0])
            expected[key] = expected.get(key, 0.0) + float(pnl)
    got: dict[tuple[str, str], float] = {}
    for p in parts:
        key = (p["strategy"], p["symbol"])
        got[key] = got.get(key, 0.0) + p["pnl"]
    assert expected and got.keys() == expected.keys()
    assert got == pytest.approx(expected), (got, expected)


def test_correlation_and_analyze_read_the_history(deployment: tuple[str, str, Database]) -> None:
    url, dep, _ = deployment
    where = ["--deployment", dep, "--database-url", url]
    corr = _json("analytics", "correlation", "--days", "10", *where)
    assert set(corr) == {"fast_ma", "slow_ma"} and corr["fast_ma"]["fast_ma"] == pytest.approx(1)
    out = _json("strategy", "analyze", "fast_ma", "--days", "10", *where)
    assert out["stats"]["trades"] == out["distribution"]["trades"] > 0
    result = CliRunner().invoke(app, ["analytics", "efficiency", "--deployment", "nope",
                                      "--database-url", url])  # fmt: skip
    assert result.exit_code != 0 and "no deployment 'nope'" in result.output
    unknown = CliRunner().invoke(app, ["strategy", "analyze", "rsi", *where])
    assert unknown.exit_code != 0 and "traded fast_ma, slow_ma" in unknown.output


def test_a_stored_run_gives_the_paper_deployments_figures(
    deployment: tuple[str, str, Database],
) -> None:
    """A backtest of the same config, stored (``--run``), reads as the paper replay of it
    does (``--deployment``): one kernel, the same trades, the same windows."""
    from genebot.backtest import run
    from genebot.backtest.store import store_run

    url, dep, db = deployment
    cfg = load_config(CONFIG)
    run_id = store_run(db, cfg, run(cfg), None)
    common = ["--days", "10", "--database-url", url]
    for command in (["analytics", "decompose-performance"], ["analytics", "efficiency"]):
        stored = _json(*command, "--run", str(run_id), *common)
        paper = _json(*command, "--deployment", dep, *common)
        assert stored == paper  # the same trades, the same floats
    missing = CliRunner().invoke(app, ["analytics", "efficiency", "--run", "999", *common])
    assert missing.exit_code != 0 and "no stored backtest run 999" in missing.output
