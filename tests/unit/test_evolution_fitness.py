"""Evolution's fitness pieces: the split, the objectives' constraints and the deflated Sharpe."""

from __future__ import annotations

import numpy as np
import pytest

from genebot.core.errors import GenebotError
from genebot.evolution.fitness import FoldScore, Split, deflated_sharpe, objectives
from genebot.evolution.genome import grid, param_space
from genebot.strategies.moving_average import MovingAverageStrategy


def test_split_cuts_consecutive_folds_before_the_held_out_tail() -> None:
    split = Split.of(1000, 3, 0.2)
    assert split.holdout_start == 800
    assert split.bounds == (0, 266, 533, 800)
    with pytest.raises(GenebotError, match="too few"):
        Split.of(300, 3, 0.2)


def test_too_few_trades_rank_below_any_candidate_with_enough() -> None:
    poor = [FoldScore(9.0, -0.01, 1, 0.5)]
    enough = [FoldScore(-3.0, -0.5, 10, -0.2)]
    assert objectives(poor, 0, 5, 0.0)[0] < objectives(enough, 0, 5, 0.0)[0]


def test_parsimony_prefers_the_smaller_of_two_equal_candidates() -> None:
    folds = [FoldScore(1.0, -0.1, 6, 0.1), FoldScore(2.0, -0.2, 6, 0.2)]
    small, big = objectives(folds, 6, 5, 0.01), objectives(folds, 20, 5, 0.01)
    assert small[0] == pytest.approx(1.5 - 0.06) and big[0] < small[0]
    assert small[1:] == (-0.2, 12.0)  # worst fold drawdown, all trades


def test_deflated_sharpe_falls_with_more_trials_and_rises_with_skill() -> None:
    rng = np.random.default_rng(1)
    returns = rng.normal(0.002, 0.01, 365)
    trials = list(rng.normal(0.0, 1.0, 1000))
    few = deflated_sharpe(returns, trials[:10], 365)
    many = deflated_sharpe(returns, trials, 365)
    assert few is not None and many is not None and 0 < many < few < 1
    better = deflated_sharpe(returns + 0.002, trials, 365)
    assert better is not None and better > many
    assert deflated_sharpe(np.zeros(50), trials, 365) is None  # no spread
    assert deflated_sharpe(returns, trials[:1], 365) is None  # one trial: nothing to deflate


def test_parameter_space_is_the_declared_optimization_grid() -> None:
    space = param_space(MovingAverageStrategy.parameters)
    assert space["short_period"] == list(range(5, 51))
    assert space["long_period"] == list(range(10, 201, 5))
    assert grid(MovingAverageStrategy.parameters["short_period"])[0] == 5
