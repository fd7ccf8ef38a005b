"""The paper runtime (issue 14): one kernel (paper replay == backtest), journal before act,
resume after SIGKILL with nothing lost or written twice, one runner per deployment (another
deployment runs beside it on the same database)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from genebot.backtest import run
from genebot.config.loader import load_config
from genebot.core.errors import InputError
from genebot.live.deployments import read_journal
from genebot.live.runtime import PaperRuntime
from genebot.persistence.database import Database
from genebot.persistence.migrate import ensure_current
from genebot.persistence.tables import Deployment, OrderRow, TradeRow

ROOT = Path(__file__).resolve().parents[2]
DATA = str(ROOT / "data" / "sample")


def _db(tmp_path: Path, name: str = "paper.db") -> Database:
    db = Database(f"sqlite:///{tmp_path / name}")
    ensure_current(db)
    return db


def _ma(**risk: Any) -> dict[str, Any]:
    return {
        "backtest": {"data_dir": DATA, "start_date": "2021-05-01", "end_date": "2021-05-12"},
        "strategies": {
            "moving_average": {
                "parameters": {"short_period": 10, "long_period": 20},
                "symbols": ["BTC/USDT"],
                "timeframes": ["5m"],
            }
        },
        "risk_management": risk,
    }


CONFIGS = {
    "main job (2 symbols, default risk)": str(ROOT / "config" / "backtest.yaml"),
    "stop loss, take profit, trailing stop": _ma(
        stop_loss={
            "enabled": True,
            "default_percentage": 0.01,
            "trailing_stop": True,
            "trailing_percentage": 0.008,
        },
        take_profit={"enabled": True, "default_percentage": 0.02},
    ),
    "multi-symbol rsi": {
        "backtest": {"data_dir": DATA, "end_date": "2021-05-15"},
        "strategies": {"rsi_strategy": {"symbols": ["BTC/USDT", "ETH/USDT"], "timeframes": ["5m"]}},
    },
    "orchestrator": str(ROOT / "config" / "orchestrator.yaml"),
}


@pytest.mark.parametrize("config", list(CONFIGS.values()), ids=list(CONFIGS))
def test_paper_replay_gives_the_backtests_orders_and_fills(tmp_path: Path, config: Any) -> None:
    cfg = load_config(config)
    backtest = run(cfg)
    outcome = PaperRuntime(cfg, _db(tmp_path), speed=None).run()
    assert outcome.finished and not outcome.resumed
    paper = outcome.result
    assert len(backtest.orders) > 10 and len(backtest.trades) > 2
    for name in ("trades.csv", "orders.csv"):
        backtest.write(tmp_path / "bt")
        paper.write(tmp_path / "paper")
        assert (tmp_path / "bt" / name).read_bytes() == (tmp_path / "paper" / name).read_bytes()
    assert paper.final_equity_exact == backtest.final_equity_exact


def test_every_order_event_is_journaled_once(tmp_path: Path) -> None:
    db = _db(tmp_path)
    cfg = load_config(CONFIGS["stop loss, take profit, trailing stop"])
    outcome = PaperRuntime(cfg, db, speed=None).run()
    journal = read_journal(db, outcome.deployment_id)
    orders = outcome.result.order_log
    assert set(journal.order_events) == {o.client_order_id for o in orders}
    assert journal.trades == len(outcome.result.trades)
    assert outcome.events_written == sum(len(k) for k in journal.order_events.values())
    for order in orders:  # the journal's last event is the order's final state
        assert journal.order_events[order.client_order_id][0] == "OrderInitialized"


def test_a_stopped_run_resumes_and_ends_as_an_uninterrupted_one(tmp_path: Path) -> None:
    db = _db(tmp_path)
    cfg = load_config(CONFIGS["stop loss, take profit, trailing stop"])
    whole = PaperRuntime(cfg, _db(tmp_path, "whole.db"), speed=None).run().result
    first = PaperRuntime(cfg, db, speed=None, on_status=lambda s: s.step > 1500 and runtime.stop())
    runtime = first
    stopped = first.run()
    assert not stopped.finished and len(stopped.result.equity) < len(whole.equity)
    resumed = PaperRuntime(cfg, db, speed=None).run()
    assert resumed.resumed and resumed.finished and resumed.resumed_at_step > 1000
    assert resumed.deployment_id == stopped.deployment_id
    assert resumed.result.trades.equals(whole.trades)
    assert resumed.result.orders.equals(whole.orders)
    with db.reader() as session:
        rows = session.scalar(select(func.count()).select_from(OrderRow))
        trades = session.scalar(select(func.count()).select_from(TradeRow))
    assert rows == len(whole.orders) and trades == len(whole.trades)  # nothing twice


def test_a_run_stopped_before_its_first_bar_ends_cleanly_and_resumes(tmp_path: Path) -> None:
    """A stop that comes before any bar is handled (an operator's stop right after a deploy)
    is a stop, not a crash: no trades, the deployment resumable, the next run from bar 0."""
    db = _db(tmp_path)
    cfg = load_config(CONFIGS["stop loss, take profit, trailing stop"])
    early = PaperRuntime(cfg, db, speed=None)
    early.stop()
    stopped = early.run()
    assert not stopped.finished and stopped.result.stats["trades"] == 0
    assert len(stopped.result.equity) == 1
    with db.reader() as session:
        status = session.scalar(select(Deployment.status))
    assert status != "crashed"
    whole = PaperRuntime(cfg, _db(tmp_path, "whole.db"), speed=None).run().result
    resumed = PaperRuntime(cfg, db, speed=None).run()
    assert resumed.deployment_id == stopped.deployment_id and resumed.finished
    assert resumed.result.orders.equals(whole.orders)


def test_another_config_does_not_resume_silently(tmp_path: Path) -> None:
    db = _db(tmp_path)
    cfg = load_config(CONFIGS["stop loss, take profit, trailing stop"])
    runtime = PaperRuntime(cfg, db, speed=None, on_status=lambda s: runtime.stop())
    runtime.run()
    other = load_config({**CONFIGS["stop loss, take profit, trailing stop"], "risk_management": {}})
    with pytest.raises(InputError, match="--fresh"):
        PaperRuntime(other, db, speed=None).run()
    fresh = PaperRuntime(other, db, speed=None, fresh=True).run()
    assert fresh.finished and not fresh.resumed


# -- the command, as a user runs it ------------------------------------------------------------
def _genebot(*args: str, cwd: Path = ROOT) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "genebot.cli.main", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _config_file(tmp_path: Path) -> Path:
    import yaml

    path = tmp_path / "paper.yaml"
    path.write_text(yaml.safe_dump(CONFIGS["stop loss, take profit, trailing stop"]))
    return path


def _journal_rows(path: Path) -> int:
    import sqlite3

    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=5) as con:
            return int(con.execute("SELECT count(*) FROM journal").fetchone()[0])
    except sqlite3.OperationalError:  # the schema is being created
        return 0


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    config = _config_file(tmp_path)
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    args = ("run", "--config", str(config), "--database-url", url, "-q")
    rng = random.Random(14)
    kills, seen = 0, []
    for _ in range(20):
        before = _journal_rows(tmp_path / "crash.db")
        proc = _genebot(*args, "--speed", "100000")  # ~9 s of replay
        deadline = time.monotonic() + 30
        while _journal_rows(tmp_path / "crash.db") <= before and time.monotonic() < deadline:
            time.sleep(0.05)  # trading has started (the journal grows): kill it any moment now
        time.sleep(rng.uniform(0.0, 0.8))
        if proc.poll() is not None:
            break  # finished before the kill
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        seen.append(_journal_rows(tmp_path / "crash.db"))
    assert kills >= 15 and seen == sorted(seen) and len(set(seen)) > 10  # killed at many points
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "genebot.cli.main", *args, "--speed", "max",
         "--output-dir", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "resumed, finished" in done.stdout
    whole = run(load_config(config))
    whole.write(tmp_path / "bt")
    for name in ("trades.csv", "orders.csv"):
        assert (out / name).read_bytes() == (tmp_path / "bt" / name).read_bytes()
    db = Database(url)
    with db.reader() as session:
        assert session.scalar(select(func.count()).select_from(OrderRow)) == len(whole.orders)
        assert session.scalar(select(func.count()).select_from(TradeRow)) == len(whole.trades)
        assert session.scalar(select(func.count()).select_from(Deployment)) == 1


def test_a_second_runner_of_the_same_deployment_is_refused_another_runs(tmp_path: Path) -> None:
    config = _config_file(tmp_path)
    url = f"sqlite:///{tmp_path / 'lock.db'}"
    first = _genebot("run", "--config", str(config), "--database-url", url, "-q", "--speed", "1")
    try:
        time.sleep(4)
        assert first.poll() is None
        second = subprocess.run(
            [sys.executable, "-m", "genebot.cli.main", "run", "--config", str(config),
             "--database-url", url, "--speed", "max"],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert second.returncode == 2
        assert "another genebot" in second.stderr.lower() or "already" in second.stderr.lower()
        assert "Traceback" not in second.stderr
        other = subprocess.run(
            [sys.executable, "-m", "genebot.cli.main", "run", "--config", str(config),
             "--database-url", url, "--speed", "max", "--name", "another", "-q"],
            cwd=ROOT, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert other.returncode == 0, other.stderr  # beside the first, to its end
        assert first.poll() is None  # the first trades on
        listed = subprocess.run(
            [sys.executable, "-m", "genebot.cli.main", "deployments", "--database-url", url,
             "--format", "json"],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        rows = {r["name"]: r for r in json.loads(listed.stdout)["deployments"]}
        assert rows["another"]["status"] == "stopped" and rows["another"]["runner"] is False
        (mine,) = [r for n, r in rows.items() if n != "another"]
        assert mine["status"] == "running" and mine["runner"] is True
    finally:
        first.send_signal(signal.SIGINT)
        stdout, stderr = first.communicate(timeout=60)
    assert first.returncode == 0, stderr  # a graceful stop: the summary, exit 0
    assert "stopped (a restart resumes it)" in stdout and "Paper trading statistics" in stdout


def test_genebot_run_alone_paper_trades_the_default_config(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "genebot.cli.main", "run", "--speed", "max", "--fresh",
         "--database-url", f"sqlite:///{tmp_path / 'run.db'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "COLUMNS": "120"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Paper trading statistics" in proc.stdout and "(new, finished)" in proc.stdout


def test_a_journal_the_replay_disagrees_with_stops_the_run(tmp_path: Path) -> None:
    from genebot.live.runtime import JournalMismatch
    from genebot.persistence.journal import TradingStore
    from genebot.persistence.tables import JournalEntry

    db = _db(tmp_path)
    cfg = load_config(CONFIGS["stop loss, take profit, trailing stop"])
    runtime = PaperRuntime(
        cfg, db, speed=None, on_status=lambda s: s.step > 1500 and runtime.stop()
    )
    first = runtime.run()
    coid = first.result.order_log[0].client_order_id
    with db.session() as session:  # an event the engine never produced (appended, as a bug would)
        TradingStore(db, first.deployment_id)._journal(
            session, "OrderCanceled", "engine", coid, {"ts_event": 0}
        )
    with pytest.raises(JournalMismatch, match=coid):
        PaperRuntime(cfg, db, speed=None).run()
    with db.reader() as session:
        status = session.get(Deployment, first.deployment_id).status  # type: ignore[union-attr]
        kinds = session.scalars(select(JournalEntry.kind)).all()
    assert status == "crashed" and "runtime.error" in kinds
