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
