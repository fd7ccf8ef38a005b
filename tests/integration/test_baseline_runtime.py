"""The baseline red flag in a running paper deployment: with ``source: auto`` it finds the
stored backtest of the same strategy settings (a replay of the same data trades exactly like
it: compared, nothing worse, no alert); against a much better baseline it fires once, is
recorded and journaled, and its action stops the deployment before the end of the data."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from genebot.backtest.runner import run
from genebot.backtest.store import store_run
from genebot.config.loader import load_config
from genebot.domain.position import ClosedTrade
from genebot.live.runtime import PaperRuntime
from genebot.persistence.database import Database
from genebot.persistence.migrate import ensure_current
from genebot.persistence.repositories import (
    AlertRepository,
    BacktestRunRepository,
    JournalRepository,
    RunRecord,
)

ROOT = Path(__file__).resolve().parents[2]
HOUR_NS = 3_600 * 10**9


def _config(**baseline: Any) -> dict[str, Any]:
    return {
        "backtest": {"data_dir": str(ROOT / "data" / "sample"), "start_date": "2021-05-01",
                     "end_date": "2021-05-04"},
        "strategies": {"moving_average": {"parameters": {"short_period": 10, "long_period": 20},
                                          "symbols": ["BTC/USDT"], "timeframes": ["5m"]}},
        "monitoring": {"baseline": {"min_trades": 5, **baseline}},
    }  # fmt: skip


def _db(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'b.db'}")
    ensure_current(db)
    return db


def _runtime(db: Database, cfg: dict[str, Any]) -> PaperRuntime:
    runtime = PaperRuntime(load_config(cfg), db, speed=20000.0, status_every_s=0.05)
    runtime.notifier = lambda alert, name: None
    return runtime


def test_a_replay_of_its_own_backtest_is_compared_and_not_flagged(tmp_path: Path) -> None:
    db = _db(tmp_path)
    cfg = load_config(_config())
    result = run(cfg)
    run_id = store_run(db, cfg, result, None)
    assert result.stats["trades"] >= 5
    runtime = _runtime(db, _config())
    outcome = runtime.run()
    assert outcome.finished and outcome.stop_reason is None
    flag = runtime.alerts.baseline  # type: ignore[union-attr]
    assert flag is not None
    compared = flag.last["moving_average"]
    assert compared["source"] == f"backtest run {run_id}" and compared["compared"] is True
    assert compared["worse"] == [] and compared["live"] == compared["baseline"]
    assert not [a for a in AlertRepository(db).recent() if a.rule == "baseline_degradation"]


def test_another_strategy_setting_is_no_baseline(tmp_path: Path) -> None:
    db = _db(tmp_path)
    other = _config()
    other["strategies"]["moving_average"]["parameters"] = {"short_period": 5, "long_period": 30}
    cfg = load_config(other)
    store_run(db, cfg, run(cfg), None)
    runtime = _runtime(db, _config())
    runtime.run()
    assert runtime.alerts.baseline is None  # type: ignore[union-attr]


def _winners(n: int) -> list[ClosedTrade]:
    return [
        ClosedTrade("moving_average", "BTC/USDT@binance", "long", i * HOUR_NS, Decimal(100),
                    i * HOUR_NS + HOUR_NS // 2, Decimal(103), Decimal(1), Decimal(3), ZERO,
                    "signal")
        for i in range(n)
    ]  # fmt: skip


ZERO = Decimal(0)


def test_a_much_worse_deployment_is_flagged_once_and_stopped(tmp_path: Path) -> None:
    db = _db(tmp_path)
    record = RunRecord("a lucky run", ["moving_average"], {}, {"trades": 30}, None, None, None,
                       Decimal(10_000))  # fmt: skip
    run_id = BacktestRunRepository(db).save(record, _winners(30))
    outcome = _runtime(db, _config(run_id=run_id)).run()
    assert outcome.stop_reason is not None and "baseline_degradation" in outcome.stop_reason
    assert str(outcome.result.stats["end"]) < "2021-05-03"  # stopped well before the data's end
    (alert,) = [a for a in AlertRepository(db).recent() if a.rule == "baseline_degradation"]
    assert alert.severity == "CRITICAL" and f"backtest run {run_id}" in alert.message
    assert "win rate" in alert.message and "vs 1" in alert.message
    entries = JournalRepository(db).read(outcome.deployment_id, limit=100000)
    stop = next(e for e in entries if e.kind == "operator.stop")
    assert stop.actor == "operator:alert:baseline_degradation"
    fired = [json.loads(e.payload) for e in entries if e.kind == "alert.fired"]
    assert [f["rule"] for f in fired].count("baseline_degradation") == 1
    assert len(outcome.result.closed_trades) >= 5


def test_a_live_deployment_takes_the_latest_paper_run_of_the_same_settings(
    tmp_path: Path,
) -> None:
    from genebot.config.alerts import BaselineConfig
    from genebot.live.baseline import find_baselines
    from genebot.persistence.repositories import DeploymentRepository

    db = _db(tmp_path)
    cfg = load_config(_config())
    run_id = store_run(db, cfg, run(cfg), None)
    paper = _runtime(db, _config()).run().deployment_id
    repo = DeploymentRepository(db)
    stored = repo.get(paper)
    assert stored is not None
    live = repo.get(repo.start("live one", "live", json.loads(stored.config)))
    assert live is not None
    (found,) = find_baselines(db, BaselineConfig(min_trades=5), live).values()
    assert found.source == f"paper deployment {paper[:12]}" and len(found.trades) >= 5
    backtest = find_baselines(db, BaselineConfig(min_trades=5, source="backtest"), live)
    assert backtest["moving_average"].source == f"backtest run {run_id}"
    assert find_baselines(db, BaselineConfig(min_trades=10_000), live) == {}  # too few trades
