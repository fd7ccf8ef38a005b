"""The ``genebot`` command line: a thin layer over the public Python API."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from genebot.cli import analytics_cmd, deploy_cmds, orchestrator_live
from genebot.cli.alerts_cmd import alerts_command
from genebot.cli.backtest import execute_backtest
from genebot.cli.common import (
    DatabaseOpt,
    InitialCashOpt,
    OnBrokenOpt,
    OnGapOpt,
    OutputDirOpt,
    QuietOpt,
    StoreOpt,
    console,
    err,
    guarded,
    interrupted_note,
    say,
)
from genebot.cli.config_cmds import config_help, config_validate
from genebot.cli.db import db_app, report_app
from genebot.cli.drift_cmd import report_drift
from genebot.cli.evolve_cmd import evolve_command, halloffame_app
from genebot.cli.exchange_cmds import exchange_app
from genebot.cli.migrate import config_restore, migrate_app
from genebot.cli.notify_cmd import notify_app
from genebot.cli.optimize_cmd import optimize_app
from genebot.cli.orchestrator import (
    backtest_orchestration,
    config_app,
    orchestrator_app,
    orchestrator_config_app,
)
from genebot.cli.reconcile_cmd import reconcile_command
from genebot.cli.risk import risk_app
from genebot.cli.run import deploy_command, run_command
from genebot.cli.serve_cmd import serve_command
from genebot.cli.strategy_cmds import (
    strategy_disable,
    strategy_enable,
    strategy_status,
    strategy_update,
)
from genebot.cli.validate_cmd import validate_command
from genebot.core.errors import InputError, ParameterError
from genebot.reporting.formatting import format_stat

if TYPE_CHECKING:  # heavy (pydantic models, pandas): imported by the commands that use them
    from genebot.backtest.result import BacktestResult
    from genebot.config.loader import GenebotConfig

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="genebot: backtest, paper trade and trade live with one engine.",
)
check_app = typer.Typer(no_args_is_help=True, help="Checks a strategy must pass.")
app.add_typer(check_app, name="check")
strategy_app = typer.Typer(no_args_is_help=True, help="Strategies: list, show, compare.")
app.add_typer(strategy_app, name="strategy")
backtest_app = typer.Typer(
    invoke_without_command=True,
    help="Backtest the configured strategies (or `backtest orchestration`).",
)
app.add_typer(backtest_app, name="backtest")
app.add_typer(db_app, name="db")
app.add_typer(orchestrator_app, name="orchestrator")
app.add_typer(config_app, name="config")
backtest_app.command("orchestration")(backtest_orchestration)
app.add_typer(report_app, name="report")
report_app.command("drift")(report_drift)
app.add_typer(risk_app, name="risk")
app.add_typer(exchange_app, name="exchange")
# The seed guide's names: aliases of the commands above, listed in --help.
app.add_typer(orchestrator_app, name="orchestration", help="Alias of `genebot orchestrator`.")
app.add_typer(
    orchestrator_config_app, name="orchestrator-config", help="Alias of `orchestrator config`."
)
app.add_typer(migrate_app, name="orchestrator-migrate")
app.command("config-restore")(config_restore)
config_app.command("validate")(config_validate)
config_app.command("help")(config_help)
app.command("config-help")(config_help)
app.command("run")(run_command)
app.command("serve")(serve_command)
app.command("alerts")(alerts_command)
app.command("validate")(validate_command)
app.add_typer(notify_app, name="notify")
app.add_typer(optimize_app, name="optimize")
app.add_typer(analytics_cmd.analytics_app, name="analytics")
orchestrator_app.command("auto-select")(analytics_cmd.auto_select)
orchestrator_app.command("optimize-allocation")(analytics_cmd.optimize_allocation)
orchestrator_app.command("test-combination")(analytics_cmd.test_combination)
orchestrator_app.command("rebalance")(analytics_cmd.rebalance)
app.command("evolve")(evolve_command)
app.add_typer(halloffame_app, name="halloffame")
app.command("reconcile")(reconcile_command)
app.command("deploy")(deploy_command)
app.command("deployments")(deploy_cmds.deployments)
app.command("pause")(deploy_cmds.pause)
app.command("resume")(deploy_cmds.resume)
app.command("stop")(deploy_cmds.stop)
app.command("emergency-stop")(deploy_cmds.emergency_stop)
app.command("status")(deploy_cmds.status)
for _verb in ("start", "status", "stop", "monitor", "intervention"):
    _live = getattr(orchestrator_live, _verb)
    orchestrator_app.command(_verb)(_live)
    app.command(f"orchestrator-{_verb}", help=f"Alias of `orchestrator {_verb}`.")(_live)
DEFAULT_CONFIG = Path("config/backtest.yaml")
_guarded = guarded


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]  # "" names none: refused


def _config(path: Path | None, **overrides: object) -> GenebotConfig:
    from genebot.config.loader import apply_overrides, load_config

    if path is not None and not path.is_file():
        raise InputError(f"--config {path}: file not found")
    source: Path | dict[str, object] = (
        path if path is not None else (DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else {})
    )
    return apply_overrides(load_config(source), **overrides)  # type: ignore[arg-type]


ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="YAML config file (default: config/backtest.yaml when present)"
    ),
]


@backtest_app.callback()
def backtest(
    ctx: typer.Context,
    config: ConfigOpt = None,
    strategy: Annotated[str | None, typer.Option(help="run only this strategy")] = None,
    strategies: Annotated[str | None, typer.Option(help="comma-separated strategies")] = None,
    symbols: Annotated[str | None, typer.Option(help="e.g. BTC/USDT,ETH/USDT")] = None,
    timeframe: Annotated[str | None, typer.Option(help="e.g. 5m, 1h")] = None,
    start_date: Annotated[str | None, typer.Option(help="ISO date, inclusive")] = None,
    end_date: Annotated[str | None, typer.Option(help="ISO date, exclusive")] = None,
    data_dir: Annotated[str | None, typer.Option(help="folder with OHLCV files")] = None,
    data_file: Annotated[
        str | None, typer.Option(help="one OHLCV file (symbol from --symbols)")
    ] = None,
    output_dir: OutputDirOpt = None,
    fee: Annotated[float | None, typer.Option(help="fee fraction per fill, e.g. 0.001")] = None,
    initial_cash: InitialCashOpt = None,
    engine_mode: Annotated[str | None, typer.Option(help="auto | per_bar | fast")] = None,
    on_broken: OnBrokenOpt = None,
    on_gap: OnGapOpt = None,
    quiet: QuietOpt = False,
    store: StoreOpt = True,
    database_url: DatabaseOpt = None,
) -> None:
    """Backtest the configured strategies; print stats and write stats.json, trades.csv,
    orders.csv, equity.csv and report.html to the output directory. The run is recorded in
    the database (see `genebot report`) unless --no-store."""
    if ctx.invoked_subcommand is not None:
        return
    _run_flags(**{k: v for k, v in locals().items() if k != "ctx"})


def _run_flags(
    *,
    config: Path | None,
    strategy: str | None,
    strategies: str | None,
    symbols: str | None,
    timeframe: str | None,
    start_date: str | None,
    end_date: str | None,
    data_dir: str | None,
    data_file: str | None,
    output_dir: str | None,
    fee: float | None,
    initial_cash: float | None,
    engine_mode: str | None,
    on_broken: str | None,
    on_gap: str | None,
    quiet: bool,
    store: bool,
    database_url: str | None,
) -> None:
    """One backtest from the command line's flags (the group and its subcommands)."""
    cfg = _guarded(
        lambda: _config(
            config,
            strategy=strategy,
            strategies=_split(strategies),
            symbols=_split(symbols),
            timeframe=timeframe,
            start_date=start_date,
            end_date=end_date,
            data_dir=data_dir,
            data_file=data_file,
            output_dir=output_dir,
            fee=fee,
            initial_cash=initial_cash,
            engine_mode=engine_mode,
            on_broken=on_broken,
            on_gap=on_gap,
        )
    )
    execute_backtest(cfg, quiet=quiet, store=store, database_url=database_url)


