"""MultiIndicatorStrategy: a weighted vote of classic indicators.

Trades: each chosen indicator votes on every bar, +1 (buy), -1 (sell) or 0:

- ``rsi``: RSI(14) below 30 votes +1, above 70 votes -1;
- ``macd``: the MACD(12, 26, 9) histogram turning positive (``hist[i] > 0 >= hist[i-1]``)
  votes +1, turning negative votes -1;
- ``bollinger``: close below the lower Bollinger band (20 bars, 2 SD) votes +1, above the upper
  band -1;
- ``sma_cross``: SMA(10) crossing above SMA(30) votes +1, crossing below -1.

The score is the weighted mean of the votes, ``sum(w * vote) / sum(w)``, so it lies in [-1, 1].
Buys when ``score >= threshold`` and closes the long when ``score <= -threshold``. Long only.
Made for choppy crypto markets on short timeframes (the bundled BTC/USDT 5m data), where
oversold readings of several indicators at once mark short-term lows.

Parameters: ``indicators`` (default ``["rsi", "macd", "bollinger"]``, any non-empty subset of
rsi, macd, bollinger, sma_cross without repeats), ``weights`` (one non-negative number per
indicator, not all zero; the default, an empty list, weighs them equally; not optimized) and
``threshold`` (default 0.5, optimize 0.2-1.0).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import talib

from genebot.core.errors import ParameterError
from genebot.indicators import crossed_above, crossed_below
from genebot.trading.data import F64, BarData, Signals
from genebot.trading.params import Param
from genebot.trading.strategy import Strategy

ALLOWED = ("rsi", "macd", "bollinger", "sma_cross")


def _rsi_vote(data: BarData) -> dict[str, F64]:
    rsi = talib.RSI(data.close, timeperiod=14)
    with np.errstate(invalid="ignore"):
        vote = (rsi < 30).astype(np.float64) - (rsi > 70).astype(np.float64)
    return {"rsi": rsi, "vote_rsi": vote}


def _macd_vote(data: BarData) -> dict[str, F64]:
    macd, signal, hist = talib.MACD(data.close, fastperiod=12, slowperiod=26, signalperiod=9)
    zero = np.zeros(hist.shape[0])
    vote = crossed_above(hist, zero).astype(np.float64) - crossed_below(hist, zero)
    return {"macd": macd, "macd_signal": signal, "macd_hist": hist, "vote_macd": vote}


def _bollinger_vote(data: BarData) -> dict[str, F64]:
    upper, middle, lower = talib.BBANDS(data.close, timeperiod=20, nbdevup=2.0, nbdevdn=2.0)
    with np.errstate(invalid="ignore"):
        vote = (data.close < lower).astype(np.float64) - (data.close > upper)
    return {"bb_upper": upper, "bb_middle": middle, "bb_lower": lower, "vote_bollinger": vote}


def _sma_cross_vote(data: BarData) -> dict[str, F64]:
    fast = talib.SMA(data.close, timeperiod=10)
    slow = talib.SMA(data.close, timeperiod=30)
    vote = crossed_above(fast, slow).astype(np.float64) - crossed_below(fast, slow)
    return {"sma_fast": fast, "sma_slow": slow, "vote_sma_cross": vote}


VOTERS: dict[str, Callable[[BarData], dict[str, F64]]] = {
    "rsi": _rsi_vote,
    "macd": _macd_vote,
    "bollinger": _bollinger_vote,
    "sma_cross": _sma_cross_vote,
}


# The parameter is called ``indicators`` in configs, which is also the name of the method every
# strategy implements; it cannot be a class attribute, so it is added to ``parameters`` directly.
INDICATORS = Param(
    ["rsi", "macd", "bollinger"],
    doc=f"voting indicators, a non-empty subset of {', '.join(ALLOWED)}",
    name="indicators",
)


class MultiIndicatorStrategy(Strategy):
    """Weighted vote of RSI, MACD, Bollinger and SMA-cross signals, long only."""

    name = "multi_indicator"
    default_data = ("BTC/USDT", "5m")
    weights = Param([], doc="one non-negative weight per indicator; empty = equal weights")
    threshold = Param(
        0.5, min=0.01, max=1.0, opt=(0.2, 1.0, 0.1), doc="score to enter; -threshold exits"
    )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.parameters = {"indicators": INDICATORS, **cls.parameters}

    def validate_parameters(self) -> None:
        where = f"strategy {self.strategy_id}"
        allowed = ", ".join(ALLOWED)
        names = self.params["indicators"]
        if not names:
            raise ParameterError(f"{where}: indicators must name at least one of {allowed}")
        bad = [n for n in names if n not in ALLOWED]
        if bad:
            raise ParameterError(
                f"{where}: indicators has unknown {', '.join(map(repr, bad))}; allowed: {allowed}"
            )
        if len(set(names)) != len(names):
            raise ParameterError(f"{where}: indicators names an indicator twice: {names}")
        weights = self.weights
        if weights and len(weights) != len(names):
            raise ParameterError(
                f"{where}: weights has {len(weights)} entries but indicators has {len(names)}; "
                "give one weight per indicator, or none for equal weights"
            )
        if any(isinstance(w, bool | str) or w < 0 for w in weights):
            raise ParameterError(f"{where}: weights must be non-negative numbers (got {weights})")
        if weights and sum(weights) <= 0:
            raise ParameterError(f"{where}: weights must not all be zero (got {weights})")

    def _weights(self) -> list[float]:
        return [float(w) for w in self.weights] or [1.0] * len(self.params["indicators"])

    def indicators(self, data: BarData) -> Mapping[str, F64]:
        out: dict[str, F64] = {}
        score = np.zeros(len(data))
        weights = self._weights()
        for name, weight in zip(self.params["indicators"], weights, strict=True):
            values = VOTERS[name](data)
            out.update(values)
            score += weight * values[f"vote_{name}"]
        out["score"] = score / sum(weights)
        return out

    def signals(self, data: BarData, ind: Mapping[str, F64]) -> Signals:
        score = ind["score"]
        return Signals(entries=score >= self.threshold, exits=score <= -self.threshold)


MultiIndicatorStrategy.parameters = {"indicators": INDICATORS, **MultiIndicatorStrategy.parameters}
