"""Genomes: strongly typed DEAP expression trees that read as rules, and built-in parameter sets.

A rule genome is an entry tree, an exit tree and stop-loss, take-profit and trailing genes. The
trees are built over a :class:`deap.gp.PrimitiveSetTyped` whose types keep every tree
meaningful: comparisons and crosses of price-scale series (``close``, ``SMA(n)``, ``EMA(n)``)
with each other, of the RSI with a level, combined with and/or/not. A tree turns into the rule text
:class:`~genebot.strategies.evolved.EvolvedStrategy` runs (``RSI(14) < 30 and close > SMA(200)``).

Trees never read as trivial rules (:func:`~genebot.strategies.evolved.trivial_part`: ``close >
close``, ``SMA(20) > SMA(20)``, ``a and a``, ``not not a``...): generation redraws a trivial
node, mutation and crossover retry and otherwise keep the parent, all from the same random
stream, so a seed still gives one result.

A parameter genome is one value per declared :class:`Param` with an optimization range.

All randomness comes from one ``random.Random`` passed in (never the shared ``random`` module:
a Dask client's threads draw from that one, and DEAP's own crossover orders node types by
memory address); crossover and mutation are written here for that reason.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from typing import Any

from deap import base, gp  # type: ignore[import-untyped, unused-ignore]

from genebot.core.errors import ParameterError
from genebot.strategies.evolved import (
    And,
    Compare,
    Cross,
    Ind,
    Not,
    Num,
    Or,
    Price,
    Rule,
    Value,
    trivial_part,
)
from genebot.trading.params import Param

PERIODS = (5, 10, 14, 20, 30, 50, 100, 200)
LEVELS = (20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80)
# Protection genes (fractions of the entry price; 0: none), drawn from these values.
GENES: dict[str, tuple[float, ...]] = {
    "stop_loss": (0.0, 0.02, 0.03, 0.05, 0.08, 0.12),
    "take_profit": (0.0, 0.03, 0.05, 0.1, 0.2),
    "trailing": (0.0, 0.0, 0.02, 0.05),  # (off twice as often)
    # position sizing: the fraction of the sleeve's equity an entry buys (0: the config's)
    "size": (0.0, 0.05, 0.1, 0.2, 0.3, 0.5),
}
MAX_HEIGHT = 6  # bounded depth: crossover and mutation never grow a tree past this
TRIES = 25  # draws of a node, a mutation or a crossover before the fallback (a sound one)


class BoolT:
    """A rule (true/false on each bar)."""


class SeriesT:
    """A price-scale series: close, SMA(n), EMA(n)."""


class OscT:
    """An oscillator on a 0..100 scale (RSI)."""


class PeriodT:
    """A whole number of bars."""


class LevelT:
    """A level on the oscillator's scale."""


class Objectives(base.Fitness):  # type: ignore[misc]
    """NSGA-II objectives, all maximized: (Sharpe - parsimony, -max drawdown, trades)."""

    weights = (1.0, 1.0, 1.0)


def _placeholder(*_args: Any) -> None:
    """Trees are turned into rule text, never compiled: primitives need no body."""


def build_pset() -> gp.PrimitiveSetTyped:
    pset = gp.PrimitiveSetTyped("RULE", [], BoolT)
    for name in ("and", "or"):
        pset.addPrimitive(_placeholder, [BoolT, BoolT], BoolT, name=name)
    pset.addPrimitive(_placeholder, [BoolT], BoolT, name="not")
    for op in ("lt", "gt", "crosses_above", "crosses_below"):
        pset.addPrimitive(_placeholder, [SeriesT, SeriesT], BoolT, name=op)
        pset.addPrimitive(_placeholder, [OscT, LevelT], BoolT, name=f"osc_{op}")
    for ind in ("SMA", "EMA"):
        pset.addPrimitive(_placeholder, [PeriodT], SeriesT, name=ind)
    pset.addPrimitive(_placeholder, [PeriodT], OscT, name="RSI")
    pset.addTerminal("close", SeriesT, name="close")
    for n in PERIODS:
        pset.addTerminal(n, PeriodT, name=f"p{n}")
    for level in LEVELS:
        pset.addTerminal(level, LevelT, name=f"l{level}")
    return pset


