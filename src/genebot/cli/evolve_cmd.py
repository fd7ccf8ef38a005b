"""``genebot evolve`` (genetic search of strategies) and ``genebot halloffame`` (what it kept)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from genebot.cli.common import console, err, guarded, say
from genebot.core.errors import InputError

if TYPE_CHECKING:  # heavy (deap, pandas): imported by the commands when they run
    from genebot.evolution.search import Generation

halloffame_app = typer.Typer(
    no_args_is_help=True, help="The Hall of Fame of evolved strategies: list, show, export, deploy."
)
DatabaseArg = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        "--database",
        help="database URL (default: $DATABASE_URL, else sqlite:///genebot.db)",
        show_default=False,
    ),
]


def _raw_config(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    import yaml

    if not path.is_file():
        raise InputError(f"--config {path}: file not found")
    loaded = yaml.safe_load(path.read_text()) or {}
    if not isinstance(loaded, dict):
        raise InputError(f"--config {path}: not a mapping of sections")
    return loaded


def _open_db(url: str | None) -> Any:
    from genebot.cli.db import open_current

    return open_current(url)


def evolve_command(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="YAML config (backtest, risk sections)")
    ] = None,
    strategy: Annotated[
        str | None, typer.Option(help="evolve this built-in strategy's declared parameters")
    ] = None,
    grammar: Annotated[
        str | None, typer.Option(help="'rules': evolve entry/exit rules (the default)")
    ] = None,
    population: Annotated[int, typer.Option(help="individuals per generation")] = 40,
    generations: Annotated[int, typer.Option(help="generations after the first")] = 10,
    seed: Annotated[int, typer.Option(help="same seed, same data ⇒ same result")] = 0,
    jobs: Annotated[int, typer.Option(help="local worker processes")] = 1,
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler, e.g. tcp://host:8786 (instead of --jobs)")
    ] = None,
    symbol: Annotated[str, typer.Option(help="symbol to evolve on")] = "BTC/USDT",
    timeframe: Annotated[str, typer.Option(help="bars to evolve on")] = "1h",
    data: Annotated[Path | None, typer.Option(help="OHLCV file (default: the data folder)")] = None,
    folds: Annotated[int, typer.Option(help="walk-forward folds of the in-sample part")] = 3,
    holdout: Annotated[float, typer.Option(help="share of the bars held out (the tail)")] = 0.2,
    min_trades: Annotated[int, typer.Option(help="fewest trades over the folds")] = 5,
    keep: Annotated[int, typer.Option(help="Pareto-front members kept in the Hall of Fame")] = 5,
    database_url: DatabaseArg = None,
    no_store: Annotated[bool, typer.Option("--no-store", help="do not keep the results")] = False,
) -> None:
    """Evolve strategies (NSGA-II over Sharpe, drawdown and trades on walk-forward folds),
    score the best on held-out bars and keep them in the Hall of Fame."""
    if strategy and grammar:
        say(err, "error:", "red", "give --strategy NAME or --grammar rules, not both")
        raise typer.Exit(2)
    if grammar not in (None, "rules"):
        say(err, "error:", "red", f"--grammar {grammar}: the only grammar is 'rules'")
        raise typer.Exit(2)
    db = None if no_store else _open_db(database_url)
    raw = guarded(lambda: _raw_config(config))
    bars, source = guarded(lambda: _bars(raw, symbol, timeframe, data))
    base: dict[str, Any] = {
        k: raw[k] for k in ("backtest", "risk_management", "exchanges") if k in raw
    }
    if "backtest" in base:  # (its period cut the bars already: the folds are not cut again)
        base["backtest"] = {
            k: v for k, v in base["backtest"].items() if k not in ("start_date", "end_date")
        }
    base.setdefault("risk_management", {"enabled": False})
    from genebot.evolution.search import Settings

    settings = guarded(
        lambda: Settings(
            symbol,
            timeframe,
            strategy,
            population,
            generations,
            seed,
            folds,
            holdout,
            min_trades,
            keep=keep,
            base=base,
        )
    )
    result = guarded(lambda: _run(settings, bars, jobs, scheduler))
    _show_result(result)
    if db is not None:
        from genebot.evolution.halloffame import store

        described = {"symbol": symbol, "timeframe": timeframe, "source": source, "bars": len(bars)}
        ids = guarded(lambda: store(db, result, described))
        console.print(f"kept in the Hall of Fame: {', '.join(map(str, ids))}")


def _bars(raw: dict[str, Any], symbol: str, timeframe: str, data: Path | None) -> Any:
    """The bars to evolve on (the config's period of them, read as a backtest reads them) and
    the file's absolute path."""
    from genebot.config.loader import load_config
    from genebot.data.catalog import find_data_file
    from genebot.data.readers import read_ohlcv

    backtest = load_config({"backtest": raw.get("backtest", {})}).backtest
    listed = [
        e.file for e in backtest.data if e.symbol == symbol and e.timeframe in (None, timeframe)
    ]
    path = data or (listed[0] if listed else find_data_file(backtest.data_dir, symbol, timeframe))
    frame = read_ohlcv(
        path, timeframe=timeframe, on_broken=backtest.on_broken, on_gap=backtest.on_gap
    ).frame
    ts = frame.index.asi8
    if backtest.start_ns is not None:
        frame, ts = frame[ts >= backtest.start_ns], ts[ts >= backtest.start_ns]
    if backtest.end_ns is not None:
        frame = frame[ts < backtest.end_ns]
    return frame, str(Path(path).resolve())


def _run(settings: Any, bars: Any, jobs: int, scheduler: str | None) -> Any:
    from genebot.evolution.executor import executor_for
    from genebot.evolution.search import evolve

    executor = executor_for(jobs, scheduler)
    total = settings.generations

    def line(gen: Generation) -> None:
        console.print(
            f"generation {gen.number:>3}/{total}  evaluated {gen.evaluated:>4}  best: "
            f"sharpe {gen.best_sharpe:7.3f}  drawdown {gen.best_drawdown:7.2%}  "
            f"trades {gen.best_trades}",
            highlight=False,
        )

    return evolve(settings, bars, executor, line)


def _show_result(result: Any) -> None:
    table = Table(title=f"Pareto front ({result.tried} candidates tried)")
    for col in ("rules", "wf sharpe", "held-out sharpe", "held-out dd", "trades", "DSR"):
        table.add_column(col)
    for c in result.candidates:
        dsr = "n/a" if c.deflated_sharpe is None else f"{c.deflated_sharpe:.3f}"
        table.add_row(
            c.rules,
            f"{c.objectives[0]:.3f}",
            f"{c.held_out['sharpe']:.3f}",
            f"{c.held_out['max_drawdown']:.2%}",
            str(c.held_out["trades"]),
            dsr,
        )
    console.print(table)


@halloffame_app.command("list")
def hof_list(
    format: Annotated[str, typer.Option("--format", help="table | json")] = "table",
    database_url: DatabaseArg = None,
) -> None:
    """Every entry, best held-out Sharpe first."""
    if format not in ("table", "json"):
        say(err, "error:", "red", f"--format {format}: use table or json")
        raise typer.Exit(2)
    from genebot.evolution.halloffame import entries

    found = guarded(lambda: entries(_open_db(database_url)))
    if format == "json":
        typer.echo(json.dumps([e.as_dict() for e in found], indent=2))
        return
    table = Table(title="Hall of Fame")
    for col in ("id", "strategy", "rules", "held-out sharpe", "wf trades", "DSR", "seed"):
        table.add_column(col)
    for e in found:
        dsr = "n/a" if e.deflated_sharpe is None else f"{e.deflated_sharpe:.3f}"
        trades = sum(f["trades"] for f in e.walk_forward)
        sharpe = e.held_out.get("sharpe")
        table.add_row(
            str(e.id), e.strategy, e.rules, f"{sharpe:.3f}", str(trades), dsr, str(e.seed)
        )
    console.print(table)


@halloffame_app.command("show")
def hof_show(
    entry_id: Annotated[int, typer.Argument(help="entry id (see list)")],
    database_url: DatabaseArg = None,
) -> None:
    """One entry with all its statistics (JSON)."""
    from genebot.evolution.halloffame import entry

    found = guarded(lambda: entry(_open_db(database_url), entry_id))
    typer.echo(json.dumps(found.as_dict(), indent=2))


@halloffame_app.command("export")
def hof_export(
    entry_id: Annotated[int, typer.Argument(help="entry id (see list)")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="file (default: stdout)")
    ] = None,
    database_url: DatabaseArg = None,
) -> None:
    """The entry as a YAML strategy config, its statistics as comments."""
    from genebot.evolution.halloffame import entry, export_yaml

    text = export_yaml(guarded(lambda: entry(_open_db(database_url), entry_id)))
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
        console.print(f"wrote {output}")


