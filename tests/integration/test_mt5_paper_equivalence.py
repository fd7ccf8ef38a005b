"""The bars that reach genebot through the MT5 data path (the stand-in's terminal, server time
GMT+2, converted to UTC by the adapter, polled live-style) are the bundled EUR/USD file's bars,
so seed 003's SwingTrendMomentum makes the same orders and trades on them as the backtest."""

from __future__ import annotations

import pandas as pd
from mt5_harness import standin

import genebot.backtest as bt
from genebot.domain.market import Bar
from genebot.testkit.mt5_standin import load_bars
from genebot.venues.mt5.data import Mt5BarClient, Mt5Stream
from genebot.venues.mt5.symbols import ServerClock

NS = 1_000_000_000
START, END = "2018-01-15T00:00:00Z", "2018-07-01T00:00:00Z"
CONFIG = {
    "risk_management": {"enabled": False},
    "backtest": {"initial_cash": 100_000, "fee": 0.0001, "quote_currency": "USD"},
    "strategies": {
        "swing_trend_momentum": {
            "type": "SwingTrendMomentumStrategy",
            "symbols": ["EUR/USD"],
            "timeframes": ["1h"],
            "position_sizing": {"method": "percent_equity", "fraction": 0.5},
        }
    },
}


def bars_through_mt5() -> pd.DataFrame:
    """Warm up on 500 bars, then poll every 7 hours (a catch-up each time) until END."""
    mt5 = standin(START)
    client = Mt5BarClient(
        mt5, [Mt5Stream("EUR/USD@mt5", "EURUSD", "1h")], clock=lambda: mt5.now * NS,
        server=ServerClock("+2"), delay_s=0,
    )  # fmt: skip
    got: list[Bar] = list(client.warm_up(500))
    end = int(pd.Timestamp(END).timestamp())
    while mt5.now < end:
        mt5.set_time(min(mt5.now + 7 * 3600, end))
        got += [b for b in client.poll(mt5.now * NS) if isinstance(b, Bar)]
    index = pd.to_datetime([b.ts for b in got], unit="ns", utc=True)
    cols = {c: [getattr(b, c) for b in got] for c in ("open", "high", "low", "close", "volume")}
    return pd.DataFrame(cols, index=index).rename_axis("timestamp")


def test_swing_trend_momentum_makes_the_same_orders_through_the_mt5_path() -> None:
    live = bars_through_mt5()
    file = load_bars()
    file = file[(file.index >= live.index[0]) & (file.index < pd.Timestamp(END))]
    assert list(live.index) == list(file.index)  # every closed bar, once, in UTC
    for col in ("open", "high", "low", "close"):
        assert live[col].tolist() == file[col].tolist()
    from_file = bt.run(CONFIG, data={"EUR/USD": file.astype(float)})
    from_mt5 = bt.run(CONFIG, data={"EUR/USD": live.assign(volume=file["volume"].astype(float))})
    assert len(from_file.trades) > 0
    cols = [c for c in from_file.orders.columns if c != "updated"]
    pd.testing.assert_frame_equal(from_file.orders[cols], from_mt5.orders[cols])
    pd.testing.assert_frame_equal(from_file.trades, from_mt5.trades)
    assert from_file.final_equity_exact == from_mt5.final_equity_exact
