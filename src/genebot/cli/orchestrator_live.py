"""The orchestrator running: start, status, stop, monitor, intervention.

``orchestrator start`` is ``genebot run --orchestration`` under the deployment name
``orchestrator``; the other commands find that deployment in the database and talk to its runner
through the journal (genebot.live.control), like ``genebot pause`` and ``stop``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from genebot.cli.common import DatabaseOpt, console, guarded, refuse

if TYPE_CHECKING:
    from genebot.persistence.database import Database

NAME = "orchestrator"
COMMANDS_HELP = "pause_strategy | resume_strategy | force_rebalance | emergency_stop"
Opt = typer.Option


def start(
    config: Annotated[
        Path | None, Opt("--config", "-c", help="default config/orchestrator.yaml")
    ] = None,
    daemon: Annotated[bool, Opt(help="run in the background (pid in genebot.pid)")] = False,
    speed: Annotated[str | None, Opt(help="N or max (default: ~1 minute)")] = None,
    fresh: Annotated[bool, Opt(help="start over instead of resuming")] = False,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="no status view")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Start the orchestrator: its strategies paper trade on one account, rebalanced on the
    replay clock (what `genebot run --orchestration` does)."""
    from genebot.cli.run import DEFAULT_ORCHESTRATION, run_command

    run_command(
        config=config or DEFAULT_ORCHESTRATION,
        speed=speed,
        fresh=fresh,
        name=NAME,
        quiet=quiet,
        daemon=daemon,
        database_url=database_url,
    )


def _deployment(db: Database) -> str:
    from genebot.persistence.repositories import DeploymentRepository

    found = [d for d in DeploymentRepository(db).recent() if d.name == NAME]
    if not found:
        refuse("the orchestrator has not run on this database: `genebot orchestrator start`")
    return found[-1].id


def _snapshot(db: Database, deployment_id: str) -> dict[str, Any]:
    """The orchestrator's deployment, its latest weights and its interventions (journal)."""
    from sqlalchemy import select

    from genebot.cli.deploy_cmds import runner_up
    from genebot.live.deployments import ALLOCATION, INTERVENTION
    from genebot.persistence.repositories import DeploymentRepository
    from genebot.persistence.tables import JournalEntry

    deployment = DeploymentRepository(db).get(deployment_id)
    assert deployment is not None
    weights: dict[str, dict[str, Any]] = {}
    interventions: list[dict[str, Any]] = []
    with db.reader() as session:
        rows = session.execute(
            select(JournalEntry.kind, JournalEntry.payload)
            .where(JournalEntry.deployment_id == deployment_id)
            .where(JournalEntry.kind.in_([ALLOCATION, INTERVENTION]))
            .order_by(JournalEntry.id)
        ).all()
    for kind, payload in rows:
        data = json.loads(payload)
        if kind == ALLOCATION:
            weights[data["strategy"]] = data
        else:
            interventions.append(data)
    return {
        "deployment": deployment_id,
        "status": deployment.status,
        "runner_up": runner_up(db, deployment_id),
        "allocations": [
            {k: w[k] for k in ("strategy", "weight", "capital", "target_capital", "trigger")}
            for w in weights.values()
        ],
        "interventions": interventions[-20:],
    }


def status(
    verbose: Annotated[bool, Opt("--verbose", "-v", help="also the interventions")] = False,
    format: Annotated[str, Opt(help="table | json")] = "table",
    database_url: DatabaseOpt = None,
) -> None:
    """The orchestrator's deployment, whether it runs, each strategy's current weight."""
    from genebot.cli.db import open_current

    db = open_current(database_url)
    snap = _snapshot(db, _deployment(db))
    if format == "json":
        typer.echo(json.dumps(snap, indent=2))
        return
    _print(snap, verbose)


def _print(snap: dict[str, Any], verbose: bool) -> None:
    from rich.table import Table

    up = "runner up" if snap["runner_up"] else "no runner"
    console.print(f"orchestrator {snap['deployment'][:12]}: {snap['status']} ({up})")
    table = Table(title="allocations")
    for column in ("strategy", "weight", "capital", "target", "trigger"):
        table.add_column(column)
    for a in snap["allocations"]:
        table.add_row(
            a["strategy"], f"{a['weight']:.4f}", a["capital"], a["target_capital"], a["trigger"]
        )
    console.print(table)
    if verbose:
        for i in snap["interventions"]:
            console.print(
                f"{i['command']} {i['strategy'] or '*'} by {i['who']}: {i['reason']} -> "
                f"{i['outcome']}",
                highlight=False,
            )


def stop(
    reason: Annotated[str, Opt(help="why (journaled)")] = "orchestrator stop",
    who: Annotated[str, Opt(help="operator name")] = "cli",
    database_url: DatabaseOpt = None,
) -> None:
    """Stop the orchestrator: cancel its orders, close its positions, end the run."""
    from genebot.cli.db import open_current
    from genebot.cli.deploy_cmds import stop as stop_deployment

    stop_deployment(_deployment(open_current(database_url)), reason, who, database_url)


def monitor(
    hours: Annotated[float | None, Opt(help="stop watching after this many hours")] = None,
    refresh: Annotated[float, Opt(help="seconds between refreshes")] = 5.0,
    format: Annotated[str, Opt(help="table | json (json: one snapshot per line)")] = "table",
    database_url: DatabaseOpt = None,
) -> None:
    """Watch the orchestrator's allocations and interventions (Ctrl-C ends)."""
    from genebot.cli.db import open_current

    if refresh <= 0:
        refuse(f"--refresh {refresh}: must be > 0 seconds")
    db = open_current(database_url)
    deployment_id = _deployment(db)
    end = None if hours is None else time.monotonic() + hours * 3600
    while True:
        snap = guarded(lambda: _snapshot(db, deployment_id))
        if format == "json":
            typer.echo(json.dumps(snap))
        else:
            _print(snap, True)
        if not snap["runner_up"] or (end is not None and time.monotonic() >= end):
            return
        time.sleep(refresh)


def intervention(
    command: Annotated[
        str,
        typer.Argument(help="pause_strategy | resume_strategy | force_rebalance | emergency_stop"),
    ],
    strategy: Annotated[str | None, Opt(help="for pause_strategy / resume_strategy")] = None,
    reason: Annotated[str, Opt(help="why (journaled)")] = "",
    who: Annotated[str, Opt(help="operator name")] = "cli",
    database_url: DatabaseOpt = None,
) -> None:
    """An orchestrator command to the running orchestrator (journaled with who and why)."""
    from genebot.cli.db import open_current
    from genebot.cli.deploy_cmds import send
    from genebot.orchestrator.commands import make_command

    guarded(lambda: _valid(make_command, command, strategy, reason, who))
    db = open_current(database_url)
    send(db, _deployment(db), "intervention", who, command=command, strategy=strategy,
         reason=reason)  # fmt: skip


def _valid(make: Any, command: str, strategy: str | None, reason: str, who: str) -> None:
    from genebot.core.errors import InputError

    try:
        make(command, strategy=strategy, reason=reason, who=who)
    except ValueError as exc:
        raise InputError(str(exc)) from None
