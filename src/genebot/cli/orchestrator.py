"""``genebot backtest orchestration``, ``genebot orchestrator ...`` and ``genebot config
migrate``: the orchestrator from the command line."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml
from rich.table import Table

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
    refuse,
    say,
)
from genebot.cli.db import open_current
from genebot.core.errors import ConfigError, InputError

if TYPE_CHECKING:  # pydantic models and what they pull in: imported by the commands
    from genebot.config.loader import GenebotConfig

orchestrator_app = typer.Typer(
    no_args_is_help=True, help="The strategy orchestrator: config, attribution, history."
)
orchestrator_config_app = typer.Typer(
    no_args_is_help=True, help="show | validate | update | reload"
)
orchestrator_app.add_typer(orchestrator_config_app, name="config")
config_app = typer.Typer(no_args_is_help=True, help="Configuration files.")

DaysOpt = Annotated[int | None, typer.Option(help="only the run's last N days")]
ConfigFile = Annotated[Path, typer.Option("--config", "-c", help="YAML config file")]
OrchestratorFile = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="YAML config file (default: config/orchestrator.yaml, else "
        "config/orchestrator_config.yaml)",
    ),
]
DEFAULT_ORCHESTRATOR = (Path("config/orchestrator.yaml"), Path("config/orchestrator_config.yaml"))


def _orchestrator_file(path: Path | None) -> Path:
    """``--config``, or the first default file present."""
    if path is not None:
        return path
    found = next((p for p in DEFAULT_ORCHESTRATOR if p.is_file()), None)
    if found is None:
        refuse(
            "no --config given and neither config/orchestrator.yaml nor "
            "config/orchestrator_config.yaml exists (see `genebot config migrate`)"
        )
    return found


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputError(f"--config {path}: file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    return data


def _orchestrated(path: Path, **overrides: object) -> GenebotConfig:
    from genebot.config.loader import apply_overrides, load_config

    cfg = apply_overrides(load_config(path), **overrides)  # type: ignore[arg-type]
    if not cfg.orchestrated:
        raise ConfigError(
            f"{path}: no enabled orchestrator: section; `genebot config migrate --config "
            f"{path}` turns a strategies: config into one"
        )
    if not cfg.enabled_strategies:
        raise ConfigError(f"{path}: orchestrator.strategies: no enabled strategy")
    return cfg


def backtest_orchestration(
    config: ConfigFile,
    start_date: Annotated[str | None, typer.Option(help="ISO date, inclusive")] = None,
    end_date: Annotated[str | None, typer.Option(help="ISO date, exclusive")] = None,
    output_dir: OutputDirOpt = None,
    initial_cash: InitialCashOpt = None,
    on_broken: OnBrokenOpt = None,
    on_gap: OnGapOpt = None,
    quiet: QuietOpt = False,
    store: StoreOpt = True,
    database_url: DatabaseOpt = None,
) -> None:
    """Backtest the orchestrator's strategies on one account, each in its own sleeve; also
    writes allocations.csv, attribution.csv, sleeves.csv, correlation.csv, interventions.csv."""
    cfg = guarded(
        lambda: _orchestrated(
            config,
            start_date=start_date,
            end_date=end_date,
            output_dir=output_dir,
            initial_cash=initial_cash,
            on_broken=on_broken,
            on_gap=on_gap,
        )
    )
    result = execute_backtest(cfg, quiet=quiet, store=store, database_url=database_url)
    if result.orchestration is not None:
        rows = result.orchestration.attribution.to_dict(orient="records")
        _attribution_table(rows)  # type: ignore[arg-type]
        changes = result.orchestration.allocations["timestamp"].nunique()
        console.print(f"{changes} allocation(s), see allocations.csv")


def _attribution_table(rows: list[dict[str, Any]]) -> None:
    table = Table(title="Attribution")
    columns = ("strategy", "pnl", "contribution", "return_on_capital", "sharpe", "trades")
    for column in (*columns, "final_weight"):
        table.add_column(column, justify="left" if column == "strategy" else "right")
    for row in rows:
        table.add_row(
            str(row["strategy"]),
            f"{float(row['pnl']):,.2f}",
            f"{float(row['contribution']):.2%}",
            f"{float(row['return_on_capital']):.2%}",
            f"{float(row['sharpe']):.2f}",
            str(row["trades"]),
            f"{float(row['final_weight']):.1%}",
        )
    console.print(table)


@orchestrator_config_app.command("show")
def config_show(config: OrchestratorFile = None) -> None:
    """The orchestrator section with every default filled in."""
    config = _orchestrator_file(config)
    cfg = guarded(lambda: _orchestrated(config))
    assert cfg.orchestrator is not None
    from genebot.orchestrator.settings import ALLOCATION_KEYS

    flat = cfg.orchestrator.model_dump(mode="json", exclude={"strategies"})
    shown: dict[str, Any] = {"allocation": {k: flat.pop(f) for k, f in ALLOCATION_KEYS.items()}}
    shown.update(flat)
    shown["strategies"] = [
        {"name": s.name, "type": s.type, "enabled": s.enabled, "weight": s.allocation_weight}
        for s in cfg.orchestrator.strategies
    ]
    console.print(yaml.safe_dump({"orchestrator": shown}, sort_keys=False), highlight=False)


@orchestrator_config_app.command("validate")
def config_validate(config: OrchestratorFile = None) -> None:
    """Check the orchestrator config; exit 2 with the key and what is allowed if it is wrong."""
    config = _orchestrator_file(config)
    cfg = guarded(lambda: _orchestrated(config))
    orch = cfg.orchestrator
    assert orch is not None
    n = len(orch.priors)
    console.print(
        f"valid: {n} enabled strategies, {orch.allocation_method}, rebalance "
        f"{orch.rebalance_frequency}, allocation bounds [{orch.min_allocation}, "
        f"{orch.max_allocation}]"
    )
    if n * orch.min_allocation > 1 or n * orch.max_allocation < 1:
        say(
            err,
            "warning:",
            "yellow",
            f"bounds cannot hold for {n} strategies (need {n} × min ≤ 1 ≤ {n} × max): "
            f"they loosen to 1/{n}",
        )


@orchestrator_config_app.command("update")
def config_update(
    config: OrchestratorFile = None,
    allocation_method: Annotated[
        str | None, typer.Option(help="equal_weight | performance_based | risk_parity")
    ] = None,
    rebalance_frequency: Annotated[
        str | None, typer.Option(help="daily | weekly | monthly | never")
    ] = None,
    min_allocation: Annotated[float | None, typer.Option(help="0..1")] = None,
    max_allocation: Annotated[float | None, typer.Option(help="0..1")] = None,
) -> None:
    """Change orchestrator settings in the file (validated first; the old file is kept as
    FILE.bak; YAML comments are not preserved)."""
    changes = {
        "allocation_method": allocation_method,
        "rebalance_frequency": rebalance_frequency,
        "min_allocation": min_allocation,
        "max_allocation": max_allocation,
    }
    changes = {k: v for k, v in changes.items() if v is not None}
    config = _orchestrator_file(config)
    if not changes:
        refuse("nothing to update: give --allocation-method, --rebalance-frequency, ...")
    data = guarded(lambda: _read(config))
    section = data.get("orchestrator")
    if not isinstance(section, dict):
        refuse(f"{config}: no orchestrator: section (see `genebot config migrate`)")
    _set_allocation(section, changes)
    from genebot.config.loader import load_config

    guarded(lambda: load_config(data))
    shutil.copyfile(config, config.with_name(config.name + ".bak"))
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    console.print(f"updated {config}: " + ", ".join(f"{k}={v}" for k, v in changes.items()))


def _set_allocation(section: dict[str, Any], changes: dict[str, Any]) -> None:
    """Set allocation settings where the file has them: a flat key stays flat, anything else
    goes under the seed's nested ``allocation:``."""
    from genebot.orchestrator.settings import ALLOCATION_KEYS

    nested_key = {flat: key for key, flat in ALLOCATION_KEYS.items()}
    for flat, value in changes.items():
        if flat in section or not isinstance(section.get("allocation", {}), dict):
            section[flat] = value
        else:
            section.setdefault("allocation", {})[nested_key[flat]] = value


