"""``/api/orchestration/`` and seed 000's orchestrator API (``/api/v1/status``, ``metrics``,
``performance``): the allocation across strategies now and over time, attribution, the
rebalancing history with its triggers, interventions; a manual allocation (bounds enforced)
and the orchestrator's commands, applied by the runner before its next bar.

With no orchestrated deployment running, the answers come from the newest orchestrated
backtest stored in the database (``source: backtest``)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy import select

from genebot.api.commands import runner_of, send_command
from genebot.api.context import Admin, ApiContext, Ctx, NoRunner, Viewer
from genebot.api.exact import ExactRoute
from genebot.core.errors import InputError
from genebot.live.status_store import read_status
from genebot.persistence.repositories import BacktestRunRepository, DeploymentRepository
from genebot.persistence.tables import JournalEntry
from genebot.services.deployments import card

router = APIRouter(route_class=ExactRoute, tags=["orchestration"])
ALLOCATION, INTERVENTION = "orchestrator.allocation", "orchestrator.intervention"


def _orchestrated(ctx: ApiContext) -> str | None:
    """The running deployment whose journal holds orchestrator allocations, if any."""
    for row in DeploymentRepository(ctx.db).recent():
        if row.status != "running" or not runner_of(ctx, row.id):
            continue
        with ctx.db.reader() as session:
            found = session.scalar(
                select(JournalEntry.id)
                .where(JournalEntry.deployment_id == row.id, JournalEntry.kind == ALLOCATION)
                .limit(1)
            )
        if found is not None:
            return row.id
    return None


def _journal(ctx: ApiContext, deployment_id: str, kind: str) -> list[dict[str, Any]]:
    with ctx.db.reader() as session:
        rows = session.scalars(
            select(JournalEntry.payload)
            .where(JournalEntry.deployment_id == deployment_id, JournalEntry.kind == kind)
            .order_by(JournalEntry.id)
        ).all()
    return [json.loads(p) for p in rows]


def _live(ctx: ApiContext, deployment_id: str) -> dict[str, Any]:
    history = _journal(ctx, deployment_id, ALLOCATION)
    latest: dict[str, dict[str, Any]] = {}
    for change in history:
        latest[change["strategy"]] = change
    status = read_status(ctx.db, deployment_id) or {}
    row = DeploymentRepository(ctx.db).get(deployment_id)
    assert row is not None
    return {
        "source": "deployment",
        "deployment_id": deployment_id,
        "deployment": card(ctx.db, row, True),
        "allocation": {
            n: {"weight": c["weight"], "capital": c["capital"]} for n, c in sorted(latest.items())
        },
        "sleeves": status.get("allocation", {}),
        "history": history[-500:],
        "interventions": _journal(ctx, deployment_id, INTERVENTION)[-200:],
        "paused": status.get("paused", []),
    }


def _stored(ctx: ApiContext) -> dict[str, Any]:
    repo = BacktestRunRepository(ctx.db)
    try:
        run = repo.latest_orchestrated()
    except InputError:
        return {
            "source": "none",
            "allocation": {},
            "history": [],
            "attribution": [],
            "message": "no orchestrated deployment runs and no orchestrated backtest is "
            "stored: `genebot backtest orchestration` or `genebot run --orchestration`",
        }
    rows = repo.allocations(run.id)
    latest = {r.strategy: r for r in rows}
    return {
        "source": "backtest",
        "run_id": run.id,
        "title": run.title,
        "allocation": {
            n: {"weight": r.weight, "capital": r.capital} for n, r in sorted(latest.items())
        },
        "history": [
            {
                "ts": r.ts.isoformat(),
                "strategy": r.strategy,
                "weight": r.weight,
                "capital": r.capital,
                "trigger": r.trigger,
            }
            for r in rows[-500:]
        ],
        "attribution": repo.attribution(run.id),
        "stats": repo.stats(run.id),
    }


def status_of(ctx: ApiContext) -> dict[str, Any]:
    dep = _orchestrated(ctx)
    return _live(ctx, dep) if dep is not None else _stored(ctx)


@router.get("/api/orchestration/status")
def orchestration_status(ctx: Ctx, _: Viewer) -> dict[str, Any]:
    """Allocation now and over time, the rebalancing history with triggers, attribution."""
    return status_of(ctx)


def _need_orchestrated(ctx: ApiContext) -> str:
    dep = _orchestrated(ctx)
    if dep is None:
        raise NoRunner(
            "no runner: no orchestrated deployment is running (`genebot run "
            "--orchestration`); there is no allocation to change"
        )
    return dep


@router.put("/api/orchestration/allocation")
def allocation(
    ctx: Ctx,
    who: Admin,
    body: Annotated[dict[str, float], Body(examples=[{"moving_average": 0.15}])],
) -> dict[str, Any]:
    """Seed 000's body as written (``{"moving_average": 0.15, "rsi_strategy": 0.20}``): each
    share in [0, 1], their sum at most 1; the orchestrator's min/max bounds then apply."""
    bad = [f"{k}={v}" for k, v in body.items() if not 0.0 <= v <= 1.0]
    if bad or not body:
        raise HTTPException(
            422,
            f"body: each share must be in [0, 1] ({', '.join(bad)})"
            if bad
            else "body: give strategy: share pairs",
        )
    if sum(body.values()) > 1.0 + 1e-9:
        raise HTTPException(422, f"body: the shares add up to {sum(body.values()):.4f} > 1")
    dep = _need_orchestrated(ctx)
    outcome = send_command(
        ctx,
        dep,
        "intervention",
        who.name,
        command="set_allocation",
        weights=body,
        reason="allocation set from the API",
    )
    if outcome.startswith("refused"):
        raise HTTPException(409, outcome)
    return {"success": True, "deployment_id": dep, "requested": body, "outcome": outcome}


