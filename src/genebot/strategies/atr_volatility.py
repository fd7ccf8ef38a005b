"""ATRVolatilityStrategy: buy a bar that breaks out by more than a multiple of the ATR.

Trades: the Average True Range over ``atr_period`` bars (TA-Lib ``ATR``). Buys when a close
jumps above the previous close by more than ``volatility_threshold`` times the previous bar's ATR
(``close[i] > close[i-1] + k * atr[i-1]``: the jump is judged against the volatility known
before it). Closes the long when a close drops below the previous close by the same distance
(``close[i] < close[i-1] - k * atr[i-1]``), or when the breakout has calmed down: the ATR
crosses below its own ``atr_mean_period``-bar simple mean (``atr[i] < mean[i]`` and
``atr[i-1] >= mean[i-1]``). Long only. Made for volatile crypto markets on intraday timeframes
(the bundled BTC/USDT 5m data, May 2021, with the 19 May crash); in quiet markets it rarely
trades.

Parameters: ``atr_period`` (default 14, optimize 7-50), ``volatility_threshold`` (default 1.5,
optimize 0.5-4.0) and ``atr_mean_period`` (default 50, optimize 20-200), which must be longer
than ``atr_period``: the calm-down exit compares the ATR with its longer-run level.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import talib

from genebot.core.errors import ParameterError
from genebot.indicators import crossed_below
from genebot.trading.data import F64, BarData, Signals
from genebot.trading.params import Param
from genebot.trading.strategy import Strategy


def _previous(values: F64) -> F64:
    """values[i-1] at i (NaN at 0): the past shifted forward, never the future backward."""
    out = np.full(values.shape[0], np.nan)
    out[1:] = values[:-1]
    return out


class ATRVolatilityStrategy(Strategy):
    """ATR-multiple breakout with a volatility calm-down exit, long only."""

    name = "atr_volatility"
    default_data = ("BTC/USDT", "5m")
    atr_period = Param(14, min=1, max=10_000, opt=(7, 50, 1), doc="bars in the ATR")
    volatility_threshold = Param(
        1.5, min=0.0, max=20.0, opt=(0.5, 4.0, 0.25), doc="breakout size in ATRs"
    )
    atr_mean_period = Param(
        50, min=2, max=10_000, opt=(20, 200, 10), doc="bars in the ATR's own mean (calm-down exit)"
    )

    # The base class keeps its own ``atr_period`` instance attribute (the ATR sizer's and ATR
    # trailing stop's period), which shadows this parameter on the instance: read it from params.
    @property
    def breakout_atr_period(self) -> int:
        """The ``atr_period`` parameter (bars in this strategy's ATR)."""
        return int(self.params["atr_period"])

    def validate_parameters(self) -> None:
        if self.atr_mean_period <= self.breakout_atr_period:
            raise ParameterError(
                f"strategy {self.strategy_id}: atr_mean_period ({self.atr_mean_period}) must be "
                f"longer than atr_period ({self.breakout_atr_period})"
            )

    def indicators(self, data: BarData) -> Mapping[str, F64]:
        period = self.breakout_atr_period
        atr = talib.ATR(data.high, data.low, data.close, timeperiod=period)
        band = self.volatility_threshold * _previous(atr)
        prev_close = _previous(data.close)
        return {
            "atr": atr,
            "atr_mean": talib.SMA(atr, timeperiod=self.atr_mean_period),
            "upper": prev_close + band,
            "lower": prev_close - band,
        }

    def signals(self, data: BarData, ind: Mapping[str, F64]) -> Signals:
        with np.errstate(invalid="ignore"):
            breakout = data.close > ind["upper"]
            breakdown = data.close < ind["lower"]
        calm = crossed_below(ind["atr"], ind["atr_mean"])
        return Signals(entries=breakout, exits=breakdown | calm)
