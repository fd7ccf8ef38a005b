"""Tests for genebot.reporting.statistics: expected values are computed by hand here."""

from __future__ import annotations

import json
import math
import statistics as pystats

import numpy as np
import pandas as pd
import pytest

from genebot.reporting.statistics import (
    STAT_KEYS,
    compute_stats,
    daily_returns,
    trading_days_per_year,
)

TRADE_COLUMNS = [
    "strategy",
    "symbol",
    "side",
    "entry_time",
    "entry_price",
    "exit_time",
    "exit_price",
    "quantity",
    "pnl",
    "pnl_pct",
    "fees",
    "exit_reason",
]


def make_equity(values: list[float], index: pd.DatetimeIndex) -> pd.DataFrame:
    frame = pd.DataFrame({"equity": values, "cash": values}, index=index, dtype=float)
    frame["drawdown"] = frame["equity"] / frame["equity"].cummax() - 1.0
    return frame


def no_trades() -> pd.DataFrame:
    return pd.DataFrame(columns=TRADE_COLUMNS)


def make_trades(pnl: list[float], pnl_pct: list[float], hours: list[int]) -> pd.DataFrame:
    entry = pd.date_range("2024-01-01", periods=len(pnl), freq="1D", tz="UTC")
    exit_ = entry + pd.to_timedelta(hours, unit="h")
    return pd.DataFrame(
        {
            "strategy": "s",
            "symbol": "BTC/USDT",
            "side": "long",
            "entry_time": entry,
            "entry_price": 100.0,
            "exit_time": exit_,
            "exit_price": 100.0,
            "quantity": 1.0,
            "pnl": pnl,
            "pnl_pct": pnl_pct,
            "fees": 0.1,
            "exit_reason": "signal",
        }
    )


def run(
    equity: pd.DataFrame,
    trades: pd.DataFrame | None = None,
    initial: float = 100.0,
    **kwargs: float,
) -> dict[str, float | int | str | None]:
    return compute_stats(
        equity,
        no_trades() if trades is None else trades,
        initial_equity=initial,
        fees=kwargs.pop("fees", 0.0),
        in_market=np.zeros(len(equity), dtype=bool),
        **kwargs,
    )


DAYS = pd.date_range("2024-01-01", periods=5, freq="1D", tz="UTC")
CURVE = [100.0, 110.0, 99.0, 105.0, 120.0]
# Daily returns by hand, the first day measured against the initial equity of 100.
RETURNS = [0.0, 0.1, 99 / 110 - 1, 105 / 99 - 1, 120 / 105 - 1]


def test_keys_in_order_and_plain_types() -> None:
    stats = run(make_equity(CURVE, DAYS))
    assert tuple(stats) == STAT_KEYS
    for value in stats.values():
        assert value is None or type(value) in (float, int, str)


def test_period_fields() -> None:
    stats = run(make_equity(CURVE, DAYS))
    assert stats["start"] == "2024-01-01T00:00:00Z"
    assert stats["end"] == "2024-01-05T00:00:00Z"
    assert stats["duration"] == 4 * 86_400
    assert stats["bars"] == 5
    assert stats["initial_equity"] == 100.0
    assert stats["final_equity"] == 120.0


def test_returns_and_drawdown_by_hand() -> None:
    stats = run(make_equity(CURVE, DAYS))
    mean = sum(RETURNS) / 5
    std = math.sqrt(sum((r - mean) ** 2 for r in RETURNS) / 4)
    downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in RETURNS) / 5)
    cagr = 1.2 ** (365.25 / 4) - 1
    assert stats["total_return"] == pytest.approx(0.2)
    assert stats["annual_volatility"] == pytest.approx(std * math.sqrt(365))
    assert stats["sharpe"] == pytest.approx(mean / std * math.sqrt(365))
    assert stats["sortino"] == pytest.approx(mean / downside * math.sqrt(365))
    assert stats["cagr"] == pytest.approx(cagr)
    assert stats["max_drawdown"] == pytest.approx(-0.1)
    # Peak on Jan 2 (110), underwater at 99 and 105, back above on Jan 5.
    assert stats["max_drawdown_duration"] == 3 * 86_400
    assert stats["avg_drawdown"] == pytest.approx(-0.1)
    assert stats["calmar"] == pytest.approx(cagr / 0.1, rel=1e-9)


def test_sharpe_uses_periods_per_year_and_risk_free_rate() -> None:
    stats = run(make_equity(CURVE, DAYS), periods_per_year=252.0, risk_free_rate=0.05)
    rf_daily = 1.05 ** (1 / 252) - 1
    excess = [r - rf_daily for r in RETURNS]
    expected = pystats.mean(excess) / pystats.stdev(RETURNS) * math.sqrt(252)
    assert stats["sharpe"] == pytest.approx(expected)