SymbolsOpt = Annotated[
    str | None, typer.Option("--symbols", "--symbol", help="e.g. BTC/USDT,ETH/USDT")
]
StartOpt = Annotated[str | None, typer.Option(help="ISO date, inclusive")]
EndOpt = Annotated[str | None, typer.Option(help="ISO date, exclusive")]


@backtest_app.command("strategy")
def backtest_strategy(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="strategy config key or class name")],
    symbols: SymbolsOpt = None,
    start_date: StartOpt = None,
    end_date: EndOpt = None,
    config: ConfigOpt = None,
    timeframe: Annotated[str | None, typer.Option(help="e.g. 5m, 1h")] = None,
    output_dir: OutputDirOpt = None,
    quiet: QuietOpt = False,
    store: StoreOpt = True,
    database_url: DatabaseOpt = None,
) -> None:
    """Backtest one strategy (the seed's `backtest strategy NAME --symbol S ...`)."""
    _subcommand_backtest(ctx, locals(), strategy=name, strategies=None)


@backtest_app.command("strategies")
def backtest_strategies(
    ctx: typer.Context,
    names: Annotated[str, typer.Argument(help="comma-separated, e.g. moving_average,rsi_strategy")],
    symbols: SymbolsOpt = None,
    start_date: StartOpt = None,
    end_date: EndOpt = None,
    config: ConfigOpt = None,
    timeframe: Annotated[str | None, typer.Option(help="e.g. 5m, 1h")] = None,
    output_dir: OutputDirOpt = None,
    quiet: QuietOpt = False,
    store: StoreOpt = True,
    database_url: DatabaseOpt = None,
) -> None:
    """Backtest several strategies on one account (`backtest strategies A,B,C --symbols ...`)."""
    _subcommand_backtest(ctx, locals(), strategy=None, strategies=names)


