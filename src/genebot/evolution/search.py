"""The search: NSGA-II over rule genomes (or a built-in strategy's parameters).

Each generation breeds a population of offspring by binary tournament (Pareto rank, then
crowding), crossover and mutation, scores the new candidates on the in-sample walk-forward folds
and keeps the best ``population`` of parents and offspring by NSGA-II. The Pareto front of the
last generation is then scored on the whole in-sample part and on the held-out tail, which no
candidate has seen; the deflated Sharpe of each is computed with the number of distinct
candidates tried. Same seed, same data, same settings ⇒ same result, on any executor.

The held-out run starts cold on the tail (its indicators warm up inside it): no bar of the tail
reaches evolution, and no in-sample bar reaches the held-out score.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from deap import tools  # type: ignore[import-untyped, unused-ignore]

from genebot.core.errors import InputError
from genebot.evolution import genome as g
from genebot.evolution.executor import Executor, SerialExecutor
from genebot.evolution.fitness import (
    Evaluator,
    FoldScore,
    Spec,
    Split,
    deflated_sharpe,
    objectives,
    run_config,
    score,
)
from genebot.reporting.statistics import daily_closes, trading_days_per_year
from genebot.strategies.registry import strategy_class

Genome = g.RuleGenome | g.ParamGenome


@dataclass(frozen=True)
class Settings:
    """What to evolve and how. ``strategy`` None evolves rules (the grammar)."""

    symbol: str
    timeframe: str
    strategy: str | None = None
    population: int = 40
    generations: int = 10
    seed: int = 0
    folds: int = 3
    holdout: float = 0.2
    min_trades: int = 5
    parsimony: float = 0.005
    crossover: float = 0.7
    mutation: float = 0.3
    keep: int = 5  # Pareto-front members scored and returned
    base: dict[str, Any] = field(default_factory=dict)  # backtest/risk/exchanges sections


@dataclass
class Candidate:
    spec: Spec
    rules: str  # readable: "entry: ... | exit: ..." or "name=value, ..."
    objectives: tuple[float, float, float]
    walk_forward: list[dict[str, Any]]
    in_sample: dict[str, Any] = field(default_factory=dict)
    held_out: dict[str, Any] = field(default_factory=dict)
    deflated_sharpe: float | None = None


@dataclass
class Generation:
    number: int
    evaluated: int
    best_sharpe: float
    best_drawdown: float
    best_trades: int


@dataclass
class EvolutionResult:
    settings: Settings
    candidates: list[Candidate]
    history: list[Generation]
    tried: int
    periods: dict[str, str]  # in_sample_start/end, held_out_start/end


Progress = Callable[[Generation], None]


class _Search:
    def __init__(self, settings: Settings, executor: Executor) -> None:
        self.s = settings
        self.executor = executor
        self.rng = random.Random(settings.seed)
        self.cache: dict[str, list[FoldScore]] = {}
        self.space: dict[str, list[float | int]] = {}
        if settings.strategy is not None:
            cls = strategy_class(settings.strategy)
            self.space = g.param_space(cls.parameters)
            if not self.space:
                raise InputError(
                    f"strategy {settings.strategy} declares no parameter ranges to evolve"
                )

    def spec(self, ind: Genome) -> Spec:
        return {"type": self.s.strategy or "evolved", "parameters": ind.parameters()}

    def new(self) -> Genome:
        if self.s.strategy is None:
            return g.RuleGenome.random(self.rng)
        return g.ParamGenome.random(self.rng, self.s.strategy, self.space)

    def assess(self, pop: list[Genome]) -> int:
        """Score every individual (new specs on the executor, in order); returns how many."""
        keys = [_key(self.spec(ind)) for ind in pop]
        todo = list(dict.fromkeys(k for k in keys if k not in self.cache))
        results = self.executor.evaluate([json.loads(k) for k in todo]) if todo else []
        self.cache.update(zip(todo, results, strict=True))
        for ind, key in zip(pop, keys, strict=True):
            ind.fitness.values = objectives(
                self.cache[key], ind.size(), self.s.min_trades, self.s.parsimony
            )
        return len(todo)

    def breed(self, pop: list[Genome]) -> list[Genome]:
        offspring = [_tournament(self.rng, pop).clone() for _ in range(len(pop))]
        for a, b in zip(offspring[::2], offspring[1::2], strict=False):
            if self.rng.random() < self.s.crossover:
                self.mate(a, b)
                del a.fitness.values, b.fitness.values
        for ind in offspring:
            if self.rng.random() < self.s.mutation:
                self.mutate(ind)
                del ind.fitness.values
        return offspring

    def mate(self, a: Genome, b: Genome) -> None:
        if isinstance(a, g.RuleGenome) and isinstance(b, g.RuleGenome):
            g.mate_rules(self.rng, a, b)
        elif isinstance(a, g.ParamGenome) and isinstance(b, g.ParamGenome):
            g.mate_params(self.rng, a, b)

    def mutate(self, ind: Genome) -> None:
        if isinstance(ind, g.RuleGenome):
            g.mutate_rules(self.rng, ind)
        else:
            g.mutate_params(self.rng, ind, self.space)


def _key(spec: Spec) -> str:
    return json.dumps(spec, sort_keys=True)


def _tournament(rng: random.Random, pop: list[Genome]) -> Genome:
    """Binary tournament: the dominating one, else the less crowded (NSGA-II's)."""
    a, b = rng.sample(pop, 2)
    if a.fitness.dominates(b.fitness):
        return a
    if b.fitness.dominates(a.fitness):
        return b
    return (
        a if getattr(a.fitness, "crowding_dist", 0) >= getattr(b.fitness, "crowding_dist", 0) else b
    )


def evolve(
    settings: Settings,
    bars: pd.DataFrame,
    executor: Executor | None = None,
    progress: Progress | None = None,
) -> EvolutionResult:
    """Evolve on ``bars`` (one symbol's OHLCV frame, UTC index); see the module doc."""
    if settings.population < 4:
        raise InputError(f"population {settings.population} is too small: use at least 4")
    split = Split.of(len(bars), settings.folds, settings.holdout)
    evaluator = Evaluator.of(settings.base, settings.symbol, settings.timeframe, bars, split)
    executor = executor or SerialExecutor()
    executor.start(evaluator)
    try:
        search = _Search(settings, executor)
        pop = [search.new() for _ in range(settings.population)]
        history = [_generation(0, search.assess(pop), pop)]
        pop = tools.selNSGA2(pop, settings.population)
        if progress:
            progress(history[-1])
        for number in range(1, settings.generations + 1):
            offspring = search.breed(pop)
            evaluated = search.assess(offspring)
            pop = tools.selNSGA2(pop + offspring, settings.population)
            history.append(_generation(number, evaluated, pop))
            if progress:
                progress(history[-1])
    finally:
        executor.close()
    front = tools.sortNondominated(pop, len(pop), first_front_only=True)[0]
    front.sort(key=lambda ind: (-ind.fitness.values[0], _key(search.spec(ind))))
    unique: dict[str, Genome] = {}
    for ind in front:
        unique.setdefault(_key(search.spec(ind)), ind)
    chosen = list(unique.values())[: settings.keep]
    trial_sharpes = [float(np.mean([s.sharpe for s in v])) for v in search.cache.values()]
    holdout = bars.iloc[split.holdout_start :]
    in_sample = bars.iloc[: split.holdout_start]
    candidates = [
        _final(search, ind, evaluator, in_sample, holdout, trial_sharpes) for ind in chosen
    ]
    periods = {
        "in_sample_start": in_sample.index[0].isoformat(),
        "in_sample_end": in_sample.index[-1].isoformat(),
        "held_out_start": holdout.index[0].isoformat(),
        "held_out_end": holdout.index[-1].isoformat(),
    }
    return EvolutionResult(settings, candidates, history, len(search.cache), periods)


def _generation(number: int, evaluated: int, pop: list[Genome]) -> Generation:
    best = max(pop, key=lambda ind: ind.fitness.values[0])
    sharpe, drawdown, trades = best.fitness.values
    return Generation(number, evaluated, sharpe, drawdown, int(trades))


def _final(
    search: _Search,
    ind: Genome,
    evaluator: Evaluator,
    in_sample: pd.DataFrame,
    holdout: pd.DataFrame,
    trial_sharpes: list[float],
) -> Candidate:
    spec = search.spec(ind)
    folds = search.cache[_key(spec)]
    candidate = Candidate(
        spec, describe(spec), tuple(ind.fitness.values), [f.as_dict() for f in folds]
    )
    candidate.in_sample = evaluator.backtest(spec, in_sample).as_dict()
    held, returns, ppy = _held_out(search.s, spec, holdout)
    candidate.held_out = held
    candidate.deflated_sharpe = deflated_sharpe(returns, trial_sharpes, ppy)
    return candidate


def _held_out(
    s: Settings, spec: Spec, holdout: pd.DataFrame
) -> tuple[dict[str, Any], np.ndarray, float]:
    from genebot.backtest import run

    result = run(run_config(s.base, spec, s.symbol, s.timeframe), data={s.symbol: holdout})
    closes = daily_closes(result.equity["equity"])
    returns = (closes / closes.shift(1) - 1.0).to_numpy()[1:]
    index = pd.DatetimeIndex(result.equity.index)
    return score(result.stats).as_dict(), returns, trading_days_per_year(index)


def describe(spec: Spec) -> str:
    """A candidate as readable text."""
    p = spec["parameters"]
    if spec["type"] == "evolved":
        text = f"entry: {p['entry']} | exit: {p['exit']}"
        genes = ("stop_loss", "take_profit", "trailing", "size")
        return text + "".join(f" | {k}: {p[k]}" for k in genes if p.get(k))
    return f"{spec['type']}: " + ", ".join(f"{k}={v}" for k, v in sorted(p.items()))
