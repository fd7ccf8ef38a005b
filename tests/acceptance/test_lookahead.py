"""The lookahead (prefix-invariance) check passes honest strategies and catches cheaters."""

from __future__ import annotations

import pytest

from genebot.backtest.lookahead import check_lookahead
from genebot.testkit import gbm_bars, ma_config


def _cfg(kind: str | None = None) -> dict:
    cfg = ma_config("SYN/USDT", "1m", 1.0)
    if kind:
        cfg["strategies"]["moving_average"]["type"] = f"strategies_for_tests:{kind}"
    return cfg


DATA = {"SYN/USDT": gbm_bars(4_000, seed=2)}


@pytest.mark.parametrize("kind", [None, "ProtectedMA", "LimitEntryMA"])
def test_honest_strategies_pass(kind: str | None) -> None:
    report = check_lookahead(_cfg(kind), DATA)
    assert report.passed, report.problems
    assert len(report.cutoffs) == 4


def test_indicator_that_reads_the_future_is_caught() -> None:
    report = check_lookahead(_cfg("PeeksIndicator"), DATA)
    assert not report.passed
    assert "indicator 'fast'" in report.problems[0]
    assert "reads the future" in report.problems[0]


def test_callback_that_asks_for_a_future_bar_is_refused() -> None:
    report = check_lookahead(_cfg("PeeksInCallback"), DATA)
    assert not report.passed
    assert "read a future bar" in report.problems[0]


@pytest.mark.parametrize(
    ("kind", "found"),
    [
        ("PeeksInSignals", "signal 'exits' on SYN/USDT (1m bars) changes at bar"),
        ("DailyRange", "indicator 'fast' on SYN/USDT (1m bars) changes at bar"),
        ("WarmupFill", "indicator 'slow' on SYN/USDT (1m bars) changes at bar 0"),
    ],
    ids=["signals", "whole-day-resample", "warm-up-backfill"],
)
def test_vectorized_lookahead_is_caught_at_any_cut(kind: str, found: str) -> None:
    """Signals are compared like indicators, on prefixes of many lengths: tiny ones inside the
    warm-up and ones off the day grid (a whole-day leak is invisible at midnight cuts)."""
    report = check_lookahead(_cfg(kind), {"SYN/USDT": gbm_bars(5_760, seed=2)})  # 4 days
    assert not report.passed
    assert found in report.problems[0] and report.problems[0].endswith("it reads the future")


def test_a_future_read_after_other_errors_is_still_caught() -> None:
    report = check_lookahead(_cfg("PeeksAfterErrors"), DATA)
    assert "PeeksAfterErrors" not in report.problems[0]  # named by its config key
    assert report.problems[0].startswith("moving_average read a future bar: ")


def test_a_strategy_that_raises_is_not_passed() -> None:
    report = check_lookahead(_cfg("Explodes"), DATA)
    assert report.problems == [
        "moving_average raised errors (first: moving_average.on_bar: RuntimeError: boom); code "
        "that fails cannot be checked"
    ]


def test_closing_when_the_data_ends_is_no_lookahead() -> None:
    report = check_lookahead(_cfg("ClosesOnStop"), DATA)
    assert report.passed, report.problems


def test_an_unseeded_strategy_is_called_nondeterministic_not_a_cheat() -> None:
    report = check_lookahead(_cfg("Unseeded"), DATA)
    [problem] = report.problems
    assert problem.startswith("two runs on the same data give different orders (first at order")
    assert "not deterministic (seed its random numbers)" in problem


def test_several_timeframes_are_each_cut_by_their_close() -> None:
    """5m and 1h bars of one symbol: each feed gets its own prefix (an hourly bar still open at
    the cut is not in it); an honest strategy passes."""
    cfg = ma_config("SYN/USDT", "5m", 1.0)
    cfg["strategies"]["moving_average"]["timeframes"] = ["5m", "1h"]
    five = gbm_bars(4_032, seed=5, freq="5min")
    hourly = five.resample("1h").agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    )
    data = {"SYN/USDT:5m": five, "SYN/USDT:1h": hourly}
    report = check_lookahead(cfg, data)
    assert report.passed, report.problems


def test_a_cut_too_short_for_the_set_up_is_skipped_not_failed() -> None:
    report = check_lookahead(_cfg("NeedsManyBars"), DATA)  # 4,000 bars: the 25 % cut has 1,000
    assert report.passed, report.problems
    assert report.cutoffs[0].endswith("(skipped: too few bars for the strategy's set-up)")
    assert not report.cutoffs[1].endswith(")")