@halloffame_app.command("deploy")
def hof_deploy(
    entry_id: Annotated[int, typer.Argument(help="entry id (see list)")],
    paper: Annotated[bool, typer.Option("--paper", help="paper trading (the only mode)")] = True,
    output: Annotated[
        Path | None,
        typer.Option(help="where the config is written (default: hall_of_fame_ID.yaml)"),
    ] = None,
    capital: Annotated[float | None, typer.Option(help="starting cash of this deployment")] = None,
    speed: Annotated[str | None, typer.Option(help="N or max (default: ~1 minute)")] = None,
    fresh: Annotated[bool, typer.Option(help="start over instead of resuming")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no status view")] = False,
    database_url: DatabaseArg = None,
) -> None:
    """Write the entry's config (its rules, the risk settings and data its statistics were
    computed with) and deploy it as a paper deployment (`genebot deploy`): a replay of the
    data it was evolved on."""
    from genebot.cli.run import deploy_command
    from genebot.evolution.halloffame import entry, export_yaml

    found = guarded(lambda: entry(_open_db(database_url), entry_id))
    path = output or Path(f"hall_of_fame_{entry_id}.yaml")
    path.write_text(export_yaml(found))
    console.print(f"wrote {path}")
    deploy_command(
        strategy=f"hof_{entry_id}",
        symbols=str(found.data.get("symbol", "BTC/USDT")),
        timeframe=str(found.data.get("timeframe", "1h")),
        capital=capital,
        config=path,
        paper=paper,
        speed=speed,
        fresh=fresh,
        quiet=quiet,
        database_url=database_url,
    )
