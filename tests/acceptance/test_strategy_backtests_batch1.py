"""Built-in strategies batch 1 on bundled data: each trades, fast and per-bar mode agree, the
results are pinned, and the lookahead check passes.

Each strategy runs on its own ``default_data`` with default parameters, 100,000 cash, fee 0.1 %,
half the sleeve per entry and no risk engine. If a change moves a pinned number, it changed
trading results: find out why before re-pinning.
"""

from __future__ import annotations

from functools import cache

import pandas as pd
import pytest

import genebot.backtest as bt
from genebot.backtest.lookahead import check_lookahead
from genebot.strategies.atr_volatility import ATRVolatilityStrategy
from genebot.strategies.mean_reversion import MeanReversionStrategy
from genebot.strategies.momentum import AdvancedMomentumStrategy
from genebot.strategies.multi_indicator import MultiIndicatorStrategy
from genebot.strategies.rsi_strategy import RSIStrategy
from genebot.trading.strategy import Strategy

# (closed trades, final equity), computed once with per_bar mode on the data named.
PINNED: dict[type[Strategy], tuple[int, float]] = {
    RSIStrategy: (17, 92530.14227464),  # ETH/USDT 1h
    MeanReversionStrategy: (124, 86923.76),  # EUR/USD 1h
    MultiIndicatorStrategy: (19, 87662.46749482),  # BTC/USDT 5m
    AdvancedMomentumStrategy: (158, 120929.23098991),  # BTC/USDT 1h
    ATRVolatilityStrategy: (111, 81536.25190793),  # BTC/USDT 5m
}
STRATEGIES = list(PINNED)


def config(cls: type[Strategy]) -> dict:
    assert cls.default_data is not None
    symbol, timeframe = cls.default_data
    return {
        "risk_management": {"enabled": False},
        "backtest": {"initial_cash": 100000, "fee": 0.001},
        "strategies": {
            "x": {
                "type": f"{cls.__module__}:{cls.__name__}",
                "symbols": [symbol],
                "timeframes": [timeframe],
                "position_sizing": {"method": "percent_equity", "fraction": 0.5},
            }
        },
    }


@cache
def result(cls: type[Strategy], mode: str) -> bt.BacktestResult:
    return bt.run(config(cls), engine_mode=mode)  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", STRATEGIES, ids=lambda c: c.name)
def test_strategy_trades_and_matches_its_pinned_fingerprint(cls: type[Strategy]) -> None:
    res = result(cls, "per_bar")
    trades, equity = PINNED[cls]
    assert len(res.trades) > 0
    assert not res.strategy_errors
    assert len(res.trades) == trades
    assert float(res.final_equity_exact) == pytest.approx(equity, rel=1e-9)
    assert set(res.trades["exit_reason"]) == {"signal"}


@pytest.mark.parametrize("cls", STRATEGIES, ids=lambda c: c.name)
def test_fast_mode_gives_the_same_trades_as_per_bar(cls: type[Strategy]) -> None:
    per_bar, fast = result(cls, "per_bar"), result(cls, "fast")
    assert fast.stats["engine_mode"] == "fast"
    pd.testing.assert_frame_equal(per_bar.trades, fast.trades)
    pd.testing.assert_frame_equal(per_bar.equity, fast.equity)
    assert per_bar.final_equity_exact == fast.final_equity_exact


@pytest.mark.parametrize("cls", STRATEGIES, ids=lambda c: c.name)
def test_lookahead_check_passes(cls: type[Strategy]) -> None:
    report = check_lookahead(config(cls))
    assert report.passed, report.problems
    assert len(report.cutoffs) == 4
