"""``genebot risk``: the admin override of the kill switch and the halts of a deployment.

A reset is a journaled command (who, when, why) in the deployment's database: the runner of a
paper or live deployment applies it to its risk engine (``RiskEngine.reset``), and a restart
finds it in the journal. A backtest's halts reset by ``risk_management.halts`` alone.
"""

from __future__ import annotations

from typing import Annotated

import typer

from genebot.cli.common import DatabaseOpt, console, guarded, refuse

risk_app = typer.Typer(
    no_args_is_help=True, help="Risk engine: admin reset of the kill switch, halt history."
)

DeploymentOpt = Annotated[
    str | None,
    typer.Option("--deployment", "-d", help="deployment id (default: the only running one)"),
]


def _deployment(db: object, wanted: str | None) -> str:
    from genebot.services.safety import pick_deployment

    return guarded(lambda: pick_deployment(db, wanted))  # type: ignore[arg-type]


@risk_app.command("reset")
def risk_reset(
    reason: Annotated[str, typer.Option("--reason", help="why trading may resume (journaled)")],
    deployment: DeploymentOpt = None,
    who: Annotated[str, typer.Option("--who", help="operator name for the journal")] = "admin",
    database_url: DatabaseOpt = None,
) -> None:
    """Admin override: clear the kill switch and every halt of a deployment, with a reason."""
    from genebot.cli.db import open_current
    from genebot.services.safety import reset_kill_switch

    if not reason.strip():
        refuse("--reason: say why trading may resume (it is journaled)")
    db = open_current(database_url)
    target = _deployment(db, deployment)
    guarded(lambda: reset_kill_switch(db, target, who, reason))
    console.print(
        f"reset recorded for deployment {target} by {who}: {reason.strip()} "
        "(journaled; its runner clears the halts when it reads it)",
        highlight=False,
        markup=False,
    )


@risk_app.command("status")
def risk_status(deployment: DeploymentOpt = None, database_url: DatabaseOpt = None) -> None:
    """A deployment's kill-switch history: every activation and reset, who and why."""
    from rich.table import Table

    from genebot.cli.db import open_current
    from genebot.persistence.repositories import RiskRepository

    db = open_current(database_url)
    target = _deployment(db, deployment)
    history = RiskRepository(db).kill_switch_history(target)
    if not history:
        console.print(f"deployment {target}: the kill switch never fired", highlight=False)
        return
    table = Table(title=f"kill switch, deployment {target}")
    for col in ("time", "kind", "rule", "who", "reason"):
        table.add_column(col)
    for e in history:
        table.add_row(e.ts.isoformat(), e.kind, e.rule, e.who, e.reason)
    console.print(table)
