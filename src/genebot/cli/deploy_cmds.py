"""Deployments from the command line: list them, pause, resume, stop, emergency-stop, status.

The commands reach the runner through the database's journal (see genebot.live.control): they
work whether ``genebot run`` is in the foreground of another terminal or a daemon, and wait a
few seconds for the runner's answer.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from genebot.cli.common import DatabaseOpt, console, err, guarded, refuse, say

if TYPE_CHECKING:
    from genebot.persistence.database import Database

PID_FILE = Path("genebot.pid")
WAIT_S = 15.0
ReasonOpt = Annotated[str, typer.Option(help="why (journaled)")]
WhoOpt = Annotated[str, typer.Option(help="operator name for the journal")]
StrategyOpt = Annotated[str | None, typer.Option(help="only this strategy (default: all)")]
IdArg = Annotated[str, typer.Argument(help="deployment id (or its first characters)")]


def _db(url: str | None) -> Database:
    from genebot.cli.db import open_current

    return open_current(url)


def runner_up(db: Database, deployment_id: str | None = None) -> bool:
    """Whether a runner trades that deployment now (none named: any deployment)."""
    from genebot.persistence.lock import DATABASE, held, scope_of
    from genebot.persistence.repositories import DeploymentRepository

    rows = DeploymentRepository(db).recent()
    if deployment_id is not None:
        rows = [d for d in rows if d.id == deployment_id]
    elif held(db, DATABASE):
        return True
    return any(d.status == "running" and held(db, scope_of(d.mode, d.name)) for d in rows)


def _resolve(db: Database, wanted: str) -> str:
    from genebot.persistence.repositories import DeploymentRepository

    ids = [d.id for d in DeploymentRepository(db).recent()]
    found = [i for i in ids if i.startswith(wanted)]
    if len(found) == 1:
        return found[0]
    if not found:
        known = ", ".join(i[:12] for i in ids[-10:]) or "none"
        refuse(f"no deployment {wanted!r} (recent: {known}; see `genebot deployments`)")
    refuse(f"{wanted!r} matches {len(found)} deployments: give more characters")


def deployments(
    database_url: DatabaseOpt = None,
    format: Annotated[str, typer.Option(help="table | json")] = "table",
) -> None:
    """Every deployment: status, when, trades, the last bar handled, whether a runner is up."""
    from genebot.live.deployments import read_journal
    from genebot.persistence.repositories import DeploymentRepository

    db = _db(database_url)
    up = runner_up(db)
    rows = []
    for d in DeploymentRepository(db).recent():
        journaled = read_journal(db, d.id)
        rows.append(
            {
                "id": d.id,
                "name": d.name,
                "mode": d.mode,
                "status": d.status,
                "started_at": d.started_at.isoformat(),
                "stopped_at": d.stopped_at.isoformat() if d.stopped_at else None,
                "orders": len(journaled.order_events),
                "trades": journaled.trades,
                "last_step": journaled.checkpoint_step,
                "runner": d.status == "running" and runner_up(db, d.id),
            }
        )
    if format == "json":
        typer.echo(json.dumps({"runner_up": up, "deployments": rows}, indent=2))
        return
    if format != "table":
        refuse(f"--format {format}: use table or json")
    from rich.table import Table

    table = Table(title=f"deployments in {db.display_url} (runner {'up' if up else 'not up'})")
    columns = ("id", "name", "mode", "status", "runner", "started", "orders", "trades", "last bar")
    for column in columns:
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["id"][:12], r["name"], r["mode"], r["status"], "up" if r["runner"] else "-",
            r["started_at"][:19],
            str(r["orders"]), str(r["trades"]), str(r["last_step"] + 1),
        )  # fmt: skip
    console.print(table)
    if not rows:
        console.print("no deployments yet: `genebot run` starts one")


def _command(
    database_url: str | None, wanted: str, command: str, who: str, **detail: object
) -> None:
    db = _db(database_url)
    send(db, _resolve(db, wanted), command, who, **detail)


def send(db: Database, deployment_id: str, what: str, who: str, **detail: object) -> None:
    """Journal command ``what`` for the runner and print its answer (or that none is up)."""
    from genebot.live import control

    command = what
    command_id = guarded(lambda: control.post(db, deployment_id, what, who, **detail))
    if not runner_up(db, deployment_id):
        say(
            console, "recorded:", "yellow",
            f"{command} for {deployment_id[:12]}: no runner is up; it is applied when "
            "`genebot run` resumes this deployment",
        )  # fmt: skip
        return
    outcome = control.wait_applied(db, deployment_id, command_id, WAIT_S)
    if outcome is None:
        say(err, "error:", "red", f"the runner did not answer within {WAIT_S:.0f} s (recorded)")
        raise typer.Exit(1)
    say(console, f"{command}:", "green", f"{deployment_id[:12]}: {outcome}")


def pause(
    deployment: IdArg,
    strategy: StrategyOpt = None,
    reason: ReasonOpt = "",
    who: WhoOpt = "cli",
    database_url: DatabaseOpt = None,
) -> None:
    """No new entries (exits and protective orders keep working) until `genebot resume`."""
    _command(database_url, deployment, "pause", who, strategy=strategy, reason=reason)


def resume(
    deployment: IdArg,
    strategy: StrategyOpt = None,
    reason: ReasonOpt = "",
    who: WhoOpt = "cli",
    database_url: DatabaseOpt = None,
) -> None:
    """Take new entries again."""
    _command(database_url, deployment, "resume", who, strategy=strategy, reason=reason)


def stop(
    deployment: IdArg,
    reason: Annotated[str, typer.Option(help="why (journaled)")] = "operator stop",
    who: WhoOpt = "cli",
    database_url: DatabaseOpt = None,
) -> None:
    """Cancel the deployment's orders, close its positions, then end it (not resumable)."""
    _command(database_url, deployment, "stop", who, reason=reason)


def emergency_stop(
    reason: Annotated[str, typer.Option(help="why (journaled; required)")],
    who: WhoOpt = "cli",
    database_url: DatabaseOpt = None,
) -> None:
    """Every running deployment: cancel every order, close every position, halt, end."""
    from genebot.persistence.repositories import DeploymentRepository

    if not reason.strip():
        refuse("--reason must say why")
    db = _db(database_url)
    running = [d.id for d in DeploymentRepository(db).recent() if d.status == "running"]
    if not running:
        console.print("no running deployment: nothing to stop")
        return
    for deployment_id in running:
        _command(database_url, deployment_id, "emergency_stop", who, reason=reason)


def status(database_url: DatabaseOpt = None) -> None:
    """Whether a runner is up (its pid file from `genebot run --daemon`), and the deployments."""
    if PID_FILE.is_file():
        pid = PID_FILE.read_text().strip()
        alive = pid.isdigit() and _alive(int(pid))
        console.print(f"daemon pid {pid}: {'running' if alive else 'not running (stale pid file)'}")
    deployments(database_url=database_url, format="table")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
