"""Window figures of genebot.analytics.runs on a made-up equity curve and trades."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from genebot.analytics import runs


def _window() -> runs.StrategyWindow:
    index = pd.date_range("2021-05-01", periods=5 * 24 + 1, freq="1h", tz="UTC")
    equity = pd.Series([100.0 + i * 0.1 for i in range(len(index))], index=index)
    equity.iloc[50] = 90.0  # one dip: a 10% drawdown from about 105
    t = pd.Timestamp("2021-05-01", tz="UTC")
    h = pd.Timedelta(hours=1)
    trades = pd.DataFrame(
        {
            "symbol": ["BTC/USDT", "BTC/USDT", "ETH/USDT"],
            "side": ["long", "short", "long"],
            "entry_time": [t, t + 10 * h, t + 30 * h],
            "exit_time": [t + 6 * h, t + 16 * h, t + 36 * h],  # 18 of 120 hours held
            "pnl": [5.0, -2.0, 3.0],
        }
    )
    result: Any = None
    return runs.StrategyWindow("s", equity, trades, result)


def test_daily_returns_and_stats() -> None:
    w = _window()
    assert w.days == 5
    assert len(w.daily_returns) == 5
    stats = runs.window_stats(w)
    assert stats["total_return"] == pytest.approx(112.0 / 100.0 - 1)
    assert stats["max_drawdown"] == pytest.approx(1 - 90.0 / 104.9)
    assert stats["trades"] == 3 and stats["win_rate"] == pytest.approx(2 / 3)


def test_trade_distribution() -> None:
    dist = runs.trade_distribution(_window().trades)
    assert (dist["wins"], dist["losses"]) == (2, 1)
    assert dist["avg_win"] == pytest.approx(4.0) and dist["avg_loss"] == pytest.approx(-2.0)
    assert (dist["best"], dist["worst"]) == (5.0, -2.0)
    assert dist["by_hour"] == {6: [1, 5.0], 16: [1, -2.0], 12: [1, 3.0]}
    assert dist["by_weekday"] == {"Saturday": [2, 3.0], "Sunday": [1, 3.0]}


def test_decompose_and_efficiency() -> None:
    w = _window()
    parts = runs.decompose({"s": w})
    assert {(p["symbol"], p["side"]): p["pnl"] for p in parts} == {
        ("BTC/USDT", "long"): 5.0,
        ("BTC/USDT", "short"): -2.0,
        ("ETH/USDT", "long"): 3.0,
    }
    eff = runs.efficiency(w)
    assert eff["exposure"] == pytest.approx(18 / 120)
    assert eff["return_per_exposure"] == pytest.approx(0.12 / (18 / 120))
