"""An Optuna study over one strategy's parameters, backtested through the batch path.

TPE (seeded) for one metric, NSGA-II for several; with walk-forward folds each fold's score is
reported as an intermediate value so the median pruner stops hopeless trials early. Parameter
sets the strategy refuses (``validate_parameters``: short above long ...) are pruned and marked
``infeasible``, not crashes. ``jobs`` > 1 runs worker processes on one shared storage.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
import pandas as pd

from genebot.backtest.batch import BatchRunner
from genebot.backtest.setup import DataInput
from genebot.config.loader import GenebotConfig
from genebot.core.errors import GenebotError, InputError
from genebot.optimize.ranges import Range
from genebot.strategies.registry import strategy_class, user_catalog
from genebot.trading.strategy import Strategy

log = logging.getLogger("genebot.optimize")

# Every metric is "higher is better" (max_drawdown is a negative fraction: -0.2 is 20 %).
METRICS = (
    "sharpe",
    "sortino",
    "calmar",
    "profit_factor",
    "total_return",
    "cagr",
    "max_drawdown",
    "win_rate",
    "expectancy",
)
KEPT_STATS = (
    "total_return",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "profit_factor",
    "trades",
)


def parse_metrics(text: str) -> tuple[str, ...]:
    """``sharpe`` or ``sharpe,max_drawdown``: known names, each once."""
    names = tuple(m.strip() for m in text.split(",") if m.strip())
    if not names:
        raise InputError(f"--metric {text!r}: name at least one of {', '.join(METRICS)}")
    for name in names:
        if name not in METRICS:
            raise InputError(f"--metric {name}: unknown metric; allowed: {', '.join(METRICS)}")
    if len(set(names)) != len(names):
        raise InputError(f"--metric {text}: a metric is named twice")
    return names


def storage_url(url: str) -> str:
    """SQLAlchemy URL for Optuna: plain ``postgresql://`` uses psycopg 3 (no psycopg2 here)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


@dataclass
class StudySpec:
    """Everything a study (and each of its worker processes) needs; picklable."""

    strategy_key: str  # the config key of the strategy being optimized
    config: GenebotConfig  # only that strategy enabled
    ranges: dict[str, Range]
    metrics: tuple[str, ...] = ("sharpe",)
    trials: int = 100
    jobs: int = 1
    walk_forward: int = 1
    seed: int | None = None
    storage: str | None = None  # an Optuna storage URL; None: in memory (one process)
    study_name: str = "genebot"
    data: DataInput | None = None
    cache_indicators: bool = True
    kind: str = "strategy"  # or "orchestration": ranges are orchestrator settings (dotted)
    raw: dict[str, Any] | None = None  # orchestration: the config file's mapping
    holdout: float = 0.0  # the last fraction of the bars: kept from the search, scored after
    sampler: str = "auto"  # tpe | random | grid | qmc | nsga2; auto: tpe, nsga2 for several

    @property
    def multi(self) -> bool:
        return len(self.metrics) > 1


def strategy_type(cfg: GenebotConfig, key: str) -> type[Strategy]:
    scfg = cfg.strategies[key]
    return strategy_class(scfg.type or key, user_catalog(cfg.strategies_path))


SAMPLERS = ("auto", "tpe", "random", "grid", "qmc", "nsga2")


def make_sampler(spec: StudySpec, worker: int = 0) -> optuna.samplers.BaseSampler:
    """The study's sampler: TPE (one metric) or NSGA-II (several) by default; ``random``,
    ``qmc`` (a seeded Sobol sequence) and ``grid`` (every point of the ranges once, in a seeded
    random order; the study stops when all are tried) on request."""
    name = check_sampler(spec)
    seed = None if spec.seed is None else spec.seed + worker
    if name == "nsga2" or (name == "auto" and spec.multi):
        return optuna.samplers.NSGAIISampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "qmc":
        with warnings.catch_warnings():  # "experimental" since Optuna 3.0: said once, not per run
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.QMCSampler(seed=spec.seed, warn_independent_sampling=False)
    if name == "grid":
        return optuna.samplers.GridSampler(grid_space(spec.ranges), seed=spec.seed)
    shared = spec.jobs > 1 or spec.storage is not None  # others' running trials count as bad
    return optuna.samplers.TPESampler(seed=seed, constant_liar=shared)


def check_sampler(spec: StudySpec) -> str:
    name = spec.sampler.strip().lower()
    if name not in SAMPLERS:
        raise InputError(f"--sampler {spec.sampler}: unknown; allowed: {', '.join(SAMPLERS)}")
    if name == "tpe" and spec.multi:
        raise InputError("--sampler tpe scores one metric; several (--metric a,b) need nsga2")
    if name == "grid":
        grid_space(spec.ranges)  # every range must have a step
    return name


