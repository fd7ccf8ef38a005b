"""``genebot report drift --deployment ID``: a deployment's trades against a backtest of the
same config and period, trade by trade (see :mod:`genebot.services.drift`)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from genebot.cli.common import DatabaseOpt, console, guarded
from genebot.cli.db import open_current
from genebot.core.exactjson import dumps_exact


def _cell(value: Any, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _table(report: dict[str, Any]) -> Table:
    table = Table(title=f"Trades of {report['name']} ({report['mode']}) vs the backtest")
    columns = ("kind", "strategy", "symbol", "side", "deployed entry", "backtest entry",
               "entry Δ bps", "exit Δ bps", "lag s", "pnl Δ")  # fmt: skip
    for column in columns:
        table.add_column(column)
    for row in report["trades"]:
        table.add_row(
            row["kind"], row["strategy"], row["symbol"], row["side"],
            _cell(row["deployed_entry_time"]), _cell(row["backtest_entry_time"]),
            _cell(row.get("entry_diff_bps")), _cell(row.get("exit_diff_bps")),
            _cell(row.get("entry_lag_s"), 0), _cell(row.get("pnl_diff")),
        )  # fmt: skip
    return table


def report_drift(
    deployment: Annotated[str, typer.Option(help="deployment id (see `genebot report`)")],
    database_url: DatabaseOpt = None,
    start_date: Annotated[str | None, typer.Option(help="ISO date (default: its period)")] = None,
    end_date: Annotated[str | None, typer.Option(help="ISO date, exclusive")] = None,
    data_dir: Annotated[str | None, typer.Option(help="data files for the backtest")] = None,
    tolerance: Annotated[
        float | None, typer.Option(help="seconds two entries may differ (default: one bar)")
    ] = None,
    output_format: Annotated[str, typer.Option("--format", help="table | json")] = "table",
    output: Annotated[Path | None, typer.Option(help="also write the pairs to this CSV")] = None,
) -> None:
    """Live/paper trades against a backtest of the same period and config: missed, extra, and
    the price and timing differences of the matched ones, with the summary figures."""
    from genebot.services.drift import drift_report

    if output_format not in ("table", "json"):
        raise typer.BadParameter(f"{output_format!r}: use table or json", param_hint="--format")
    db = open_current(database_url)
    report = guarded(
        lambda: drift_report(
            db, deployment, start=start_date, end=end_date, data_dir=data_dir,
            tolerance_s=tolerance,
        )
    ).as_dict()  # fmt: skip
    if output is not None:
        with output.open("w", newline="") as fh:
            rows = report["trades"]
            names = list(dict.fromkeys(k for row in rows for k in row)) or ["kind"]
            writer = csv.DictWriter(fh, fieldnames=names)
            writer.writeheader()
            writer.writerows(rows)
    if output_format == "json":
        typer.echo(dumps_exact(report, indent=2))
        return
    console.print(_table(report))
    summary = report["summary"]
    console.print(
        f"period {report['start']} → {report['end']}, tolerance {report['tolerance_s']:g} s"
    )
    console.print(json.dumps({k: _cell(v, 4) for k, v in summary.items()}, indent=1))
