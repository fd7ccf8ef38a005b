"""MeanReversionStrategy: buy a stretch far below the moving average, sell the return to it.

Trades: the z-score of the close, ``z = (close - SMA) / STDDEV`` over ``lookback_period`` bars
(TA-Lib ``SMA`` and population ``STDDEV``; undefined where the deviation is zero). Buys when z
crosses below ``-std_dev_threshold`` (``z[i] < -t`` and ``z[i-1] >= -t``) and closes the long
when z crosses back above 0 (the close is back above its mean). Long only. Made for
mean-reverting markets such as the bundled EUR/USD 1h data (2018); in a crash it keeps buying a
falling market.

Parameters: ``lookback_period`` (default 20, optimize 10-100) and ``std_dev_threshold``
(default 2.0, optimize 1.0-3.0). Over n bars the close can be at most ``sqrt(n - 1)`` population
deviations from their mean, so the threshold must be below that bound or no entry can ever fire.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import talib

from genebot.core.errors import ParameterError
from genebot.indicators import crossed_above, crossed_below
from genebot.trading.data import F64, BarData, Signals
from genebot.trading.params import Param
from genebot.trading.strategy import Strategy


class MeanReversionStrategy(Strategy):
    """Z-score of the close against its SMA, long only."""

    name = "mean_reversion"
    default_data = ("EUR/USD", "1h")
    lookback_period = Param(20, min=2, max=10_000, opt=(10, 100, 5), doc="bars in SMA/STDDEV")
    std_dev_threshold = Param(
        2.0, min=0.1, max=10.0, opt=(1.0, 3.0, 0.25), doc="entry distance below the mean, in SDs"
    )

    def validate_parameters(self) -> None:
        bound = math.sqrt(self.lookback_period - 1)
        if self.std_dev_threshold >= bound:
            raise ParameterError(
                f"strategy {self.strategy_id}: std_dev_threshold ({self.std_dev_threshold}) "
                f"must be below sqrt(lookback_period - 1) = {bound:.4g}: over "
                f"{self.lookback_period} bars the close never gets further from the mean, so "
                "no entry could fire; raise lookback_period or lower std_dev_threshold"
            )

    def indicators(self, data: BarData) -> Mapping[str, F64]:
        mean = talib.SMA(data.close, timeperiod=self.lookback_period)
        std = talib.STDDEV(data.close, timeperiod=self.lookback_period, nbdev=1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.where(std > 0, (data.close - mean) / std, np.nan)
        return {"sma": mean, "std": std, "zscore": z}

    def signals(self, data: BarData, ind: Mapping[str, F64]) -> Signals:
        z = ind["zscore"]
        return Signals(
            entries=crossed_below(z, np.full(z.shape[0], -self.std_dev_threshold)),
            exits=crossed_above(z, np.zeros(z.shape[0])),
        )