def _subcommand_backtest(
    ctx: typer.Context, given: dict[str, object], *, strategy: str | None, strategies: str | None
) -> None:
    """The plain backtest's code path, with the group's options (``backtest --fee ... strategy``)
    under the subcommand's own."""
    group = ctx.parent.params if ctx.parent is not None else {}
    options = {**group, **{k: v for k, v in given.items() if k not in ("ctx", "name", "names")}}
    for key in ("config", "symbols", "start_date", "end_date", "timeframe", "output_dir"):
        if options.get(key) is None:
            options[key] = group.get(key)
    options.update(strategy=strategy, strategies=strategies)
    options["quiet"] = bool(given["quiet"] or group.get("quiet"))
    options["store"] = bool(given["store"] and group.get("store", True))
    options["database_url"] = given["database_url"] or group.get("database_url")
    _run_flags(**options)


@check_app.command("lookahead")
def lookahead(
    strategy: Annotated[str, typer.Option(help="strategy config key or class name")],
    config: ConfigOpt = None,
    symbols: Annotated[str | None, typer.Option(help="e.g. BTC/USDT")] = None,
    timeframe: Annotated[str | None, typer.Option(help="e.g. 5m")] = None,
    data_file: Annotated[str | None, typer.Option(help="one OHLCV file")] = None,
) -> None:
    """Prove a strategy never reads the future: runs on prefixes must match the full run.
    With no data flags, a strategy not in the config runs on the bundled data it declares."""
    from genebot.backtest.lookahead import check_lookahead
    from genebot.config.loader import apply_overrides, default_data_config

    logging.basicConfig(level=logging.CRITICAL)

    def build() -> GenebotConfig:
        base = _config(config)
        if not (symbols or timeframe or data_file) and not _configured(base, strategy):
            defaults = default_data_config(base, strategy)
            if defaults is not None:
                return defaults
        return apply_overrides(
            base,
            strategy=strategy,
            symbols=_split(symbols),
            timeframe=timeframe,
            data_file=data_file,
        )

    cfg = _guarded(build)
    report = _guarded(lambda: check_lookahead(cfg))
    if report.passed:
        say(
            console,
            "PASS",
            "green",
            f"{report.strategy}: no lookahead over {report.bars:,} bars "
            f"(cut-offs {', '.join(report.cutoffs)})",
        )
        return
    for problem in report.problems:
        say(err, "FAIL", "red", problem)
    raise typer.Exit(1)


def _configured(cfg: GenebotConfig, name: str) -> bool:
    return name in cfg.strategies or any(s.type == name for s in cfg.strategies.values())


@strategy_app.command("list")
@app.command("list-strategies", help="Alias of `genebot strategy list`.")
def strategy_list(config: ConfigOpt = None) -> None:
    """Every strategy genebot can run (built-in and from strategies_path), with parameters."""
    from genebot.strategies.registry import catalog_for

    cfg = _guarded(lambda: _config(config))
    catalog = _guarded(lambda: catalog_for(cfg.strategies_path))
    table = Table(title="Strategies")
    for column in ("name", "class", "parameters (defaults)", "suits", "source"):
        table.add_column(column)
    for cls in catalog.classes:
        params = ", ".join(f"{k}={p.default!r}" for k, p in cls.parameters.items())
        suits = " ".join(cls.default_data) if cls.default_data else "—"
        table.add_row(cls.name, cls.__name__, params, suits, catalog.sources[cls])
    console.print(table)
    for problem in catalog.problems:
        say(err, "skipped:", "yellow", problem)


strategy_app.command("status")(strategy_status)
strategy_app.command("enable")(strategy_enable)
strategy_app.command("disable")(strategy_disable)
strategy_app.command("update")(strategy_update)
strategy_app.command("analyze")(analytics_cmd.strategy_analyze)


