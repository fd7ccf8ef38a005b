"""EvolvedStrategy's rule language: parsing, printing, evaluation, errors; GP trees as rules."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genebot.core.errors import ParameterError
from genebot.evolution.genome import RuleGenome, mate_rules, mutate_rules, tree_to_rule
from genebot.strategies.evolved import (
    COMPARISONS,
    CROSSES,
    INDICATORS,
    PRICES,
    And,
    Compare,
    Cross,
    EvolvedStrategy,
    Ind,
    Not,
    Num,
    Or,
    Price,
    evaluate,
    parse_rule,
)
from genebot.trading.data import BarData


def test_precedence_not_binds_tightest_then_and_then_or() -> None:
    rule = parse_rule("not close > 1 and RSI(14) < 28 or crosses_above(SMA(10), SMA(50))")
    assert rule == Or(
        And(Not(Compare(">", Price("close"), Num(1.0))), Compare("<", Ind("RSI", 14), Num(28.0))),
        Cross("crosses_above", Ind("SMA", 10), Ind("SMA", 50)),
    )


def test_parentheses_group_and_are_printed_back_only_where_needed() -> None:
    text = "RSI(14) < 28 and (close > SMA(200) or not (EMA(5) >= 1.5 and volume <= 10))"
    rule = parse_rule(text)
    assert str(rule) == text
    assert str(parse_rule("((close > 1))")) == "close > 1"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("RSI(14) <", "'end of rule'"),
        ("close > FOO(3)", "'FOO'"),
        ("close $ 3", "'$'"),
        ("close > SMA(1.5)", "'1.5'"),
        ("close 3", "'3'"),
        ("close > 1 and", "'end of rule'"),
        ("close > 1 close", "'close'"),
        ("crosses_above(close; SMA(3))", "';'"),
    ],
)
def test_a_bad_rule_is_a_parameter_error_naming_the_token(text: str, named: str) -> None:
    with pytest.raises(ParameterError, match=r".*") as info:
        parse_rule(text)
    assert named in str(info.value)


def test_periods_are_bounded() -> None:
    with pytest.raises(ParameterError, match=r"RSI\(1\): the period must be 2\.\.10000"):
        parse_rule("RSI(1) < 30")


def test_the_strategy_refuses_a_bad_rule_naming_the_parameter() -> None:
    with pytest.raises(ParameterError, match=r"strategy s: exit: rule 'close >>'"):
        EvolvedStrategy({"exit": "close >>"}, strategy_id="s")


def _bars(close: list[float]) -> BarData:
    c = np.asarray(close, dtype=float)
    ts = np.arange(len(c), dtype=np.int64) * 60_000_000_000
    return BarData("X/Y", 60_000_000_000, ts, c, c + 1, c - 1, c, np.ones_like(c))


def test_evaluation_of_comparisons_crosses_and_nan_warm_up() -> None:
    data = _bars([1, 2, 3, 2, 1, 2, 3])
    strat = EvolvedStrategy(
        {"entry": "crosses_above(close, SMA(3))", "exit": "not close >= SMA(3) or close > 2.5"}
    )
    ind = strat.indicators(data)
    assert set(ind) == {"SMA(3)"}
    sig = strat.signals(data, ind)
    # SMA(3): nan nan 2 2.33 2 1.67 2 -> close crosses above it at bar 5
    assert sig.entries.tolist() == [False, False, False, False, False, True, False]
    # NaN warm-up: "close >= SMA" is false there, so its negation is true
    assert sig.exits.tolist() == [True, True, True, True, True, False, True]
    rule = parse_rule("RSI(3) > 0")
    assert not evaluate(rule, data, {"RSI(3)": np.full(7, np.nan)}).any()


_values = st.one_of(
    st.builds(Num, st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: round(v, 6))),
    st.builds(Price, st.sampled_from(PRICES)),
    st.builds(Ind, st.sampled_from(sorted(INDICATORS)), st.integers(2, 500)),
)
_leaves = st.one_of(
    st.builds(Compare, st.sampled_from(COMPARISONS), _values, _values),
    st.builds(Cross, st.sampled_from(CROSSES), _values, _values),
)
_rules = st.recursive(
    _leaves,
    lambda inner: st.one_of(
        st.builds(Not, inner), st.builds(And, inner, inner), st.builds(Or, inner, inner)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(_rules)
def test_round_trip_rule_to_text_to_rule(rule: And) -> None:
    text = str(rule)
    assert parse_rule(text) == rule
    assert str(parse_rule(text)) == text


def test_gp_trees_always_read_as_valid_rules_and_stay_bounded() -> None:
    rng = random.Random(7)
    pop = [RuleGenome.random(rng) for _ in range(20)]
    for _ in range(60):
        a, b = rng.sample(pop, 2)
        mate_rules(rng, a, b)
        mutate_rules(rng, rng.choice(pop))
    for g in pop:
        assert g.entry.height <= 6 and g.exit.height <= 6
        params = g.parameters()
        for key in ("entry", "exit"):
            assert str(parse_rule(params[key])) == params[key]
            assert parse_rule(params[key]) == tree_to_rule(getattr(g, key))
        EvolvedStrategy(params)  # runs as a strategy
