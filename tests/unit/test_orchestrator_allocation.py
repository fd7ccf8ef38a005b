"""Allocation maths against hand-computed cases, bounds as a property, and rebalancing that
never overdraws a sleeve (property test on a real portfolio)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genebot.domain.events import OrderFilled
from genebot.domain.instrument import Instrument
from genebot.execution.engine import ExecutionEngine
from genebot.orchestrator import allocation as alloc
from genebot.orchestrator.runtime import Orchestrator
from genebot.orchestrator.settings import OrchestratorSettings
from genebot.portfolio.portfolio import Portfolio

D = Decimal
UP = [0.01, 0.02] * 3  # mean 0.015, sd 0.005477
FLAT_UP = [0.01, 0.0] * 3  # mean 0.005, same sd: a third of UP's Sharpe
DOWN = [-0.01, 0.0] * 3
CALM = [0.01, -0.01] * 3  # sd 0.010954
WILD = [0.02, -0.02] * 3  # twice CALM's


def test_equal_weight() -> None:
    assert alloc.equal_weight(["a", "b", "c", "d"]) == dict.fromkeys("abcd", 0.25)


@pytest.mark.parametrize(
    ("priors", "expected"),
    [
        ({"a": 1, "b": 1}, {"a": 0.75, "b": 0.25}),  # Sharpe 3 : 1
        ({"a": 1, "b": 3}, {"a": 0.5, "b": 0.5}),  # the prior tilts it back
        ({"a": 1, "b": 1, "c": 2}, {"a": 0.75, "b": 0.25, "c": 0.0}),  # losing: nothing
    ],
)
def test_performance_based_is_prior_times_positive_sharpe(
    priors: dict[str, float], expected: dict[str, float]
) -> None:
    returns = {"a": UP, "b": FLAT_UP, "c": DOWN}
    weights = alloc.performance_based({k: returns[k] for k in priors}, priors)
    assert weights == pytest.approx(expected, abs=1e-12)


def test_performance_based_falls_back_to_priors() -> None:
    assert alloc.performance_based({"a": DOWN, "b": DOWN}, {"a": 1, "b": 3}) == {
        "a": 0.25,
        "b": 0.75,
    }
    assert alloc.performance_based({"a": UP[:3], "b": DOWN[:3]}, {"a": 1, "b": 1}) == {
        "a": 0.5,
        "b": 0.5,
    }  # three days of history say nothing yet


def test_risk_parity_inverse_volatility() -> None:
    weights = alloc.inverse_volatility({"calm": CALM, "wild": WILD}, {"calm": 1, "wild": 1})
    assert weights == pytest.approx({"calm": 2 / 3, "wild": 1 / 3}, abs=1e-12)


def test_equal_risk_contribution() -> None:
    rng = np.random.default_rng(7)
    common = rng.normal(0, 0.01, 250)
    returns = {
        "a": list(rng.normal(0, 0.01, 250)),
        "b": list(common + rng.normal(0, 0.01, 250)),
        "c": list(2 * common + rng.normal(0, 0.03, 250)),
    }
    weights = alloc.equal_risk_contribution(returns, dict.fromkeys(returns, 1.0))
    cov = alloc.covariance(returns, list(returns))
    contributions = alloc.risk_contributions(list(weights.values()), cov)
    assert contributions == pytest.approx([1 / 3] * 3, abs=1e-9)
    assert sum(weights.values()) == pytest.approx(1)
    # uncorrelated strategies: equal risk contribution is inverse volatility
    independent = {"calm": CALM, "wild": [0.02, 0.02, -0.02, -0.02, 0.0, 0.0]}
    assert abs(np.corrcoef(independent["calm"], independent["wild"])[0, 1]) < 1e-12
    priors = {"calm": 1.0, "wild": 1.0}
    erc = alloc.equal_risk_contribution(independent, priors)
    assert erc == pytest.approx(alloc.inverse_volatility(independent, priors), abs=1e-9)


@pytest.mark.parametrize(
    ("raw", "low", "high", "expected"),
    [
        ({"a": 0.7, "b": 0.2, "c": 0.1}, 0.15, 0.5, {"a": 0.5, "b": 1 / 3, "c": 1 / 6}),
        ({"a": 0.9, "b": 0.05, "c": 0.05}, 0.2, 0.6, {"a": 0.6, "b": 0.2, "c": 0.2}),
        ({"a": 0.5, "b": 0.45, "c": 0.05}, 0.1, 1, {"a": 0.45 / 0.95, "b": 0.405 / 0.95, "c": 0.1}),
    ],
)  # fmt: skip
def test_bounds_clip_and_renormalize(
    raw: dict[str, float], low: float, high: float, expected: dict[str, float]
) -> None:
    assert alloc.apply_bounds(raw, low, high) == pytest.approx(expected, abs=1e-12)


def test_impossible_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot hold for 3 strategies"):
        alloc.apply_bounds({"a": 1, "b": 1, "c": 1}, 0.4, 0.9)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.floats(0, 100), min_size=1, max_size=8),
    st.floats(0, 1),
    st.floats(0, 1),
)
def test_bounds_always_hold_and_weights_sum_to_one(raw: list[float], a: float, b: float) -> None:
    n = len(raw)
    low, high = min(a, b) / n, max(max(a, b), 1 / n)  # feasible: n·low ≤ 1 ≤ n·high
    weights = alloc.apply_bounds({str(i): w for i, w in enumerate(raw)}, low, high)
    assert sum(weights.values()) == pytest.approx(1, abs=1e-9)
    assert all(low - 1e-9 <= w <= high + 1e-9 for w in weights.values())


def test_correlation_and_top_n() -> None:
    m = alloc.correlation({"a": UP, "b": [2 * x for x in UP], "c": CALM}, ["a", "b", "c"])
    assert m[0][1] == pytest.approx(1.0) and m[0][0] == 1.0
    assert alloc.top_n({"a": 1.0, "b": 3.0, "c": 2.0, "d": 3.0}, 2) == ["b", "d"]


# -- rebalancing on a real portfolio ---------------------------------------------------------
INSTRUMENTS = {
    i.id: i
    for i in (
        Instrument.create("BTC/USDT", "sim", tick_size="0.01", lot_size="0.0001"),
        Instrument.create("ETH/USDT", "sim", tick_size="0.01", lot_size="0.001"),
    )
}


def _portfolio(marks: dict[str, float], capital: list[Decimal]) -> Portfolio:
    portfolio = Portfolio(lambda iid: marks.get(iid), {k: D("0.00000001") for k in INSTRUMENTS})
    for i, amount in enumerate(capital):
        portfolio.add_sleeve(f"s{i}", amount)
    return portfolio


def _buy(portfolio: Portfolio, strategy: str, iid: str, qty: Decimal, px: Decimal) -> None:
    fill = OrderFilled("o", "t", iid, "BUY", qty, px, D("0.1"), "USDT", "TAKER", 0, 0)
    portfolio.on_fill(strategy, fill, "signal")


@settings(max_examples=150, deadline=None)
@given(
    capital=st.lists(st.integers(1_000, 100_000), min_size=2, max_size=5),
    spend=st.lists(st.floats(0, 0.98), min_size=5, max_size=5),
    move=st.floats(0.5, 1.6),
    priors=st.lists(st.floats(0.1, 5), min_size=5, max_size=5),
)
def test_a_rebalance_never_overdraws_a_sleeve_nor_trades(
    capital: list[int], spend: list[float], move: float, priors: list[float]
) -> None:
    marks = {"BTC/USDT@sim": 100.0, "ETH/USDT@sim": 50.0}
    portfolio = _portfolio(marks, [D(c) for c in capital])
    names = list(portfolio.sleeves)
    for i, name in enumerate(names):  # each sleeve puts a share of its capital into BTC
        qty = (D(capital[i]) * D(str(spend[i])) / 100).quantize(D("0.0001"))
        if qty > 0:
            _buy(portfolio, name, "BTC/USDT@sim", qty, D(100))
    marks["BTC/USDT@sim"] = 100.0 * move  # positions gain or lose before the rebalance
    engine = ExecutionEngine(portfolio, dict(INSTRUMENTS))
    settings_ = OrchestratorSettings(rebalance_frequency="daily")
    orch = Orchestrator(
        settings_, dict(zip(names, priors, strict=False)), portfolio, engine, INSTRUMENTS
    )
    before = {n: s.equity(portfolio.mark) for n, s in portfolio.sleeves.items()}
    free = orch._free(before)
    allocated = sum(s.allocated for s in portfolio.sleeves.values())
    orch.rebalance(0, "test")
    after = {n: s.equity(portfolio.mark) for n, s in portfolio.sleeves.items()}
    assert sum(s.allocated for s in portfolio.sleeves.values()) == allocated  # exact
    assert sum(after.values()) == sum(before.values())
    for n in names:
        assert before[n] - after[n] <= free[n]  # gave at most its free capital
        if free[n] >= 0 and before[n] >= 0:
            assert orch._free(after)[n] >= 0  # not overdrawn
    assert engine.order_log == []  # a rebalance never trades
