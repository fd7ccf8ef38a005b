"""``genebot db ...`` (schema and backups) and ``genebot report ...`` (what the database holds)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from genebot.cli.common import DatabaseOpt, console, guarded, refuse
from genebot.reporting.formatting import format_stat

if TYPE_CHECKING:  # SQLAlchemy: imported by the commands that open a database
    from genebot.persistence.database import Database

db_app = typer.Typer(no_args_is_help=True, help="Database: create, upgrade, back up, restore.")
report_app = typer.Typer(help="Past backtest runs and live/paper trade history.")


def open_database(url: str | None) -> Database:
    """The database, reachable, or one clear error."""
    from genebot.persistence.database import Database

    def connect() -> Database:
        db = Database(url)
        db.ping()
        return db

    return guarded(connect)


def open_current(url: str | None) -> Database:
    db = open_database(url)
    guarded(db.require_current)
    return db


@db_app.command("init")
def db_init(database_url: DatabaseOpt = None) -> None:
    """Create genebot's schema in an empty database."""
    from genebot.persistence.migrate import init

    db = open_database(database_url)
    status = guarded(lambda: init(db))
    console.print(f"created the genebot schema in {db.display_url} (revision {status.current})")


@db_app.command("upgrade")
def db_upgrade(
    database_url: DatabaseOpt = None,
    revision: Annotated[str, typer.Option(help="target revision")] = "head",
) -> None:
    """Apply the migrations this genebot has and the database lacks."""
    from genebot.persistence.migrate import migration_status, upgrade

    db = open_database(database_url)
    before = guarded(lambda: migration_status(db))
    after = guarded(lambda: upgrade(db, revision))
    if before.current == after.current:
        console.print(f"{db.display_url} is already at revision {after.current}")
    else:
        console.print(f"{db.display_url}: {before.current or 'empty'} → {after.current}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="target revision, or base for empty")],
    database_url: DatabaseOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help="confirm: data in dropped tables is lost")] = (
        False
    ),
) -> None:
    """Undo migrations down to REVISION (back up first: dropped tables lose their rows)."""
    from genebot.persistence.migrate import downgrade

    if not yes:
        refuse("downgrade drops tables and their rows: back up, then add --yes")
    db = open_database(database_url)
    status = guarded(lambda: downgrade(db, revision))
    console.print(f"{db.display_url} is now at revision {status.current or 'base (empty)'}")


@db_app.command("current")
def db_current(database_url: DatabaseOpt = None) -> None:
    """Which schema revision the database is at, and what is pending."""
    from genebot.persistence.migrate import migration_status

    db = open_database(database_url)
    status = guarded(lambda: migration_status(db))
    console.print(f"database: {db.display_url}")
    console.print(f"revision: {status.current or 'none (empty)'}  (newest: {status.head})")
    if status.current is None:
        console.print("run `genebot db init` to create the schema")
    elif status.pending:
        console.print(f"pending: {', '.join(status.pending)}: run `genebot db upgrade`")
    elif status.current != status.head:
        console.print("this revision is newer than this genebot: upgrade genebot")
    else:
        console.print("up to date")


@db_app.command("backup")
def db_backup(
    path: Annotated[Path, typer.Argument(help="backup file to create")],
    database_url: DatabaseOpt = None,
) -> None:
    """A consistent copy of the database, safe while genebot runs (PostgreSQL: pg_dump)."""
    from genebot.persistence.backup import backup

    db = open_database(database_url)
    written = guarded(lambda: backup(db, path))
    console.print(f"backed up {db.display_url} to {written}")


@db_app.command("restore")
def db_restore(
    path: Annotated[Path, typer.Argument(help="backup file made by `genebot db backup`")],
    database_url: DatabaseOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help="confirm: replaces the database")] = False,
) -> None:
    """Replace the database with a backup (SQLite: the current file is saved beside it)."""
    from genebot.persistence.backup import restore

    if not yes:
        refuse("restore replaces the database: stop genebot, then add --yes")
    db = open_database(database_url)
    saved = guarded(lambda: restore(db, path))
    console.print(f"restored {db.display_url} from {path}")
    if saved is not None:
        console.print(f"the database it replaced is saved as {saved}")


@report_app.callback(invoke_without_command=True)
def report_main(ctx: typer.Context, database_url: DatabaseOpt = None) -> None:
    """With no subcommand: the latest backtest runs and the deployments."""
    if ctx.invoked_subcommand is not None:
        return
    report_runs(database_url=database_url)
    from genebot.persistence.repositories import DeploymentRepository

    db = open_current(database_url)
    deployments = guarded(DeploymentRepository(db).recent)
    if deployments:
        table = Table(title="Deployments")
        for column in ("id", "name", "mode", "status", "started", "stopped"):
            table.add_column(column)
        for d in deployments:
            stopped = d.stopped_at.isoformat() if d.stopped_at else "—"
            table.add_row(d.id, d.name, d.mode, d.status, d.started_at.isoformat(), stopped)
        console.print(table)


