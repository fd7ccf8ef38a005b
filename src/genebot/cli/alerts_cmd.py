"""``genebot alerts``: the alerts the runners raised, newest first; ``--ack ID`` acknowledges one
(journaled with who)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from genebot.cli.common import DatabaseOpt, console, guarded, refuse
from genebot.core.errors import InputError

_AGO = re.compile(r"^(\d+)([smhd])$")


def parse_since(text: str) -> datetime:
    """``2026-12-01T08:00`` (UTC unless it says so), or ``30m``, ``6h``, ``2d`` ago."""
    found = _AGO.match(text.strip())
    if found:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[found.group(2)]
        return datetime.now(UTC) - timedelta(**{unit: int(found.group(1))})
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"--since {text}: give an ISO time (2026-12-01T08:00) or 30m, 6h, 2d"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def alerts_command(
    since: Annotated[str | None, typer.Option(help="ISO time, or 30m / 6h / 2d ago")] = None,
    severity: Annotated[str | None, typer.Option(help="INFO | WARNING | ERROR | CRITICAL")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 50,
    ack: Annotated[int | None, typer.Option("--ack", help="acknowledge this alert id")] = None,
    who: Annotated[str, typer.Option(help="operator name for the journal")] = "cli",
    format: Annotated[str, typer.Option(help="table | json")] = "table",
    database_url: DatabaseOpt = None,
) -> None:
    """The alerts raised by alerting.rules and the built-in events (newest first)."""
    from genebot.cli.db import open_current
    from genebot.persistence.journal import TradingStore
    from genebot.persistence.repositories import AlertRepository

    db = guarded(lambda: open_current(database_url))
    repo = AlertRepository(db)
    if ack is not None:
        row = guarded(lambda: repo.acknowledge(ack))
        if row.deployment_id:
            TradingStore(db, row.deployment_id).operator_action(
                who, "alert_acknowledged", row.rule, {"alert": ack}
            )
        console.print(f"alert {ack} ({row.rule}) acknowledged", highlight=False)
        return
    if severity and severity.upper() not in ("INFO", "WARNING", "ERROR", "CRITICAL"):
        refuse(f"--severity {severity}: use INFO, WARNING, ERROR or CRITICAL")
    when = guarded(lambda: parse_since(since)) if since else None
    rows = repo.recent(limit, since=when, severity=severity)
    if format == "json":
        items = [
            {
                "id": r.id,
                "ts": r.ts.isoformat(),
                "deployment_id": r.deployment_id,
                "rule": r.rule,
                "severity": r.severity,
                "message": r.message,
                "acknowledged": r.acknowledged,
            }
            for r in rows
        ]
        typer.echo(json.dumps(items, indent=2))
        return
    if format != "table":
        refuse(f"--format {format}: use table or json")
    from rich.table import Table

    table = Table(title=f"alerts in {db.display_url}")
    for column in ("id", "time", "deployment", "severity", "rule", "message", "ack"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r.id),
            r.ts.isoformat()[:19],
            (r.deployment_id or "")[:12],
            r.severity,
            r.rule,
            r.message,
            "yes" if r.acknowledged else "",
        )
    console.print(table)
    if not rows:
        console.print("no alerts" + (f" since {when.isoformat()[:19]}" if when else ""))
