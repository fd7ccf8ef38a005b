"""``/api/trading/`` (seed 004's live-trading API) and ``/api/bots`` (seed 002's name for the
same deployments): deploy, stop, emergency stop, the deployments grid, positions, history."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from genebot.api.commands import send_command
from genebot.api.context import Admin, Ctx, Viewer
from genebot.api.exact import ExactRoute
from genebot.persistence.repositories import DeploymentRepository
from genebot.services import deployments as deps
from genebot.services.launcher import DeploySpec
from genebot.services.safety import NoDeployment

GRID_TTL_S = 0.2
router = APIRouter(route_class=ExactRoute, tags=["trading"])


class RiskParameters(BaseModel):
    """Seed 004's dialog: position size, daily loss and drawdown limits (fractions)."""

    model_config = ConfigDict(extra="forbid")
    max_position_size: float | None = Field(None, gt=0, le=1, description="of equity per trade")
    max_daily_loss: float | None = Field(None, gt=0, le=1)
    max_drawdown: float | None = Field(None, gt=0, le=1)
    stop_loss_pct: float | None = Field(None, gt=0, lt=1)
    take_profit_pct: float | None = Field(None, gt=0, le=10)


class DeployBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    mode: Literal["paper", "live"] = "paper"
    strategy: str = Field(min_length=1, max_length=100, description="config key or class name")
    symbols: list[str] = Field(min_length=1, max_length=20)
    timeframe: str | None = Field(None, max_length=8)
    capital: float | None = Field(None, gt=0, le=1e12)
    parameters: dict[str, float | int | str | bool] = Field(default_factory=dict)
    risk: RiskParameters | None = Field(None, alias="risk_parameters")
    stop_loss_take_profit: bool = Field(True, alias="sl_tp_enabled")
    speed: str = Field(
        "max",
        pattern=r"^(max|[0-9]+(\.[0-9]+)?)$",
        description="replay speed: N x real time, or max",
    )
    name: str | None = Field(None, max_length=150)
    confirm_account: str | None = Field(None, description="live: the account name, typed")
    halloffame_id: int | None = Field(
        None,
        ge=1,
        le=2**62,
        description="a Hall of Fame entry: run under the risk and cost settings its statistics "
        "were computed with (the dialog's risk parameters still apply on top)",
    )

    @field_validator("symbols", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return (
            [s.strip() for s in value.split(",") if s.strip()] if isinstance(value, str) else value
        )


def _spec(body: DeployBody) -> DeploySpec:
    r = body.risk or RiskParameters()
    limits: dict[str, Any] = {}
    top: dict[str, Any] = {}
    if r.max_position_size is not None:
        limits["max_position_size"] = r.max_position_size
    if r.max_daily_loss is not None:
        limits["max_daily_loss"] = top["max_daily_loss"] = r.max_daily_loss
    if r.max_drawdown is not None:
        top["max_drawdown"] = r.max_drawdown
    risk = {k: v for k, v in (("position_limits", limits), ("global", top)) if v}
    return DeploySpec(
        strategy=body.strategy,
        symbols=body.symbols,
        timeframe=body.timeframe,
        capital=body.capital,
        parameters=dict(body.parameters),
        risk=risk,
        stop_loss_pct=r.stop_loss_pct,
        take_profit_pct=r.take_profit_pct,
        sl_tp=body.stop_loss_take_profit,
        speed=body.speed,
        name=body.name,
    )


def _deploy(ctx: Ctx, who: Admin, body: DeployBody) -> dict[str, Any]:
    if body.mode == "live":
        raise HTTPException(
            422,
            "mode: live deployments start from the terminal (`genebot run --live`), where the "
            "exchange and account are confirmed by typing them; the API deploys paper",
        )
    if ctx.launcher is None:
        raise HTTPException(
            409, "this process is a runner (`genebot run`): deploy from `genebot serve`"
        )
    spec = _spec(body)
    if body.halloffame_id is not None:
        spec.sections = _entry_sections(ctx, body.halloffame_id)
    saved = _saved_parameters(ctx, body.strategy)
    spec.parameters = {**saved, **spec.parameters}  # PUT /api/strategies/{name}/parameters
    started = ctx.launcher.deploy(spec)
    ctx.cache.clear()  # the grid must show it at once
    ctx.journal(
        who.name,
        "deploy",
        started["deployment_id"],
        {"strategy": body.strategy, "symbols": body.symbols, "mode": body.mode},
        started["deployment_id"],
    )
    return {"success": True, **started, "message": f"paper deployment {started['name']} started"}


def _entry_sections(ctx: Ctx, entry_id: int) -> dict[str, Any]:
    from genebot.core.errors import InputError
    from genebot.evolution import halloffame

    try:
        entry = halloffame.entry(ctx.db, entry_id)
    except InputError as exc:
        raise HTTPException(422, f"halloffame_id: {exc}") from None
    return halloffame.computed_with(entry.settings.get("base") or {})


def _saved_parameters(ctx: Ctx, strategy: str) -> dict[str, Any]:
    from genebot.api.routes.strategies import saved_parameters
    from genebot.strategies.registry import builtin_catalog

    cls = builtin_catalog().find(strategy)
    return dict(saved_parameters(ctx).get(cls.name if cls else strategy, {}))


@router.post("/api/trading/deploy")
def deploy(ctx: Ctx, who: Admin, body: DeployBody) -> dict[str, Any]:
    """Start a paper deployment in its own runner process (seed 004's deploy dialog)."""
    return _deploy(ctx, who, body)


@router.post("/api/bots")
def create_bot(ctx: Ctx, who: Admin, body: DeployBody) -> dict[str, Any]:
    """Seed 002's name for ``/api/trading/deploy``: create a bot and start it."""
    return _deploy(ctx, who, body)


class StopBody(BaseModel):
    reason: str = Field("stopped from the API", max_length=500)


def _control(
    ctx: Ctx, who: Admin, deployment_id: str, what: str, body: StopBody | None, default: str
) -> dict[str, Any]:
    """One operator command to one deployment, and the runner's answer."""
    dep = _known(ctx, deployment_id)
    reason = body.reason if body else default
    outcome = send_command(ctx, dep, what, who.name, reason=reason)
    return {"success": True, "deployment_id": dep, "outcome": outcome}


@router.post("/api/trading/stop/{deployment_id}")
def stop(ctx: Ctx, who: Admin, deployment_id: str, body: StopBody | None = None) -> dict[str, Any]:
    """Cancel the deployment's orders, close its positions, end it."""
    return _control(ctx, who, deployment_id, "stop", body, "stopped from the API")


@router.post("/api/bots/{deployment_id}/stop")
def stop_bot(
    ctx: Ctx, who: Admin, deployment_id: str, body: StopBody | None = None
) -> dict[str, Any]:
    return _control(ctx, who, deployment_id, "stop", body, "stopped from the API")


@router.post("/api/trading/pause/{deployment_id}")
def pause(ctx: Ctx, who: Admin, deployment_id: str, body: StopBody | None = None) -> dict[str, Any]:
    """No new entries; exits and protective orders keep working."""
    return _control(ctx, who, deployment_id, "pause", body, "paused from the API")


@router.post("/api/trading/resume/{deployment_id}")
def resume(
    ctx: Ctx, who: Admin, deployment_id: str, body: StopBody | None = None
) -> dict[str, Any]:
    return _control(ctx, who, deployment_id, "resume", body, "resumed from the API")


class EmergencyBody(BaseModel):
    reason: str = Field("emergency stop from the API", min_length=1, max_length=500)


@router.post("/api/trading/emergency-stop")
def emergency_stop(ctx: Ctx, who: Admin, body: EmergencyBody | None = None) -> dict[str, Any]:
    """Every running deployment: cancel every order, close every position, halt, end."""
    ctx.need_runner()
    reason = (body or EmergencyBody()).reason
    running = [d.id for d in DeploymentRepository(ctx.db).recent() if d.status == "running"]
    outcomes = {d: send_command(ctx, d, "emergency_stop", who.name, reason=reason) for d in running}
    return {"success": True, "stopped": list(outcomes), "outcomes": outcomes}


@router.get("/api/trading/deployments")
def deployments(
    ctx: Ctx, _: Viewer, active: Annotated[bool, Query(description="only active/paused")] = False
) -> dict[str, Any]:
    """The deployments grid: one card per deployment."""

    def read() -> dict[str, Any]:
        cards = deps.cards(ctx.db, ctx.runner_for, active_only=active)
        return {"deployments": cards, "runner_up": ctx.runner_up(), "count": len(cards)}

    got = ctx.cache.get(("deployments", active), GRID_TTL_S, read)  # runners write every 0.5 s
    assert isinstance(got, dict)
    return got


@router.get("/api/bots")
def bots(ctx: Ctx, _: Viewer) -> dict[str, Any]:
    cards = deps.cards(ctx.db, ctx.runner_for)
    return {"bots": cards, "count": len(cards)}


def _known(ctx: Ctx, deployment_id: str) -> str:
    ids = [d.id for d in DeploymentRepository(ctx.db).recent()]
    found = [i for i in ids if i.startswith(deployment_id)] if deployment_id else []
    if len(found) != 1:
        why = "no such deployment" if not found else "several deployments match: give more"
        raise NoDeployment(f"deployment {deployment_id!r}: {why}")
    return found[0]


@router.get("/api/trading/deployment/{deployment_id}")
def deployment(ctx: Ctx, _: Viewer, deployment_id: str) -> dict[str, Any]:
    dep = _known(ctx, deployment_id)
    row = DeploymentRepository(ctx.db).get(dep)
    assert row is not None
    return deps.card(ctx.db, row, ctx.runner_for(row))


@router.get("/api/trading/positions/{deployment_id}")
def positions(ctx: Ctx, _: Viewer, deployment_id: str) -> dict[str, Any]:
    dep = _known(ctx, deployment_id)
    items = deps.positions(ctx.db, dep)
    return {"deployment_id": dep, "positions": items, "count": len(items)}


class CloseBody(BaseModel):
    """One position to close at market (a reduce-only order: it can only shrink it)."""

    model_config = ConfigDict(extra="ignore")
    symbol: str = Field(min_length=1, max_length=40)
    strategy: str | None = Field(None, min_length=1, max_length=100)
    side: Literal["long", "short"] | None = None
    quantity: Decimal | None = Field(None, gt=0, le=Decimal("1e12"), description="default: all")
    reason: str = Field("closed from the API", min_length=1, max_length=500)


@router.post("/api/trading/positions/{deployment_id}/close")
def close_position(ctx: Ctx, who: Admin, deployment_id: str, body: CloseBody) -> dict[str, Any]:
    """Close a position of a running deployment at market (trade history: ``manual``)."""
    dep = _known(ctx, deployment_id)
    detail = body.model_dump(exclude_none=True)
    if body.quantity is not None:
        detail["quantity"] = str(body.quantity)
    outcome = send_command(ctx, dep, "close_position", who.name, tag="manual", **detail)
    return {"success": not outcome.startswith(("refused", "no open")), "outcome": outcome}


@router.get("/api/trading/history/{deployment_id}")
def history(
    ctx: Ctx,
    _: Viewer,
    deployment_id: str,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
    strategy: Annotated[str | None, Query(max_length=100)] = None,
    symbol: Annotated[str | None, Query(max_length=100)] = None,
    reason: Annotated[Literal[deps.EXIT_REASONS] | None, Query()] = None,  # type: ignore[valid-type]
) -> dict[str, Any]:
    """Closed trades, newest first, paged; filter by strategy, symbol or exit reason."""
    dep = _known(ctx, deployment_id)
    return {
        "deployment_id": dep,
        **deps.history(
            ctx.db,
            dep,
            page=page,
            per_page=per_page,
            strategy=strategy,
            symbol=symbol,
            reason=reason,
        ),
    }


@router.get("/api/equity/{deployment_id}")
def equity(
    ctx: Ctx, _: Viewer, deployment_id: str, limit: Annotated[int, Query(ge=1, le=20000)] = 5000
) -> dict[str, Any]:
    """The deployment's equity curve (data time, about one point a second of the run)."""
    from genebot.persistence.repositories import EquityRepository

    dep = _known(ctx, deployment_id)
    curve = EquityRepository(ctx.db).curve(dep)[-limit:]
    points = [{"time": int(ts.timestamp()), "equity": value} for ts, value in curve]
    return {"deployment_id": dep, "points": points}
