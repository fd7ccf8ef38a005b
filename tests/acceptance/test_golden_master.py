"""Golden master: MovingAverage 10/20 on the bundled Binance BTC/USDT 5m data (May 2021).

If a change moves these numbers, it changed trading results: find out why before re-pinning.
"""

from __future__ import annotations

import pytest

import genebot.backtest as bt
from genebot.testkit import ma_config

PINNED_STATS = {
    "bars": 8928,
    "trades": 244,
    "open_positions": 1,
    "final_equity": 72078.99396,
    "total_return": -0.2792100604,
    "max_drawdown": -0.2918305074,
    "max_drawdown_duration": 30 * 86_400 + 22 * 3_600 + 5 * 60,  # whole seconds: 30 days 22:05:00
    "win_rate": 0.3155737705,
    "profit_factor": 0.6117181776,
    "expectancy": -113.883796,
    "exposure": 0.4909274194,
    "fees": 23101.17604,
    "sharpe": -8.954573252,
    "sortino": -9.470240457,
    "calmar": -3.354311753,
    "cagr": -0.9788905008,
}
FIRST_TRADE = ("2021-05-01T01:55:00Z", 58444.06, "2021-05-01T03:10:00Z", 58075.52, -485.05958)
LAST_TRADE = ("2021-05-31T21:45:00Z", 36782.38, "2021-05-31T23:15:00Z", 37030.0, 173.80762)


@pytest.fixture(scope="module")
def result() -> bt.BacktestResult:
    return bt.run(ma_config("BTC/USDT", "5m", 1.0))


@pytest.mark.parametrize("key", list(PINNED_STATS))
def test_pinned_stats(result: bt.BacktestResult, key: str) -> None:
    expected = PINNED_STATS[key]
    if isinstance(expected, float):
        assert result.stats[key] == pytest.approx(expected, rel=1e-9)
    else:
        assert result.stats[key] == expected


def test_pinned_trade_list(result: bt.BacktestResult) -> None:
    cols = ["entry_time", "entry_price", "exit_time", "exit_price", "pnl"]
    trades = result.trades.copy()
    for col in ("entry_time", "exit_time"):
        trades[col] = trades[col].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert tuple(trades.iloc[0][cols]) == pytest.approx(FIRST_TRADE)
    assert tuple(trades.iloc[-1][cols]) == pytest.approx(LAST_TRADE)
    assert set(trades["exit_reason"]) == {"signal"}
    assert trades["pnl"].sum() == pytest.approx(-27787.64622, rel=1e-9)
    assert str(result.final_equity_exact) == "72078.99396000"
