"""``genebot optimize strategy NAME``: an Optuna study over a strategy's parameters."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from genebot.cli.common import DONE, console, err, find_config, guarded, say
from genebot.core.errors import InputError

SamplerOption = Annotated[
    str,
    typer.Option(
        help="auto (tpe; nsga2 for several metrics) | tpe | random | qmc | nsga2 | "
        "grid (every point of the ranges once)"
    ),
]

if TYPE_CHECKING:  # heavy (optuna, pandas): imported by the command when it runs
    from genebot.optimize.study import StudySpec

optimize_app = typer.Typer(
    no_args_is_help=True,
    help="Optimize a strategy's parameters with Optuna (TPE; NSGA-II for several metrics).",
)
DEFAULT_CONFIGS = (Path("config/backtest.yaml"),)


@optimize_app.command("strategy")
def optimize_strategy(
    name: Annotated[str, typer.Argument(help="strategy: config key or name, e.g. moving_average")],
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="YAML config (default: config/backtest.yaml)"),
    ] = None,
    parameter_ranges: Annotated[
        Path | None,
        typer.Option(
            help="YAML {param: {low, high, step}} or {param: [choices]}; default: declared"
        ),
    ] = None,
    metric: Annotated[
        str,
        typer.Option(
            help="sharpe | sortino | calmar | profit_factor | total_return | "
            "cagr | max_drawdown | win_rate | expectancy; several: a,b"
        ),
    ] = "sharpe",
    trials: Annotated[
        int, typer.Option(help="trials to run (in this process and its workers)")
    ] = 100,
    jobs: Annotated[int, typer.Option(help="worker processes sharing the study")] = 1,
    walk_forward: Annotated[
        int, typer.Option(help="consecutive folds scored (pruning between)")
    ] = 1,
    seed: Annotated[int | None, typer.Option(help="sampler seed: same seed, same best")] = None,
    holdout: Annotated[
        float, typer.Option(help="last fraction of the bars kept out of the search, scored after")
    ] = 0.0,
    storage: Annotated[
        str | None, typer.Option(help="Optuna storage URL, e.g. postgresql://user@host/db")
    ] = None,
    study: Annotated[str | None, typer.Option(help="study name in --storage")] = None,
    output_dir: Annotated[
        Path, typer.Option(help="where optimization.json and the report go")
    ] = Path("optimize_output"),
    symbols: Annotated[str | None, typer.Option(help="e.g. BTC/USDT,ETH/USDT")] = None,
    timeframe: Annotated[str | None, typer.Option(help="e.g. 1h")] = None,
    data_file: Annotated[
        str | None, typer.Option(help="one OHLCV file (symbol from --symbols)")
    ] = None,
    start_date: Annotated[str | None, typer.Option(help="ISO date, inclusive")] = None,
    end_date: Annotated[str | None, typer.Option(help="ISO date, exclusive")] = None,
    sampler: SamplerOption = "auto",
    top: Annotated[int, typer.Option(help="best trials shown")] = 10,
) -> None:
    """Search NAME's parameters; print the best trials; write optimization.json and
    optimization_report.html (Optuna's figures) to --output-dir."""
    spec = guarded(
        lambda: _spec(
            name,
            config,
            parameter_ranges,
            metric,
            trials,
            jobs,
            walk_forward,
            seed,
            storage,
            study,
            output_dir,
            symbols,
            timeframe,
            data_file,
            start_date,
            end_date,
        )
    )
    _set_search(spec, holdout, sampler)
    _execute(spec, output_dir, top)


def _set_search(spec: StudySpec, holdout: float, sampler: str) -> None:
    from genebot.optimize.study import check_sampler

    spec.holdout, spec.sampler = holdout, sampler
    guarded(lambda: check_sampler(spec))  # a bad --sampler before any data is read


def _execute(spec: StudySpec, output_dir: Path, top: int) -> None:
    """Run the study; print the best trials; write optimization.json and the report."""
    from genebot.optimize.report import best_trials, summary, write_html, write_json
    from genebot.optimize.study import out_of_sample, run_study

    say(err, "optimize:", "cyan", _intro(spec))
    began = time.perf_counter()
    result = guarded(lambda: run_study(spec))
    took = time.perf_counter() - began
    best = best_trials(result, spec, top)
    held_out = guarded(lambda: out_of_sample(spec, best)) if spec.holdout else None
    data = summary(result, spec, held_out)
    _print_best(spec, best, data, took)
    if held_out:
        _print_held_out(spec, held_out)
    output_dir.mkdir(parents=True, exist_ok=True)
    write_json(output_dir / "optimization.json", data)
    DONE.append(f"written {output_dir}/optimization.json")
    write_html(output_dir / "optimization_report.html", result, spec, data)
    console.print(f"results written to {output_dir}/: optimization.json, optimization_report.html")
    if not data["best_trials"]:
        say(err, "warning:", "yellow", "no trial completed (all infeasible or pruned)")
        raise typer.Exit(1)


def _split(text: str | None) -> list[str] | None:
    return [s.strip() for s in text.split(",") if s.strip()] if text else None


def _spec(
    name: str, config: Path | None, ranges_file: Path | None, metric: str, trials: int,
    jobs: int, walk_forward: int, seed: int | None, storage: str | None, study: str | None,
    output_dir: Path, symbols: str | None, timeframe: str | None, data_file: str | None,
    start_date: str | None, end_date: str | None,
) -> StudySpec:  # fmt: skip
    from genebot.config.loader import GenebotConfig, apply_overrides, load_config
    from genebot.optimize.ranges import declared_ranges, load_ranges
    from genebot.optimize.study import StudySpec, parse_metrics, strategy_type

    metrics = parse_metrics(metric)
    if study is not None and storage is None:
        raise InputError("--study needs --storage URL (an in-memory study has no name to share)")
    if config is None and not DEFAULT_CONFIGS[0].is_file():
        base = GenebotConfig()
    else:
        base = load_config(find_config(config, DEFAULT_CONFIGS))
    cfg = apply_overrides(
        base, strategy=name, symbols=_split(symbols), timeframe=timeframe, data_file=data_file,
        start_date=start_date, end_date=end_date,
    )  # fmt: skip
    (key,) = [k for k, s in cfg.strategies.items() if s.enabled]
    cls = strategy_type(cfg, key)
    if ranges_file is not None:
        ranges = load_ranges(ranges_file, key, cls.parameters)
    else:
        ranges = declared_ranges(cls.parameters)
    if jobs > 1 and storage is None:
        output_dir.mkdir(parents=True, exist_ok=True)
        storage = f"sqlite:///{(output_dir / 'optuna.db').resolve()}"
    return StudySpec(
        strategy_key=key, config=cfg, ranges=ranges, metrics=metrics, trials=trials,
        jobs=jobs, walk_forward=walk_forward, seed=seed, storage=storage,
        study_name=study or f"genebot-{key}-{int(time.time())}",
    )  # fmt: skip


def _intro(spec: StudySpec) -> str:
    space = "; ".join(r.describe() for r in spec.ranges.values())
    where = f"{spec.storage}, study {spec.study_name}" if spec.storage else "memory"
    return (
        f"{spec.strategy_key}: {spec.trials} trials, {', '.join(spec.metrics)}, {space}; "
        f"sampler {spec.sampler}, {spec.jobs} process(es), {spec.walk_forward} fold(s), "
        f"storage {where}"
    )


def _print_best(spec: StudySpec, best: list[Any], data: dict[str, Any], took: float) -> None:
    title = "Pareto front" if spec.multi else f"best trials by {spec.metrics[0]}"
    table = Table(title=title)
    names = list(spec.ranges)
    for col in ("trial", *spec.metrics, *names, "trades"):
        table.add_column(col, justify="right")
    for t in best:
        stats = t.user_attrs.get("stats") or {}
        cells = [
            str(t.number),
            *(f"{v:.4f}" for v in t.values),
            *(str(t.params.get(p)) for p in names),
        ]
        table.add_row(*cells, str(stats.get("trades", "-")))
    console.print(table)
    counts = ", ".join(f"{v} {k}" for k, v in data["counts"].items())
    total = sum(data["counts"].values())
    ran = min(spec.trials, total)  # fewer: a grid with fewer points, all tried
    rate = ran / took * 60 if took > 0 else 0.0
    shared = f"; the study has {total} ({counts})" if total != ran else f" ({counts})"
    console.print(f"{ran} trials in {took:.1f}s: {rate:,.0f} trials/min{shared}")
    if data.get("repeated_sets"):
        console.print(
            f"{data['repeated_sets']} trial(s) drew a parameter set already scored: answered "
            "from that trial (same_as in optimization.json)"
        )
    if data["best_params"] is not None:
        console.print(f"best params: {data['best_params']}")


@optimize_app.command("orchestration")
def optimize_orchestration(
    parameter_ranges: Annotated[
        Path, typer.Option(help="YAML {orchestrator setting: {low, high, step} | [choices]}")
    ],
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="orchestrator config (default: config/orchestrator.yaml)"
        ),
    ] = None,
    start_date: Annotated[str | None, typer.Option(help="ISO date, inclusive")] = None,
    end_date: Annotated[str | None, typer.Option(help="ISO date, exclusive")] = None,
    metric: Annotated[
        str, typer.Option(help="as for `optimize strategy`; several: a,b")
    ] = "sharpe",
    trials: Annotated[int, typer.Option(help="trials to run")] = 20,
    jobs: Annotated[int, typer.Option(help="worker processes sharing the study")] = 1,
    walk_forward: Annotated[int, typer.Option(help="consecutive folds scored")] = 1,
    seed: Annotated[int | None, typer.Option(help="sampler seed")] = None,
    holdout: Annotated[
        float, typer.Option(help="last fraction of the bars kept out of the search, scored after")
    ] = 0.0,
    storage: Annotated[str | None, typer.Option(help="Optuna storage URL")] = None,
    study: Annotated[str | None, typer.Option(help="study name in --storage")] = None,
    output_dir: Annotated[Path, typer.Option(help="where the results go")] = Path(
        "optimize_output/orchestration"
    ),
    sampler: SamplerOption = "auto",
    top: Annotated[int, typer.Option(help="best trials shown")] = 10,
) -> None:
    """Search the orchestrator's settings (allocation method, lookback, limits ...) over a
    backtest of its strategies; writes optimization.json and optimization_report.html."""
    spec = guarded(
        lambda: _orchestration_spec(
            parameter_ranges, config, start_date, end_date, metric, trials, jobs,
            walk_forward, seed, storage, study, output_dir,
        )
    )  # fmt: skip
    _set_search(spec, holdout, sampler)
    _execute(spec, output_dir, top)


