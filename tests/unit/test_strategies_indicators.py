"""Built-in strategies batch 1 (RSI, mean reversion, multi-indicator, momentum, ATR breakout):
signals on crafted prices fire on known bars, parameters are checked, indicators are causal."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest

from genebot.core.errors import ParameterError
from genebot.data.catalog import find_data_file
from genebot.strategies.atr_volatility import ATRVolatilityStrategy
from genebot.strategies.mean_reversion import MeanReversionStrategy
from genebot.strategies.momentum import AdvancedMomentumStrategy, held_for
from genebot.strategies.multi_indicator import MultiIndicatorStrategy
from genebot.strategies.rsi_strategy import RSIStrategy
from genebot.trading.data import BarData, Signals
from genebot.trading.strategy import Strategy

MINUTE_NS = 60_000_000_000
STRATEGIES: list[type[Strategy]] = [
    RSIStrategy,
    MeanReversionStrategy,
    MultiIndicatorStrategy,
    AdvancedMomentumStrategy,
    ATRVolatilityStrategy,
]


def bars(close: Sequence[float] | npt.NDArray[np.float64], spread: float = 1.0) -> BarData:
    """1m bars with the given closes; high/low ``spread`` above/below the close."""
    c = np.asarray(close, dtype=np.float64)
    n = c.shape[0]
    ts = np.arange(n, dtype=np.int64) * MINUTE_NS
    return BarData("SYN/USDT", MINUTE_NS, ts, c.copy(), c + spread, c - spread, c, np.ones(n))


def run(strategy: Strategy, data: BarData) -> tuple[dict[str, np.ndarray], Signals]:
    ind = dict(strategy.indicators(data))
    sig = strategy.signals(data, ind)
    assert sig is not None
    return ind, sig


def where(flags: np.ndarray) -> list[int]:
    return np.flatnonzero(flags).tolist()


# --- RSI -------------------------------------------------------------------------------------

FALL = 100.0 - np.arange(11.0)  # ten losses of 1: RSI(3) = 0 from bar 3 on


def test_rsi_enters_on_the_cross_up_through_oversold_and_exits_through_overbought() -> None:
    # RSI(3), Wilder: after the fall avg gain 0, avg loss 1. Bar 11 gains 1: gain 1/3, loss 2/3,
    # RSI 33.3 (crosses 30). Bars 12-14 gain 1: 55.6, 70.4 (crosses 70), 80.2. Bar 15 loses 1:
    # 53.5, crosses down through 70.
    closes = np.concatenate([FALL, [91.0, 92, 93, 94, 93, 92]])
    ind, sig = run(RSIStrategy({"period": 3}), bars(closes))
    assert ind["rsi"][11] == pytest.approx(100 / 3)
    assert ind["rsi"][13] == pytest.approx(100 * 19 / 27)
    assert where(sig.entries) == [11]
    assert where(sig.exits) == [15]


def test_rsi_does_not_enter_on_a_bounce_that_stays_below_oversold() -> None:
    # Bar 11 gains only 0.5: gain 1/6, loss 2/3, RSI 20; then the fall goes on.
    closes = np.concatenate([FALL, [90.5, 89.5, 88.5, 87.5]])
    ind, sig = run(RSIStrategy({"period": 3}), bars(closes))
    assert ind["rsi"][11] == pytest.approx(20.0)
    assert where(sig.entries) == []
    assert where(sig.exits) == []


def test_rsi_never_enters_in_a_market_that_only_rises() -> None:
    _, sig = run(RSIStrategy(), bars(100.0 + np.arange(60.0)))
    assert not sig.entries.any()


# --- mean reversion --------------------------------------------------------------------------

ALTERNATING = np.tile([100.0, 101.0], 10)  # mean 100.5, population SD 0.5: z = ±1


def test_mean_reversion_enters_below_minus_threshold_and_exits_back_above_zero() -> None:
    # Bar 20 drops to 96: z = -2.84 crosses -2. The climb back crosses z = 0 at bar 23 (100).
    # z alternates ±1 before: it crosses 0 upwards on every odd bar, harmless while flat.
    closes = np.concatenate([ALTERNATING, [96.0, 97, 98, 100, 101, 101]])
    ind, sig = run(MeanReversionStrategy({"lookback_period": 10}), bars(closes))
    assert ind["zscore"][19] == pytest.approx(1.0)
    assert ind["zscore"][20] == pytest.approx(-2.8360, abs=1e-4)
    assert where(sig.entries) == [20]
    assert where(sig.exits) == [11, 13, 15, 17, 19, 23]


def test_mean_reversion_ignores_a_dip_that_stays_inside_the_threshold() -> None:
    closes = np.concatenate([ALTERNATING, [99.5, 100.0, 101.0]])
    ind, sig = run(MeanReversionStrategy({"lookback_period": 10}), bars(closes))
    assert ind["zscore"][20] == pytest.approx(-1.673, abs=1e-3)
    assert where(sig.entries) == []


def test_mean_reversion_zscore_is_undefined_on_flat_prices() -> None:
    ind, sig = run(MeanReversionStrategy({"lookback_period": 10}), bars(np.full(30, 100.0)))
    assert np.isnan(ind["zscore"]).all()
    assert not sig.entries.any() and not sig.exits.any()


# --- multi-indicator -------------------------------------------------------------------------

# 40 quiet bars (RSI about 50, tight bands), a crash to 90 and a rally to 111.
CRASH = np.concatenate([100 + np.tile([0.0, 1.0], 20), [98.0, 95, 92, 90, 91, 93, 96, 100, 104]])
CRASH = np.concatenate([CRASH, [108.0, 111, 110]])
# A straight fall, a straight rise and a straight fall again.
V_SHAPE = np.concatenate(
    [100 - np.arange(40.0), 61 + 2 * np.arange(20.0), 99 - 2 * np.arange(15.0)]
)


def test_multi_indicator_default_vote_needs_two_of_three() -> None:
    # Bars 42-43: RSI < 30 and close below the lower band, 2/3 >= 0.5. Bar 50: RSI > 70 and
    # close above the upper band, -2/3. Single votes (MACD flips, band touches) score 1/3.
    ind, sig = run(MultiIndicatorStrategy(), bars(CRASH))
    assert where(ind["vote_rsi"] == 1) == [42, 43]
    assert where(ind["vote_bollinger"] == 1) == [40, 41, 42, 43, 44]
    assert where(sig.entries) == [42, 43]
    assert where(sig.exits) == [50]
    assert ind["score"][42] == pytest.approx(2 / 3)
    assert set(ind) >= {"rsi", "macd_hist", "bb_lower", "score"}
    assert "sma_fast" not in ind


def test_multi_indicator_weights_decide_which_votes_are_enough() -> None:
    bollinger_heavy = MultiIndicatorStrategy(
        {"indicators": ["rsi", "bollinger"], "weights": [1, 3], "threshold": 0.7}
    )
    _, sig = run(bollinger_heavy, bars(CRASH))
    assert where(sig.entries) == [40, 41, 42, 43, 44]  # bollinger alone: 0.75
    assert where(sig.exits) == [49, 50]
    rsi_heavy = MultiIndicatorStrategy(
        {"indicators": ["rsi", "bollinger"], "weights": [3.0, 1.0], "threshold": 0.7}
    )
    _, sig = run(rsi_heavy, bars(CRASH))
    assert where(sig.entries) == [42, 43]
    assert where(sig.exits) == [50]


def test_multi_indicator_sma_cross_and_macd_votes_fire_on_the_turns() -> None:
    sma = MultiIndicatorStrategy({"indicators": ["sma_cross"], "threshold": 1.0})
    ind, sig = run(sma, bars(V_SHAPE))
    assert where(sig.entries) == [50]  # SMA(10) 70.0 > SMA(30) 69.0+ for the first time
    assert where(sig.exits) == [72]
    assert ind["sma_fast"][49] <= ind["sma_slow"][49] and ind["sma_fast"][50] > ind["sma_slow"][50]
    macd = MultiIndicatorStrategy({"indicators": ["macd"], "threshold": 1.0})
    ind, sig = run(macd, bars(V_SHAPE))
    assert where(sig.entries) == [40]  # histogram 0 during the straight fall, > 0 at the turn
    assert where(sig.exits) == [65]
    assert ind["macd_hist"][64] > 0 > ind["macd_hist"][65]


def test_multi_indicator_stays_out_of_a_quiet_market() -> None:
    quiet = 100 + np.tile([0.0, 0.5, 1.0, 0.5], 30)
    _, sig = run(
        MultiIndicatorStrategy({"indicators": ["rsi", "bollinger", "sma_cross"]}), bars(quiet)
    )
    assert not sig.entries.any() and not sig.exits.any()


# --- momentum --------------------------------------------------------------------------------

ACCELERATE = [100.0] * 5 + [101, 103, 106, 110, 113, 115, 116, 116, 115, 113, 110, 108, 107, 107]


def test_momentum_enters_on_confirmed_rising_roc_and_exits_on_confirmed_negative_roc() -> None:
    # ROC(3) in percent: bar 5 +1, bar 6 +3 (second positive bar, rising), 7 +6, 8 +8.9,
    # 9 +9.7, 10 +8.5 (falling), ..., 13 0, 14 -2.6, 15 -5.2 (second negative bar).
    ind, sig = run(
        AdvancedMomentumStrategy({"momentum_period": 3, "confirmation_period": 2}),
        bars(ACCELERATE),
    )
    assert ind["roc"][6] == pytest.approx(3.0)
    assert where(sig.entries) == [6, 7, 8, 9]
    assert where(sig.exits) == [15, 16, 17, 18]


def test_momentum_confirmation_period_delays_the_entry() -> None:
    strategy = AdvancedMomentumStrategy({"momentum_period": 3, "confirmation_period": 3})
    _, sig = run(strategy, bars(ACCELERATE))
    assert where(sig.entries) == [7, 8, 9]
    assert where(sig.exits) == [16, 17, 18]


def test_momentum_does_not_enter_while_momentum_fades() -> None:
    # A straight line up: ROC(3) = 3 / (97 + i) % is positive but shrinks on every bar.
    _, sig = run(AdvancedMomentumStrategy({"momentum_period": 3}), bars(100 + np.arange(40.0)))
    assert not sig.entries.any() and not sig.exits.any()


def test_held_for_counts_consecutive_bars() -> None:
    flags = np.array([1, 1, 0, 1, 1, 1, 0, 1], dtype=bool)
    assert where(held_for(flags, 1)) == [0, 1, 3, 4, 5, 7]
    assert where(held_for(flags, 2)) == [1, 4, 5]
    assert where(held_for(flags, 3)) == [5]
    assert where(held_for(flags[:2], 3)) == []


# --- ATR breakout ----------------------------------------------------------------------------

ATR_SMALL = {"atr_period": 3, "atr_mean_period": 5}


def test_atr_enters_on_a_jump_beyond_the_threshold_and_exits_when_volatility_calms() -> None:
    # High/low ±1 around a flat 100: ATR(3) = 2, so the breakout level is 100 + 1.5 * 2 = 103.
    # Bar 10 closes at 104: entry. Its true range 5 lifts the ATR to 3, then it decays and
    # crosses below its 5-bar mean at bar 13: exit.
    closes = [100.0] * 10 + [104.0] * 12
    ind, sig = run(ATRVolatilityStrategy(ATR_SMALL), bars(closes))
    assert ind["upper"][10] == pytest.approx(103.0)
    assert ind["atr"][10] == pytest.approx(3.0)
    assert where(sig.entries) == [10]
    assert where(sig.exits) == [13]


def test_atr_exits_on_a_drop_beyond_the_threshold() -> None:
    # Bar 12 falls from 104 to 99: the exit level is 104 - 1.5 * ATR(bar 11) = 100.
    closes = [100.0] * 10 + [104.0, 104.0, 99.0]
    ind, sig = run(ATRVolatilityStrategy(ATR_SMALL), bars(closes))
    assert ind["lower"][12] == pytest.approx(100.0)
    assert where(sig.entries) == [10]
    assert where(sig.exits) == [12]


def test_atr_ignores_a_jump_smaller_than_the_threshold() -> None:
    closes = [100.0] * 10 + [102.5] * 5
    _, sig = run(ATRVolatilityStrategy(ATR_SMALL), bars(closes))
    assert where(sig.entries) == []


def test_atr_period_parameter_is_used_despite_the_base_class_attribute() -> None:
    # Strategy.__init__ sets an ``atr_period`` instance attribute (the sizer's) to 14.
    ind, _ = run(ATRVolatilityStrategy({"atr_period": 3}), bars(np.full(20, 100.0)))
    assert np.isnan(ind["atr"][:3]).all() and ind["atr"][3] == pytest.approx(2.0)


# --- parameters ------------------------------------------------------------------------------

OUT_OF_RANGE = [
    (RSIStrategy, {"period": 1}, "period"),
    (RSIStrategy, {"overbought": 101}, "overbought"),
    (MeanReversionStrategy, {"lookback_period": 1}, "lookback_period"),
    (MeanReversionStrategy, {"std_dev_threshold": 0}, "std_dev_threshold"),
    (MultiIndicatorStrategy, {"threshold": 1.5}, "threshold"),
    (MultiIndicatorStrategy, {"weights": 2.0}, "weights"),
    (AdvancedMomentumStrategy, {"momentum_period": 0}, "momentum_period"),
    (AdvancedMomentumStrategy, {"confirmation_period": 2.5}, "confirmation_period"),
    (ATRVolatilityStrategy, {"atr_period": 0}, "atr_period"),
    (ATRVolatilityStrategy, {"volatility_threshold": -1}, "volatility_threshold"),
]
INCONSISTENT = [
    (RSIStrategy, {"oversold": 70, "overbought": 30}, "oversold"),
    (RSIStrategy, {"oversold": 50, "overbought": 50}, "overbought"),
    # Over 5 bars the close is at most sqrt(4) = 2 population SDs from the mean.
    (MeanReversionStrategy, {"lookback_period": 5, "std_dev_threshold": 2.0}, "std_dev_threshold"),
    (MultiIndicatorStrategy, {"indicators": ["rsi", "stoch"]}, "allowed: rsi, macd, bollinger"),
    (MultiIndicatorStrategy, {"indicators": []}, "indicators"),
    (MultiIndicatorStrategy, {"indicators": ["rsi", "rsi"]}, "indicators"),
    (MultiIndicatorStrategy, {"weights": [1.0, 2.0]}, "weights has 2 entries"),
    (MultiIndicatorStrategy, {"weights": [1.0, -1.0, 1.0]}, "weights"),
    (MultiIndicatorStrategy, {"weights": [0, 0, 0]}, "weights"),
    (AdvancedMomentumStrategy, {"momentum_period": 3, "confirmation_period": 4}, "confirmation"),
    (ATRVolatilityStrategy, {"atr_period": 50, "atr_mean_period": 50}, "atr_mean_period"),
]


@pytest.mark.parametrize("cls", STRATEGIES, ids=lambda c: c.name)
def test_unknown_parameter_is_refused(cls: type[Strategy]) -> None:
    with pytest.raises(ParameterError, match="unknown parameter bogus"):
        cls({"bogus": 1})


@pytest.mark.parametrize(("cls", "params", "named"), OUT_OF_RANGE)
def test_out_of_range_value_is_refused(cls: type[Strategy], params: dict, named: str) -> None:
    with pytest.raises(ParameterError, match=named):
        cls(params)


@pytest.mark.parametrize(("cls", "params", "named"), INCONSISTENT)
def test_inconsistent_combination_is_refused(cls: type[Strategy], params: dict, named: str) -> None:
    with pytest.raises(ParameterError, match=named):
        cls(params)


@pytest.mark.parametrize("cls", STRATEGIES, ids=lambda c: c.name)
def test_declared_parameters_defaults_ranges_and_data(cls: type[Strategy]) -> None:
    strategy = cls()  # the defaults pass the strategy's own checks
    assert strategy.name and not cls.allow_short
    for name, param in cls.parameters.items():
        assert param.name == name
        if isinstance(param.default, list):
            continue
        assert param.opt is not None, name
        low, high, step = param.opt
        assert low <= param.default <= high and step > 0, name
        for value in (low, high):
            assert param.min is None or value >= param.min, name
            assert param.max is None or value <= param.max, name
    assert cls.default_data is not None
    symbol, timeframe = cls.default_data
    assert find_data_file("data/sample", symbol, timeframe).exists()


def test_mean_reversion_threshold_just_below_the_bound_is_accepted() -> None:
    strategy = MeanReversionStrategy({"lookback_period": 6, "std_dev_threshold": 2.0})
    assert strategy.std_dev_threshold < math.sqrt(5)


# --- prefix invariance -----------------------------------------------------------------------


def random_walk(n: int, seed: int) -> BarData:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    spread = np.abs(rng.normal(0, 0.005, n)) * close
    data = bars(close)
    return BarData(
        data.symbol,
        data.timeframe_ns,
        data.ts,
        np.concatenate([[close[0]], close[:-1]]),
        close + spread,
        close - spread,
        close,
        rng.uniform(1, 10, n),
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


def same(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype == bool:
        return bool(np.array_equal(a, b))
    return bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


PREFIX_CASES = [
    RSIStrategy(),
    RSIStrategy({"period": 5, "oversold": 40, "overbought": 60}),
    MeanReversionStrategy(),
    MeanReversionStrategy({"lookback_period": 8, "std_dev_threshold": 1.0}),
    MultiIndicatorStrategy({"indicators": ["rsi", "macd", "bollinger", "sma_cross"]}),
    MultiIndicatorStrategy(
        {"indicators": ["macd", "sma_cross"], "weights": [1, 2], "threshold": 0.3}
    ),
    AdvancedMomentumStrategy(),
    AdvancedMomentumStrategy({"momentum_period": 4, "confirmation_period": 1}),
    ATRVolatilityStrategy(),
    ATRVolatilityStrategy({"atr_period": 5, "volatility_threshold": 0.5, "atr_mean_period": 20}),
]


@pytest.mark.parametrize(
    "strategy", PREFIX_CASES, ids=lambda s: f"{s.name}-{'-'.join(map(str, s.params.values()))}"
)
def test_indicators_and_signals_on_a_prefix_equal_the_full_run(strategy: Strategy) -> None:
    data = random_walk(800, seed=7)
    ind, sig = run(strategy, data)
    assert sig.entries.any() and sig.exits.any()  # the walk exercises both signals
    assert sig.short_entries is None and sig.short_exits is None
    for k in (0, 1, 2, 3, 37, 101, 260, 555, 799):
        part_ind, part_sig = run(strategy, prefix(data, k))
        assert set(part_ind) == set(ind)
        for name, values in part_ind.items():
            assert len(values) == k and same(ind[name][:k], values), (name, k)
        for full, part in zip(sig[:2], part_sig[:2], strict=True):
            assert part.dtype == bool and same(full[:k], part), k
