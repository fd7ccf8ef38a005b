"""Errors in strategy code are caught, counted and named; the run goes on (or the strategy is
disabled when its set-up fails), whatever the code raises."""

from __future__ import annotations

import pytest

import genebot.backtest as bt
from genebot.testkit import gbm_bars, ma_config

DATA = {"SYN/USDT": gbm_bars(2_000, seed=4)}


def _cfg(kind: str) -> dict:
    cfg = ma_config("SYN/USDT", "1m", 1.0)
    cfg["strategies"]["moving_average"]["type"] = f"strategies_for_tests:{kind}"
    return cfg


def test_sys_exit_and_an_unprintable_error_in_on_bar_do_not_end_the_run() -> None:
    result = bt.run(_cfg("ExitsTheProcess"), DATA)
    assert result.stats["strategy_errors"] == 2 and result.stats["bars"] == 2_000
    assert result.strategy_errors["moving_average"] == [
        "moving_average.on_bar: SystemExit: 3",
        "moving_average.on_bar: _Unprintable: <_Unprintable whose message cannot be shown>",
    ]
    assert len(result.trades) > 0  # it went on trading after both


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("OffByOneSignals", "entries has shape (1999,), expected (2000,): one per bar"),
        ("NaNSignals", "entries is NaN at bar 0; signals are true or false"),
    ],
)
@pytest.mark.parametrize("mode", ["per_bar", "fast"])
def test_malformed_signals_disable_the_strategy_with_the_reason(
    kind: str, message: str, mode: str
) -> None:
    result = bt.run(_cfg(kind), DATA, engine_mode=mode)
    [error] = result.strategy_errors["moving_average"]
    assert error == f"moving_average.signals: ValueError: {message}"
    assert result.stats["orders"] == 0


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("nan_quantity", "quantity=nan must be a finite number > 0"),
        ("bool_quantity", "quantity=True must be a number, not true/false"),
        ("numpy_bool", "quantity=np.True_ must be a number, not true/false"),
        ("sub_lot", "quantity=1e-12 is under one lot of 0.00000001"),
        ("zero_limit", "limit=0.0 must be a finite number > 0"),
        ("negative_stop_loss", "stop_loss=-0.5 must be a finite number > 0"),
        ("stop_loss_over_one", "stop_loss=2.0 must be a fraction between 0 and 1 (0.02 = 2 %)"),
    ],
)
def test_an_order_with_bad_arguments_is_an_error_naming_the_argument(
    case: str, message: str
) -> None:
    """Never an order at a nonsense level (a 'stop-loss' above a long's entry, a limit at 0)."""
    cfg = _cfg("OrderOnBar30")
    cfg["strategies"]["moving_average"]["parameters"] = {"case": case}
    result = bt.run(cfg, DATA)
    assert result.strategy_errors["moving_average"] == [
        f"moving_average.on_bar: ValueError: {message}"
    ]
    assert result.stats["orders"] == 0


def test_numpy_numbers_are_numbers() -> None:
    cfg = _cfg("OrderOnBar30")
    cfg["strategies"]["moving_average"]["parameters"] = {"case": "numpy_quantity"}
    result = bt.run(cfg, DATA)
    assert result.strategy_errors == {} and result.orders["quantity"].iloc[0] == "2.00000000"
