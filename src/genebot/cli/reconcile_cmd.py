"""``genebot reconcile [--config FILE] --show | --accept-exchange``."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer

from genebot.cli.common import DatabaseOpt, console, guarded, refuse

Opt = typer.Option


def reconcile_command(
    config: Annotated[Path | None, Opt("--config", "-c", help="YAML config")] = None,
    show: Annotated[bool, Opt("--show", help="list every difference; change nothing")] = False,
    accept_exchange: Annotated[
        bool,
        Opt("--accept-exchange", help="take the exchange as the truth (journaled)"),
    ] = False,
    name: Annotated[str, Opt(help="the live deployment's name")] = "live",
    database_url: DatabaseOpt = None,
) -> None:
    """genebot's books (the live journals) against the exchange, without trading."""
    from genebot.cli.backtest import _run_store
    from genebot.cli.live_cmd import _live_config
    from genebot.live import books

    if show and accept_exchange:
        refuse("--show or --accept-exchange, not both")
    cfg, _ = guarded(lambda: _live_config(config, None))  # type: ignore[misc]
    db = _run_store(database_url)
    if accept_exchange:
        who = getpass.getuser()
        lines = guarded(lambda: books.accept_exchange(cfg, db, f"operator:{who}", name))
    else:
        lines = guarded(lambda: books.show(cfg, db, name))
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)
