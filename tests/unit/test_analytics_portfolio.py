"""The portfolio math of genebot.analytics.portfolio on made-up daily returns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genebot.analytics import portfolio


def _returns(seed: int = 1, days: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 0.01, days)
    return pd.DataFrame(
        {
            "a": base + rng.normal(0.001, 0.002, days),  # near-copy of b
            "b": base + rng.normal(0.0005, 0.002, days),
            "c": rng.normal(0.002, 0.03, days),  # volatile, independent
            "flat": np.zeros(days),
        }
    )


def test_correlation_symmetric_unit_diagonal_and_flat_column() -> None:
    corr = portfolio.correlation(_returns())
    values = corr.to_numpy()
    assert np.allclose(values, values.T)
    assert np.allclose(np.diag(values), 1.0)
    assert corr.loc["a", "b"] > 0.9
    assert corr.loc["flat", "a"] == 0.0


@pytest.mark.parametrize("method", portfolio.METHODS)
def test_weights_sum_to_one_within_bounds(method: str) -> None:
    frame = _returns().drop(columns="flat")
    w = portfolio.weights(frame, method, 0.1, 0.6)
    assert sum(w.values()) == pytest.approx(1.0)
    assert all(0.1 - 1e-9 <= x <= 0.6 + 1e-9 for x in w.values())


def test_risk_parity_is_inverse_volatility() -> None:
    frame = _returns().drop(columns="flat")
    w = portfolio.weights(frame, "risk_parity")
    vol = frame.std(ddof=1)
    expected = (1 / vol) / (1 / vol).sum()
    for name in frame.columns:
        assert w[name] == pytest.approx(expected[name])
    assert w["c"] < w["a"]


def test_max_sharpe_beats_equal_weight_and_min_variance_is_least_volatile() -> None:
    frame = _returns().drop(columns="flat")
    figures = {
        m: portfolio.mix_figures(frame, portfolio.weights(frame, m)) for m in portfolio.METHODS
    }
    assert figures["sharpe_ratio"].sharpe >= figures["equal_weight"].sharpe - 1e-9
    assert figures["min_variance"].volatility <= min(f.volatility for f in figures.values()) + 1e-9


def test_infeasible_bounds_are_widened_to_admit_equal_weights() -> None:
    assert portfolio.bounds_for(2, 0.6, 0.9) == (0.5, 0.9)
    assert portfolio.bounds_for(4, 0.0, 0.2) == (0.0, 0.25)
    w = portfolio.weights(_returns()[["a"]], "sharpe_ratio", 0.1, 0.5)
    assert w == {"a": pytest.approx(1.0)}


def test_risk_contributions_sum_to_one() -> None:
    frame = _returns().drop(columns="flat")
    shares = portfolio.risk_contributions(frame, portfolio.weights(frame, "equal_weight"))
    assert sum(shares.values()) == pytest.approx(1.0)
    assert shares["c"] > shares["a"]


def test_select_skips_the_correlated_and_says_why() -> None:
    frame = _returns()
    corr = portfolio.correlation(frame)
    pick = portfolio.select({"a": 3.0, "b": 2.0, "c": 1.0, "flat": 0.0}, corr, 2, 0.7)
    assert pick.chosen == ["a", "c"]
    assert "correlation" in pick.skipped["b"] and "with a" in pick.skipped["b"]
    assert "limit of 2" in pick.skipped["flat"]


def test_unknown_method_raises() -> None:
    with pytest.raises(ValueError, match="unknown method"):
        portfolio.weights(_returns(), "magic")
