"""Fast mode and per-bar mode give identical trades, fills and equity; runs are deterministic."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pandas as pd
import pytest

import genebot.backtest as bt
from genebot.core.errors import ConfigError
from genebot.testkit import gbm_bars, ma_config


def _config(strategy_type: str | None = None, **backtest: object) -> dict:
    cfg = ma_config("SYN/USDT", "1m", 10.0, **backtest)
    if strategy_type:
        cfg["strategies"]["moving_average"]["type"] = strategy_type
    return cfg


def _same(a: bt.BacktestResult, b: bt.BacktestResult) -> None:
    pd.testing.assert_frame_equal(a.trades, b.trades)
    pd.testing.assert_frame_equal(a.equity, b.equity)
    assert a.final_equity_exact == b.final_equity_exact
    pd.testing.assert_frame_equal(a.orders, b.orders)  # every column, times of updates too


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"slippage_bps": 5},
        {"volume_participation": 0.05},
        {"fill_timing": "close"},
        {"latency_ms": 90_000},
    ],
    ids=["plain", "slippage", "partial-fills", "fill-at-close", "latency"],
)
def test_fast_equals_per_bar(options: dict) -> None:
    data = {"SYN/USDT": gbm_bars(20_000, seed=3)}
    per_bar = bt.run(_config(**options), data, engine_mode="per_bar")
    fast = bt.run(_config(**options), data, engine_mode="fast")
    assert len(per_bar.trades) > 50
    _same(per_bar, fast)


def test_fast_equals_per_bar_with_stops_targets_and_trailing() -> None:
    data = {"SYN/USDT": gbm_bars(30_000, seed=11)}
    cfg = _config("strategies_for_tests:ProtectedMA")
    per_bar = bt.run(cfg, data, engine_mode="per_bar")
    fast = bt.run(cfg, data, engine_mode="fast")
    reasons = set(per_bar.trades["exit_reason"])
    assert {"stop_loss", "take_profit", "trailing_stop", "signal"} <= reasons
    _same(per_bar, fast)


@pytest.mark.parametrize("native", [True, False], ids=["venue-stops", "emulated-stops"])
def test_fast_equals_per_bar_with_trailing_stops_and_latency(native: bool) -> None:
    """Skipped bars before a stop is live move nothing, and a trailing stop canceled or still
    working at the end has per_bar's level and update time (fast mode trails it over the bars
    it skipped)."""
    data = {"SYN/USDT": gbm_bars(30_000, seed=11)}
    cfg = _config("strategies_for_tests:ProtectedMA", latency_ms=180_000)
    cfg["exchanges"] = {"sim": {"account_type": "margin", "native_stops": native}}
    per_bar = bt.run(cfg, data, engine_mode="per_bar")
    fast = bt.run(cfg, data, engine_mode="fast")
    assert "trailing_stop" in set(per_bar.trades["exit_reason"])
    trailing = per_bar.orders[per_bar.orders["type"] == "TRAILING_STOP_MARKET"]
    assert (trailing["status"] == "CANCELED").any()
    _same(per_bar, fast)


def test_callback_strategy_cannot_run_fast_but_auto_falls_back() -> None:
    data = {"SYN/USDT": gbm_bars(5_000)}
    cfg = _config("strategies_for_tests:LimitEntryMA")
    with pytest.raises(ConfigError, match="fast"):
        bt.run(cfg, data, engine_mode="fast")
    result = bt.run(cfg, data, engine_mode="auto")
    assert result.stats["engine_mode"] == "per_bar"
    assert (result.orders["type"] == "LIMIT").any()


def test_two_runs_write_byte_identical_outputs(tmp_path: Path) -> None:
    data = {"SYN/USDT": gbm_bars(3_000)}
    for name in ("a", "b"):
        bt.run(_config("strategies_for_tests:ProtectedMA"), data).write(tmp_path / name)
    names = ["stats.json", "trades.csv", "orders.csv", "equity.csv", "report.html"]
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", names, shallow=False)
    assert match == names, (mismatch, errors)


def test_strategy_exceptions_are_caught_counted_and_do_not_stop_the_run() -> None:
    data = {"SYN/USDT": gbm_bars(2_000)}
    result = bt.run(_config("strategies_for_tests:Explodes"), data)
    assert result.stats["strategy_errors"] == 20
    assert result.stats["bars"] == 2_000
    assert "boom" in result.strategy_errors["moving_average"][0]
    assert len(result.trades) > 0


def test_a_stop_error_inside_a_callback_stops_the_run_instead_of_being_counted() -> None:
    from genebot.core.errors import LedgerError

    data = {"SYN/USDT": gbm_bars(200)}
    with pytest.raises(LedgerError, match="below zero"):
        bt.run(_config("strategies_for_tests:BreaksTheLedger"), data, engine_mode="per_bar")


def test_equity_is_cash_plus_marked_position_at_every_bar() -> None:
    frame = gbm_bars(5_000, seed=5)
    result = bt.run(_config(), {"SYN/USDT": frame}, engine_mode="per_bar")
    qty = pd.Series(0.0, index=frame.index)
    for trade in result.trades.itertuples():
        held = (frame.index >= trade.entry_time) & (frame.index < trade.exit_time)
        qty[held] += trade.quantity
    open_orders = result.orders[(result.orders.side == "BUY") & (result.orders.status == "FILLED")]
    last_entry = pd.Timestamp(open_orders["updated"].iloc[-1])
    if last_entry > pd.Timestamp(result.trades["exit_time"].iloc[-1]):
        qty[frame.index >= last_entry] += 10.0
    expected = result.equity["cash"] + qty * frame["close"]
    assert (abs(result.equity["equity"] - expected) < 1e-6).all()