@orchestrator_config_app.command("reload")
def config_reload(config: OrchestratorFile = None) -> None:
    """Validate the config a running bot would reload (the runtime arrives later)."""
    config_validate(config)
    console.print(
        f"no runner is up: nothing to reload; genebot reads {_orchestrator_file(config)} when "
        "`genebot run` starts (the paper/live runtime is not available yet)",
        highlight=False,
    )


@orchestrator_app.command("attribution")
def attribution(
    run: Annotated[int | None, typer.Option(help="backtest run id (default: the latest)")] = None,
    days: DaysOpt = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Each strategy's contribution to a stored orchestrated run's return (--days N: the PnL
    of the trades each strategy closed in the run's last N days)."""
    from genebot.persistence.repositories import BacktestRunRepository

    db = open_current(database_url)
    repo = BacktestRunRepository(db)
    run_id = run if run is not None else guarded(repo.latest_orchestrated).id
    if days is not None:
        from genebot.cli.window import by_strategy, check_days, print_figures, run_window

        check_days(days)
        guarded(lambda: repo.attribution(run_id))  # a clear error for a run without orchestrator
        _, start, window = run_window(db, run_id, days)
        title = f"Run {run_id}, last {days} days (from {start:%Y-%m-%d %H:%M})"
        print_figures(title, by_strategy(window))
        return
    rows = guarded(lambda: repo.attribution(run_id))
    console.print(f"run {run_id}")
    _attribution_table(rows)


@orchestrator_app.command("allocation-history")
def allocation_history(
    run: Annotated[int | None, typer.Option(help="backtest run id (default: the latest)")] = None,
    days: DaysOpt = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Every allocation change of a stored orchestrated run, with its trigger (--days N: those
    of the run's last N days)."""
    from genebot.cli.window import check_days

    if days is not None:
        check_days(days)
    from genebot.persistence.repositories import BacktestRunRepository

    repo = BacktestRunRepository(open_current(database_url))
    run_id = run if run is not None else guarded(repo.latest_orchestrated).id
    guarded(lambda: repo.attribution(run_id))  # a clear error for a run without orchestrator
    table = Table(title=f"Allocation history of run {run_id}")
    for column in ("timestamp", "strategy", "weight", "capital", "trigger"):
        table.add_column(column, justify="right" if column in ("weight", "capital") else "left")
    rows = guarded(lambda: repo.allocations(run_id))
    if days is not None and rows:
        since = rows[-1].ts - timedelta(days=days)
        rows = [r for r in rows if r.ts >= since]
    for row in rows:
        table.add_row(
            row.ts.strftime("%Y-%m-%d %H:%M"),
            row.strategy,
            f"{float(row.weight):.1%}",
            f"{row.capital:,.2f}",
            row.trigger,
        )
    console.print(table)


@config_app.command("migrate")
def config_migrate(
    config: ConfigFile,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write here (default: print it)")
    ] = None,
    allocation_method: Annotated[str, typer.Option(help="the method to start with")] = (
        "equal_weight"
    ),
) -> None:
    """Turn a plain ``strategies:`` config into an ``orchestrator:`` config (same strategies,
    equal priors); every other section is kept as it is."""
    from genebot.config.loader import hide_secrets, load_config

    data = guarded(lambda: _read(config))
    migrated = guarded(lambda: migrate_config(data, allocation_method))
    guarded(lambda: load_config(migrated))
    if output is None:  # the screen never shows secrets; --output writes the file as it was
        shown = yaml.safe_dump(hide_secrets(migrated), sort_keys=False)
        console.print(shown, highlight=False, soft_wrap=True)
        return
    text = yaml.safe_dump(migrated, sort_keys=False)
    if output.exists():
        refuse(f"--output {output}: the file exists; choose a new name")
    output.write_text(text)
    console.print(f"wrote {output}")


def migrate_config(data: dict[str, Any], method: str = "equal_weight") -> dict[str, Any]:
    """The same config with its ``strategies:`` moved under ``orchestrator.strategies``."""
    if isinstance(data.get("orchestrator"), dict):
        raise InputError("the config already has an orchestrator: section")
    strategies = data.get("strategies")
    if not isinstance(strategies, dict) or not strategies:
        raise InputError("the config has no strategies: section to migrate")
    entries = []
    for name, entry in strategies.items():
        if entry is not None and not isinstance(entry, dict):
            raise InputError(
                f"strategies.{name}: must be a mapping (type, parameters, symbols ...), "
                f"got {entry!r}"
            )
        body = dict(entry or {})
        entries.append({"name": str(name), "type": body.pop("type", None) or str(name),
                        "allocation_weight": 1.0, **body})  # fmt: skip
    out = {k: v for k, v in data.items() if k != "strategies"}
    out["orchestrator"] = {
        "allocation": {
            "method": method,
            "rebalance_frequency": "weekly",
            "min_allocation": 0.0,
            "max_allocation": 1.0,
        },
        "strategies": entries,
    }
    return out
