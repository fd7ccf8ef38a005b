"""Issue 14: a new bar's indicators and signals come from a trailing window.

Every built-in strategy with vectorized indicators/signals is fed its bundled data (the data
``genebot check lookahead`` picks: ``default_data_config``) one bar at a time through
:class:`IncrementalSignals`, and each bar's values must equal the kernel's, computed once over
the whole series. Strategies without vectorized signals must say they have none.

Exact (bit-identical) for every value except those kept as TA-Lib running sums (SMA, STDDEV,
BBANDS): their running total carries the rounding of every bar since the start of the series,
so over a window it differs by a few ulps whatever the window's length (a bigger window does
not help: the error is a random walk that never decays, unlike the EMA/Wilder recursions,
which become bit-identical once the window holds ~37 / alpha bars). Those indicators are
compared to ``RUNNING_SUM_RTOL``; their NaNs must still match exactly, and every signal built
on them must be identical (it is on this data: no crossing falls within rounding of a tie).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from genebot.backtest.runner import assemble
from genebot.backtest.setup import build
from genebot.config.loader import default_data_config, load_config
from genebot.data.feed import BarFeed
from genebot.domain.market import Bar
from genebot.engine.incremental import (
    FLOOR_BARS,
    SIGNAL_FIELDS,
    IncrementalSignals,
    window_for,
)
from genebot.strategies.registry import BUILTIN_MODULES, builtin_catalog
from genebot.testkit import gbm_bars
from genebot.trading.data import BarData, Signals
from genebot.trading.params import Param
from genebot.trading.strategy import Strategy

MINUTE_NS = 60_000_000_000

# Relative tolerances of running-sum indicators (observed maxima on this data in brackets):
# a mean of a running sum differs by ulps (~5e-15); a standard deviation from running sums of
# x and x² loses digits to cancellation, E[x²] - E[x]² (~2e-12), and a z-score divides by it
# (~5e-10 where the deviation is small).
SMA_RTOL = 1e-12
STD_RTOL = 1e-10
ZSCORE_RTOL = 1e-8


@dataclass(frozen=True)
class Case:
    bars: int  # the first bars of the strategy's bundled data that are used
    lead: int = 0  # bars given at once (extend, a history to start from) before one at a time
    params: dict[str, Any] = field(default_factory=dict)
    window: int | None = None  # None: the window the rule derives
    rtol: dict[str, float] = field(default_factory=dict)  # running-sum indicators only


# Every built-in with vectorized signals. ``lead`` keeps the slow ones (a per-bar Python loop
# or time-zone conversion over the window) within the suite's time; the bars after it, well
# past the window, are fed one at a time.
VECTORIZED: dict[str, Case] = {
    "moving_average": Case(4000, rtol={"fast": SMA_RTOL, "slow": SMA_RTOL}),
    "evolved": Case(4000, rtol={"SMA(10)": SMA_RTOL, "SMA(50)": SMA_RTOL}),
    "rsi_strategy": Case(4000),
    "mean_reversion": Case(4000, rtol={"sma": SMA_RTOL, "std": STD_RTOL, "zscore": ZSCORE_RTOL}),
    "multi_indicator": Case(
        4000, rtol={"bb_upper": SMA_RTOL, "bb_middle": SMA_RTOL, "bb_lower": SMA_RTOL}
    ),
    "advanced_momentum": Case(4000),
    "atr_volatility": Case(4000, rtol={"atr_mean": SMA_RTOL}),  # SMA of the (exact) ATR
    # Default parameters derive a 12,500-bar window (25 × training_period 500), more than
    # the 8,928 bundled bars, and refit/predict 50 trees per retrain point in it: here a short
    # training window and few trees keep it at the 2,000-bar floor. The refits every 500 bars
    # are counted from the first bar: the window starts on that grid (align 500), and the
    # bars fed one at a time cross two refits (2,060 and 2,560).
    "ml_pattern": Case(
        3100, lead=2000, params={"training_period": 60, "retrain_every": 500, "n_estimators": 5}
    ),
    "forex_session": Case(3200, lead=2000),
    "forex_news": Case(4000),
    "swing_trend_momentum": Case(7200, lead=6000),  # window 6,000: EMA of hourly closes
    "forex_carry": Case(3200, lead=2000),
}
CALLBACK_ONLY = ("cross_market_arbitrage", "triangular_arbitrage", "crypto_forex_arbitrage")


def strategy_on_default_data(
    key: str, params: dict[str, Any] | None = None
) -> tuple[Strategy, list[BarFeed]]:
    """The strategy bound as in a backtest, with its bundled feeds (as check lookahead)."""
    base = load_config({})
    cfg = default_data_config(base, key)
    assert cfg is not None, f"{key} declares no default_data"
    if params:
        data = cfg.model_dump(by_alias=True)
        data["strategies"][key]["parameters"].update(params)
        cfg = type(cfg).model_validate(data)
    setup = build(cfg, None)
    assemble(cfg, setup)  # context (rates, marks) as in a real run
    (slot,) = setup.slots
    return slot.strategy, slot.feeds


def bar_data(feed: BarFeed, n: int) -> BarData:
    cols = (getattr(feed, c)[:n] for c in ("ts", "open", "high", "low", "close", "volume"))
    return BarData(feed.instrument.symbol, feed.timeframe_ns, *cols)


def bars_of(feed: BarFeed, lo: int, hi: int) -> Iterator[Bar]:
    iid, tf = feed.instrument.id, feed.timeframe_ns
    for i in range(lo, hi):
        yield Bar(
            iid,
            tf,
            int(feed.ts[i]),
            float(feed.open[i]),
            float(feed.high[i]),
            float(feed.low[i]),
            float(feed.close[i]),
            float(feed.volume[i]),
        )


def incremental(strategy: Strategy, feed: BarFeed, **kwargs: Any) -> IncrementalSignals:
    return IncrementalSignals(
        strategy,
        BarData,
        symbol=feed.instrument.symbol,
        timeframe_ns=feed.timeframe_ns,
        **kwargs,
    )


def feed_all(inc: IncrementalSignals, feed: BarFeed, n: int, lead: int = 0) -> None:
    if lead:
        inc.extend(bars_of(feed, 0, lead))
    for i, bar in enumerate(bars_of(feed, lead, n), start=lead):
        row = inc.append(bar)
        assert row.row == i and row.ts == bar.ts


def first_difference(a: np.ndarray, b: np.ndarray, rtol: float) -> int | None:
    """The first row where ``a`` and ``b`` differ (NaN only equals NaN), or None."""
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    close = np.isclose(a, b, rtol=rtol, atol=0.0) if rtol else a == b
    same = (nan_a & nan_b) | (~nan_a & ~nan_b & close)
    bad = np.flatnonzero(~same)
    return int(bad[0]) if bad.size else None


def assert_same_as_full_series(
    strategy: Strategy, feed: BarFeed, inc: IncrementalSignals, case: Case
) -> None:
    n = case.bars
    data = bar_data(feed, n)
    ind = dict(strategy.indicators(data))
    sig = strategy.signals(data, ind)
    assert sig is not None
    assert sorted(inc.indicator_names) == sorted(ind)
    assert len(inc) == n
    for name, values in ind.items():
        full = np.asarray(values, dtype=np.float64)
        row = first_difference(full, inc.indicator(name), case.rtol.get(name, 0.0))
        assert row is None, (
            f"indicator {name!r} differs at bar {row}: full {full[row]!r}, "
            f"incremental {inc.indicator(name)[row]!r} (window {inc.window})"
        )
    produced = [n for n, v in zip(Signals._fields, sig, strict=True) if v is not None]
    assert inc.signal_names == produced
    for name in produced:
        full_sig = np.asarray(getattr(sig, name), dtype=bool)
        bad = np.flatnonzero(full_sig != inc.signal(name))
        assert bad.size == 0, f"signal {name!r} differs at bar {int(bad[0])}"
    last = inc.latest
    assert last is not None and last.row == n - 1 and last.signals is not None
    assert last.signals == {name: bool(getattr(sig, name)[-1]) for name in produced}


# --- every built-in --------------------------------------------------------------------------


def test_every_builtin_is_checked_one_way_or_the_other() -> None:
    keys = {key for key, _module, _cls in BUILTIN_MODULES}
    assert keys == set(VECTORIZED) | set(CALLBACK_ONLY)
    assert not set(VECTORIZED) & set(CALLBACK_ONLY)
    for cls in builtin_catalog().classes:
        vectorized = cls.signals is not Strategy.signals
        assert vectorized == (cls.name in VECTORIZED), cls.name


@pytest.mark.parametrize("key", list(VECTORIZED))
def test_incremental_values_equal_the_full_series(key: str) -> None:
    case = VECTORIZED[key]
    strategy, (feed,) = strategy_on_default_data(key, case.params)
    assert len(feed) >= case.bars
    inc = incremental(strategy, feed, window=case.window)
    if case.window is None:  # the bars fed one at a time run on full windows
        assert case.bars > inc.window + 1000 or key == "ml_pattern", inc.reason
    feed_all(inc, feed, case.bars, case.lead)
    assert_same_as_full_series(strategy, feed, inc, case)


def test_ml_pattern_with_its_default_parameters_on_an_aligned_window() -> None:
    # The defaults derive 12,500 bars; any window that holds a training window, a refit
    # period and the features' warm-up gives the same models. Here 1,000 bars (aligned to
    # retrain_every 250) and fewer trees to stay fast; the bars fed one at a time cross the
    # refit at bar 2,500.
    case = Case(2560, lead=2400, params={"n_estimators": 5}, window=1000)
    strategy, (feed,) = strategy_on_default_data("ml_pattern", case.params)
    inc = incremental(strategy, feed, window=1000)
    assert (inc.window, inc.align) == (1000, 250)
    feed_all(inc, feed, case.bars, case.lead)
    assert_same_as_full_series(strategy, feed, inc, case)


@pytest.mark.parametrize("key", CALLBACK_ONLY)
def test_callback_only_strategies_report_no_incremental_signals(key: str) -> None:
    strategy, feeds = strategy_on_default_data(key)
    for feed in feeds:
        inc = incremental(strategy, feed)
        for bar in bars_of(feed, 0, 300):
            row = inc.append(bar)
            assert row.signals is None and row.indicators == {}
        assert not inc.has_signals
        assert inc.signal_arrays() is None
        assert inc.signal_names == [] and inc.indicator_names == []
        with pytest.raises(KeyError, match="no signal 'entries'"):
            inc.signal("entries")


# --- the window rule -------------------------------------------------------------------------


def test_derived_windows_of_the_builtins() -> None:
    five_minutes, hour = 5 * MINUTE_NS, 60 * MINUTE_NS
    expected = {  # key → (bars, align) on its bundled timeframe
        "moving_average": (FLOOR_BARS, 1),
        "atr_volatility": (FLOOR_BARS, 1),  # 25 × 50 = 1,250 < floor
        "ml_pattern": (12_500, 250),  # 25 × training_period, refits every 250 bars
        "swing_trend_momentum": (6_000, 1),  # 25 × trend_period 20 × 12 bars per trend bar
        "forex_news": (FLOOR_BARS, 1),  # breakout_minutes 120 = 2 hourly bars
        "multi_indicator": (FLOOR_BARS, 1),  # no period parameter (hard-coded 14/26/20)
    }
    catalog = builtin_catalog()
    for key, (bars, align) in expected.items():
        cls = catalog.find(key)
        assert cls is not None
        tf = hour if cls.default_data and cls.default_data[1] == "1h" else five_minutes
        window = window_for(cls(), tf)
        assert (window.bars, window.align) == (bars, align), (key, window.reason)


class _Periods(Strategy):
    name = "periods_for_test"
    period = Param(30, min=1)
    hold_minutes = Param(3000, min=1)  # 3,000 minutes of 1m bars: 3,000 bars
    refit_every = Param(40, min=1)
    other_every = Param(60, min=1)
    random_state = Param(999_999, min=0)  # not period-like
    threshold = Param(2.5)


def test_rule_reads_period_like_parameters_units_and_schedules() -> None:
    window = window_for(_Periods(), MINUTE_NS)
    assert window.bars == 25 * 3000 and window.align == math.lcm(40, 60)
    assert "hold_minutes" in window.reason
    hourly = window_for(_Periods(), 60 * MINUTE_NS)  # 3,000 minutes = 50 hourly bars
    assert hourly.bars == FLOOR_BARS and "= 50 bars" in hourly.reason  # 25 × 50 < the floor


class _Declared(_Periods):
    name = "declared_for_test"
    warmup_bars = 321  # the strategy knows what it needs


def test_a_strategy_can_declare_its_window() -> None:
    window = window_for(_Declared(), MINUTE_NS)
    assert (window.bars, window.align) == (321, 120)
    assert window.reason == "warmup_bars = 321"
    assert incremental(_Declared(), _feed_stub()).window == 321

    class Broken(_Periods):
        warmup_bars = 0

    with pytest.raises(ValueError, match="warmup_bars"):
        window_for(Broken(), MINUTE_NS)


def test_signal_fields_match_the_trading_signals() -> None:
    assert Signals._fields == SIGNAL_FIELDS


# --- mechanics -------------------------------------------------------------------------------


class _Spy(Strategy):
    """SMA crossover that records the length of every window it is given."""

    name = "spy_for_test"
    warmup_bars = 50
    seen: list[int]

    def indicators(self, data: BarData) -> dict[str, np.ndarray]:
        self.seen.append(len(data))
        return {"mean": np.cumsum(data.close) / np.arange(1, len(data) + 1)}

    def signals(self, data: BarData, ind: Any) -> Signals:
        up = data.close > ind["mean"]
        return Signals(up, ~up)


def _gbm_bars(n: int) -> list[Bar]:
    frame = gbm_bars(n, seed=3)
    ts = frame.index.asi8
    cols = [frame[c].to_numpy() for c in ("open", "high", "low", "close", "volume")]
    return [
        Bar("SYN/USDT@sim", MINUTE_NS, int(ts[i]), *(float(c[i]) for c in cols)) for i in range(n)
    ]


def _feed_stub() -> Any:
    """What ``incremental`` reads of a BarFeed, for synthetic 1-minute bars."""
    return SimpleNamespace(instrument=SimpleNamespace(symbol="SYN/USDT"), timeframe_ns=MINUTE_NS)


def test_per_bar_work_is_bounded_by_the_window() -> None:
    spy = _Spy()
    spy.seen = []
    inc = incremental(spy, _feed_stub(), align=8)
    for bar in _gbm_bars(400):
        inc.append(bar)
    assert len(spy.seen) == 400
    assert max(spy.seen) <= 50 + 8 - 1  # W, plus the alignment of its start
    assert spy.seen[:50] == list(range(1, 51))  # a short history: all of it
    assert min(spy.seen[50:]) >= 50
    # The mean of each window, not of the whole history: row i is the mean of its window.
    i = 399
    start = inc.window_start(i)
    closes = inc.column("close")
    assert inc.indicator("mean")[i] == pytest.approx(closes[start : i + 1].mean())


def test_extend_gives_each_row_a_full_window_and_equals_appending() -> None:
    bars = _gbm_bars(3000)
    strategy, (feed,) = strategy_on_default_data("rsi_strategy")
    one = incremental(strategy, feed)
    many = incremental(strategy, feed)
    for bar in bars:
        one.append(bar)
    many.extend(bars[:2500])
    many.extend(bars[2500:2900])
    for bar in bars[2900:]:
        many.append(bar)
    for name in ("rsi",):
        assert np.array_equal(one.indicator(name), many.indicator(name), equal_nan=True)
    for name in ("entries", "exits"):
        assert np.array_equal(one.signal(name), many.signal(name))
    data = many.data()
    assert isinstance(data, BarData) and len(data) == 3000
    assert many.signal_arrays() is not None and len(many.signal_arrays() or ()) == 4


def test_bars_must_move_forward_and_buffers_are_read_only() -> None:
    spy = _Spy()
    spy.seen = []
    inc = incremental(spy, _feed_stub())
    bars = _gbm_bars(3)
    inc.append(bars[1])
    with pytest.raises(ValueError, match="is not after the last one"):
        inc.append(bars[0])
    with pytest.raises(ValueError, match="is not after the last one"):
        inc.extend([bars[2], bars[2]])
    assert len(inc) == 1  # a refused batch appends nothing
    with pytest.raises(ValueError, match="read-only"):
        inc.indicator("mean")[0] = 1.0
    with pytest.raises(IndexError):
        inc.row(5)


class _Failing(_Spy):
    name = "failing_for_test"
    fail_at = 10
    nan_at = -1

    def indicators(self, data: BarData) -> dict[str, np.ndarray]:
        if len(self.seen) == self.fail_at:
            self.seen.append(-1)
            raise RuntimeError("boom")
        return super().indicators(data)

    def signals(self, data: BarData, ind: Any) -> Signals:
        sig = super().signals(data, ind)
        if len(self.seen) - 1 == self.nan_at:
            entries = sig.entries.astype(np.float64)
            entries[-1] = np.nan
            return Signals(entries, sig.exits)
        return sig


def test_a_failing_bar_keeps_its_row_empty_and_later_bars_go_on() -> None:
    strategy = _Failing()
    strategy.seen = []
    inc = incremental(strategy, _feed_stub())
    bars = _gbm_bars(20)
    for bar in bars[:10]:
        inc.append(bar)
    with pytest.raises(RuntimeError, match="boom"):
        inc.append(bars[10])
    assert len(inc) == 11 and inc.latest is not None and inc.latest.row == 10
    assert math.isnan(inc.indicator("mean")[10]) and not inc.signal("entries")[10]
    inc.append(bars[11])
    assert not math.isnan(inc.indicator("mean")[11])


def test_signals_are_checked_like_the_kernel_checks_them() -> None:
    strategy = _Failing()
    strategy.seen = []
    strategy.fail_at, strategy.nan_at = -1, 5
    inc = incremental(strategy, _feed_stub())
    bars = _gbm_bars(8)
    for bar in bars[:5]:
        inc.append(bar)
    with pytest.raises(ValueError, match="entries is NaN at bar 5"):
        inc.append(bars[5])

    class Short(_Spy):
        def indicators(self, data: BarData) -> dict[str, np.ndarray]:
            return {"x": np.zeros(max(0, len(data) - 1))}

    short = Short()
    short.seen = []
    with pytest.raises(ValueError, match=r"indicator 'x' has shape \(0,\), expected \(1,\)"):
        incremental(short, _feed_stub()).append(bars[0])
