"""AdvancedMomentumStrategy: ride confirmed, accelerating momentum.

Trades: the rate of change of the close over ``momentum_period`` bars (TA-Lib ``ROC``, in
percent). Buys when the ROC has been positive for ``confirmation_period`` consecutive bars and
is rising (``roc[i] > roc[i-1]``); closes the long when the ROC has been negative for
``confirmation_period`` consecutive bars. Both conditions are states, not events: while flat
the strategy buys on any bar that meets them. Long only. Made for trending markets on higher
timeframes (the bundled BTC/USDT 1h data, December 2020 to July 2021, has long trends both
ways); it gives back a lot in sideways chop.

Parameters: ``momentum_period`` (default 10, optimize 5-50) and ``confirmation_period``
(default 3, optimize 1-10). The confirmation may not be longer than the ROC window itself: it
is meant to filter noise inside one momentum window, and a longer one makes every entry trail
the move it measures by more than that whole window.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import talib

from genebot.core.errors import ParameterError
from genebot.trading.data import F64, BarData, Signals
from genebot.trading.params import Param
from genebot.trading.strategy import Strategy


def held_for(condition: npt.NDArray[np.bool_], bars: int) -> npt.NDArray[np.bool_]:
    """True at i when ``condition`` holds on each of bars i-bars+1 .. i (causal)."""
    counts = np.concatenate(([0], np.cumsum(condition, dtype=np.int64)))
    out = np.zeros(condition.shape[0], dtype=bool)
    if condition.shape[0] >= bars:
        out[bars - 1 :] = (counts[bars:] - counts[:-bars]) == bars
    return out


class AdvancedMomentumStrategy(Strategy):
    """Rate-of-change momentum with a run-length confirmation, long only."""

    name = "advanced_momentum"
    default_data = ("BTC/USDT", "1h")
    momentum_period = Param(10, min=1, max=10_000, opt=(5, 50, 1), doc="bars in the ROC")
    confirmation_period = Param(
        3, min=1, max=1_000, opt=(1, 10, 1), doc="consecutive bars the ROC sign must hold"
    )

    def validate_parameters(self) -> None:
        if self.confirmation_period > self.momentum_period:
            raise ParameterError(
                f"strategy {self.strategy_id}: confirmation_period ({self.confirmation_period}) "
                f"must not exceed momentum_period ({self.momentum_period})"
            )

    def indicators(self, data: BarData) -> Mapping[str, F64]:
        return {"roc": talib.ROC(data.close, timeperiod=self.momentum_period)}

    def signals(self, data: BarData, ind: Mapping[str, F64]) -> Signals:
        roc = ind["roc"]
        rising = np.zeros(roc.shape[0], dtype=bool)
        with np.errstate(invalid="ignore"):
            up, down = roc > 0, roc < 0
            rising[1:] = roc[1:] > roc[:-1]
        n = self.confirmation_period
        return Signals(entries=held_for(up, n) & rising, exits=held_for(down, n))