@strategy_app.command("show")
def strategy_show(
    name: Annotated[str, typer.Argument(help="config key or class name")],
    config: ConfigOpt = None,
) -> None:
    """A strategy's documentation and its parameters with bounds and optimization ranges."""
    import inspect
    import sys as _sys

    from genebot.strategies.registry import catalog_for, strategy_class

    cfg = _guarded(lambda: _config(config))
    cls = _guarded(lambda: strategy_class(name, catalog_for(cfg.strategies_path)))
    module_doc = inspect.getdoc(_sys.modules.get(cls.__module__)) or ""
    say(console, cls.__name__, "bold", f"(config key: {cls.name})\n")
    console.print(module_doc or inspect.getdoc(cls) or "(no documentation)", highlight=False)
    table = Table(title="Parameters")
    for column in ("parameter", "default", "min", "max", "optimize (low, high, step)", "about"):
        table.add_column(column)
    for key, p in cls.parameters.items():
        table.add_row(key, repr(p.default), _text(p.min), _text(p.max), _text(p.opt), p.doc or "")
    console.print(table)


def _text(value: object) -> str:
    return "—" if value is None else str(value)


def _run_unless_unfit(
    run: Callable[[GenebotConfig], BacktestResult], cfg: GenebotConfig
) -> BacktestResult | ParameterError:
    """The run, or the strategy's refusal of its parameters or symbols."""
    try:
        return run(cfg)
    except ParameterError as exc:
        return exc


@strategy_app.command("compare")
def strategy_compare(
    names: Annotated[list[str], typer.Argument(help="strategies to compare")],
    config: ConfigOpt = None,
    symbols: Annotated[str | None, typer.Option(help="e.g. BTC/USDT,ETH/USDT")] = None,
    timeframe: Annotated[str | None, typer.Option(help="e.g. 5m")] = None,
    start_date: Annotated[str | None, typer.Option(help="ISO date, inclusive")] = None,
    end_date: Annotated[str | None, typer.Option(help="ISO date, exclusive")] = None,
) -> None:
    """Backtest each strategy on the same data and print one table of their stats."""
    from genebot.backtest.runner import run

    logging.basicConfig(level=logging.CRITICAL)  # strategy failures are reported below
    results: dict[str, dict[str, object]] = {}
    for name in names:
        cfg = _guarded(
            lambda n=name: _config(  # type: ignore[misc]
                config,
                strategy=n,
                symbols=_split(symbols),
                timeframe=timeframe,
                start_date=start_date,
                end_date=end_date,
            )
        )
        result = _guarded(lambda c=cfg: _run_unless_unfit(run, c))  # type: ignore[misc]
        if isinstance(result, ParameterError):  # does not fit the data: compare the others
            say(err, f"{name}:", "yellow", f"cannot run: {result}")
            results[name] = {}
            continue
        for sid, messages in result.strategy_errors.items():
            say(err, f"{name}:", "yellow", f"strategy {sid} failed: {messages[0]}")
        results[name] = result.stats
    table = Table(title="Strategy comparison")
    table.add_column("stat", style="bold")
    for name in names:
        table.add_column(name, justify="right")
    for key in _COMPARE:
        table.add_row(key, *(format_stat(key, results[n].get(key)) for n in names))
    console.print(table)


_COMPARE = (
    "total_return",
    "cagr",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "win_rate",
    "profit_factor",
    "expectancy",
    "trades",
    "exposure",
    "fees",
    "final_equity",
)


class Interrupted(BaseException):
    """Ctrl-C, raised past click (which would turn a KeyboardInterrupt into a bare Abort)."""


def _interrupt(signum: int, frame: object) -> None:
    signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C: at once
    raise Interrupted


# click's UsageError (typer vendors click: reach it through its public BadParameter).
_UsageError: type[Exception] = typer.BadParameter.__mro__[1]


def main() -> None:
    """Console-script entry point. A usage mistake (an unknown option, a value of the wrong
    type) is one line and exit code 2, like every other bad input."""
    signal.signal(signal.SIGINT, _interrupt)
    try:
        code = app(standalone_mode=False, prog_name="genebot")
    except Interrupted:
        say(err, "interrupted,", "yellow", interrupted_note())
        raise SystemExit(130) from None
    except _UsageError as exc:
        if type(exc).__name__.startswith("NoArgsIsHelp"):  # nothing asked: the help
            exc.show()  # type: ignore[attr-defined]
            raise SystemExit(2) from None
        ctx = getattr(exc, "ctx", None)
        where = ctx.command_path if ctx is not None else "genebot"
        message = exc.format_message()  # type: ignore[attr-defined]
        say(err, "error:", "red", f"{message} (see {where} --help)")
        raise SystemExit(2) from None
    except typer.Abort:
        err.print("aborted", style="yellow", highlight=False)
        raise SystemExit(130) from None
    raise SystemExit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
