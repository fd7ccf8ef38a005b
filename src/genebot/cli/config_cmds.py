"""``genebot config validate FILE...`` and ``genebot config-help [SECTION]``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genebot.cli.common import console, err, guarded, say


def config_validate(
    files: Annotated[list[Path], typer.Argument(help="config files (full or partial)")],
) -> None:
    """Check config files, whole or any subset of sections: "FILE: OK", or every problem as
    FILE:LINE: key.path: what is wrong (got value). Exit 0 when all are fine, else 1."""
    from genebot.config.check import check_files

    lines, ok = guarded(lambda: check_files(files))
    for line in lines:
        if line.endswith(": OK"):
            console.print(line, highlight=False)
        else:
            say(err, "error:", "red", line)
    if not ok:
        raise typer.Exit(1)


def config_help(
    section: Annotated[
        str | None, typer.Argument(help="one section (orchestrator, risk_management, ...)")
    ] = None,
) -> None:
    """Print an annotated config template (every key, its default, choices and bounds) that
    validates as is: `genebot config-help orchestrator > config/orchestrator_config.yaml`."""
    from genebot.config.check import config_template

    text = guarded(lambda: config_template(section))
    typer.echo(text, nl=False)
