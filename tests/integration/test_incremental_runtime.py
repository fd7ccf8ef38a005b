"""The kernel on bars that arrive one at a time (issue 14): a StrategyRunner fed by a replay
data client gives the backtest's orders, fills and equity exactly, for every built-in strategy
on its default data and for the paper runtime's configs (SL/TP/trailing, multi-symbol, the
default risk profile, the orchestrator); bad arrivals are refused with a clear error."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from genebot.backtest import run
from genebot.config.loader import apply_overrides, load_config
from genebot.core.errors import InputError
from genebot.domain.market import Bar
from genebot.live.strategy_runner import replay, run_incremental
from genebot.strategies.registry import builtin_catalog

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "acceptance"))
from test_paper_runtime import CONFIGS
from test_strategy_backtests_batch2 import config_for

SINGLE_FEED = [
    cls
    for cls in builtin_catalog().classes
    if cls.default_data is not None
    and "," not in cls.default_data[0]
    and not cls.name.startswith("cross")
]
# ml_pattern refits its model on every bar's window (~0.1 s a bar): only its last bars arrive
# one at a time, the rest is the warm-up.
APPENDED = {"ml_pattern": 150}


def _same(a: Any, b: Any) -> None:
    assert len(a.orders) > 0
    pd.testing.assert_frame_equal(a.orders, b.orders)
    pd.testing.assert_frame_equal(a.trades, b.trades)
    pd.testing.assert_frame_equal(a.equity, b.equity)
    assert a.final_equity_exact == b.final_equity_exact


@pytest.mark.parametrize("config", list(CONFIGS.values()), ids=list(CONFIGS))
def test_bars_one_at_a_time_give_the_backtest(config: Any) -> None:
    cfg = apply_overrides(load_config(config), engine_mode="per_bar")
    backtest = run(cfg)
    incremental = run_incremental(cfg, warm_steps=1)
    assert incremental.stats["engine_mode"] == "incremental"
    _same(backtest, incremental)


@pytest.mark.parametrize("cls", SINGLE_FEED, ids=lambda c: c.name)
def test_every_builtin_strategy_fed_bar_by_bar_equals_its_backtest(cls: Any) -> None:
    cfg = config_for(cls)
    backtest = run(cfg, engine_mode="per_bar")
    n = len(backtest.equity)
    warm = n - APPENDED[cls.name] if cls.name in APPENDED else 200
    incremental = run_incremental(cfg, warm_steps=warm)
    assert incremental.stats["engine_mode"] == "incremental"
    assert len(incremental.orders) == len(backtest.orders) > 0
    _same(backtest, incremental)


def test_the_warm_up_holds_a_bar_of_every_feed_and_the_rest_arrives() -> None:
    runner, client = replay(CONFIGS["multi-symbol rsi"], warm_steps=1)
    feeds = runner.kernel.timeline.feeds
    assert len(feeds) == 2 and all(len(f) == 1 for f in feeds)
    runner.warm_up()
    # bar i of a feed is known at its close, first open + (i + 1) × 5 minutes
    events = client.poll(int(feeds[0].ts[0]) + 10 * 300 * 10**9)
    runner.on_events(events)
    assert runner.bars_seen == len(events) == 18  # bars 1 .. 9 of both symbols
    assert all(len(f) == 10 for f in feeds)
    assert runner.kernel.step == 19


def test_a_bar_out_of_order_or_of_an_unknown_feed_is_refused_by_name() -> None:
    runner, client = replay(CONFIGS["stop loss, take profit, trailing stop"], warm_steps=50)
    runner.warm_up()
    feed = runner.kernel.timeline.feeds[0]
    iid, tf = feed.instrument.id, feed.timeframe_ns
    old = Bar(iid, tf, int(feed.ts[-1]), 1.0, 1.0, 1.0, 1.0, 1.0)
    with pytest.raises(InputError, match="bars must arrive in time order"):
        runner.on_events([old])
    with pytest.raises(InputError, match="this run trades"):
        runner.on_events([Bar("ETH/USDT@sim", tf, int(feed.ts[-1]) + tf, 1, 1, 1, 1, 1)])
    nxt = client.poll(int(feed.ts[-1]) + 2 * tf)
    runner.on_events(nxt)  # the refused bars changed nothing: the next real bar is taken
    assert len(feed) == 51


# -- the paper runtime on bars arriving one at a time (genebot run --feed bar-by-bar) ---------
def _db(tmp_path: Path, name: str) -> Any:
    from genebot.persistence.database import Database
    from genebot.persistence.migrate import ensure_current

    db = Database(f"sqlite:///{tmp_path / name}")
    ensure_current(db)
    return db


@pytest.mark.parametrize("key", ["main job (2 symbols, default risk)", "orchestrator"])
def test_paper_runtime_bar_by_bar_gives_the_backtest(tmp_path: Path, key: str) -> None:
    from genebot.live.runtime import PaperRuntime

    cfg = load_config(CONFIGS[key])
    backtest = run(cfg)
    outcome = PaperRuntime(cfg, _db(tmp_path, "p.db"), speed=None, feed="bar_by_bar").run()
    assert outcome.finished
    _same(backtest, outcome.result)


def test_a_bar_by_bar_run_stopped_midway_resumes_as_an_uninterrupted_one(tmp_path: Path) -> None:
    from genebot.live.runtime import PaperRuntime

    cfg = load_config(CONFIGS["multi-symbol rsi"])
    whole = run(cfg)
    db = _db(tmp_path, "p.db")
    runtime = PaperRuntime(
        cfg, db, speed=None, feed="bar_by_bar", on_status=lambda s: s.step > 2000 and runtime.stop()
    )
    stopped = runtime.run()
    assert not stopped.finished
    resumed = PaperRuntime(cfg, db, speed=None, feed="bar_by_bar").run()
    assert resumed.resumed and resumed.finished and resumed.resumed_at_step > 1000
    _same(whole, resumed.result)


def test_genebot_run_feed_flag_is_checked(tmp_path: Path) -> None:
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-m", "genebot.cli.main", "run", "--feed", "ticks", "--fresh",
         "--database-url", f"sqlite:///{tmp_path / 'run.db'}"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "--feed ticks: allowed precomputed, bar-by-bar" in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr


def test_run_section_sets_the_feed_and_cancels_working_orders_on_stop(tmp_path: Path) -> None:
    from genebot.live.runtime import PaperRuntime

    body = CONFIGS["stop loss, take profit, trailing stop"]
    cfg = load_config({**body, "run": {"feed": "bar-by-bar", "cancel_open_orders_on_stop": True}})
    assert cfg.run.feed == "bar_by_bar" and cfg.run.cancel_open_orders_on_stop
    with pytest.raises(Exception, match=r"run\.feed"):
        load_config({**body, "run": {"feed": "ticks"}})
    runtime = PaperRuntime(
        cfg, _db(tmp_path, "p.db"), speed=1e6, status_every_s=0.0, feed=cfg.run.feed,
        cancel_open_orders_on_stop=cfg.run.cancel_open_orders_on_stop,
        on_status=lambda s: s.open_positions > 0 and s.step > 300 and runtime.stop(),
    )  # fmt: skip
    outcome = runtime.run()
    assert outcome.finished  # canceled orders: a re-execution would differ, so it is done
    assert runtime.context is not None
    assert not runtime.context.kernel.execution.open_orders()
    assert (outcome.result.orders["reason"] == "canceled on stop").any()
