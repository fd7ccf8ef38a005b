"""Operator commands from the API to a running deployment, through the journal (see
genebot.live.control): journaled with who and why, applied by the runner between two bars;
the call waits for the runner's answer."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import HTTPException

from genebot.api.context import ApiContext, NoRunner
from genebot.live import control
from genebot.live.status_store import read_status
from genebot.persistence.repositories import DeploymentRepository

FRESH_S = 15.0  # a runner rewrites its status row several times a second


def runner_of(ctx: ApiContext, deployment_id: str) -> bool:
    """Whether a runner is trading this deployment now (up, and its status row is fresh)."""
    row = DeploymentRepository(ctx.db).get(deployment_id)
    if row is None or row.status != "running":
        return False
    if not ctx.runner_for(row):
        return False
    status = read_status(ctx.db, deployment_id)
    if status is None:
        return True  # started a moment ago: its first status is on its way
    age = datetime.now(UTC) - datetime.fromisoformat(status["updated_at"])
    return age.total_seconds() < FRESH_S


def send_command(ctx: ApiContext, deployment_id: str, what: str, who: str, **detail: object) -> str:
    """Journal ``what`` for the deployment's runner and return its answer."""
    row = DeploymentRepository(ctx.db).get(deployment_id)
    if row is not None and row.status != "running":
        raise HTTPException(409, f"deployment {deployment_id[:12]} is {row.status}: nothing to do")
    if not runner_of(ctx, deployment_id):
        raise NoRunner(
            f"no runner: deployment {deployment_id[:12]} is not being traded by a running "
            "`genebot run` process; nothing to control"
        )
    command_id = control.post(ctx.db, deployment_id, what, who, **detail)
    outcome = control.wait_applied(ctx.db, deployment_id, command_id, ctx.settings.command_wait_s)
    ctx.cache.clear()  # what the grid showed is out of date now
    if outcome is None:
        raise HTTPException(
            504,
            f"the runner did not answer within {ctx.settings.command_wait_s:.0f} s; the "
            "command is journaled and applied when it does",
        )
    return outcome
