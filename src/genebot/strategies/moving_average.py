"""MovingAverageStrategy: the classic simple-moving-average crossover.

Trades: buys when the short SMA of the close crosses above the long SMA
(``fast[i] > slow[i]`` and ``fast[i-1] <= slow[i-1]``) and closes the long when it crosses back
below. Long only. Made for trending markets on any timeframe; it whipsaws in ranges.

Parameters: ``short_period`` (default 10, optimize 5-50) and ``long_period`` (default 20,
optimize 10-200); short must be below long.
"""

from __future__ import annotations

from collections.abc import Mapping

import talib

from genebot.core.errors import ParameterError
from genebot.indicators import crossed_above, crossed_below
from genebot.trading.data import F64, BarData, Signals
from genebot.trading.params import Param
from genebot.trading.strategy import Strategy


class MovingAverageStrategy(Strategy):
    """SMA crossover, long only."""

    name = "moving_average"
    default_data = ("BTC/USDT", "5m")
    short_period = Param(10, min=1, max=10_000, opt=(5, 50, 1), doc="bars in the fast SMA")
    long_period = Param(20, min=2, max=10_000, opt=(10, 200, 5), doc="bars in the slow SMA")

    def validate_parameters(self) -> None:
        if self.short_period >= self.long_period:
            raise ParameterError(
                f"strategy {self.strategy_id}: short_period ({self.short_period}) must be "
                f"below long_period ({self.long_period})"
            )

    def indicators(self, data: BarData) -> Mapping[str, F64]:
        return {
            "fast": talib.SMA(data.close, timeperiod=self.short_period),
            "slow": talib.SMA(data.close, timeperiod=self.long_period),
        }

    def signals(self, data: BarData, ind: Mapping[str, F64]) -> Signals:
        return Signals(
            entries=crossed_above(ind["fast"], ind["slow"]),
            exits=crossed_below(ind["fast"], ind["slow"]),
        )
