"""Health: ``/health`` (no token: for load balancers and systemd), and ``/health/database``,
``/health/exchanges``, ``/health/strategies`` answering 200 or 503 with the reasons; who the
caller is (``/api/whoami``)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import select

from genebot.api.context import ApiContext, Ctx, Viewer
from genebot.api.exact import ExactRoute
from genebot.core.errors import GenebotError
from genebot.core.exactjson import dumps_exact
from genebot.live.status_store import read_status
from genebot.persistence.repositories import DeploymentRepository
from genebot.persistence.tables import JournalEntry

router = APIRouter(route_class=ExactRoute, tags=["health"])
STALE_S = 60.0  # a runner that has not written its status for this long is not healthy


def _answer(body: dict[str, Any], healthy: bool) -> JSONResponse:
    body = {"status": "ok" if healthy else "unhealthy", **body}
    return JSONResponse(content=_plain(body), status_code=200 if healthy else 503)


def _plain(body: dict[str, Any]) -> Any:
    import json

    return json.loads(dumps_exact(body))


def _database(ctx: ApiContext) -> tuple[bool, dict[str, Any]]:
    started = time.perf_counter()
    try:
        ctx.db.ping()
    except GenebotError as exc:
        return False, {"database": ctx.db.display_url, "reason": ctx.redactor.redact(str(exc))}
    ms = (time.perf_counter() - started) * 1000
    return True, {"database": ctx.db.display_url, "dialect": ctx.db.dialect, "latency_ms": ms}


@router.get("/health")
def health(ctx: Ctx) -> JSONResponse:
    """Liveness and the database: 200 or 503; no token needed, nothing secret in it."""
    ok, body = _database(ctx)
    body["runner_up"] = ctx.runner_up() if ok else None
    body["uptime_s"] = time.time() - ctx.started
    return _answer(body, ok)


@router.get("/health/database")
def health_database(ctx: Ctx, _: Viewer) -> JSONResponse:
    ok, body = _database(ctx)
    return _answer(body, ok)


def _running(ctx: ApiContext) -> list[tuple[Any, dict[str, Any] | None, float | None]]:
    out = []
    now = datetime.now(UTC)
    for row in DeploymentRepository(ctx.db).recent():
        if row.status != "running":
            continue
        status = read_status(ctx.db, row.id)
        age = None
        if status is not None:
            age = (now - datetime.fromisoformat(status["updated_at"])).total_seconds()
        out.append((row, status, age))
    return out


def _last_error(ctx: ApiContext, deployment_id: str) -> str | None:
    with ctx.db.reader() as session:
        payload = session.scalar(
            select(JournalEntry.payload)
            .where(JournalEntry.deployment_id == deployment_id)
            .where(JournalEntry.kind.in_(("runtime.error", "runtime.stale")))
            .order_by(JournalEntry.id.desc())
            .limit(1)
        )
    return ctx.redactor.redact(payload) if payload else None


@router.get("/health/exchanges")
def health_exchanges(ctx: Ctx, _: Viewer) -> JSONResponse:
    """Each live deployment's exchange link: its runner writing, its data not stale."""
    items, healthy = [], True
    for row, status, age in _running(ctx):
        if row.mode != "live":
            continue
        stale = age is None or age > STALE_S or not ctx.runner_for(row)
        paused = "*" in ((status or {}).get("paused") or [])
        ok = not stale and not paused
        healthy &= ok
        reason = None if ok else ("no status from its runner" if stale else "market data stale")
        items.append(
            {
                "deployment_id": row.id,
                "name": row.name,
                "healthy": ok,
                "reason": reason,
                "status_age_s": age,
                "last_problem": _last_error(ctx, row.id),
            }
        )
    detail = None if items else "no live deployment is running (paper trades need no exchange)"
    return _answer({"exchanges": items, "detail": detail}, healthy)


@router.get("/health/strategies")
def health_strategies(ctx: Ctx, _: Viewer) -> JSONResponse:
    """Each running deployment: its runner up and writing, the strategies paused or halted."""
    items, healthy = [], True
    for row, status, age in _running(ctx):
        risk = (status or {}).get("risk", {})
        up = ctx.runner_for(row)
        fresh = up and age is not None and age <= STALE_S
        ok = fresh and risk.get("state") != "HALTED"
        healthy &= ok
        why = None
        if not fresh:
            why = "its runner is not up" if not up else "no recent status from its runner"
        elif not ok:
            why = f"risk halted: {risk.get('halt_rule')}: {risk.get('halt_detail')}"
        items.append(
            {
                "deployment_id": row.id,
                "name": row.name,
                "healthy": ok,
                "reason": why,
                "strategies": (status or {}).get("strategies", []),
                "paused": (status or {}).get("paused", []),
                "last_problem": _last_error(ctx, row.id),
            }
        )
    return _answer({"deployments": items, "runner_up": ctx.runner_up()}, healthy)


@router.get("/api/whoami")
def whoami(who: Viewer) -> dict[str, str]:
    """The caller's token name and role (the dashboard hides controls from viewers)."""
    return {"name": who.name, "role": who.role}