def _orchestration_spec(
    ranges_file: Path, config: Path | None, start_date: str | None, end_date: str | None,
    metric: str, trials: int, jobs: int, walk_forward: int, seed: int | None,
    storage: str | None, study: str | None, output_dir: Path,
) -> StudySpec:  # fmt: skip
    import yaml

    from genebot.config.loader import load_config
    from genebot.optimize.orchestration import load_orchestration_ranges
    from genebot.optimize.study import StudySpec, parse_metrics

    metrics = parse_metrics(metric)
    if study is not None and storage is None:
        raise InputError("--study needs --storage URL (an in-memory study has no name to share)")
    path = find_config(config, (Path("config/orchestrator.yaml"),), "no orchestrator config")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise InputError(f"{path}: expected a mapping")
    backtest = dict(raw.get("backtest") or {})
    backtest.update({k: v for k, v in (("start_date", start_date), ("end_date", end_date)) if v})
    raw["backtest"] = backtest
    cfg = load_config(raw)
    if not cfg.orchestrated:
        raise InputError(f"{path}: no enabled orchestrator: section to optimize")
    ranges = load_orchestration_ranges(ranges_file, raw)
    if jobs > 1 and storage is None:
        output_dir.mkdir(parents=True, exist_ok=True)
        storage = f"sqlite:///{(output_dir / 'optuna.db').resolve()}"
    return StudySpec(
        strategy_key="orchestration", config=cfg, ranges=ranges, metrics=metrics,
        trials=trials, jobs=jobs, walk_forward=walk_forward, seed=seed, storage=storage,
        study_name=study or f"genebot-orchestration-{int(time.time())}",
        kind="orchestration", raw=raw,
    )  # fmt: skip


def _print_held_out(spec: StudySpec, rows: list[dict[str, Any]]) -> None:
    start, end = rows[0]["window"]
    table = Table(title=f"held out: {start} to {end or 'the end'} (never seen by the search)")
    table.add_column("trial", justify="right")
    for m in spec.metrics:
        table.add_column(f"{m} in sample", justify="right")
        table.add_column(f"{m} held out", justify="right")
    table.add_column("trades", justify="right")
    for r in rows:
        cells = [str(r["number"])]
        for m in spec.metrics:
            cells += [_num(r["in_sample"].get(m)), _num(r["out_of_sample"].get(m))]
        table.add_row(*cells, str(r["stats"].get("trades", "-")))
    console.print(table)


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.4f}"
