"""What every command shares: the consoles, the bad-input guard, finding the config file."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from genebot.core.errors import GenebotError, InputError

# Piped output (a file, another program) is not cut at 80 columns: rows stay whole and greppable.
# No markup: messages and table cells name files, values and formats such as "[epoch_ms, ...]",
# which rich would take for tags and drop. Labels are styled with ``say``.
console = Console(width=None if sys.stdout.isatty() else 160, markup=False)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160, markup=False)
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
OnBrokenOpt = Annotated[
    str | None,
    typer.Option(help="broken data rows: fail (stop, the default) | warn (drop, sort and report)"),
]
OnGapOpt = Annotated[
    str | None, typer.Option(help="missing bars: warn (the default) | fail | ignore")
]
StoreOpt = Annotated[
    bool, typer.Option("--store/--no-store", help="record the run in the database")
]


# What a command has already stored or written, for the line Ctrl-C prints.
DONE: list[str] = []


def interrupted_note() -> str:
    """``nothing stored``, or what was stored or written before the interruption."""
    return "nothing stored" if not DONE else "already " + "; ".join(DONE)


def say(to: Console, label: str, style: str, text: str) -> None:
    """``label`` in ``style``, then ``text`` exactly as it is (one line, not wrapped)."""
    to.print(Text.assemble((label, style), " ", text), highlight=False, soft_wrap=True)


def guarded(call: Callable[[], T]) -> T:
    """One clear line and exit code 2 for bad input; never a traceback for the user."""
    try:
        return call()
    except InputError as exc:
        say(err, "error:", "red", str(exc))
        raise typer.Exit(2) from None
    except GenebotError as exc:
        say(err, "error:", "red", str(exc))
        raise typer.Exit(1) from None


def refuse(message: str) -> NoReturn:
    """Bad input found by the command itself: one line, exit code 2."""
    say(err, "error:", "red", message)
    raise typer.Exit(2)


def find_config(path: Path | None, defaults: Sequence[Path], missing: str = "no config") -> Path:
    """``--config`` if given (it must exist), else the first of ``defaults`` that does."""
    if path is not None and not path.is_file():
        raise InputError(f"--config {path}: file not found")
    chosen = path or next((p for p in defaults if p.is_file()), None)
    if chosen is None:
        looked = ", ".join(map(str, defaults))
        raise InputError(f"{missing}: pass --config FILE (looked for {looked})")
    return chosen