def test_bar_size_does_not_change_daily_figures() -> None:
    hourly_index = pd.date_range("2024-01-01", "2024-01-05 23:00", freq="1h", tz="UTC")
    # Wiggle inside each day, but end every day on the same value as the daily curve.
    closes = np.repeat(CURVE, 24).astype(float)
    closes[np.arange(len(closes)) % 24 != 23] *= 0.97
    hourly = run(make_equity(list(closes), hourly_index))
    daily_index = DAYS + pd.Timedelta(hours=23)
    daily = run(make_equity(CURVE, daily_index))
    for key in ("sharpe", "sortino", "annual_volatility"):
        assert hourly[key] == pytest.approx(daily[key])
    assert hourly["bars"] == 120


def test_daily_returns_skip_days_without_bars() -> None:
    index = pd.DatetimeIndex(["2024-01-05 12:00", "2024-01-08 12:00"], tz="UTC")
    returns = daily_returns(pd.Series([110.0, 121.0], index=index), 100.0)
    assert list(returns.round(12)) == [0.1, 0.1]


def test_drawdown_duration_unrecovered_runs_to_the_end() -> None:
    index = pd.date_range("2024-01-01", periods=8, freq="1h", tz="UTC")
    stats = run(make_equity([100, 101, 90, 101, 95, 97, 98, 99], index))
    # Dip 1: peak 01:00, recovered 03:00 (2 h). Dip 2: peak 03:00, never recovered,
    # so it runs to the last bar at 07:00 (4 h).
    assert stats["max_drawdown_duration"] == 4 * 3_600
    assert stats["max_drawdown"] == pytest.approx(90 / 101 - 1)
    assert stats["avg_drawdown"] == pytest.approx(((90 / 101 - 1) + (95 / 101 - 1)) / 2)


def test_trade_statistics_by_hand() -> None:
    pnl = [10.0, -5.0, 20.0, -5.0]
    pnl_pct = [0.1, -0.05, 0.2, -0.05]
    stats = run(make_equity(CURVE, DAYS), make_trades(pnl, pnl_pct, [1, 2, 3, 6]))
    assert stats["trades"] == 4
    assert stats["win_rate"] == 0.5
    assert stats["profit_factor"] == 3.0
    assert stats["expectancy"] == 5.0
    assert stats["best_trade"] == 0.2
    assert stats["worst_trade"] == -0.05
    assert stats["avg_trade"] == pytest.approx(0.05)
    assert stats["sqn"] == pytest.approx(2 * 5.0 / pystats.stdev(pnl))
    assert stats["avg_trade_duration"] == 3 * 3_600


def test_profit_factor_only_winners_is_none_only_losers_is_zero() -> None:
    equity = make_equity(CURVE, DAYS)
    winners = run(equity, make_trades([1.0, 2.0], [0.01, 0.02], [1, 1]))
    assert winners["profit_factor"] is None
    assert winners["win_rate"] == 1.0
    losers = run(equity, make_trades([-1.0, -2.0], [-0.01, -0.02], [1, 1]))
    assert losers["profit_factor"] == 0.0
    assert losers["win_rate"] == 0.0


def test_zero_trades_gives_none_and_valid_json() -> None:
    stats = run(make_equity(CURVE, DAYS))
    assert stats["trades"] == 0
    for key in (
        "win_rate",
        "best_trade",
        "worst_trade",
        "avg_trade",
        "profit_factor",
        "expectancy",
        "sqn",
        "avg_trade_duration",
    ):
        assert stats[key] is None, key
    json.dumps(stats, allow_nan=False)


def test_flat_equity_gives_none_and_valid_json() -> None:
    index = pd.date_range("2024-01-01", periods=10 * 24, freq="1h", tz="UTC")
    stats = run(make_equity([100.0] * len(index), index), make_trades([0.0], [0.0], [1]))
    assert stats["sharpe"] is None
    assert stats["sortino"] is None
    assert stats["annual_volatility"] is None
    assert stats["calmar"] is None
    assert stats["sqn"] is None
    assert stats["profit_factor"] is None
    assert stats["max_drawdown"] == 0.0
    assert stats["max_drawdown_duration"] == 0
    assert stats["avg_drawdown"] == 0.0
    assert stats["total_return"] == 0.0
    assert stats["cagr"] == 0.0
    json.dumps(stats, allow_nan=False)


def test_single_day_and_single_bar() -> None:
    index = pd.date_range("2024-01-01", periods=5, freq="1h", tz="UTC")
    stats = run(make_equity([100.0, 101.0, 99.0, 102.0, 103.0], index))
    assert stats["sharpe"] is None
    assert stats["sortino"] is None
    json.dumps(stats, allow_nan=False)
    one = run(make_equity([100.0], index[:1]))
    assert one["cagr"] is None
    assert one["duration"] == 0
    json.dumps(one, allow_nan=False)


