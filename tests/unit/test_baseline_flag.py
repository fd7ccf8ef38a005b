"""Seed 001's red flag "performance more than 20 % worse than paper trading" as a scenario
table: nothing before both sides have their minimum trades, a metric this much worse fires
(naming it), a smaller shortfall does not, a negative baseline compares by its magnitude, and
the flag fires once per strategy."""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

import pytest

from genebot.monitoring.baseline import Baseline, BaselineFlag, aligned, figures, worse


class T(NamedTuple):
    strategy_id: str
    pnl: Decimal
    entry_price: Decimal = Decimal(100)
    quantity: Decimal = Decimal(1)
    entry_ts: int = 0
    exit_ts: int = 1


def trades(wins: int, losses: int, win: str = "2", loss: str = "-1", sid: str = "s") -> list[T]:
    return [T(sid, Decimal(win))] * wins + [T(sid, Decimal(loss))] * losses


def test_figures_of_round_trips() -> None:
    got = figures(trades(3, 1))
    assert got == pytest.approx({"win_rate": 0.75, "profit_factor": 6.0,
                                 "avg_trade_return": 0.0125, "trades": 4.0})  # fmt: skip
    assert figures([]) == {} and figures(trades(2, 0))["profit_factor"] == 100.0


@pytest.mark.parametrize(
    ("live", "base", "fires"),
    [
        (0.30, 0.55, True),  # 45 % below
        (0.45, 0.55, False),  # 18 % below: within 20 %
        (0.43, 0.55, True),  # 21.8 % below
        (0.60, 0.55, False),  # better
        (-0.013, -0.01, True),  # a losing baseline: 30 % more negative
        (-0.011, -0.01, False),
    ],
)
def test_worse_by_more_than_the_allowed_fraction(live: float, base: float, fires: bool) -> None:
    assert worse(live, base, 0.20) is fires


ALL = ("win_rate", "profit_factor", "avg_trade_return")


def _flag(
    base: list[T], min_trades: int = 10, z: float = 0.0, metrics: tuple[str, ...] = ALL
) -> BaselineFlag:
    baseline = Baseline("s", base, "backtest run 7")
    return BaselineFlag({"s": baseline}, metrics, 0.20, min_trades, "stop_deployment", z)


def test_nothing_is_compared_before_both_sides_have_their_minimum() -> None:
    flag = _flag(trades(8, 2))  # 10 trades, 80 % winners
    assert flag.check(trades(1, 8)) == []  # 9 trades: too few
    assert flag.last["s"]["compared"] is False
    assert _flag(trades(4, 2)).check(trades(1, 20)) == []  # the baseline has 6: too few


def test_a_worse_strategy_fires_once_naming_the_metrics() -> None:
    flag = _flag(trades(8, 2))
    (fired,) = flag.check(trades(3, 7))
    assert fired.rule == "baseline_degradation" and fired.severity == "critical"
    assert fired.action == "stop_deployment" and fired.builtin
    assert "win rate 0.3 vs 0.8" in fired.message and "backtest run 7" in fired.message
    assert "after 10 trades" in fired.message and fired.values["baseline_win_rate"] == 0.8
    assert flag.check(trades(3, 8)) == []  # once
    assert flag.last["s"]["worse"] == ["win_rate", "profit_factor", "avg_trade_return"]


def test_a_strategy_as_good_as_its_baseline_and_other_strategies_do_not_fire() -> None:
    flag = _flag(trades(8, 2))
    assert flag.check(trades(8, 2) + trades(0, 30, sid="other")) == []
    assert flag.last["s"]["compared"] is True and flag.last["s"]["worse"] == []
    assert "other" not in flag.last  # no baseline: not compared


def test_a_short_unlucky_streak_is_not_flagged_at_95_percent_confidence() -> None:
    z = 1.6448536269514722  # one-sided 95 %
    bounded = ("win_rate", "avg_trade_return")  # the default metrics (they have a bound)
    assert _flag(trades(6, 4), z=z, metrics=bounded).check(trades(4, 6)) == []  # luck?
    assert len(_flag(trades(6, 4), metrics=bounded).check(trades(4, 6))) == 1  # estimates
    (fired,) = _flag(trades(60, 40), min_trades=30, z=z, metrics=bounded).check(trades(20, 80))
    assert "win rate 0.2 vs 0.6" in fired.message  # 100 trades at 20 %: not luck


def test_a_baseline_over_the_same_period_is_compared_over_that_period_only() -> None:
    early = [T("s", Decimal(-1), entry_ts=i, exit_ts=i + 1) for i in range(10)]
    late = [T("s", Decimal(5), entry_ts=100 + i, exit_ts=101 + i) for i in range(30)]
    assert aligned(early + late, early) == early  # the same period: like with like
    assert _flag(early + late).check(early) == []
    other = [T("s", Decimal(-1), entry_ts=1000 + i, exit_ts=1001 + i) for i in range(10)]
    assert aligned(early + late, other) == early + late  # another period: all of it
    assert len(_flag(early + late).check(other)) == 1
