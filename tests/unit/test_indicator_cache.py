"""The batch path's TA-Lib memo: same function, parameters and input series → the stored
result (a copy); anything different → computed."""

from __future__ import annotations

import numpy as np
import talib

from genebot.backtest.batch import IndicatorCache, patched_talib


def test_same_call_is_reused_and_a_different_series_or_parameter_is_not() -> None:
    cache = IndicatorCache()
    rng = np.random.default_rng(1)
    x, y = rng.random(500), rng.random(500)
    plain = talib.SMA(x, timeperiod=10)
    with patched_talib(cache):
        first = talib.SMA(x, timeperiod=10)
        again = talib.SMA(x.copy(), timeperiod=10)  # equal values, another array
        other = talib.SMA(y, timeperiod=10)
        longer = talib.SMA(x, timeperiod=20)
    assert (cache.hits, cache.misses) == (1, 3)
    np.testing.assert_array_equal(first, plain)
    np.testing.assert_array_equal(again, plain)
    assert not np.array_equal(other, plain, equal_nan=True)
    assert not np.array_equal(longer, plain, equal_nan=True)


def test_results_are_copies_and_series_with_nan_and_tuples_are_cached() -> None:
    cache = IndicatorCache()
    x = np.random.default_rng(2).random(300)
    with patched_talib(cache):
        a = talib.SMA(x, timeperiod=5)
        a[:] = 0.0  # a strategy changing its array does not change the cache
        b = talib.SMA(x, timeperiod=5)
        smooth = talib.SMA(b, timeperiod=3)  # an input beginning with NaN
        smooth_again = talib.SMA(talib.SMA(x, timeperiod=5), timeperiod=3)
        macd = talib.MACD(x)
        macd_again = talib.MACD(x)
    np.testing.assert_array_equal(b, talib.SMA(x, timeperiod=5))
    np.testing.assert_array_equal(smooth, smooth_again)
    assert isinstance(macd_again, tuple)
    for p, q in zip(macd, macd_again, strict=True):
        np.testing.assert_array_equal(p, q)
    assert cache.hits == 4  # SMA(x, 5) twice, SMA(SMA, 3), MACD
    assert not getattr(talib.SMA, "genebot_cached", False)  # restored
