"""What every command shares: the consoles and the bad-input guard."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, NoReturn, TypeVar

import typer
from rich.console import Console

from genebot.core.errors import GenebotError, InputError

# Piped output (a file, another program) is not cut at 80 columns: rows stay whole and greppable.
console = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
T = TypeVar("T")

DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="database URL (default: $DATABASE_URL, else sqlite:///genebot.db)",
        show_default=False,
    ),
]
# Options every backtest command takes.
OutputDirOpt = Annotated[str | None, typer.Option(help="where results are written")]
InitialCashOpt = Annotated[float | None, typer.Option(help="starting cash")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")]
StoreOpt = Annotated[
    bool, typer.Option("--store/--no-store", help="record the run in the database")
]


def guarded(call: Callable[[], T]) -> T:
    """One clear line and exit code 2 for bad input; never a traceback for the user."""
    try:
        return call()
    except InputError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except GenebotError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def refuse(message: str) -> NoReturn:
    """Bad input found by the command itself: one line, exit code 2."""
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)