def grid_space(ranges: Mapping[str, Range]) -> dict[str, list[Any]]:
    """Every value of each range, as ``suggest`` draws them (``--sampler grid``)."""
    space: dict[str, list[Any]] = {}
    for name, r in ranges.items():
        if r.choices is not None:
            space[name] = list(r.choices)
            continue
        if r.step is None or r.low is None or r.high is None:
            raise InputError(
                f"--sampler grid: {name} ({r.describe()}) has no step; give it one in "
                "--parameter-ranges ({low, high, step}) or use another sampler"
            )
        count = math.floor((r.high - r.low) / r.step + 1e-9) + 1
        if r.integer:
            space[name] = [int(r.low) + i * int(r.step) for i in range(count)]
        else:
            space[name] = [r.low + i * r.step for i in range(count)]
    return space


def make_pruner(spec: StudySpec) -> optuna.pruners.BasePruner:
    if spec.walk_forward < 2 or spec.multi:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)


def open_study(spec: StudySpec, worker: int = 0) -> optuna.Study:
    """Create the study, or load it when it exists (another process, an earlier run). Two
    processes creating Optuna's tables at once can collide: the loser retries."""
    for attempt in range(5):
        try:
            return _create(spec, worker)
        except InputError:
            if attempt == 4 or spec.storage is None:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _create(spec: StudySpec, worker: int) -> optuna.Study:
    storage = storage_url(spec.storage) if spec.storage else None
    kwargs: dict[str, Any] = {}
    if spec.multi:
        kwargs["directions"] = ["maximize"] * len(spec.metrics)
    else:
        kwargs["direction"] = "maximize"
    try:
        return optuna.create_study(
            storage=storage,
            study_name=spec.study_name,
            sampler=make_sampler(spec, worker),
            pruner=make_pruner(spec),
            load_if_exists=True,
            **kwargs,
        )
    except ValueError as exc:  # directions of an existing study differ, a bad URL ...
        raise InputError(f"--storage {spec.storage} --study {spec.study_name}: {exc}") from None
    except Exception as exc:  # SQLAlchemy: cannot connect, unknown dialect
        if type(exc).__module__.startswith(("sqlalchemy", "optuna")):
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"--storage {spec.storage}: {first}") from None
        raise


