"""``/api/alerts``: every alert a runner raised (rules and built-in events), newest first, and
acknowledging one (admin, journaled). New alerts also reach ``/api/ws`` as ``alert.fired``
events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field

from genebot.api.context import Admin, Ctx, Viewer
from genebot.api.exact import ExactRoute
from genebot.core.errors import InputError
from genebot.persistence.repositories import AlertRepository
from genebot.persistence.tables import AlertRow

router = APIRouter(route_class=ExactRoute, prefix="/api/alerts", tags=["alerts"])
Severity = Literal["INFO", "WARNING", "ERROR", "CRITICAL", "info", "warning", "error", "critical"]


def alert_json(row: AlertRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "deployment_id": row.deployment_id,
        "ts": row.ts.isoformat(),
        "rule": row.rule,
        "severity": row.severity,
        "message": row.message,
        "acknowledged": row.acknowledged,
    }


@router.get("")
def alerts(
    ctx: Ctx,
    _: Viewer,
    since: Annotated[datetime | None, Query(description="ISO time")] = None,
    severity: Annotated[Severity | None, Query()] = None,
    deployment_id: Annotated[str | None, Query(max_length=64)] = None,
    unacknowledged: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    rows = AlertRepository(ctx.db).recent(
        limit,
        since=since,
        severity=severity,
        deployment_id=deployment_id,
        unacknowledged=unacknowledged,
    )
    return {"alerts": [alert_json(r) for r in rows], "count": len(rows)}


class AckBody(BaseModel):
    reason: str = Field("", max_length=500)


@router.post("/{alert_id}/acknowledge")
def acknowledge(
    ctx: Ctx,
    who: Admin,
    alert_id: Annotated[int, Path(ge=1, le=2**62)],
    body: AckBody | None = None,
) -> dict[str, Any]:
    try:
        row = AlertRepository(ctx.db).acknowledge(alert_id)
    except InputError as exc:
        raise HTTPException(404, str(exc)) from None
    ctx.journal(
        who.name,
        "alert_acknowledged",
        row.rule,
        {"alert": alert_id, "reason": (body or AckBody()).reason},
        row.deployment_id,
    )
    return {"success": True, "alert": alert_json(row), "acknowledged_by": who.name}
