"""The bars that reach genebot through the MT5 data path (the stand-in's terminal, server time
GMT+2, converted to UTC by the adapter, polled live-style) are the bundled files' bars, so seed
003's SwingTrendMomentum makes the same orders and trades on them as the backtest: EUR/USD
(2018) and USD/JPY (February 2013, a JPY account)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import pytest

import genebot.backtest as bt
from genebot.domain.market import Bar
from genebot.testkit.mt5_constants import USDJPY_BARS, eurusd_info, usdjpy_info
from genebot.testkit.mt5_standin import Mt5Standin, load_bars
from genebot.venues.mt5.data import Mt5BarClient, Mt5Stream
from genebot.venues.mt5.symbols import ServerClock

NS = 1_000_000_000


@dataclass(frozen=True)
class Case:
    symbol: str  # genebot's
    terminal: str  # the broker's
    file: str
    info: Any
    start: str
    end: str
    warmup: int
    quote: str


CASES = [
    Case("EUR/USD", "EURUSD", "oanda_EUR-USD_1h.csv", eurusd_info, "2018-01-15T00:00:00Z",
         "2018-07-01T00:00:00Z", 500, "USD"),
    Case("USD/JPY", "USDJPY", USDJPY_BARS, usdjpy_info, "2013-02-04T00:00:00Z",
         "2013-03-01T00:00:00Z", 40, "JPY"),
]  # fmt: skip


def config(case: Case) -> dict[str, Any]:
    return {
        "risk_management": {"enabled": False},
        "backtest": {"initial_cash": 100_000, "fee": 0.0001, "quote_currency": case.quote},
        "strategies": {
            "swing_trend_momentum": {
                "type": "SwingTrendMomentumStrategy",
                "symbols": [case.symbol],
                "timeframes": ["1h"],
                "position_sizing": {"method": "percent_equity", "fraction": 0.5},
            }
        },
    }


def bars_through_mt5(case: Case) -> pd.DataFrame:
    """Warm up on the case's bars, then poll every 7 hours (a catch-up each time) to its end."""
    mt5 = Mt5Standin(bars={case.terminal: load_bars(case.file)},
                     symbols={case.terminal: case.info()})  # fmt: skip
    assert mt5.initialize(login=mt5.login_id, password=mt5.password, server=mt5.server)
    mt5.set_time(case.start)
    client = Mt5BarClient(
        mt5, [Mt5Stream(f"{case.symbol}@mt5", case.terminal, "1h")],
        clock=lambda: mt5.now * NS, server=ServerClock("+2"), delay_s=0,
    )  # fmt: skip
    got: list[Bar] = list(client.warm_up(case.warmup))
    end = int(pd.Timestamp(case.end).timestamp())
    while mt5.now < end:
        mt5.set_time(min(mt5.now + 7 * 3600, end))
        got += [b for b in client.poll(mt5.now * NS) if isinstance(b, Bar)]
    index = pd.to_datetime([b.ts for b in got], unit="ns", utc=True)
    cols = {c: [getattr(b, c) for b in got] for c in ("open", "high", "low", "close", "volume")}
    return pd.DataFrame(cols, index=index).rename_axis("timestamp")


@pytest.mark.parametrize("case", CASES, ids=[c.terminal for c in CASES])
def test_swing_trend_momentum_makes_the_same_orders_through_the_mt5_path(case: Case) -> None:
    live = bars_through_mt5(case)
    file = load_bars(case.file)
    file = file[(file.index >= live.index[0]) & (file.index < pd.Timestamp(case.end))]
    assert list(live.index) == list(file.index)  # every closed bar, once, in UTC
    for col in ("open", "high", "low", "close"):
        assert live[col].tolist() == file[col].tolist()
    cfg = config(case)
    from_file = bt.run(cfg, data={case.symbol: file.astype(float)})
    from_mt5 = bt.run(cfg, data={case.symbol: live.assign(volume=file["volume"].astype(float))})
    assert len(from_file.trades) > 0
    cols = [c for c in from_file.orders.columns if c != "updated"]
    pd.testing.assert_frame_equal(from_file.orders[cols], from_mt5.orders[cols])
    pd.testing.assert_frame_equal(from_file.trades, from_mt5.trades)
    assert from_file.final_equity_exact == from_mt5.final_equity_exact
