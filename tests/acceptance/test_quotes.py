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


@pytest.mark.parametrize("native", [True, False], ids=["native", "emulated"])
def test_a_stop_loss_on_quotes_triggers_on_the_bid(native: bool) -> None:
    idx = pd.date_range("2021-01-08", periods=8, freq="1s", tz="UTC", name="timestamp")
    bid = [10_000.0, 10_000.0, 10_000.0, 10_000.0, 9_850.0, 9_800.0, 9_750.0, 9_700.0]
    quotes = pd.DataFrame(
        {"bid": bid, "bid_size": 1.0, "ask": [b + 0.5 for b in bid], "ask_size": 1.0}, index=idx
    )
    cfg = config(buy_at=1, sell_at=10_000)
    cfg["backtest"]["quotes"] = []
    cfg["exchanges"] = {"sim": {"native_stops": native}}
    cfg["strategies"]["q"]["venue"] = "sim"
    cfg["risk_management"] = {
        "stop_loss": {"enabled": True, "default_percentage": 0.01},
        "take_profit": {"enabled": False},
        "position_limits": {"max_position_size": 1.0},
        "limits": {"max_portfolio_heat": 1.0, "volatility_limit": 100.0},
    }
    result = bt.run(cfg, {"BTC/USDT:quotes": quotes})
    trade = result.trades.iloc[0]
    assert trade["entry_price"] == 10_000.5  # bought on quote 2 at its ask
    stop = 9_900.5  # 1 % under the 10,000.50 entry, on the tick
    first_hit = next(i for i, b in enumerate(bid) if b <= stop)
    # native: fills on the quote that crosses, at its bid; emulated: the monitor sees that
    # quote, sends a market order, which fills on the next quote's bid
    expected = bid[first_hit] if native else bid[first_hit + 1]
    assert trade["exit_reason"] == "stop_loss" and trade["exit_price"] == expected


def test_the_lookahead_check_cuts_quotes_too() -> None:
    """The prefix runs get only the quotes known by the cut, so a peek at the last quote of
    the data shows (it used to compare the full quotes with themselves)."""
    from genebot.backtest.lookahead import check_lookahead

    cfg = config()
    cfg["strategies"]["q"]["type"] = "strategies_for_tests:LastQuotePeek"
    report = check_lookahead(cfg)
    assert not report.passed
    assert "orders created by" in report.problems[0] and "quantity" in report.problems[0]
    honest = check_lookahead(config(buy_at=3, sell_at=20))
    assert honest.passed, honest.problems


@pytest.mark.parametrize(
    "case", ["market", "limit", "stop loss on quotes", "quotes and bars"]
)  # fmt: skip
def test_quotes_arriving_one_at_a_time_give_the_backtests_orders(
    case: str, quotes: pd.DataFrame
) -> None:
    """The live path (a data client hands out quotes one at a time to the growing kernel)
    gives exactly the backtest's orders and fills, quote by quote."""
    from genebot.live.strategy_runner import run_incremental

    data = None
    cfg = config(buy_at=3, sell_at=20)
    if case == "limit":
        cfg = config(buy_at=3, sell_at=10_000, limit_below=0.5)
    elif case == "stop loss on quotes":
        cfg = config(buy_at=2, sell_at=10_000)
        cfg["risk_management"] = {
            "stop_loss": {"enabled": True, "default_percentage": 0.0002},
            "take_profit": {"enabled": False},
            "position_limits": {"max_position_size": 1.0},
            "limits": {"max_portfolio_heat": 1.0, "volatility_limit": 100.0},
        }
    elif case == "quotes and bars":
        start = quotes.index[0].floor("10s")
        idx = pd.date_range(start, periods=6, freq="10s", tz="UTC", name="timestamp")
        mid = float((quotes["bid"].iloc[0] + quotes["ask"].iloc[0]) / 2)
        frame = {"open": mid, "high": mid + 5, "low": mid - 5, "close": mid, "volume": 1.0}
        data = {"BTC/USDT": pd.DataFrame(frame, index=idx)}
        cfg["strategies"]["q"]["timeframes"] = ["10s"]
    whole = bt.run(cfg, data)
    arriving = run_incremental(cfg, data)
    assert len(whole.orders) > 0
    columns = ["side", "type", "quantity", "price", "status", "filled_qty", "avg_price", "tag"]
    assert arriving.orders[columns].equals(whole.orders[columns])
    assert arriving.trades.equals(whole.trades)
