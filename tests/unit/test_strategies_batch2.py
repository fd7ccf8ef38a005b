"""Swing-trend momentum, ML pattern, forex session and forex news strategies: entries on crafted
data, parameter validation, causality (prefix invariance) and each strategy's special rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genebot.core.errors import ParameterError
from genebot.strategies import ml_pattern
from genebot.strategies.forex_news import ForexNewsStrategy
from genebot.strategies.forex_session import ForexSessionStrategy, session_mask
from genebot.strategies.ml_pattern import MLPatternStrategy
from genebot.strategies.swing_trend_momentum import SwingTrendMomentumStrategy, confirmed_swings
from genebot.testkit import gbm_bars
from genebot.trading.data import BarData
from genebot.trading.strategy import Strategy

MIN_NS = 60_000_000_000
HOUR_NS = 60 * MIN_NS


# -- helpers ------------------------------------------------------------------------------------
def bars_from_close(
    close: list[float] | np.ndarray,
    *,
    start: str = "2021-05-03T00:00:00Z",
    tf_ns: int = 5 * MIN_NS,
    pad: float = 0.2,
    symbol: str = "BTC/USDT",
) -> BarData:
    """Bars whose open is the previous close, high/low ``pad`` beyond the body."""
    c = np.asarray(close, dtype=np.float64)
    o = np.r_[c[0], c[:-1]]
    ts = pd.Timestamp(start).value + tf_ns * np.arange(c.shape[0], dtype=np.int64)
    return BarData(
        symbol,
        tf_ns,
        ts,
        o,
        np.maximum(o, c) + pad,
        np.minimum(o, c) - pad,
        c,
        np.full(c.shape[0], 10.0),
    )


def from_frame(frame: pd.DataFrame, symbol: str, tf_ns: int) -> BarData:
    return BarData(
        symbol,
        tf_ns,
        frame.index.as_unit("ns").asi8.astype(np.int64),
        *(frame[c].to_numpy(np.float64) for c in ("open", "high", "low", "close", "volume")),
    )


def prefix(data: BarData, k: int) -> BarData:
    return BarData(
        data.symbol,
        data.timeframe_ns,
        data.ts[:k],
        data.open[:k],
        data.high[:k],
        data.low[:k],
        data.close[:k],
        data.volume[:k],
    )


def run_vectorized(strategy: Strategy, data: BarData) -> tuple[dict, object]:
    ind = dict(strategy.indicators(data))
    for name, values in ind.items():
        assert np.shape(values) == (len(data),), name
    return ind, strategy.signals(data, ind)


def assert_prefix_invariant(strategy: Strategy, data: BarData, cuts: list[int]) -> None:
    """Indicators and signals of bar i are the same whether or not bars after i exist."""
    full_ind, full_sig = run_vectorized(strategy, data)
    for k in cuts:
        part_ind, part_sig = run_vectorized(strategy, prefix(data, k))
        for name, values in full_ind.items():
            np.testing.assert_array_equal(
                np.asarray(values)[:k], part_ind[name], err_msg=f"{name} at cut {k}"
            )
        for name in ("entries", "exits"):
            np.testing.assert_array_equal(
                getattr(full_sig, name)[:k], getattr(part_sig, name), err_msg=f"{name} at {k}"
            )


def utc(text: str) -> int:
    return pd.Timestamp(text).value


# -- parameter validation (all four) -------------------------------------------------------------
CASES: list[tuple[type[Strategy], dict, str]] = [
    (SwingTrendMomentumStrategy, {"swing_lookbak": 3}, "swing_lookbak"),
    (SwingTrendMomentumStrategy, {"min_confidence": 1.5}, "min_confidence"),
    (SwingTrendMomentumStrategy, {"swing_lookback": 0}, "swing_lookback"),
    (SwingTrendMomentumStrategy, {"swing_lookback": 60, "trend_period": 5}, "swing_lookback"),
    (MLPatternStrategy, {"n_trees": 10}, "n_trees"),
    (MLPatternStrategy, {"probability_threshold": 0.4}, "probability_threshold"),
    (MLPatternStrategy, {"model_type": "svm"}, "model_type"),
    (MLPatternStrategy, {"features": ["returns", "moon_phase"]}, "features"),
    (MLPatternStrategy, {"features": []}, "features"),
    (MLPatternStrategy, {"training_period": 100, "horizon": 60}, "training_period"),
    (ForexSessionStrategy, {"sessions": ["london"]}, "sessions"),
    (ForexSessionStrategy, {"volatility_filter": -0.1}, "volatility_filter"),
    (ForexSessionStrategy, {"breakout_period": 1}, "breakout_period"),
    (ForexSessionStrategy, {"preferred_sessions": ["london", "frankfurt"]}, "preferred_sessions"),
    (ForexSessionStrategy, {"preferred_sessions": ["london", "london"]}, "preferred_sessions"),
    (ForexSessionStrategy, {"preferred_sessions": "london"}, "preferred_sessions"),
    (ForexNewsStrategy, {"blackout": 30}, "blackout"),
    (ForexNewsStrategy, {"impact_threshold": "extreme"}, "impact_threshold"),
    (ForexNewsStrategy, {"breakout_minutes": 0}, "breakout_minutes"),
    (ForexNewsStrategy, {"news_sources": []}, "news_sources"),
    (ForexNewsStrategy, {"news_sources": ["no/such/calendar.csv"]}, "no/such/calendar.csv"),
]


@pytest.mark.parametrize(("cls", "params", "named"), CASES)
def test_bad_parameters_raise_one_line_naming_the_parameter(
    cls: type[Strategy], params: dict, named: str
) -> None:
    with pytest.raises(ParameterError) as err:
        cls(params)
    message = str(err.value)
    assert named in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "cls",
    [SwingTrendMomentumStrategy, MLPatternStrategy, ForexSessionStrategy, ForexNewsStrategy],
)
def test_defaults_are_valid_and_declared(cls: type[Strategy]) -> None:
    strategy = cls()
    assert strategy.name == cls.name
    assert cls.default_data is not None
    for param in cls.parameters.values():
        if param.opt is not None:
            low, high, step = param.opt
            assert low <= high and step > 0
            if param.min is not None:
                assert low >= param.min
            if param.max is not None:
                assert high <= param.max


# -- swing trend momentum --------------------------------------------------------------------
def test_swing_point_is_used_only_once_confirmed() -> None:
    highs = np.array([1, 2, 3, 4, 9, 5, 4, 3, 2, 1, 0], dtype=float)  # swing high at 4
    level = confirmed_swings(highs, 3, high=True)
    assert np.isnan(level[:7]).all()  # confirmed at 4 + 3 = 7, not before
    assert (level[7:] == 9.0).all()
    lows = -highs
    assert np.isnan(confirmed_swings(lows, 3, high=False)[:7]).all()
    assert confirmed_swings(lows, 3, high=False)[7] == -9.0
    # A higher high inside the window undoes it: bar 4 never becomes a swing, bar 6 does.
    highs[6] = 10.0
    level = confirmed_swings(highs, 3, high=True)
    assert np.isnan(level[:9]).all()
    assert level[9] == 10.0


def _swing_path(direction: float) -> tuple[list[float], int, int]:
    """A 120-bar ramp, a peak, a 4-bar pullback, a climb back and a breakout bar.
    Returns (closes, peak bar, breakout bar)."""
    close = [100.0 + direction * i for i in range(120)]
    peak = len(close) - 1
    top = close[-1]
    close += [top - 0.5 * k for k in range(1, 5)]  # pullback: lower highs
    close += [top - 2.0 + 0.5 * k for k in range(1, 4)]  # climb back below the peak's high
    breakout = len(close)
    close += [top + 3.0, top + 3.1, top + 3.2]
    return close, peak, breakout


SWING = {"swing_lookback": 3, "trend_period": 5}


def test_swing_break_of_structure_in_uptrend_enters_at_the_breakout_bar() -> None:
    close, peak, breakout = _swing_path(+1.0)
    data = bars_from_close(close)
    strategy = SwingTrendMomentumStrategy(SWING)
    ind, sig = run_vectorized(strategy, data)
    assert np.isnan(ind["swing_high"][: peak + 3]).all()
    assert ind["swing_high"][peak + 3] == data.high[peak]
    assert ind["trend_up"][breakout] == 1.0
    assert 0.6 <= ind["confidence"][breakout] <= 1.0
    assert np.flatnonzero(sig.entries).tolist() == [breakout]
    assert not sig.exits[breakout]


def test_swing_breakout_against_the_hourly_trend_does_not_enter() -> None:
    close = [300.0 - i for i in range(120)]  # H1 trend down
    close += [181.0, 183.0, 185.0, 184.0, 183.0, 182.0, 181.0, 190.0, 191.0]
    data = bars_from_close(close)
    strategy = SwingTrendMomentumStrategy(SWING)
    ind, sig = run_vectorized(strategy, data)
    assert np.nanmax(ind["swing_high"]) == data.high[122]  # the bump is a swing high
    assert data.close[127] > data.high[122]  # and it is broken...
    assert ind["trend_up"][127] == 0.0
    assert not sig.entries.any()  # ...but not while the hourly trend is down
    assert sig.exits[127]


def test_swing_exit_below_the_last_swing_low() -> None:
    close, _, breakout = _swing_path(+1.0)
    close += [close[-1] - 0.5 * k for k in range(1, 20)]
    data = bars_from_close(close)
    ind, sig = run_vectorized(SwingTrendMomentumStrategy(SWING), data)
    below = np.flatnonzero(data.close < ind["swing_low"])
    assert below.size and below[0] > breakout
    assert sig.exits[below[0]]
    assert not sig.exits[breakout : below[0]].any()


def test_hourly_trend_uses_only_completed_hours() -> None:
    close, _, _ = _swing_path(+1.0)
    data = bars_from_close(close)
    ind, _ = run_vectorized(SwingTrendMomentumStrategy(SWING), data)
    ema = ind["trend_ema"]
    # The value may only change on the last 5m bar of each hour (its close ends the hour).
    changes = np.flatnonzero(np.diff(np.nan_to_num(ema, nan=-1.0)) != 0) + 1
    assert changes.size and (changes % 12 == 11).all()


def test_swing_indicators_are_prefix_invariant() -> None:
    data = from_frame(gbm_bars(3_000, seed=5, freq="5min", sigma=0.002), "SYN/USDT", 5 * MIN_NS)
    strategy = SwingTrendMomentumStrategy()
    _, sig = run_vectorized(strategy, data)
    assert sig.entries.any()
    assert_prefix_invariant(strategy, data, [50, 250, 251, 1_003, 1_500, 2_999])


# -- ML pattern ------------------------------------------------------------------------------
ML = {"training_period": 200, "retrain_every": 50, "horizon": 5, "n_estimators": 10}


def test_ml_model_never_sees_a_label_from_the_future(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[int, list[int]]] = []
    original = ml_pattern.training_samples

    def spy(t: int, training_period: int, horizon: int) -> range:
        rows = original(t, training_period, horizon)
        seen.append((t, list(rows)))
        return rows

    monkeypatch.setattr(ml_pattern, "training_samples", spy)
    data = from_frame(gbm_bars(1_000, seed=1, freq="5min", sigma=0.002), "SYN/USDT", 5 * MIN_NS)
    MLPatternStrategy(ML).indicators(data)
    assert [t for t, _ in seen] == list(range(200, 1_000, 50))
    for t, rows in seen:
        assert max(j + ML["horizon"] for j in rows) <= t  # every label is known at t
        assert max(rows) == t - ML["horizon"]  # and the newest known one is used
        assert min(rows) == t - ML["training_period"] + 1


def test_ml_fit_at_t_ignores_a_crash_right_after_t() -> None:
    """Closes rise up to bar t and crash after it. Labels known at t are all "up", so the model
    fitted at t predicts P(up) = 1; one that peeked at the labels of bars t-h+1..t (which need
    closes after t) would have seen "down" samples."""
    t = 200
    close = np.r_[100.0 + np.arange(t + 1), 300.0 - 5.0 * np.arange(1, 60)]
    data = bars_from_close(close)
    ind, sig = run_vectorized(MLPatternStrategy(ML), data)
    assert ind["p_up"][t] == 1.0
    assert np.isnan(ind["p_up"][:t]).all()
    assert np.flatnonzero(sig.entries)[0] == t  # entry fires at the first retrain point


def test_ml_falling_market_never_enters() -> None:
    close = 500.0 - np.arange(400, dtype=float)
    ind, sig = run_vectorized(MLPatternStrategy(ML), bars_from_close(close))
    assert (ind["p_up"][200:] == 0.0).all()
    assert not sig.entries.any()
    assert sig.exits[200:].all()


def test_ml_is_deterministic() -> None:
    data = from_frame(gbm_bars(1_200, seed=4, freq="5min", sigma=0.002), "SYN/USDT", 5 * MIN_NS)
    ml_pattern.clear_model_cache()
    first = MLPatternStrategy(ML).indicators(data)["p_up"]
    ml_pattern.clear_model_cache()
    second = MLPatternStrategy(ML).indicators(data)["p_up"]
    np.testing.assert_array_equal(first, second)
    finite = first[np.isfinite(first)]
    assert finite.size == 1_000 and 0 <= finite.min() < finite.max() <= 1
    assert np.unique(finite).size > 3  # a real forest, not a constant


def test_ml_indicators_are_prefix_invariant() -> None:
    data = from_frame(gbm_bars(700, seed=6, freq="5min", sigma=0.002), "SYN/USDT", 5 * MIN_NS)
    strategy = MLPatternStrategy(ML)
    # Cuts just after retrain points (inside the horizon) would expose a label from the future.
    assert_prefix_invariant(strategy, data, [150, 201, 203, 205, 252, 400, 699])


# -- forex session ---------------------------------------------------------------------------
def _in(sessions: list[str], *stamps: str) -> list[bool]:
    return session_mask(np.array([utc(s) for s in stamps], dtype=np.int64), sessions).tolist()


def test_london_session_follows_british_summer_time() -> None:
    # UK clocks go forward on 2018-03-25: 08:00 London is 08:00 UTC before, 07:00 UTC after.
    assert _in(["london"], "2018-03-23T07:00Z", "2018-03-23T08:00Z", "2018-03-23T16:59Z") == [
        False,
        True,
        True,
    ]
    assert _in(["london"], "2018-03-23T17:00Z", "2018-03-26T06:00Z", "2018-03-26T07:00Z") == [
        False,
        False,
        True,
    ]
    assert _in(["london"], "2018-03-26T15:00Z", "2018-03-26T16:00Z") == [True, False]


def test_new_york_session_follows_us_daylight_saving() -> None:
    # US clocks go forward on 2018-03-11 (two weeks before the UK).
    assert _in(["new_york"], "2018-03-09T12:00Z", "2018-03-09T13:00Z", "2018-03-09T21:00Z") == [
        False,
        True,
        True,
    ]
    assert _in(["new_york"], "2018-03-12T11:00Z", "2018-03-12T12:00Z", "2018-03-12T21:00Z") == [
        False,
        True,
        False,
    ]
    # Between the two changes London opens at 08:00 UTC and New York at 12:00 UTC.
    assert _in(["london"], "2018-03-12T07:00Z", "2018-03-12T08:00Z") == [False, True]


def test_tokyo_and_sydney_sessions() -> None:
    assert _in(["tokyo"], "2018-07-02T00:00Z", "2018-07-02T08:59Z", "2018-07-02T09:00Z") == [
        True,
        True,
        False,
    ]
    # Sydney leaves daylight saving on 2018-04-01: 08:00 Sydney is 21:00 UTC, then 22:00 UTC.
    assert _in(["sydney"], "2018-03-28T21:00Z", "2018-04-03T21:00Z", "2018-04-03T22:00Z") == [
        True,
        False,
        True,
    ]


def _session_bars(breakout_at: int) -> BarData:
    """Hourly EUR/USD-like bars from Monday 2018-01-08 00:00 UTC: a 1.2000-1.2010 range, a jump
    to 1.2050 at ``breakout_at`` and a quiet range above 1.2045 after it."""
    n = 60
    close = np.where(np.arange(n) % 2 == 0, 1.2000, 1.2010)
    close[breakout_at:] = np.where(np.arange(n - breakout_at) % 2 == 0, 1.2050, 1.2055)
    return bars_from_close(
        close, start="2018-01-08T00:00:00Z", tf_ns=HOUR_NS, pad=0.0005, symbol="EUR/USD"
    )


def test_session_breakout_enters_in_session_and_exits_at_session_end() -> None:
    data = _session_bars(34)  # 2018-01-09 10:00 UTC, London (GMT) session
    strategy = ForexSessionStrategy({"preferred_sessions": ["london"]})
    ind, sig = run_vectorized(strategy, data)
    assert np.flatnonzero(sig.entries).tolist() == [34]
    end = 24 + 16  # the 16:00 UTC bar: the session ends at its close (17:00 London)
    assert ind["in_session"][end] == 1.0 and ind["in_session"][end + 1] == 0.0
    assert not sig.exits[34:end].any()
    assert sig.exits[end]


def test_session_breakout_outside_the_session_or_too_quiet_does_not_enter() -> None:
    data = _session_bars(27)  # 2018-01-09 03:00 UTC: before London opens
    _, sig = run_vectorized(ForexSessionStrategy({"preferred_sessions": ["london"]}), data)
    assert not sig.entries.any()
    quiet = ForexSessionStrategy({"preferred_sessions": ["london"], "volatility_filter": 0.01})
    _, sig = run_vectorized(quiet, _session_bars(34))
    assert not sig.entries.any()


def test_session_indicators_are_prefix_invariant() -> None:
    frame = gbm_bars(2_000, seed=8, freq="1h", price=120.0, sigma=0.002, start="2018-03-01")
    data = from_frame(frame, "EUR/USD", HOUR_NS)
    strategy = ForexSessionStrategy()
    _, sig = run_vectorized(strategy, data)
    assert sig.entries.any()
    assert_prefix_invariant(strategy, data, [10, 21, 22, 500, 1_234, 1_999])


# -- forex news ------------------------------------------------------------------------------
def _calendar(tmp_path: Path, rows: list[str], name: str = "cal.csv") -> str:
    path = tmp_path / name
    path.write_text("timestamp,currency,impact,event\n" + "\n".join(rows) + "\n")
    return str(path)


def _news_bars(breakout_at: int) -> BarData:
    """Hourly bars from 2018-01-10 00:00 UTC ranging 1.2000-1.2010 (high 1.2015), with a jump to
    1.2050 at ``breakout_at`` that holds."""
    n = 24
    close = np.where(np.arange(n) % 2 == 0, 1.2000, 1.2010)
    close[breakout_at:] = 1.2050
    return bars_from_close(
        close, start="2018-01-10T00:00:00Z", tf_ns=HOUR_NS, pad=0.0005, symbol="EUR/USD"
    )


def test_news_breakout_after_the_event_enters_and_exits_at_window_end(tmp_path: Path) -> None:
    cal = _calendar(tmp_path, ["2018-01-10T13:30:00Z,USD,high,Non-Farm Payrolls"])
    strategy = ForexNewsStrategy({"news_sources": [cal]})
    data = _news_bars(13)  # the 13:00 bar closes at 14:00, 30 minutes after the event
    ind, sig = run_vectorized(strategy, data)
    # The range is the 6 bars that closed by 13:30: 06:00-11:00 (the 12:00 bar closes 13:00).
    assert ind["range_high"][13] == pytest.approx(data.high[6:12].max())
    assert ind["range_low"][13] == pytest.approx(data.low[6:12].min())
    assert ind["blackout"][11:14].tolist() == [0.0, 1.0, 0.0]  # closes 12:00, 13:00, 14:00
    # Entries are levels (the engine enters when flat): every in-window bar above the range.
    assert np.flatnonzero(sig.entries).tolist() == [13, 14]
    assert ind["in_window"][13:16].tolist() == [1.0, 1.0, 0.0]  # closes 14:00, 15:00, 16:00
    assert sig.exits[15] and not sig.exits[13:15].any()


def test_news_no_entry_in_the_blackout_or_for_other_events(tmp_path: Path) -> None:
    cal = _calendar(tmp_path, ["2018-01-10T13:30:00Z,USD,high,NFP"])
    # The jump at 12:00 closes at 13:00, 30 minutes before the event: stand aside.
    _, sig = run_vectorized(ForexNewsStrategy({"news_sources": [cal]}), _news_bars(12))
    assert not sig.entries.any()
    for row in ("2018-01-10T13:30:00Z,USD,medium,ISM", "2018-01-10T13:30:00Z,JPY,high,BoJ"):
        other = ForexNewsStrategy({"news_sources": [_calendar(tmp_path, [row], "o.csv")]})
        _, sig = run_vectorized(other, _news_bars(13))
        assert not sig.entries.any()
    low = ForexNewsStrategy(
        {
            "news_sources": [_calendar(tmp_path, ["2018-01-10T13:30:00Z,USD,medium,ISM"], "m.csv")],
            "impact_threshold": "medium",
        }
    )
    _, sig = run_vectorized(low, _news_bars(13))
    assert np.flatnonzero(sig.entries)[0] == 13


def test_news_exit_on_the_opposite_side_of_the_range(tmp_path: Path) -> None:
    cal = _calendar(tmp_path, ["2018-01-10T13:30:00Z,EUR,high,ECB"])
    data = _news_bars(13)
    data.close[14] = 1.1950  # inside the window, below the range low
    _, sig = run_vectorized(ForexNewsStrategy({"news_sources": [cal]}), data)
    assert sig.exits[14] and not sig.exits[13]


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("", "header"),
        ("time,ccy,impact,event\n", "header"),
        ("timestamp,currency,impact,event\n2018-01-10 13:30,USD,high,x\n", "line 2: timestamp"),
        ("timestamp,currency,impact,event\nsoon,USD,high,x\n", "line 2: timestamp"),
        ("timestamp,currency,impact,event\n2018-01-10T13:30Z,DOLLAR,high,x\n", "currency"),
        ("timestamp,currency,impact,event\n2018-01-10T13:30Z,USD,huge,x\n", "impact 'huge'"),
        ("timestamp,currency,impact,event\n2018-01-10T13:30Z,USD,high\n", "4 fields"),
    ],
)
def test_bad_calendar_file_is_one_clear_line(tmp_path: Path, content: str, said: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ParameterError) as err:
        ForexNewsStrategy({"news_sources": [str(path)]})
    assert str(path) in str(err.value) and said in str(err.value)
    assert "\n" not in str(err.value)


def test_bundled_calendar_loads() -> None:
    strategy = ForexNewsStrategy()
    assert len(strategy._events) >= 40
    times = sorted(ts for ts, _, _ in strategy._events)
    assert times[0] >= utc("2018-01-01T00:00Z") and times[-1] < utc("2019-01-01T00:00Z")


def test_news_indicators_are_prefix_invariant() -> None:
    frame = gbm_bars(2_000, seed=9, freq="1h", price=120.0, sigma=0.002, start="2018-01-02")
    data = from_frame(frame, "EUR/USD", HOUR_NS)
    strategy = ForexNewsStrategy({"impact_threshold": "medium"})
    _, sig = run_vectorized(strategy, data)
    assert sig.entries.any()
    cuts = [
        int(np.searchsorted(data.ts, utc(s))) for s in ("2018-01-05T14:00Z", "2018-02-02T14:00Z")
    ]
    assert_prefix_invariant(strategy, data, [5, *cuts, cuts[1] + 1, 1_000, 1_999])
