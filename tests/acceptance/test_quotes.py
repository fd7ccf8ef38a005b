"""Quote replay: top-of-book quotes in the same timeline as bars; fills on the touch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import strategies_for_tests as sft

import genebot.backtest as bt
from genebot.core.errors import DataError
from genebot.data.quotes import read_quotes

QUOTES = "data/sample/ticks/binance_BTC-USDT_quotes.csv"


def config(**params: float) -> dict:
    return {
        "backtest": {
            "initial_cash": 100_000,
            "fee": 0.0,
            "quotes": [{"file": QUOTES, "symbol": "BTC/USDT"}],
        },
        "risk_management": {"enabled": False},
        "strategies": {
            "q": {
                "type": "strategies_for_tests:QuoteTaker",
                "symbols": ["BTC/USDT"],
                "timeframes": [],
                "quotes": True,
                "parameters": params,
            }
        },
    }


@pytest.fixture(scope="module")
def quotes() -> pd.DataFrame:
    return read_quotes(QUOTES).frame


def test_market_orders_fill_on_the_next_quote_at_the_touch(quotes: pd.DataFrame) -> None:
    result = bt.run(config(buy_at=3, sell_at=20))
    trade = result.trades.iloc[0]
    assert trade["entry_price"] == quotes["ask"].iloc[4]  # decided on quote 3, filled on 4
    assert trade["exit_price"] == quotes["bid"].iloc[21]
    assert pd.Timestamp(trade["entry_time"]) == quotes.index[4]
    spread_paid = (quotes["ask"].iloc[4] - quotes["bid"].iloc[21]) * 0.01
    assert trade["pnl"] == pytest.approx(-spread_paid, abs=1e-9)


def test_a_buy_limit_fills_when_the_ask_reaches_it(quotes: pd.DataFrame) -> None:
    below = 1.0
    result = bt.run(config(buy_at=3, sell_at=10_000, limit_below=below))
    limit = round(quotes["ask"].iloc[3] - below, 2)
    order = result.orders.iloc[0]
    reached = np.flatnonzero(quotes["ask"].to_numpy()[4:] <= limit)
    if reached.size:
        first = 4 + int(reached[0])
        assert order["status"] == "FILLED"
        assert pd.Timestamp(order["updated"]) == quotes.index[first]
        assert float(order["avg_price"]) == min(quotes["ask"].iloc[first], limit)
    else:
        assert order["status"] == "ACCEPTED"


def test_quotes_and_bars_replay_in_time_order(quotes: pd.DataFrame) -> None:
    sft.EVENTS.clear()
    start = quotes.index[0].floor("10s")
    idx = pd.date_range(start, periods=5, freq="10s", tz="UTC", name="timestamp")
    mid = float((quotes["bid"].iloc[0] + quotes["ask"].iloc[0]) / 2)
    bars = pd.DataFrame(
        {"open": mid, "high": mid + 5, "low": mid - 5, "close": mid, "volume": 1.0}, index=idx
    )
    cfg = config(buy_at=10_000, sell_at=10_000)
    cfg["strategies"]["q"]["timeframes"] = ["10s"]
    bt.run(cfg, {"BTC/USDT": bars})
    times = [t for _, _, t in sft.EVENTS]
    assert times == sorted(times)
    kinds = {k for k, _, _ in sft.EVENTS}
    assert kinds == {"quote", "bar"}


def test_crossed_quotes_are_refused_with_file_and_rows(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.csv"
    path.write_text(
        "timestamp,bid,bid_size,ask,ask_size\n"
        "2021-01-08T00:00:01Z,100,1,101,1\n2021-01-08T00:00:02Z,102,1,101,1\n"
    )
    with pytest.raises(DataError, match=r"bad\.csv: 1 crossed quotes, bid > ask \(rows 2\)"):
        read_quotes(path)
