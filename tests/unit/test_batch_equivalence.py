"""The batch path (``BatchRunner.run`` / ``.stats``, with its caches of validated configs and
loaded feeds) equals ``genebot.backtest.run`` exactly, for random parameter sets: trades,
orders, equity and every statistic."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genebot.backtest import run
from genebot.backtest.batch import BatchRunner
from genebot.backtest.overlay import ConfigOverlay
from genebot.config.loader import apply_overrides, load_config
from genebot.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
CRYPTO = ROOT / "data/sample/crypto"
SYMBOLS = {"BTC/USDT": "binance_BTC-USDT_1h.csv", "ETH/USDT": "binance_ETH-USDT_1h.csv"}
STARTS = ("2021-01-01", "2021-01-15", "2021-02-01")
ENDS = ("2021-03-01", "2021-03-20")


def _config(
    strategy: str, params: dict[str, Any], symbols: list[str], risk: bool, **backtest: Any
) -> dict[str, Any]:
    return {
        "risk_management": {"enabled": risk},
        "backtest": {
            "initial_cash": 100_000,
            "data": [
                {"file": str(CRYPTO / SYMBOLS[s]), "symbol": s, "timeframe": "1h"} for s in symbols
            ],
            **backtest,
        },
        "strategies": {
            strategy: {
                "type": strategy,
                "symbols": symbols,
                "timeframes": ["1h"],
                "parameters": params,
            }
        },
    }


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        short = draw(st.integers(2, 40))
        params: dict[str, Any] = {
            "short_period": short,
            "long_period": draw(st.integers(short + 1, 120)),
        }
        strategy = "moving_average"
    else:
        low = draw(st.sampled_from([20.0, 25.0, 30.0, 35.0]))
        params = {
            "period": draw(st.integers(5, 30)),
            "oversold": low,
            "overbought": draw(st.sampled_from([60.0, 70.0, 80.0])),
        }
        strategy = "rsi_strategy"
    symbols = draw(st.sampled_from([["BTC/USDT"], ["BTC/USDT", "ETH/USDT"]]))
    backtest: dict[str, Any] = {
        "start_date": draw(st.sampled_from(STARTS)),
        "end_date": draw(st.sampled_from(ENDS)),
        "fee": draw(st.sampled_from([0.0, 0.001, 0.002])),
        "engine_mode": draw(st.sampled_from(["auto", "per_bar"])),
    }
    if draw(st.booleans()):
        backtest["slippage_bps"] = 5
    return _config(strategy, params, symbols, draw(st.booleans()), **backtest)


def _same_results(a: Any, b: Any) -> None:
    assert a.stats == b.stats
    assert a.final_equity_exact == b.final_equity_exact
    assert a.fees_exact == b.fees_exact
    pd.testing.assert_frame_equal(a.trades, b.trades)
    pd.testing.assert_frame_equal(a.open_trades, b.open_trades)
    pd.testing.assert_frame_equal(a.equity, b.equity)
    assert [(o.client_order_id, o.status, o.filled_qty, o.avg_px) for o in a.order_log] == [
        (o.client_order_id, o.status, o.filled_qty, o.avg_px) for o in b.order_log
    ]


# One runner for every example: its caches (configs, feeds, indicators) carry across runs,
# which is what is under test.
_RUNNER = BatchRunner()


@pytest.fixture(scope="module", autouse=True)
def _open_runner() -> Any:
    with _RUNNER:
        yield


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(configs())
def test_batch_path_equals_single_runs_for_random_parameter_sets(cfg: dict[str, Any]) -> None:
    single = run(copy.deepcopy(cfg))
    stats = _RUNNER.stats(cfg)
    assert stats == single.stats  # every field, the same order
    assert list(stats) == list(single.stats)
    _same_results(_RUNNER.run(cfg), single)


@pytest.mark.parametrize("mode", ["per_bar", "fast"])
def test_engine_mode_override_through_the_overlay(mode: str) -> None:
    cfg = _config("moving_average", {"short_period": 5, "long_period": 30}, ["BTC/USDT"], False)
    cfg["backtest"].update(start_date="2021-01-01", end_date="2021-03-01")
    with BatchRunner(engine_mode=mode) as runner:  # type: ignore[arg-type]
        for short in (5, 7, 5):
            cfg["strategies"]["moving_average"]["parameters"]["short_period"] = short
            assert runner.stats(cfg) == run(cfg, engine_mode=mode).stats  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    st.dictionaries(
        st.sampled_from(["short_period", "long_period", "x", "mode"]),
        st.one_of(
            st.integers(-5, 500),
            st.floats(allow_nan=True, allow_infinity=True),
            st.booleans(),
            st.text(max_size=4),
            st.lists(st.integers(0, 9), max_size=3),
            st.none(),
        ),
    )
)
def test_overlay_equals_load_config_or_raises_the_same_error(params: dict[str, Any]) -> None:
    cfg = _config("moving_average", params, ["BTC/USDT"], False)
    overlay = ConfigOverlay()
    overlay.load(_config("moving_average", {}, ["BTC/USDT"], False))  # the base, cached
    try:
        expected = load_config(cfg)
    except ConfigError as exc:
        with pytest.raises(ConfigError) as raised:
            overlay.load(cfg)
        assert str(raised.value) == str(exc)
        return
    got = overlay.load(cfg)
    assert got == expected
    assert got.model_dump(exclude_unset=True) == expected.model_dump(exclude_unset=True)


def test_overlay_falls_back_to_load_config() -> None:
    overlay = ConfigOverlay(lambda c: apply_overrides(c, engine_mode="per_bar"))
    base = _config("moving_average", {"short_period": 5}, ["BTC/USDT"], False)
    assert overlay.load(base) == apply_overrides(load_config(base), engine_mode="per_bar")
    env = _config(
        "moving_average", {"short_period": "${GENEBOT_TEST_UNSET:-7}"}, ["BTC/USDT"], False
    )
    assert overlay.load(env) == apply_overrides(load_config(env), engine_mode="per_bar")
    assert overlay.load(env).strategies["moving_average"].parameters == {"short_period": 7}
    bad = _config("moving_average", {}, ["BTC/USDT"], False)
    bad["backtest"]["initial_cash"] = -1  # the rest does not validate: load_config's message
    with pytest.raises(ConfigError, match="initial_cash"):
        overlay.load(bad)
    without = _config("moving_average", {}, ["BTC/USDT"], False)
    del without["strategies"]["moving_average"]["parameters"]
    plain = ConfigOverlay()
    plain.load(base)
    got = plain.load(without)
    assert got == load_config(without)
    assert got.model_dump(exclude_unset=True) == load_config(without).model_dump(exclude_unset=True)


def test_a_change_to_one_results_bars_reaches_no_other_result() -> None:
    """The batch path loads the bars once; each result still owns its bars frame."""
    from genebot.backtest import run_many

    configs = [_config("moving_average", {"short_period": s, "long_period": 30}, ["BTC/USDT"],
                       False) for s in (5, 10)]  # fmt: skip
    first, second = run_many(configs)
    (name,) = first.bars
    before = second.bars[name]["close"].copy()
    first.bars[name].loc[first.bars[name].index[0], "close"] = -1.0
    first.bars[name]["volume"] = 0.0
    assert second.bars[name]["close"].equals(before)  # untouched
    assert (second.bars[name]["volume"] != 0).any()
    third = run_many(configs[:1])[0]  # nor the data a later batch loads
    assert third.bars[name]["close"].equals(before)


def test_batch_warnings_name_the_file_as_a_single_run_does() -> None:
    from genebot.backtest import run_many

    cfg = _config("moving_average", {"short_period": 5, "long_period": 30}, ["BTC/USDT"], False)
    single, (batch,) = run(cfg), run_many([cfg])
    assert single.warnings and "binance_BTC-USDT_1h.csv: " in single.warnings[0]  # its gaps
    assert batch.warnings == single.warnings
