"""Running a backtest from the command line: progress, stats table, files, database."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table

from genebot.cli.common import DONE, console, err, guarded, say
from genebot.cli.db import open_database
from genebot.core.memory import release_memory, steady_heap
from genebot.reporting.formatting import format_stat

if TYPE_CHECKING:  # heavy (pandas, SQLAlchemy): imported by the commands that run
    from genebot.backtest.result import BacktestResult
    from genebot.config.loader import GenebotConfig
    from genebot.persistence.database import Database


def execute_backtest(
    cfg: GenebotConfig, *, quiet: bool, store: bool, database_url: str | None
) -> BacktestResult:
    """Run ``cfg`` with a progress bar, print its stats, write its files and record it; the
    result comes back with its order log let go (written to orders.csv)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from genebot.backtest.result import check_output_folder
    from genebot.backtest.runner import run

    steady_heap()  # a year of 1m bars: each stage's big buffers go back when done
    opener = _store_opener(database_url) if store else None  # checked now, opened after
    guarded(lambda: check_output_folder(cfg.backtest.output_dir))  # before the run, not after
    logging.basicConfig(level=cfg.logging.level, format="%(levelname)s %(name)s: %(message)s")
    show = not quiet and sys.stderr.isatty()
    with Progress(
        TextColumn("backtest"),
        BarColumn(),
        TextColumn("{task.description}"),  # the bar count once known (not while data loads)
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not show,
    ) as bar:
        task = bar.add_task("loading data", total=None)

        def tick(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=f"{done:,}/{total:,} bars")

        result = guarded(lambda: run(cfg, progress=tick))
    release_memory()  # the finished kernel, before the outputs are made
    print_result(result)
    DONE.append(f"partly written {Path(cfg.backtest.output_dir)}/ (not stored in the database)")
    paths = guarded(lambda: result.write(cfg.backtest.output_dir, release=True))
    DONE[-1] = f"written {Path(cfg.backtest.output_dir)}/, not stored in the database"
    console.print(
        f"results written to {Path(cfg.backtest.output_dir)}/: " + ", ".join(p.name for p in paths)
    )
    if opener is not None:
        from genebot.backtest.store import store_run

        release_memory()  # the outputs' buffers, before the database layer is loaded
        db = opener()
        run_id = guarded(lambda: store_run(db, cfg, result, cfg.backtest.output_dir))
        DONE[-1] = f"written {Path(cfg.backtest.output_dir)}/ and stored as run {run_id}"
        console.print(f"stored as run {run_id} in {db.display_url} (genebot report run {run_id})")
    return result


def print_result(result: BacktestResult, title: str = "Backtest statistics") -> None:
    """Warnings, strategy errors, the stats table and the risk summary of a run."""
    risk_warnings = list(result.risk_summary.get("warnings") or [])  # type: ignore[call-overload]
    for warning in [w for w in result.warnings if w not in risk_warnings][:10]:
        say(err, "warning:", "yellow", warning)
    for sid, messages in result.strategy_errors.items():
        say(err, f"strategy {sid} raised {len(messages)}+ error(s):", "red", messages[0])
    exact = result.exact_stats()  # money as the ledger has it, not through a float
    exact.pop("risk_summary", None)
    _print_stats(exact, title)
    if result.risk_summary:
        from genebot.risk.summary import summary_lines

        for line in summary_lines(result.risk_summary):
            console.print(line, highlight=False, markup=False)
        for warning in risk_warnings:
            say(err, "warning:", "yellow", warning)


def _store_opener(url: str | None) -> Callable[[], Database]:
    """Check the database a backtest records into before the run (a schema problem costs no
    compute) and return how to open it after. A SQLite file that is new or at this genebot's
    schema is read with the standard library's sqlite3: SQLAlchemy (30 MB) loads only when the
    results are stored, after the outputs are written, not beside the run."""
    from genebot.persistence.settings import SCHEMA_HEAD, database_url

    resolved = url or database_url()
    path = _sqlite_path(resolved)
    if path is not None and _sqlite_revision(path) in (SCHEMA_HEAD, ""):
        return lambda: _run_store(resolved)
    db = _run_store(resolved)  # PostgreSQL, or a file to refuse: the full check, now
    return lambda: db


def _sqlite_path(url: str) -> Path | None:
    """The file of a plain ``sqlite:///path`` URL (None: anything else)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or "?" in url or url[len(prefix) :] in ("", ":memory:"):
        return None
    return Path(url[len(prefix) :])


def _sqlite_revision(path: Path) -> str | None:
    """The schema revision of a SQLite file; "" for a file to create (none there, or no tables,
    in a folder that can be written); None when it cannot tell (the full check decides)."""
    import os
    import sqlite3

    if not path.exists():
        folder = path.parent if str(path.parent) else Path(".")
        return "" if folder.is_dir() and os.access(folder, os.W_OK) else None
    try:
        with contextlib.closing(
            sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
        ) as conn:
            tables = {
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            if not tables:
                return ""
            if "alembic_version" not in tables:
                return None
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return None
    return str(row[0]) if row else None


def _run_store(url: str | None) -> Database:
    """The database a backtest records into: checked before the run, so a schema problem
    costs no compute; a brand-new SQLite file gets the schema."""
    db = open_database(url)
    if guarded(db.schema_is_current):  # one query; Alembic is imported only when it is not
        return db
    from genebot.persistence.migrate import ensure_current

    if guarded(lambda: ensure_current(db)):
        err.print(f"created database {db.display_url}", highlight=False)
    return db


def _print_stats(stats: dict[str, object], title: str) -> None:
    table = Table(title=title, show_header=False)
    table.add_column("stat", style="bold")
    table.add_column("value", justify="right")
    for key, value in stats.items():
        table.add_row(key, format_stat(key, value))
    console.print(table)
