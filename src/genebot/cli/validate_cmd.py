"""``genebot validate --strategy NAME``: the go-live readiness score (seed 001); exit 0 only
when the strategy is ready."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from genebot.cli.common import DatabaseOpt, console, guarded, say


def validate_command(
    strategy: Annotated[str, typer.Option(help="config key or class name")],
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML config")] = None,
    oos: Annotated[
        float, typer.Option(help="out-of-sample share of the period, at its end", min=0.05, max=0.9)
    ] = 0.3,
    format: Annotated[str, typer.Option(help="table | json")] = "table",
    database_url: DatabaseOpt = None,
) -> None:
    """Performance on out-of-sample data and on paper, system health and critical issues: a
    score out of 100; ready at 80 or more with no critical issue."""
    from genebot.cli.backtest import _run_store
    from genebot.cli.run import _config
    from genebot.services.readiness_run import readiness

    cfg = guarded(lambda: _config(config, None, None, None, None, None, None))
    db = _run_store(database_url)
    report = guarded(lambda: readiness(cfg, strategy, db, oos_fraction=oos))
    if format == "json":
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        _print(report)
    raise typer.Exit(0 if report.ready else 1)


def _print(report: object) -> None:
    from rich.table import Table
    from rich.text import Text

    from genebot.services.readiness import Report

    assert isinstance(report, Report)
    table = Table(title=f"go-live readiness: {report.strategy}")
    for column in ("part", "check", "result", "points", "detail"):
        table.add_column(column)
    for i in report.items:
        mark = Text("pass", style="green") if i.passed else Text("fail", style="red")
        table.add_row(i.part, i.name, mark, f"{i.points:g}/{i.of:g}", Text(i.detail))
    console.print(table)
    perf, system, paper = report.part("performance"), report.part("system"), report.part("paper")
    console.print(
        f"Overall score: {report.score:.1f}/100 — performance {perf[0]}/{perf[1]}, system health "
        f"{system[0]}/{system[1]}, paper {paper[0]}/{paper[1]}, critical issues "
        f"{len(report.critical)}",
        highlight=False,
    )
    for line in report.critical:
        say(console, "critical:", "red", line)
    for line in report.warnings:
        say(console, "warning:", "yellow", line)
    verdict = "YES" if report.ready else "NO"
    say(console, "Ready for live trading:", "green" if report.ready else "red", verdict)