def test_wiped_out_account_does_not_crash() -> None:
    stats = run(make_equity([100.0, 50.0, 0.0], DAYS[:3]))
    assert stats["total_return"] == -1.0
    assert stats["cagr"] == -1.0
    json.dumps(stats, allow_nan=False)


def test_exposure_fees_and_rounding() -> None:
    equity = make_equity([100.0, 100.0 + 1 / 3, 101.0, 102.0], DAYS[:4])
    stats = compute_stats(
        equity,
        no_trades(),
        initial_equity=100,
        fees=1.23456789012345,
        in_market=np.array([True, False, True, True]),
    )
    assert stats["exposure"] == 0.75
    assert stats["fees"] == 1.23456789012345  # money passed in is kept (stats.json: exact)
    assert stats["final_equity"] == 102.0
    assert isinstance(stats["initial_equity"], float)
    equity_third = make_equity([100.0, 100.0 + 1 / 3], DAYS[:2])
    third = run(equity_third)
    assert third["total_return"] == 0.0033333333  # equity is taken to 1e-8 first
    assert repr(third["final_equity"]) == "100.3333333"


def test_naive_index_is_taken_as_utc() -> None:
    stats = run(make_equity(CURVE, DAYS.tz_localize(None)))
    assert stats["start"] == "2024-01-01T00:00:00Z"
    assert stats["sharpe"] == run(make_equity(CURVE, DAYS))["sharpe"]


def test_bad_input_raises_value_error() -> None:
    equity = make_equity(CURVE, DAYS)
    with pytest.raises(ValueError, match="in_market"):
        compute_stats(
            equity, no_trades(), initial_equity=100.0, fees=0.0, in_market=np.zeros(2, bool)
        )
    with pytest.raises(ValueError, match="no rows"):
        run(equity.iloc[:0])
    with pytest.raises(ValueError, match="initial_equity"):
        run(equity, initial=0.0)


def test_a_wiped_out_account_has_no_sharpe_sortino_or_volatility() -> None:
    """Returns of negative equity change sign: -80,000 → -40,000 would read as a gain."""
    days = pd.date_range("2024-01-01", periods=6, freq="1D", tz="UTC")
    stats = run(
        make_equity([90_000.0, 40_000.0, -20_000.0, -80_000.0, -40_000.0, -60_000.0], days),
        initial=100_000.0,
    )
    assert (stats["sharpe"], stats["sortino"], stats["annual_volatility"]) == (None, None, None)
    assert stats["total_return"] == -1.6 and stats["cagr"] == -1.0
    assert stats["max_drawdown"] == -1.8  # below -100 %: a margin account is not liquidated


def test_float_noise_in_a_flat_account_is_no_risk() -> None:
    """Equity that only differs in the 16th digit (float sums of exact amounts) is flat."""
    days = pd.date_range("2024-01-01", periods=6, freq="1D", tz="UTC")
    noisy = [948_700.8, 948_700.7999999999, 948_700.8, 948_700.7999999999, 948_700.8, 948_700.8]
    stats = run(make_equity(noisy, days), initial=948_700.8)
    assert (stats["sharpe"], stats["sortino"], stats["annual_volatility"]) == (None, None, None)
    assert (stats["max_drawdown"], stats["max_drawdown_duration"]) == (0.0, 0)


def test_a_loss_on_the_first_bar_is_a_drawdown_from_the_initial_equity() -> None:
    days = pd.date_range("2024-01-01", periods=3, freq="1D", tz="UTC")
    stats = run(make_equity([99.0, 98.5, 98.0], days), initial=100.0)
    assert stats["max_drawdown"] == -0.02


def test_cagr_needs_at_least_a_day() -> None:
    hours = pd.date_range("2024-01-01", periods=6, freq="1h", tz="UTC")
    assert run(make_equity([100.0, 101, 102, 103, 104, 105], hours))["cagr"] is None
    day = pd.date_range("2024-01-01", periods=1_440, freq="1min", tz="UTC")  # 00:00 .. 23:59
    assert run(make_equity(list(np.linspace(100.0, 101.0, 1_440)), day))["cagr"] is not None


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (pd.date_range("2024-01-01", periods=500, freq="1h", tz="UTC"), 365.0),  # every day
        (pd.bdate_range("2024-01-01", periods=260, tz="UTC"), 365 * 5 / 7),  # weekdays
        (pd.date_range("2024-01-01", periods=53, freq="7D", tz="UTC"), 365 / 7),  # weekly
    ],
    ids=["crypto", "weekdays", "weekly"],
)
def test_trading_days_per_year_follow_the_days_with_bars(
    index: pd.DatetimeIndex, expected: float
) -> None:
    assert trading_days_per_year(index) == pytest.approx(expected, rel=0.03)
