"""``/api/trading-safety/``: seed 002's trading safety service over genebot's risk engine.

Status and the kill switch are a deployment's (the running one when there is only one);
``validate`` answers what the deployment's limits say about a trade before it is placed;
``reset-kill-switch`` is the journaled admin override that the runner applies between bars."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from genebot.api.commands import runner_of
from genebot.api.context import Admin, Ctx, Viewer
from genebot.api.exact import ExactRoute
from genebot.core.errors import ConfigError
from genebot.risk.config import RiskManagementConfig
from genebot.services import safety
from genebot.services.deployments import positions

router = APIRouter(route_class=ExactRoute, prefix="/api/trading-safety", tags=["trading-safety"])
DeploymentQ = Annotated[str | None, Query(max_length=64, description="default: the running one")]


class ResetBody(BaseModel):
    reason: str | None = Field(None, max_length=500, description="why trading may resume")
    deployment_id: str | None = Field(None, max_length=64)


class TradeBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    symbol: str = Field(min_length=1, max_length=40)
    side: Literal["buy", "sell"]
    quantity: Decimal = Field(gt=0, le=Decimal("1e12"))
    price: Decimal = Field(gt=0, le=Decimal("1e12"))
    account_balance: Decimal | None = Field(None, ge=0, le=Decimal("1e15"))
    deployment_id: str | None = Field(None, max_length=64)


class SlippageBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    symbol: str | None = Field(None, max_length=40)
    side: Literal["buy", "sell"]
    expected_price: Decimal = Field(gt=0, le=Decimal("1e12"))
    actual_price: Decimal = Field(gt=0, le=Decimal("1e12"), alias="actual_price")
    deployment_id: str | None = Field(None, max_length=64)


class RecordBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    symbol: str = Field(min_length=1, max_length=40)
    side: Literal["buy", "sell"] = "buy"
    pnl: Decimal = Field(ge=Decimal("-1e12"), le=Decimal("1e12"))
    quantity: Decimal | None = Field(None, gt=0, le=Decimal("1e12"))
    deployment_id: str | None = Field(None, max_length=64)


class ConfigurationBody(BaseModel):
    """Seed 002's limits; each optional, validated like the YAML's."""

    model_config = ConfigDict(extra="forbid")
    max_position_size_pct: float | None = Field(None, gt=0, le=1)
    daily_loss_limit_pct: float | None = Field(None, gt=0, le=1)
    max_consecutive_losses: int | None = Field(None, ge=1, le=1000)
    min_account_balance: float | None = Field(None, ge=0, le=1e12)
    max_slippage_pct: float | None = Field(None, ge=0, le=1)
    max_portfolio_heat: float | None = Field(None, gt=0, le=1)
    deployment_id: str | None = Field(None, max_length=64)
    reason: str | None = Field(None, max_length=500)


def _state(ctx: Ctx, deployment_id: str | None) -> tuple[str, dict[str, Any]]:
    target = safety.pick_deployment(ctx.db, deployment_id)
    return target, safety.safety_status(ctx.db, target)


@router.get("/status")
def status(ctx: Ctx, _: Viewer, deployment_id: DeploymentQ = None) -> dict[str, Any]:
    """Seed 002's status: kill switch, daily P&L, trades today, losses in a row, limits."""
    return safety.safety_status(ctx.db, safety.pick_deployment(ctx.db, deployment_id))


@router.post("/validate")
def validate(ctx: Ctx, _: Admin, body: TradeBody) -> dict[str, Any]:
    """Would this trade pass every limit? Which rule denies it; the size allowed."""
    target, state = _state(ctx, body.deployment_id)
    balance = body.account_balance
    held = positions(ctx.db, target)
    if balance is None:
        from genebot.live.status_store import read_status

        live = read_status(ctx.db, target) or {}
        balance = Decimal(str(live.get("equity", "0")))
    exposure = sum(
        (
            Decimal(str(p["quantity"])) * Decimal(str(p["current_price"] or p["entry_price"]))
            for p in held
        ),
        Decimal(0),
    )
    risk = safety.configured_risk(ctx.db, target)
    out = safety.validate_trade(risk, state, body.quantity, body.price, balance, exposure)
    return {"deployment_id": target, "symbol": body.symbol, "side": body.side, **out}