PSET = build_pset()
# The least height a subtree of each type needs (types without terminals need a primitive; a
# rule needs 2: at height 1 it can only compare close with close).
_MIN_HEIGHT: dict[type, int] = {BoolT: 2, SeriesT: 0, OscT: 1, PeriodT: 0, LevelT: 0}
_PRIMS = {p.name: p for prims in PSET.primitives.values() for p in prims}
_TERMS = {t.name: t for terms in PSET.terminals.values() for t in terms}
TERMINAL_RATIO = 0.35  # only series have both: close vs SMA/EMA


def generate(
    rng: random.Random,
    pset: gp.PrimitiveSetTyped,
    min_: int,
    max_: int,
    type_: type | None = None,
) -> list[Any]:
    """A random typed tree of height at most ``max_`` (as a prefix list of nodes), never a
    trivial rule.

    DEAP's own generators fail when the height limit is reached at a type without terminals
    (a rule); this one only picks primitives whose children still fit the budget. A rule node
    that reads as trivial is drawn again (``TRIES`` times, then ``close < SMA(n)``)."""
    budget = rng.randint(min_, max_)
    return _grow(rng, pset, type_ or pset.ret, max(budget, _MIN_HEIGHT[type_ or pset.ret]))


def _grow(rng: random.Random, pset: gp.PrimitiveSetTyped, type_: type, budget: int) -> list[Any]:
    terminals = pset.terminals[type_]
    prims_all = pset.primitives[type_]
    if terminals and (budget == 0 or not prims_all or rng.random() < TERMINAL_RATIO):
        return [rng.choice(terminals)]
    prims = [p for p in prims_all if 1 + max(_MIN_HEIGHT[a] for a in p.args) <= budget]
    if not prims:  # (budget below the type's minimum: take the shallowest primitive)
        prims = [min(prims_all, key=lambda p: max(_MIN_HEIGHT[a] for a in p.args))]
    for _ in range(TRIES if type_ is BoolT else 1):
        prim = rng.choice(prims)
        out: list[Any] = [prim]
        for arg in prim.args:
            out += _grow(rng, pset, arg, budget - 1)
        if type_ is not BoolT or not _trivial(out):
            return out
    return [_PRIMS["lt"], _TERMS["close"], _PRIMS["SMA"], _TERMS[f"p{rng.choice(PERIODS)}"]]


def sound(tree: gp.PrimitiveTree) -> bool:
    """Within the height bound and not a trivial rule."""
    return bool(tree.height <= MAX_HEIGHT and trivial_part(tree_to_rule(tree)) is None)


def random_tree(rng: random.Random, min_: int = 1, max_: int = 3) -> gp.PrimitiveTree:
    return gp.PrimitiveTree(generate(rng, PSET, min_, max_))


def crossover_tree(
    rng: random.Random, a: gp.PrimitiveTree, b: gp.PrimitiveTree
) -> tuple[gp.PrimitiveTree, gp.PrimitiveTree]:
    """Typed one-point crossover: swap two subtrees of one type. A child taller than
    MAX_HEIGHT or trivial is drawn again at other points (``TRIES`` times), then it is its
    parent."""
    if len(a) < 2 or len(b) < 2:
        return a, b
    types_a: dict[str, list[int]] = {}
    types_b: dict[str, list[int]] = {}
    for idx in range(1, len(a)):
        types_a.setdefault(a[idx].ret.__name__, []).append(idx)
    for idx in range(1, len(b)):
        types_b.setdefault(b[idx].ret.__name__, []).append(idx)
    common = sorted(set(types_a) & set(types_b))
    if not common:
        return a, b
    out_a: gp.PrimitiveTree | None = None
    out_b: gp.PrimitiveTree | None = None
    for _ in range(TRIES):
        kind = rng.choice(common)
        i, j = rng.choice(types_a[kind]), rng.choice(types_b[kind])
        ca, cb = gp.PrimitiveTree(list(a)), gp.PrimitiveTree(list(b))
        sa, sb = ca.searchSubtree(i), cb.searchSubtree(j)
        ca[sa], cb[sb] = list(b)[sb], list(a)[sa]
        out_a = ca if out_a is None and sound(ca) else out_a
        out_b = cb if out_b is None and sound(cb) else out_b
        if out_a is not None and out_b is not None:
            break
    return (a if out_a is None else out_a, b if out_b is None else out_b)