def suggest(trial: optuna.Trial, ranges: Mapping[str, Range]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, r in ranges.items():
        if r.choices is not None:
            values[name] = trial.suggest_categorical(name, list(r.choices))
        elif r.integer:
            assert r.low is not None and r.high is not None
            step = int(r.step or 1)
            high = int(r.low) + (int(r.high) - int(r.low)) // step * step
            values[name] = trial.suggest_int(name, int(r.low), high, step=step)
        else:
            assert r.low is not None and r.high is not None
            if r.step is not None:
                n = math.floor((r.high - r.low) / r.step + 1e-9)
                values[name] = trial.suggest_float(name, r.low, r.low + n * r.step, step=r.step)
            else:
                values[name] = trial.suggest_float(name, r.low, r.high)
    return values


def fold_bounds(
    runner: BatchRunner, cfg: GenebotConfig, k: int
) -> list[tuple[str | None, str | None]]:
    """``k`` consecutive (start_date, end_date) windows of equal bar counts over the config's
    period; one window (the config's own dates) when ``k`` is 1."""
    bt = cfg.backtest
    if k < 2:
        return [(bt.start_date, bt.end_date)]
    ts = _period_ts(runner, cfg)
    if len(ts) < 2 * k:
        raise InputError(f"--walk-forward {k}: only {len(ts)} bars, too few for {k} folds")
    cuts = [int(ts[(len(ts) * i) // k]) for i in range(k)]
    stamps = [pd.Timestamp(c, tz="UTC").isoformat() for c in cuts]
    ends: list[str | None] = [*stamps[1:], bt.end_date]
    return list(zip(stamps, ends, strict=True))


def _period_ts(runner: BatchRunner, cfg: GenebotConfig) -> Any:
    """The bar timestamps (ns) of the config's period (its first feed)."""
    bt = cfg.backtest
    frames = runner.data_for(cfg)
    ts = pd.DatetimeIndex(next(iter(frames.values())).index).asi8
    if bt.start_ns is not None:
        ts = ts[ts >= bt.start_ns]
    if bt.end_ns is not None:
        ts = ts[ts < bt.end_ns]
    return ts


Window = tuple[str | None, str | None]


def holdout_split(
    runner: BatchRunner, cfg: GenebotConfig, fraction: float
) -> tuple[GenebotConfig, Window]:
    """The search config (ending where the held-out bars begin) and the held-out window: the
    last ``fraction`` of the period's bars, never seen by the search."""
    if not 0 < fraction < 1:
        raise InputError(f"--holdout {fraction}: must be above 0 and below 1 (e.g. 0.2)")
    ts = _period_ts(runner, cfg)
    held = max(1, round(len(ts) * fraction))
    if len(ts) - held < 2:
        raise InputError(f"--holdout {fraction}: only {len(ts)} bars, none left to search")
    split = pd.Timestamp(int(ts[len(ts) - held]), tz="UTC").isoformat()
    bt = cfg.backtest
    search = cfg.model_copy(update={"backtest": bt.model_copy(update={"end_date": split})})
    return search, (split, bt.end_date)


def _metric(stats: Mapping[str, Any], name: str) -> float | None:
    value = stats.get(name)
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


class Objective:
    """``objective(trial)`` for Optuna: suggest, check, backtest each fold, report, score."""

    def __init__(self, spec: StudySpec, runner: BatchRunner) -> None:
        self.spec = spec
        self.runner = runner
        base, self.holdout = spec.config, None
        if spec.holdout:
            base, self.holdout = holdout_split(runner, spec.config, spec.holdout)
        self.folds = fold_bounds(runner, base, spec.walk_forward)
        self.cls = (
            strategy_type(spec.config, spec.strategy_key) if spec.kind == "strategy" else None
        )
        # parameter sets scored in this process (value, user attributes): a sampler on whole
        # numbers draws some twice; those are answered from here, marked ``same_as``
        self.scored: dict[
            tuple[tuple[str, Any], ...], tuple[float | list[float], dict[str, Any], int]
        ] = {}
        self.reused = 0

    def candidate(self, params: Mapping[str, Any]) -> GenebotConfig:
        """The trial's config (the config's dates); InputError: an infeasible parameter set."""
        cfg = self.spec.config
        key = self.spec.strategy_key
        scfg = cfg.strategies[key]
        merged = {**scfg.parameters, **params}
        assert self.cls is not None
        self.cls(merged, strategy_id=key)  # validate_parameters: short below long ...
        strategies = dict(cfg.strategies)
        strategies[key] = scfg.model_copy(update={"parameters": merged})
        return cfg.model_copy(update={"strategies": strategies})

    @staticmethod
    def dated(cfg: GenebotConfig, fold: tuple[str | None, str | None]) -> GenebotConfig:
        backtest = cfg.backtest.model_copy(update={"start_date": fold[0], "end_date": fold[1]})
        return cfg.model_copy(update={"backtest": backtest})

    def config_for(
        self, params: Mapping[str, Any], fold: tuple[str | None, str | None]
    ) -> GenebotConfig:
        return self.dated(self.candidate(params), fold)

    def __call__(self, trial: optuna.Trial) -> float | Sequence[float]:
        params = suggest(trial, self.spec.ranges)
        key = tuple(sorted(params.items()))
        done = self.scored.get(key)
        if done is not None:  # the sampler drew a set it drew before: a backtest is a function
            score, stored, first = done
            for name, attr in stored.items():
                trial.set_user_attr(name, attr)
            trial.set_user_attr("same_as", first)
            self.reused += 1
            return score
        try:
            cfg = self.candidate(params)
        except InputError as exc:
            trial.set_user_attr("infeasible", str(exc))
            raise optuna.TrialPruned(str(exc)) from None
        per_fold: list[list[float]] = []
        kept: dict[str, Any] = {}
        try:
            for step, fold in enumerate(self.folds):
                stats = self.runner.stats(self.dated(cfg, fold))
                self._score(trial, step, stats, per_fold, kept)
        finally:  # one write per trial (a database storage pays a round trip per write)
            trial.set_user_attr("stats", kept)
            if len(self.folds) > 1:
                trial.set_user_attr("folds", per_fold)
        means = [sum(f[i] for f in per_fold) / len(per_fold) for i in range(len(self.spec.metrics))]
        value = means if self.spec.multi else means[0]
        attrs: dict[str, Any] = {"stats": kept}
        if len(self.folds) > 1:
            attrs["folds"] = per_fold
        self.scored[key] = (value, attrs, trial.number)
        return value

    def _score(
        self,
        trial: optuna.Trial,
        step: int,
        stats: Mapping[str, Any],
        per_fold: list[list[float]],
        kept: dict[str, Any],
    ) -> None:
        """Record one fold's scores; report it and prune (walk-forward) or refuse (undefined)."""
        trades = int(_metric(stats, "trades") or 0) + int(kept.get("trades") or 0)
        if step == 0:  # the first fold's statistics, the trades of all folds
            kept.update({k: stats.get(k) for k in KEPT_STATS})
        kept["trades"] = trades
        scores = [_metric(stats, m) for m in self.spec.metrics]
        undefined = [m for m, v in zip(self.spec.metrics, scores, strict=True) if v is None]
        if undefined:
            trial.set_user_attr(
                "undefined",
                f"{', '.join(undefined)} undefined on fold {step + 1} "
                f"({stats.get('trades', 0)} trades)",
            )
            raise optuna.TrialPruned("metric undefined")
        per_fold.append([float(v) for v in scores if v is not None])
        if not self.spec.multi and len(self.folds) > 1:
            trial.report(sum(f[0] for f in per_fold) / len(per_fold), step)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after fold {step + 1}")


def _work(spec: StudySpec, worker: int, trials: int) -> None:
    """One process's share of the trials (also the whole study when ``jobs`` is 1)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = open_study(spec, worker)
    optimize(spec, study, trials)


def make_objective(spec: StudySpec, runner: BatchRunner) -> Objective:
    if spec.kind == "orchestration":
        from genebot.optimize.orchestration import OrchestrationObjective

        return OrchestrationObjective(spec, runner)
    return Objective(spec, runner)


def optimize(spec: StudySpec, study: optuna.Study, trials: int) -> None:
    with BatchRunner(spec.data, cache_indicators=spec.cache_indicators) as runner:
        study.optimize(make_objective(spec, runner), n_trials=trials, gc_after_trial=False)


def out_of_sample(
    spec: StudySpec, trials: Sequence[optuna.trial.FrozenTrial]
) -> list[dict[str, Any]]:
    """Each trial's parameters backtested on the held-out window (after the search)."""
    rows: list[dict[str, Any]] = []
    with BatchRunner(spec.data, cache_indicators=spec.cache_indicators) as runner:
        objective = make_objective(spec, runner)
        if objective.holdout is None:
            return rows
        for t in trials:
            cfg = objective.dated(objective.candidate(t.params), objective.holdout)
            stats = runner.stats(cfg)
            rows.append(
                {
                    "number": t.number,
                    "params": dict(t.params),
                    "window": list(objective.holdout),
                    "in_sample": dict(zip(spec.metrics, t.values or (), strict=False)),
                    "out_of_sample": {m: _metric(stats, m) for m in spec.metrics},
                    "stats": {k: stats.get(k) for k in KEPT_STATS},
                }
            )
    return rows


def _close(study: optuna.Study) -> None:
    """Close the pooled connections of a study's database storage (Optuna keeps them open)."""
    storage = getattr(study, "_storage", None)
    backend = getattr(storage, "_backend", storage)
    engine = getattr(backend, "engine", None)
    if engine is not None:
        engine.dispose()


def run_study(spec: StudySpec) -> optuna.Study:
    """Run ``spec.trials`` trials (split over ``spec.jobs`` processes) and return the study."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if spec.trials < 1:
        raise InputError(f"--trials {spec.trials}: must be at least 1")
    if spec.jobs < 1:
        raise InputError(f"--jobs {spec.jobs}: must be at least 1")
    if spec.walk_forward < 1:
        raise InputError(f"--walk-forward {spec.walk_forward}: must be at least 1")
    if not spec.ranges:
        raise InputError(
            f"strategy {spec.strategy_key} declares no optimization ranges; give "
            "--parameter-ranges FILE"
        )
    if spec.jobs > 1 and spec.storage is None:
        raise InputError("--jobs above 1 needs a shared --storage (the CLI picks a file)")
    study = open_study(spec)
    if spec.jobs == 1:
        optimize(spec, study, spec.trials)
        return study
    _close(study)  # no database connection may be shared with the forked workers
    shares = [spec.trials // spec.jobs + (i < spec.trials % spec.jobs) for i in range(spec.jobs)]
    # fork: a worker starts in milliseconds with everything imported; spawn where there is none
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    ctx: Any = multiprocessing.get_context(method)
    procs = [ctx.Process(target=_work, args=(spec, i, n)) for i, n in enumerate(shares) if n]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    failed = [p.exitcode for p in procs if p.exitcode != 0]
    if failed:
        raise GenebotError(f"{len(failed)} optimization worker(s) failed (exit codes {failed})")
    return open_study(spec)