class InterventionBody(BaseModel):
    command: Literal["pause_strategy", "resume_strategy", "force_rebalance", "emergency_stop"]
    strategy: str | None = Field(None, max_length=100)
    reason: str = Field(min_length=1, max_length=500)


@router.post("/api/orchestration/intervention")
def intervention(ctx: Ctx, who: Admin, body: InterventionBody) -> dict[str, Any]:
    if body.command in ("pause_strategy", "resume_strategy") and not body.strategy:
        raise HTTPException(422, f"strategy: {body.command} needs a strategy")
    dep = _need_orchestrated(ctx)
    outcome = send_command(
        ctx,
        dep,
        "intervention",
        who.name,
        command=body.command,
        strategy=body.strategy,
        reason=body.reason,
    )
    return {"success": not outcome.startswith("refused"), "deployment_id": dep, "outcome": outcome}


@router.get("/api/v1/status")
def v1_status(ctx: Ctx, _: Viewer) -> dict[str, Any]:
    """Seed 000's orchestrator API: is it running, on what, allocated how."""
    got = status_of(ctx)
    return {
        "status": "running" if got["source"] == "deployment" else "idle",
        "source": got["source"],
        "allocation": got.get("allocation", {}),
        "deployment_id": got.get("deployment_id"),
        "runner_up": ctx.runner_up(),
    }


@router.get("/api/v1/metrics")
def v1_metrics(ctx: Ctx, _: Viewer) -> dict[str, Any]:
    got = status_of(ctx)
    dep = got.get("deployment") or {}
    return {
        key: dep.get(key)
        for key in (
            "equity",
            "total_pnl",
            "total_pnl_pct",
            "daily_pnl",
            "drawdown",
            "trades",
            "win_rate",
            "open_positions",
            "risk_state",
        )
    } | {"source": got["source"], "rebalances": len(got.get("history", []))}


@router.get("/api/v1/performance")
def v1_performance(ctx: Ctx, _: Viewer) -> dict[str, Any]:
    got = status_of(ctx)
    return {
        "source": got["source"],
        "attribution": got.get("attribution", []),
        "stats": got.get("stats"),
        "allocation": got.get("allocation", {}),
    }