def mutate_tree(rng: random.Random, tree: gp.PrimitiveTree) -> gp.PrimitiveTree:
    """Uniform mutation: a random subtree replaced by a new one of its type (height 0..2); a
    child taller than MAX_HEIGHT or trivial is drawn again (``TRIES`` times), then it is the
    tree itself."""
    for _ in range(TRIES):
        index = rng.randrange(len(tree))
        child = gp.PrimitiveTree(list(tree))
        where = child.searchSubtree(index)
        child[where] = generate(rng, PSET, 0, 2, tree[index].ret)
        if sound(child):
            return child
    return tree


# -- trees as rules -----------------------------------------------------------------------------
def tree_to_rule(tree: gp.PrimitiveTree) -> Rule:
    """The rule a tree stands for."""
    rule, end = _node(list(tree), 0)
    assert end == len(tree) and isinstance(rule, Rule)
    return rule


def _trivial(nodes: list[Any]) -> bool:
    rule, _ = _node(nodes, 0)
    return isinstance(rule, Rule) and trivial_part(rule) is not None


def rule_to_tree(rule: Rule) -> gp.PrimitiveTree:
    """The tree of a rule the grammar can write (the inverse of :func:`tree_to_rule`): over
    close, SMA(n), EMA(n) and RSI(n) against a level, n in PERIODS; ParameterError otherwise."""
    return gp.PrimitiveTree(_nodes_of(rule))


def _nodes_of(rule: Rule) -> list[Any]:
    if isinstance(rule, And | Or):
        return [_PRIMS[type(rule).__name__.lower()], *_nodes_of(rule.left), *_nodes_of(rule.right)]
    if isinstance(rule, Not):
        return [_PRIMS["not"], *_nodes_of(rule.arg)]
    name = rule.kind if isinstance(rule, Cross) else {"<": "lt", ">": "gt"}.get(rule.op)
    left, right = _value_nodes(rule.left), _value_nodes(rule.right)
    level = rule.right.value if isinstance(rule.right, Num) else None
    rsi = _PRIMS["RSI"]
    if name and left[:1] == [rsi] and level in LEVELS:
        return [_PRIMS[f"osc_{name}"], *left, _TERMS[f"l{level:g}"]]
    if name and all(nodes and nodes[0] is not rsi for nodes in (left, right)):
        return [_PRIMS[name], *left, *right]
    raise ParameterError(f"{rule} is outside the evolution grammar")


def _value_nodes(value: Value) -> list[Any]:
    """close, or SMA/EMA/RSI(n) with n in PERIODS, as nodes; [] for any other value."""
    if value == Price("close"):
        return [_TERMS["close"]]
    if isinstance(value, Ind) and value.name in ("SMA", "EMA", "RSI") and value.period in PERIODS:
        return [_PRIMS[value.name], _TERMS[f"p{value.period}"]]
    return []


def _node(nodes: list[Any], i: int) -> tuple[Rule | Value | int | float, int]:
    node = nodes[i]
    if isinstance(node, gp.Terminal):
        name = node.name
        if name == "close":
            return Price("close"), i + 1
        return int(name[1:]), i + 1  # a period (p14) or a level (l30)
    args: list[Any] = []
    j = i + 1
    for _ in range(node.arity):
        arg, j = _node(nodes, j)
        args.append(arg)
    return _primitive(node.name, args), j


def _primitive(name: str, args: list[Any]) -> Rule | Value:
    if name == "and":
        return And(args[0], args[1])
    if name == "or":
        return Or(args[0], args[1])
    if name == "not":
        return Not(args[0])
    if name in ("SMA", "EMA", "RSI"):
        return Ind(name, int(args[0]))
    op = name.removeprefix("osc_")
    right = Num(float(args[1])) if name.startswith("osc_") else args[1]
    if op in ("crosses_above", "crosses_below"):
        return Cross(op, args[0], right)
    return Compare("<" if op == "lt" else ">", args[0], right)


