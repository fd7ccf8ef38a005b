"""genebot against a hand-written reference loop of the textbook SMA crossover semantics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import genebot.backtest as bt
from genebot.data.readers import read_ohlcv
from genebot.testkit import ma_config

SAMPLE = "data/sample/crypto/binance_{}_5m.csv"


def reference(frame: pd.DataFrame, qty: float, fee: float = 0.001) -> tuple[int, float]:
    """SMA 10/20 on close; buy qty on cross up, sell all on cross down; long only; fills at the
    next bar's open; fee on notional per fill; open position marked to the last close."""
    close, open_ = frame["close"].to_numpy(), frame["open"].to_numpy()
    fast = pd.Series(close).rolling(10).mean().to_numpy()
    slow = pd.Series(close).rolling(20).mean().to_numpy()
    cash, pos, trades, pending = 100_000.0, 0.0, 0, None
    for i in range(len(close)):
        if pending is not None:
            px = open_[i]
            if pending == "buy":
                cash -= qty * px * (1 + fee)
                pos = qty
            else:
                cash += pos * px * (1 - fee)
                pos, trades = 0.0, trades + 1
            pending = None
        if i == 0 or np.isnan(slow[i - 1]):
            continue
        up = fast[i] > slow[i] and fast[i - 1] <= slow[i - 1]
        down = fast[i] < slow[i] and fast[i - 1] >= slow[i - 1]
        if up and pos == 0:
            pending = "buy"
        elif down and pos > 0:
            pending = "sell"
    if pos:
        trades += 1  # the open round trip, marked to the last close
    return trades, cash + pos * close[-1]


@pytest.mark.parametrize(("symbol", "qty"), [("BTC/USDT", 1.0), ("ETH/USDT", 10.0)])
@pytest.mark.parametrize("mode", ["per_bar", "fast"])
def test_matches_reference_loop(symbol: str, qty: float, mode: str) -> None:
    frame = read_ohlcv(SAMPLE.format(symbol.replace("/", "-"))).frame
    ref_trades, ref_equity = reference(frame, qty)
    result = bt.run(ma_config(symbol, "5m", qty), engine_mode=mode)
    open_round_trip = (
        1 if result.equity["cash"].iloc[-1] < result.equity["equity"].iloc[-1] * 0.999 else 0
    )
    assert len(result.trades) + open_round_trip == ref_trades
    assert result.stats["final_equity"] == pytest.approx(ref_equity, rel=1e-9)
    assert float(result.final_equity_exact) == pytest.approx(ref_equity, rel=1e-9)
