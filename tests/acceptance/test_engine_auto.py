"""A mode called fast is never slower: on dense signals ``auto`` and ``fast`` run the per-bar
loop (and say so), on sparse ones they skip; the results are identical either way."""

from __future__ import annotations

import pytest

import genebot.backtest as bt
import genebot.backtest.runner as runner
from genebot.testkit import gbm_bars

DATA = {"SYN/USDT": gbm_bars(20_000, seed=9)}


def cfg(short: int, long: int) -> dict:
    return {
        "backtest": {"initial_cash": 100_000, "fee": 0.001},
        "strategies": {
            "moving_average": {
                "parameters": {"short_period": short, "long_period": long},
                "symbols": ["SYN/USDT"],
                "timeframes": ["1m"],
                "position_sizing": {"method": "fixed_quantity", "quantity": 10},
            }
        },
        "risk_management": {"enabled": False},
    }


@pytest.fixture(autouse=True)
def _real_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "FAST_BREAK_EVEN", 0.04)


@pytest.mark.parametrize("mode", ["auto", "fast"])
def test_dense_signals_run_per_bar_and_say_why(mode: str) -> None:
    dense = bt.run(cfg(10, 20), DATA, engine_mode=mode)
    label = str(dense.stats["engine_mode"])
    assert label.startswith(f"per_bar ({mode}: ") and "of bars have a signal" in label
    same = bt.run(cfg(10, 20), DATA, engine_mode="per_bar")
    assert dense.trades.equals(same.trades) and dense.equity.equals(same.equity)


def test_sparse_signals_skip() -> None:
    sparse = bt.run(cfg(200, 400), DATA, engine_mode="auto")
    assert sparse.stats["engine_mode"] == "fast"
    per_bar = bt.run(cfg(200, 400), DATA, engine_mode="per_bar")
    assert sparse.trades.equals(per_bar.trades) and sparse.equity.equals(per_bar.equity)
