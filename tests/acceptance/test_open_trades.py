"""A round trip still open after the last bar is part of the result: listed with its entry and
drawn on the report's candles (the equity already marks it to the last close)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import genebot.backtest as bt


def falling_then_rising() -> pd.DataFrame:
    """60 bars down then 40 up: SMA 10/20 crosses up once, in the rise, and never back."""
    close = np.concatenate((np.linspace(120, 100, 60), np.linspace(100.5, 130, 40)))
    index = pd.date_range("2024-01-01", periods=len(close), freq="5min", tz="UTC")
    open_ = np.concatenate(([close[0]], close[:-1]))
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) + 0.1,
            "low": np.minimum(open_, close) - 0.1,
            "close": close,
            "volume": 10.0,
        },
        index=index,
    )


CONFIG = {
    "risk_management": {"enabled": False},
    "strategies": {
        "moving_average": {
            "symbols": ["SYN/USDT"],
            "timeframes": ["5m"],
            "position_sizing": {"method": "fixed_quantity", "quantity": 2},
        }
    },
}


def test_the_open_round_trip_is_listed_and_drawn(tmp_path: Path) -> None:
    result = bt.run(CONFIG, {"SYN/USDT": falling_then_rising()})
    assert len(result.trades) == 0 and result.stats["open_positions"] == 1
    [row] = result.open_trades.itertuples(index=False)
    [entry] = [o for o in result.order_log if o.side == "BUY"]
    assert (row.strategy, row.symbol, row.side, row.quantity) == (
        "moving_average",
        "SYN/USDT",
        "long",
        2.0,
    )
    assert row.entry_time.value == entry.ts_last
    assert row.entry_price == pytest.approx(float(entry.avg_px), rel=1e-9)  # notional / qty
    result.write(tmp_path)
    html = (tmp_path / "report.html").read_text()
    assert "Long entries (1)" in html and "long entry (open at the end)" in html
    assert "Exits (" not in html
