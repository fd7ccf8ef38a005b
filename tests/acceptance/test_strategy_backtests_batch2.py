"""Swing-trend momentum, ML pattern, forex session and forex news strategies on their bundled
default data: they trade, fast mode equals per-bar mode, the results are pinned, and the
lookahead check passes.

If a change moves the pinned numbers, it changed trading results: find out why before re-pinning.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

import genebot.backtest as bt
from genebot.backtest.lookahead import check_lookahead
from genebot.strategies.forex_news import ForexNewsStrategy
from genebot.strategies.forex_session import ForexSessionStrategy
from genebot.strategies.ml_pattern import MLPatternStrategy
from genebot.strategies.swing_trend_momentum import SwingTrendMomentumStrategy
from genebot.trading.strategy import Strategy

# class -> (trades, final equity) with default parameters and 50 % of equity per trade
PINS: dict[type[Strategy], tuple[int, str]] = {
    SwingTrendMomentumStrategy: (21, "89101.25763878"),
    MLPatternStrategy: (1180, "30905.18080409"),
    ForexSessionStrategy: (109, "87935.84"),
    ForexNewsStrategy: (12, "98256.91"),
}


def config_for(cls: type[Strategy]) -> dict:
    assert cls.default_data is not None
    symbol, timeframe = cls.default_data
    backtest: dict[str, object] = {"initial_cash": 100_000, "fee": 0.001}
    if symbol == "EUR/USD":
        backtest["quote_currency"] = "USD"
    return {
        "risk_management": {"enabled": False},
        "backtest": backtest,
        "strategies": {
            cls.name: {
                "type": f"{cls.__module__}:{cls.__name__}",
                "symbols": [symbol],
                "timeframes": [timeframe],
                "position_sizing": {"method": "percent_equity", "fraction": 0.5},
            }
        },
    }


@pytest.mark.parametrize("cls", list(PINS), ids=lambda c: c.name)
def test_default_data_backtest_is_pinned_and_fast_equals_per_bar(cls: type[Strategy]) -> None:
    cfg = config_for(cls)
    per_bar = bt.run(cfg, engine_mode="per_bar")
    fast = bt.run(cfg, engine_mode="fast")
    trades, equity = PINS[cls]
    assert len(per_bar.trades) == trades > 0
    assert float(per_bar.final_equity_exact) == pytest.approx(float(equity), rel=1e-9)
    assert per_bar.final_equity_exact == Decimal(equity)
    assert not per_bar.strategy_errors
    pd.testing.assert_frame_equal(per_bar.trades, fast.trades)
    pd.testing.assert_frame_equal(per_bar.equity, fast.equity)
    assert per_bar.final_equity_exact == fast.final_equity_exact
    cols = [c for c in per_bar.orders.columns if c != "updated"]
    pd.testing.assert_frame_equal(per_bar.orders[cols], fast.orders[cols])


@pytest.mark.parametrize("cls", list(PINS), ids=lambda c: c.name)
def test_lookahead_check_passes(cls: type[Strategy]) -> None:
    report = check_lookahead(config_for(cls))
    assert report.passed, report.problems
    assert len(report.cutoffs) == 4


def test_forex_session_exits_at_the_end_of_the_sessions() -> None:
    trades = bt.run(config_for(ForexSessionStrategy)).trades
    exit_hours = trades["exit_time"].dt.tz_convert("America/New_York").dt.hour
    # New York closes at 17:00 local; other exits are range breaks (or the weekend gap).
    assert (exit_hours == 17).sum() > len(trades) / 3


def test_forex_news_trades_only_around_calendar_events() -> None:
    trades = bt.run(config_for(ForexNewsStrategy)).trades
    events = pd.read_csv("data/sample/calendar/economic_calendar_2018.csv")
    events = events[events["impact"] == "high"]
    times = pd.to_datetime(events["timestamp"], utc=True)
    for entry in trades["entry_time"]:
        since = entry - times
        assert ((since > pd.Timedelta(0)) & (since <= pd.Timedelta(minutes=120))).any(), entry
