"""RSIStrategy: buy the bounce out of an oversold RSI, sell into an overbought one.

Trades: computes Wilder's RSI of the close (TA-Lib ``RSI``). Buys when the RSI crosses up
through ``oversold`` (``rsi[i] > oversold`` and ``rsi[i-1] <= oversold``) and closes the long
when it crosses down through ``overbought`` (``rsi[i] < overbought`` and
``rsi[i-1] >= overbought``). Long only. Made for range-bound, mean-reverting markets (the bundled
ETH/USDT 1h data); in a strong trend the RSI stays pinned and the strategy sits out or exits
early.

Parameters: ``period`` (default 14, optimize 5-30), ``oversold`` (default 30, optimize 15-40)
and ``overbought`` (default 70, optimize 60-85); oversold must be below overbought.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import talib

from genebot.core.errors import ParameterError
from genebot.indicators import crossed_above, crossed_below
from genebot.trading.data import F64, BarData, Signals
from genebot.trading.params import Param
from genebot.trading.strategy import Strategy


class RSIStrategy(Strategy):
    """RSI oversold/overbought crossings, long only."""

    name = "rsi_strategy"
    default_data = ("ETH/USDT", "1h")
    period = Param(14, min=2, max=10_000, opt=(5, 30, 1), doc="bars in the RSI")
    oversold = Param(30.0, min=0.0, max=100.0, opt=(15.0, 40.0, 5.0), doc="buy level")
    overbought = Param(70.0, min=0.0, max=100.0, opt=(60.0, 85.0, 5.0), doc="exit level")

    def validate_parameters(self) -> None:
        if self.oversold >= self.overbought:
            raise ParameterError(
                f"strategy {self.strategy_id}: oversold ({self.oversold}) must be below "
                f"overbought ({self.overbought})"
            )

    def indicators(self, data: BarData) -> Mapping[str, F64]:
        return {"rsi": talib.RSI(data.close, timeperiod=self.period)}

    def signals(self, data: BarData, ind: Mapping[str, F64]) -> Signals:
        rsi = ind["rsi"]
        low = np.full(rsi.shape[0], self.oversold)
        high = np.full(rsi.shape[0], self.overbought)
        return Signals(entries=crossed_above(rsi, low), exits=crossed_below(rsi, high))