@router.post("/check-slippage")
def check_slippage(ctx: Ctx, _: Admin, body: SlippageBody) -> dict[str, Any]:
    target = safety.pick_deployment(ctx.db, body.deployment_id)
    tolerance = safety.configured_risk(ctx.db, target).limits.slippage_tolerance
    return safety.slippage(body.side, body.expected_price, body.actual_price, tolerance)


@router.post("/record-trade")
def record_trade(ctx: Ctx, who: Admin, body: RecordBody) -> dict[str, Any]:
    """Record a trade made outside genebot against the deployment's daily limits (journaled);
    the status then counts it."""
    target = safety.pick_deployment(ctx.db, body.deployment_id)
    detail = {
        "symbol": body.symbol,
        "side": body.side,
        "pnl": str(body.pnl),
        "quantity": None if body.quantity is None else str(body.quantity),
    }
    ctx.journal(who.name, safety.RECORDED_TRADE, body.symbol, detail, target)
    return {"success": True, "recorded": detail, "status": safety.safety_status(ctx.db, target)}


@router.post("/reset-kill-switch")
def reset(
    ctx: Ctx,
    who: Admin,
    body: ResetBody | None = None,
    admin_override: Annotated[bool, Query()] = False,
    reason: Annotated[str | None, Query(max_length=500)] = None,
    deployment_id: DeploymentQ = None,
) -> dict[str, Any]:
    """Seed 002's admin override: ``?admin_override=true`` and a reason (body or query)."""
    if not admin_override:
        raise HTTPException(422, "admin_override: true is needed to reset the kill switch")
    why = (body.reason if body else None) or reason
    if not why or not why.strip():
        raise HTTPException(422, "reason: say why trading may resume (it is journaled)")
    target = safety.pick_deployment(ctx.db, (body.deployment_id if body else None) or deployment_id)
    done = safety.reset_kill_switch(ctx.db, target, who.name, why)
    applied = "applied by the runner" if runner_of(ctx, target) else "applied when it runs"
    return {"success": True, **done, "message": f"kill switch reset by {who.name} ({applied})"}


@router.patch("/configuration")
def configure(ctx: Ctx, who: Admin, body: ConfigurationBody) -> dict[str, Any]:
    """Change seed 002's limits for a deployment (journaled; the status shows them at once;
    a running deployment takes them at its next start)."""
    changes = body.model_dump(exclude_none=True, exclude={"deployment_id", "reason"})
    if not changes:
        raise HTTPException(422, f"body: give at least one of {', '.join(safety.SEED_KEYS)}")
    target = safety.pick_deployment(ctx.db, body.deployment_id) if body.deployment_id else None
    base = safety.configured_risk(ctx.db, target)
    try:  # validated like the YAML (cross-field rules included)
        merged = safety.apply_seed_limits(base.model_dump(by_alias=True, mode="json"), changes)
        RiskManagementConfig.model_validate(merged)
    except ValueError as exc:
        raise ConfigError(f"risk_management: {exc}") from exc
    ctx.journal(
        who.name,
        safety.CONFIGURATION,
        target or "*",
        {"changes": changes, "reason": body.reason or ""},
        target,
    )
    now = safety.seed_configuration(safety.configured_risk(ctx.db, target))
    return {"success": True, "deployment_id": target, "configuration": now, "changed": changes}


@router.get("/health")
def health(ctx: Ctx, _: Viewer) -> dict[str, Any]:
    ctx.db.ping()
    return {"status": "healthy", "service": "trading_safety", "runner_up": ctx.runner_up()}