@dataclass
class RuleGenome:
    entry: gp.PrimitiveTree
    exit: gp.PrimitiveTree
    genes: dict[str, float] = field(default_factory=dict)  # stop_loss, take_profit, trailing, size
    fitness: Objectives = field(default_factory=Objectives)

    @classmethod
    def random(cls, rng: random.Random) -> RuleGenome:
        genes = {name: rng.choice(values) for name, values in GENES.items()}
        return cls(random_tree(rng), random_tree(rng), genes)

    def parameters(self) -> dict[str, Any]:
        return {
            "entry": str(tree_to_rule(self.entry)),
            "exit": str(tree_to_rule(self.exit)),
            **self.genes,
        }

    def size(self) -> int:
        return len(self.entry) + len(self.exit)

    def clone(self) -> RuleGenome:
        return copy.deepcopy(self)


def mate_rules(rng: random.Random, a: RuleGenome, b: RuleGenome) -> None:
    """One-point crossover of the entry trees and of the exit trees; each protection gene
    swapped with probability one half."""
    a.entry, b.entry = crossover_tree(rng, a.entry, b.entry)
    a.exit, b.exit = crossover_tree(rng, a.exit, b.exit)
    for name in GENES:
        if rng.random() < 0.5:
            a.genes[name], b.genes[name] = b.genes[name], a.genes[name]


def mutate_rules(rng: random.Random, g: RuleGenome) -> None:
    """Replace a random subtree of the entry or the exit tree, or redraw a protection gene."""
    roll = rng.random()
    if roll < 0.45:
        g.entry = mutate_tree(rng, g.entry)
    elif roll < 0.9:
        g.exit = mutate_tree(rng, g.exit)
    else:
        name = rng.choice(sorted(GENES))
        g.genes[name] = rng.choice(GENES[name])


# -- parameter genomes --------------------------------------------------------------------------
def grid(param: Param) -> list[float | int]:
    """The values of a parameter's optimization range (low..high by step)."""
    assert param.opt is not None
    low, high, step = param.opt
    count = round((high - low) / step) + 1
    values = [low + k * step for k in range(count)]
    if isinstance(param.default, int) and not isinstance(param.default, bool):
        return sorted({round(v) for v in values})
    return [round(v, 10) for v in values]


@dataclass
class ParamGenome:
    strategy: str
    values: dict[str, float | int]
    fitness: Objectives = field(default_factory=Objectives)

    @classmethod
    def random(
        cls, rng: random.Random, strategy: str, space: dict[str, list[float | int]]
    ) -> ParamGenome:
        return cls(strategy, {name: rng.choice(vals) for name, vals in space.items()})

    def parameters(self) -> dict[str, Any]:
        return dict(self.values)

    def size(self) -> int:
        return 0

    def clone(self) -> ParamGenome:
        return copy.deepcopy(self)


def mate_params(rng: random.Random, a: ParamGenome, b: ParamGenome) -> None:
    """Uniform crossover: each parameter swapped with probability one half."""
    for name in a.values:
        if rng.random() < 0.5:
            a.values[name], b.values[name] = b.values[name], a.values[name]


def mutate_params(rng: random.Random, g: ParamGenome, space: dict[str, list[float | int]]) -> None:
    """Move one parameter a step or two along its grid."""
    name = rng.choice(sorted(space))
    vals = space[name]
    at = vals.index(g.values[name]) if g.values[name] in vals else 0
    g.values[name] = vals[min(len(vals) - 1, max(0, at + rng.choice((-2, -1, 1, 2))))]


def param_space(parameters: dict[str, Param]) -> dict[str, list[float | int]]:
    """Every numeric parameter with an optimization range, as its grid."""
    return {
        name: grid(p)
        for name, p in parameters.items()
        if p.opt is not None and not isinstance(p.default, bool)
    }
