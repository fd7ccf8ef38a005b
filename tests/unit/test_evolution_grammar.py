"""The evolved rule grammar never yields trivial rules: generation, mutation and crossover of
rule genomes, the rule parser of `type: evolved` strategies refusing them, and rule text that
round-trips to the same tree; same seed, same genomes."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from deap import gp  # type: ignore[import-untyped, unused-ignore]
from hypothesis import given, settings
from hypothesis import strategies as st

from genebot.core.errors import ParameterError
from genebot.evolution import genome as g
from genebot.evolution.genome import (
    MAX_HEIGHT,
    PSET,
    BoolT,
    RuleGenome,
    generate,
    mate_rules,
    mutate_rules,
    rule_to_tree,
    tree_to_rule,
)
from genebot.strategies.evolved import (
    Compare,
    Cross,
    EvolvedStrategy,
    Not,
    Num,
    Rule,
    parse_rule,
    trivial_part,
)


def _leaves(rule: Rule) -> Iterator[Compare | Cross]:
    if isinstance(rule, Compare | Cross):
        yield rule
    elif isinstance(rule, Not):
        yield from _leaves(rule.arg)
    else:
        yield from _leaves(rule.left)
        yield from _leaves(rule.right)


def _assert_sound(tree: gp.PrimitiveTree) -> None:
    """No trivial part, no comparison of a value with itself or of two constants, within the
    height bound, and the readable text parses (strictly) back to the same rule and tree."""
    rule = tree_to_rule(tree)
    assert tree.height <= MAX_HEIGHT
    assert trivial_part(rule) is None, (str(rule), trivial_part(rule))
    for leaf in _leaves(rule):
        assert leaf.left != leaf.right, str(rule)
        assert not (isinstance(leaf.left, Num) and isinstance(leaf.right, Num)), str(rule)
    parsed = parse_rule(str(rule), strict=True)
    assert parsed == rule
    assert str(rule_to_tree(parsed)) == str(tree)


def _genomes(g_: RuleGenome) -> list[gp.PrimitiveTree]:
    return [g_.entry, g_.exit]


def _bred(seed: int, steps: int = 12) -> list[RuleGenome]:
    """A small population after ``steps`` rounds of crossover and mutation."""
    rng = random.Random(seed)
    pop = [RuleGenome.random(rng) for _ in range(6)]
    for _ in range(steps):
        a, b = rng.sample(pop, 2)
        mate_rules(rng, a, b)
        mutate_rules(rng, rng.choice(pop))
    return pop


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_generated_mutated_and_crossed_genomes_are_never_trivial(seed: int) -> None:
    rng = random.Random(seed)
    a, b = RuleGenome.random(rng), RuleGenome.random(rng)
    for tree in _genomes(a) + _genomes(b):
        _assert_sound(tree)
    mutant = a.clone()
    for _ in range(4):
        mutate_rules(rng, mutant)
        for tree in _genomes(mutant):
            _assert_sound(tree)
    x, y = a.clone(), b.clone()
    mate_rules(rng, x, y)
    children = _genomes(x) + _genomes(y)
    for tree in children:
        _assert_sound(tree)
    assert len(children) == len(_genomes(a)) + len(_genomes(b))  # both children were checked


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_a_bred_population_stays_sound_and_the_same_seed_breeds_the_same(seed: int) -> None:
    pop = _bred(seed)
    for genome in pop:
        for tree in _genomes(genome):
            _assert_sound(tree)
        EvolvedStrategy(genome.parameters())  # the strategy accepts what evolution writes
    assert [p.parameters() for p in _bred(seed)] == [p.parameters() for p in pop]


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 6))
def test_a_rule_of_any_height_budget_is_sound(seed: int, budget: int) -> None:
    tree = gp.PrimitiveTree(generate(random.Random(seed), PSET, budget, budget, BoolT))
    _assert_sound(tree)
    assert trivial_part(tree_to_rule(tree)) is None


def test_the_fallbacks_are_sound_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """One draw only: a trivial node becomes close < SMA(n), a trivial mutation or crossover
    keeps the parent."""
    monkeypatch.setattr(g, "TRIES", 1)
    fell_back = 0
    for seed in range(150):
        for genome in _bred(seed, steps=6):
            for tree in _genomes(genome):
                _assert_sound(tree)
                fell_back += str(tree_to_rule(tree)).startswith("close < SMA(")
    assert fell_back > 0


def test_a_seed_still_gives_one_run_and_another_seed_another() -> None:
    first = [p.parameters() for p in _bred(5, steps=40)]
    assert first == [p.parameters() for p in _bred(5, steps=40)]
    assert first != [p.parameters() for p in _bred(6, steps=40)]


# -- the parser of `type: evolved` strategies -------------------------------------------------
TRIVIAL = [
    ("close > close", "close > close", "never true"),
    ("SMA(20) > SMA(20)", "SMA(20) > SMA(20)", "never true"),
    ("RSI(14) < 30 and EMA(5) >= EMA(5)", "EMA(5) >= EMA(5)", "always true"),
    ("crosses_above(SMA(10), SMA(10))", "crosses_above(SMA(10), SMA(10))", "never crosses"),
    ("3 < 4", "3 < 4", "two constants: always true"),
    ("close > SMA(5) or 2 > 4", "2 > 4", "two constants: never true"),
    ("crosses_below(1, 2)", "crosses_below(1, 2)", "a constant never crosses"),
    ("RSI(14) > 100", "RSI(14) > 100", "within 0..100: never true"),
    ("RSI(14) <= 100", "RSI(14) <= 100", "always true"),
    ("crosses_above(RSI(14), 100)", "crosses_above(RSI(14), 100)", "never crosses 100"),
    ("WILLR(14) > 5", "WILLR(14) > 5", "within -100..0"),
    ("close > SMA(50) and close > SMA(50)", "close > SMA(50) and close > SMA(50)", "repeats"),
    ("close < SMA(50) or SMA(50) > close", "close < SMA(50) or SMA(50) > close", "repeats"),
    (
        "RSI(14) < 30 and (close > SMA(5) and RSI(14) < 30)",
        "RSI(14) < 30 and (close > SMA(5) and RSI(14) < 30)",
        "repeats RSI(14) < 30",
    ),
    ("not not close > SMA(5)", "not not close > SMA(5)", "cancels out"),
    ("close > SMA(5) and not close > SMA(5)", "close > SMA(5) and not close > SMA(5)", "opposites"),
    ("close < SMA(5) and close > SMA(5)", "close < SMA(5) and close > SMA(5)", "never both"),
    ("close <= SMA(5) or close >= SMA(5)", "close <= SMA(5) or close >= SMA(5)", "always true"),
    (
        "crosses_above(close, SMA(5)) and crosses_below(close, SMA(5))",
        "crosses_above(close, SMA(5)) and crosses_below(close, SMA(5))",
        "never happen on the same bar",
    ),
]


@pytest.mark.parametrize(("text", "part", "why"), TRIVIAL, ids=[t[0] for t in TRIVIAL])
def test_the_strategy_refuses_a_trivial_rule_naming_the_rule_and_the_part(
    text: str, part: str, why: str
) -> None:
    with pytest.raises(ParameterError) as info:
        EvolvedStrategy({"exit": text}, strategy_id="hof_3")
    message = str(info.value)
    assert message.startswith(f"strategy hof_3: exit: rule {text!r}: {part!r} is trivial: ")
    assert why in message
    assert parse_rule(text) is not None  # (the syntax alone is fine: parse_rule is not strict)


@pytest.mark.parametrize(
    "text",
    [
        "RSI(14) < 28 and close > SMA(200)",
        "crosses_above(SMA(10), SMA(50)) or not (ATR(14) > 500)",
        "RSI(14) > 0",  # RSI can be 0 and more
        "crosses_above(RSI(14), 0)",
        "close > SMA(5) and (RSI(14) < 30 or close > EMA(5))",
        "close > 1",
        "SMA(20) > EMA(20)",
        "close < SMA(5) or close > SMA(5)",  # (not equal: not always true)
    ],
)
def test_meaningful_rules_are_accepted(text: str) -> None:
    strategy = EvolvedStrategy({"entry": text})
    assert str(strategy._entry_rule) == str(parse_rule(text))


def test_rules_outside_the_grammar_have_no_tree() -> None:
    for text in ("ATR(14) > 5", "RSI(14) < 33", "close > RSI(14)", "close <= SMA(20)"):
        with pytest.raises(ParameterError, match="outside the evolution grammar"):
            rule_to_tree(parse_rule(text))
    tree = rule_to_tree(parse_rule("not (RSI(14) < 30 and crosses_above(close, EMA(50)))"))
    assert str(tree) == "not(and(osc_lt(RSI(p14), l30), crosses_above(close, EMA(p50))))"
