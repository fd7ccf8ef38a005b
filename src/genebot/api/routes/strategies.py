"""``/api/strategies/`` (seed 000): the strategy library with parameters and bounds; enable and
disable a strategy in the running deployment (a per-strategy pause/resume, applied by the runner
before its next bar); parameters validated against the strategy's declared bounds, journaled
(new deployments start with them) and sent to each running deployment of the strategy, which
applies them from its next bar (``set_parameters``: see :mod:`genebot.system.reparam`)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from sqlalchemy import select

from genebot.api.commands import runner_of, send_command
from genebot.api.context import Admin, ApiContext, Ctx, NoRunner, Viewer
from genebot.api.exact import ExactRoute
from genebot.core.errors import InputError
from genebot.persistence.repositories import DeploymentRepository
from genebot.persistence.tables import JournalEntry
from genebot.services.deployments import card

router = APIRouter(route_class=ExactRoute, prefix="/api/strategies", tags=["strategies"])
PARAMETERS = "strategy_parameters"


def _catalog(ctx: ApiContext) -> Any:
    from genebot.strategies.registry import builtin_catalog

    return builtin_catalog()


def _class(ctx: ApiContext, name: str) -> Any:
    cls = _catalog(ctx).find(name)
    if cls is None:
        known = ", ".join(sorted(c.name for c in _catalog(ctx).classes))
        raise InputError(f"strategy {name!r}: not a known strategy (known: {known})")
    return cls


def _config_entries(ctx: ApiContext) -> dict[str, Any]:
    if not ctx.settings.base_config:
        return {}
    from pathlib import Path

    from genebot.config.loader import load_config

    return dict(load_config(Path(ctx.settings.base_config)).strategies)


def saved_parameters(ctx: ApiContext) -> dict[str, dict[str, Any]]:
    """The parameters set through the API, per strategy (the latest call wins per name)."""
    out: dict[str, dict[str, Any]] = {}
    with ctx.db.reader() as session:
        rows = session.execute(
            select(JournalEntry.subject, JournalEntry.payload)
            .where(JournalEntry.kind == f"api.{PARAMETERS}")
            .order_by(JournalEntry.id)
        ).all()
    for subject, payload in rows:
        out.setdefault(subject, {}).update(json.loads(payload)["parameters"])
    return out


def _describe(cls: Any, entry: Any, saved: dict[str, Any]) -> dict[str, Any]:
    given = {**(dict(entry.parameters) if entry else {}), **saved}
    params = []
    for pname, p in cls.parameters.items():
        params.append(
            {
                "name": pname,
                "value": given.get(pname, p.default),
                "default": p.default,
                "min": p.min,
                "max": p.max,
                "choices": list(p.choices or []) or None,
                "doc": p.doc,
            }
        )
    return {
        "name": cls.name,
        "class": cls.__name__,
        "enabled": bool(entry.enabled) if entry else False,
        "symbols": list(entry.symbols) if entry else [],
        "timeframes": list(entry.timeframes) if entry else [],
        "parameters": params,
        "description": (cls.__doc__ or "").strip().split("\n")[0],
    }


@router.get("")
def strategies(ctx: Ctx, _: Viewer) -> dict[str, Any]:
    """Every strategy genebot knows, with its declared parameters and bounds."""
    entries = _config_entries(ctx)
    by_class = {(e.type or k): e for k, e in entries.items()}
    saved = saved_parameters(ctx)
    out = [
        _describe(cls, entries.get(cls.name) or by_class.get(cls.__name__), saved.get(cls.name, {}))
        for cls in sorted(_catalog(ctx).classes, key=lambda c: c.name)
    ]
    return {"strategies": out, "count": len(out)}


def _running_all(ctx: ApiContext, name: str) -> list[str]:
    """The running deployments, traded by a runner now, whose strategies include ``name``."""
    return [
        row.id
        for row in DeploymentRepository(ctx.db).recent()
        if row.status == "running"
        and runner_of(ctx, row.id)
        and name in card(ctx.db, row, True)["strategies"]
    ]


def _running_with(ctx: ApiContext, name: str) -> str:
    found = _running_all(ctx, name)
    if not found:
        raise NoRunner(f"no runner: no running deployment trades {name!r}; nothing to enable")
    return found[0]


@router.post("/{name}/enable")
def enable(ctx: Ctx, who: Admin, name: str) -> dict[str, Any]:
    """Take new entries again in the running deployment (undo a disable)."""
    _class(ctx, name)
    dep = _running_with(ctx, name)
    outcome = send_command(ctx, dep, "resume", who.name, strategy=name, reason="enabled (API)")
    return {"success": True, "strategy": name, "deployment_id": dep, "outcome": outcome}


@router.post("/{name}/disable")
def disable(ctx: Ctx, who: Admin, name: str) -> dict[str, Any]:
    """No new entries for this strategy (its exits and protective orders keep working)."""
    _class(ctx, name)
    dep = _running_with(ctx, name)
    outcome = send_command(ctx, dep, "pause", who.name, strategy=name, reason="disabled (API)")
    return {"success": True, "strategy": name, "deployment_id": dep, "outcome": outcome}


@router.put("/{name}/parameters")
def parameters(
    ctx: Ctx, who: Admin, name: str, body: Annotated[dict[str, float | int | str | bool], Body()]
) -> dict[str, Any]:
    """Seed 000's body as written (``{"short_period": 12, "long_period": 24}``), checked
    against the declared bounds; journaled, and new deployments start with it."""
    from genebot.trading.params import resolve_params

    cls = _class(ctx, name)
    if not body:
        raise InputError('body: give at least one parameter, e.g. {"short_period": 12}')
    merged = {**saved_parameters(ctx).get(cls.name, {}), **body}
    effective = resolve_params(cls.parameters, merged, f"strategies.{name}.parameters")
    ctx.journal(who.name, PARAMETERS, cls.name, {"parameters": dict(body)})
    applied = {
        dep: send_command(ctx, dep, "set_parameters", who.name, strategy=name,
                          parameters=dict(body), reason="parameters (API)")
        for dep in _running_all(ctx, name)
    }  # fmt: skip
    refused = {dep: text for dep, text in applied.items() if text.startswith("refused")}
    where = f"; applied from the next bar in {len(applied) - len(refused)} running deployment(s)"
    return {
        "success": not refused,
        "strategy": cls.name,
        "parameters": effective,
        "applied": applied,
        "message": "saved: deployments started from now on use them" + (where if applied else ""),
    }


@router.get("/{name}/readiness")
def readiness_report(
    ctx: Ctx, _: Viewer, name: str, oos: Annotated[float, Query(ge=0.05, le=0.9)] = 0.3
) -> dict[str, Any]:
    """Seed 001's go-live readiness score for the strategy (a backtest runs: seconds)."""
    from pathlib import Path

    from genebot.config.loader import load_config
    from genebot.services.readiness_run import readiness

    cls = _class(ctx, name)
    cfg = load_config(Path(ctx.settings.base_config) if ctx.settings.base_config else None)
    return readiness(cfg, cls.name, ctx.db, oos_fraction=oos).as_dict()
