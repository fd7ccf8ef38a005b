"""SwingTrendMomentumStrategy: M5 break of structure in the direction of the H1 trend.

Trades: on 5-minute bars, buys a break of structure (the close crosses above the last
*confirmed* swing high) while the hourly trend is up, if the setup's confidence is at least
``min_confidence``. Closes the long when the close falls below the last confirmed swing low or
the hourly trend is no longer up. Long only. Made for trending, liquid markets such as the
bundled Binance BTC/USDT 5m data (May 2021); in a choppy range the breaks fail.

- **Swing points.** Bar *j* is a swing high when its high is above the ``swing_lookback`` highs
  before it and not below the ``swing_lookback`` highs after it (swing lows mirrored). That is
  only known once the bars after it have closed, so a swing point at *j* is *confirmed* at
  ``j + swing_lookback`` and used from that bar on, never earlier.
- **Hourly trend.** H1 bars are built from the M5 bars on the clock (``trend_timeframe_bars``
  bars per H1 bar, aligned to UTC multiples of its length). An H1 bar is usable only from the
  M5 bar whose close reaches the H1 bar's end. The trend is up when the last usable H1 close is
  above its ``trend_period`` EMA and that EMA is rising.
- **Confidence** in [0, 1]: the mean of a trend score, ``clip((ADX - 20) / 20, 0, 1)`` (ADX of
  the M5 bars: 20 is no trend, 40 a strong one), and a breakout score,
  ``clip((close - swing high) / ATR, 0, 1)`` (a break by one ATR or more scores fully). Exposed
  as the indicator ``confidence``.

Parameters: ``trend_timeframe_bars`` (default 12, M5 bars per H1 bar), ``swing_lookback``
(default 5, optimize 2-10), ``trend_period`` (default 20, optimize 10-50), ``min_confidence``
(default 0.6, optimize 0.4-0.9) and ``atr_period`` (default 14, for ATR and ADX). A swing window
(``2 * swing_lookback + 1`` bars) must be shorter than one trend bar times ``trend_period``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import talib
from numpy.lib.stride_tricks import sliding_window_view

from genebot.core.errors import ParameterError
from genebot.trading.data import F64, BarData, BoolArray, Signals
from genebot.trading.params import Param
from genebot.trading.strategy import Strategy

ADX_FLOOR = 20.0  # ADX below this: no trend, score 0
ADX_SPAN = 20.0  # ADX at floor + span (40): a strong trend, score 1


def confirmed_swings(values: F64, lookback: int, *, high: bool) -> F64:
    """Level of the last confirmed swing high (``high=True``) or low, per bar.

    A swing at *j* needs the ``lookback`` bars on both sides; it is written at its confirmation
    bar ``j + lookback`` and carried forward, so value *i* uses bars ``<= i`` only. NaN until
    the first confirmation.
    """
    n = values.shape[0]
    out = np.full(n, np.nan)
    width = 2 * lookback + 1
    if n < width:
        return out
    sign = 1.0 if high else -1.0
    windows = sliding_window_view(sign * values, width)  # row r: bars r .. r + 2*lookback
    center = windows[:, lookback]
    is_swing = (center > windows[:, :lookback].max(axis=1)) & (
        center >= windows[:, lookback + 1 :].max(axis=1)
    )
    rows = np.flatnonzero(is_swing)
    level = np.full(n, np.nan)
    level[rows + 2 * lookback] = values[rows + lookback]
    filled = np.where(~np.isnan(level), np.arange(n), -1)
    np.maximum.accumulate(filled, out=filled)
    known = filled >= 0
    out[known] = level[filled[known]]
    return out


def hourly_trend(data: BarData, bars_per_trend_bar: int, period: int) -> tuple[F64, F64]:
    """(trend_up 1.0/0.0/NaN, EMA of the last usable trend bar) per bar of ``data``.

    Trend bars are clock-aligned buckets of ``bars_per_trend_bar`` bars. Bucket *u* is usable
    from the first bar whose close time reaches the bucket's end; its close is the close of its
    last bar, which by then has closed.
    """
    n = len(data)
    up = np.full(n, np.nan)
    ema_now = np.full(n, np.nan)
    if n == 0:
        return up, ema_now
    span = int(data.timeframe_ns) * bars_per_trend_bar
    bucket = data.ts // span
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    last_bar = np.r_[starts[1:] - 1, n - 1]
    ub = bucket[starts]
    h_close = data.close[last_bar].astype(np.float64)
    ema = talib.EMA(h_close, timeperiod=period)
    ended = (data.ts + int(data.timeframe_ns)) // span  # buckets < ended are complete
    k = np.searchsorted(ub, ended, side="left") - 1  # last complete bucket with data
    ok = k >= 1
    kk = k[ok]
    prev, cur = ema[kk - 1], ema[kk]
    with np.errstate(invalid="ignore"):
        rising = (h_close[kk] > cur) & (cur > prev)
    up[ok] = np.where(np.isnan(cur) | np.isnan(prev), np.nan, rising.astype(np.float64))
    ema_now[ok] = cur
    return up, ema_now


class SwingTrendMomentumStrategy(Strategy):
    """M5 break of structure filtered by the H1 trend, long only."""

    name = "swing_trend_momentum"
    default_data = ("BTC/USDT", "5m")
    trend_timeframe_bars = Param(
        12, min=2, max=1_440, opt=None, doc="bars per trend bar (12 × 5m = 1h)"
    )
    swing_lookback = Param(5, min=1, max=200, opt=(2, 10, 1), doc="bars each side of a swing")
    trend_period = Param(20, min=2, max=1_000, opt=(10, 50, 5), doc="EMA of the trend-bar close")
    min_confidence = Param(
        0.6, min=0.0, max=1.0, opt=(0.4, 0.9, 0.05), doc="minimum confidence to enter"
    )
    atr_period = Param(14, min=2, max=1_000, opt=(7, 28, 7), doc="bars in ATR and ADX")

    def validate_parameters(self) -> None:
        window = 2 * self.swing_lookback + 1
        horizon = self.trend_timeframe_bars * self.trend_period
        if window >= horizon:
            raise ParameterError(
                f"strategy {self.strategy_id}: swing_lookback ({self.swing_lookback}) is too "
                f"large: a swing window of {window} bars must be shorter than the trend's "
                f"trend_timeframe_bars × trend_period = {horizon} bars"
            )

    def indicators(self, data: BarData) -> Mapping[str, F64]:
        lb = self.swing_lookback
        swing_high = confirmed_swings(data.high, lb, high=True)
        swing_low = confirmed_swings(data.low, lb, high=False)
        trend_up, trend_ema = hourly_trend(data, self.trend_timeframe_bars, self.trend_period)
        atr = talib.ATR(data.high, data.low, data.close, timeperiod=self.atr_period)
        adx = talib.ADX(data.high, data.low, data.close, timeperiod=self.atr_period)
        with np.errstate(invalid="ignore", divide="ignore"):
            trend_score = np.clip((adx - ADX_FLOOR) / ADX_SPAN, 0.0, 1.0)
            size = np.where(atr > 0, (data.close - swing_high) / atr, np.nan)
            breakout_score = np.clip(size, 0.0, 1.0)
        confidence = 0.5 * trend_score + 0.5 * breakout_score
        return {
            "swing_high": swing_high,
            "swing_low": swing_low,
            "trend_up": trend_up,
            "trend_ema": trend_ema,
            "atr": atr,
            "adx": adx,
            "confidence": confidence,
        }

    def signals(self, data: BarData, ind: Mapping[str, F64]) -> Signals:
        close, sh, sl = data.close, ind["swing_high"], ind["swing_low"]
        prev_close = np.r_[np.nan, close[:-1]]
        with np.errstate(invalid="ignore"):
            # A break happens on the bar whose close first clears the current swing-high level.
            bos: BoolArray = (close > sh) & (prev_close <= sh)
            trend_up = ind["trend_up"] == 1.0
            exits: BoolArray = (close < sl) | (ind["trend_up"] == 0.0)
            entries = bos & trend_up & (ind["confidence"] >= self.min_confidence) & ~exits
        return Signals(entries=entries, exits=exits)