@report_app.command("runs")
def report_runs(
    database_url: DatabaseOpt = None,
    limit: Annotated[int, typer.Option(help="how many, newest first")] = 20,
) -> None:
    """Stored backtest runs, newest first."""
    from genebot.persistence.repositories import BacktestRunRepository

    db = open_current(database_url)
    runs = guarded(lambda: BacktestRunRepository(db).recent(limit))
    table = Table(title=f"Backtest runs in {db.display_url}")
    for column in ("id", "when", "strategies", "period", "return", "trades", "outputs"):
        table.add_column(column, overflow="fold")
    for run in runs:
        stats = json.loads(run.stats)
        period = f"{stats.get('start', '?')} → {stats.get('end', '?')}"
        table.add_row(
            str(run.id),
            run.created_at.strftime("%Y-%m-%d %H:%M"),
            run.strategies,
            period,
            format_stat("total_return", stats.get("total_return")),
            str(stats.get("trades", "")),
            run.output_dir or "—",
        )
    console.print(table if runs else "no backtest runs stored yet")


@report_app.command("run")
def report_run(
    run_id: Annotated[int, typer.Argument(help="id from `genebot report runs`")],
    database_url: DatabaseOpt = None,
) -> None:
    """One stored backtest: its stats and its round trips per strategy."""
    from genebot.persistence.repositories import BacktestRunRepository, TradeRepository

    db = open_current(database_url)
    repo = BacktestRunRepository(db)
    run = guarded(lambda: repo.get(run_id))
    stats = json.loads(run.stats)
    table = Table(title=f"Run {run.id}: {run.title}", show_header=False)
    table.add_column("stat", style="bold")
    table.add_column("value", justify="right")
    for key, value in stats.items():
        table.add_row(key, format_stat(key, value))
    table.add_row("final_equity (exact)", str(run.final_equity))
    console.print(table)
    trades = guarded(lambda: TradeRepository(db).for_run(run_id))
    per: dict[str, list[object]] = {}
    for t in trades:
        per.setdefault(t.strategy_id, []).append(t.pnl)
    for strategy, pnls in sorted(per.items()):
        total = sum(pnls)  # type: ignore[arg-type]
        console.print(f"{strategy}: {len(pnls)} round trips, net PnL {total}")
    if run.output_dir:
        console.print(f"outputs: {run.output_dir}")


@report_app.command("trades")
def report_trades(
    deployment: Annotated[str, typer.Option(help="deployment id (see `genebot report`)")],
    database_url: DatabaseOpt = None,
    page: Annotated[int, typer.Option(help="page number, from 1")] = 1,
    per_page: Annotated[int, typer.Option(help="rows per page")] = 50,
    strategy: Annotated[str | None, typer.Option(help="only this strategy")] = None,
) -> None:
    """Trade history of a paper or live deployment, newest first."""
    from genebot.persistence.repositories import TradeRepository

    db = open_current(database_url)
    history = guarded(
        lambda: TradeRepository(db).history(
            deployment, page=page, per_page=per_page, strategy=strategy
        )
    )
    table = Table(title=f"Trades of {deployment} (page {history.page}/{history.pages})")
    for column in ("exit time", "strategy", "instrument", "side", "qty", "entry", "exit", "pnl"):
        table.add_column(column)
    for t in history.items:
        table.add_row(
            t.exit_time.isoformat(),
            t.strategy_id,
            t.instrument_id,
            t.side,
            str(t.quantity),
            str(t.entry_price),
            str(t.exit_price),
            str(t.pnl),
        )
    console.print(table)
    console.print(f"{history.total} trades in all")


@report_app.command("strategy")
def report_strategy(
    days: Annotated[int, typer.Option(help="the last N days (of the run, or up to now)")] = 30,
    run: Annotated[int | None, typer.Option(help="backtest run id (default: the latest)")] = None,
    deployment: Annotated[str | None, typer.Option(help="a paper/live deployment id")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Per-strategy performance over the last N days: of a stored backtest run (ending at its
    last bar) or of a deployment (ending now)."""
    from datetime import UTC, datetime, timedelta

    from genebot.cli.window import by_strategy, check_days, print_figures, run_window
    from genebot.persistence.repositories import MAX_PAGE, TradeRepository

    check_days(days)
    db = open_current(database_url)
    if deployment is not None:
        since = datetime.now(UTC) - timedelta(days=days)
        page = guarded(lambda: TradeRepository(db).history(deployment, per_page=MAX_PAGE))
        trades = [t for t in page.items if t.exit_time >= since]
        print_figures(f"Deployment {deployment}, last {days} days", by_strategy(trades))  # type: ignore[arg-type]
        return
    run_id, start, window = run_window(db, run, days)
    title = f"Run {run_id}, last {days} days (from {start:%Y-%m-%d %H:%M})"
    print_figures(title, by_strategy(window))
