"""``/api/sl-tp/``: seed 002's stop-loss / take-profit service (genebot.services.sltp).

Create stop-loss, take-profit and trailing-stop orders on a position; check them against
prices (``check-triggers``, or the background monitor that reads the running deployments'
marks); cancel them; list the active ones. Every change is journaled (``api.sltp_*``), and the
book is rebuilt from the journal when the API starts, so active orders survive a restart."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from sqlalchemy.exc import SQLAlchemyError

from genebot.api.commands import runner_of
from genebot.api.context import Admin, ApiContext, Ctx, Viewer
from genebot.core.errors import InputError
from genebot.core.exactjson import dumps_exact
from genebot.live import control
from genebot.persistence.repositories import DeploymentRepository
from genebot.services.sltp import (
    LABEL,
    Kind,
    OrderSpec,
    PriceMonitor,
    PriceSource,
    ProtectiveOrder,
    SlTpService,
    UnknownOrder,
    deployment_marks,
)

router = APIRouter(prefix="/api/sl-tp", tags=["sl-tp"])


def _not_tiny(value: Decimal) -> Decimal:
    if value < Decimal("1e-12"):
        raise ValueError("must be at least 1e-12")
    return value


Money = Annotated[Decimal, Field(gt=0, le=Decimal("1e12")), AfterValidator(_not_tiny)]
Symbol = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
PCT_MIN = Decimal("0.0001")  # 0.01%


@dataclass
class Desk:
    service: SlTpService
    monitor: PriceMonitor


_desk_lock = threading.Lock()


def desk_of(app: FastAPI, prices: PriceSource | None = None) -> Desk:
    """The app's SL/TP desk, made (and its book rebuilt) on first use; ``prices`` replaces the
    monitor's price source (default: the running deployments' marks)."""
    with _desk_lock:
        desk: Desk | None = getattr(app.state, "sltp", None)
        if desk is None:
            ctx: ApiContext = app.state.ctx
            service = SlTpService(ctx.db, ctx.journal, lambda o, p, w: close_runner(ctx, o, p, w))
            desk = Desk(service, PriceMonitor(service, lambda: deployment_marks(ctx.db)))
            app.state.sltp = desk
            app.router.add_event_handler("shutdown", desk.monitor.stop)
        if prices is not None:
            desk.monitor.prices = prices
        return desk


def close_runner(
    ctx: ApiContext, order: ProtectiveOrder, price: Decimal, who: str
) -> dict[str, Any]:
    """A triggered order's deployment closes the position at market: an operator command
    (journaled; the runner applies it between two bars). Not waited for: the monitor thread
    must not stall on one runner."""
    dep = order.deployment_id
    assert dep is not None
    if not runner_of(ctx, dep):
        return {"status": "no_runner", "message": f"deployment {dep[:12]} is not running"}
    command = control.post(
        ctx.db,
        dep,
        "close_position",
        who,
        symbol=order.symbol,
        side="long" if order.side == "buy" else "short",
        quantity=str(order.quantity),
        strategy=order.strategy,
        tag=order.type,
        reason=f"{order.order_id} triggered at {price}",
    )
    return {"status": "sent", "command_id": command, "deployment_id": dep}


def exact(content: dict[str, Any]) -> Response:
    """Money as exact JSON numbers (FastAPI's encoder would turn Decimals into floats)."""
    return Response(dumps_exact(content), media_type="application/json")


def get_desk(request: Request) -> Desk:
    return desk_of(request.app)


DeskDep = Annotated[Desk, Depends(get_desk)]


class PositionBody(BaseModel):
    """The position to protect; ``side`` is its entry's (buy: long, sell: short)."""

    model_config = ConfigDict(extra="ignore")
    position_id: str = Field(min_length=1, max_length=100, pattern=r"^[^\s/?#]+$")
    symbol: Symbol
    side: Literal["buy", "sell"]
    quantity: Money
    entry_price: Money
    user_id: str | None = Field(None, max_length=100)
    deployment_id: str | None = Field(None, min_length=1, max_length=64)
    strategy: str | None = Field(
        None, min_length=1, max_length=100, description="the deployment's strategy (default: any)"
    )


class StopLossBody(PositionBody):
    stop_loss_pct: Decimal = Field(Decimal("0.02"), ge=PCT_MIN, lt=1, description="0.02 = 2%")


class TakeProfitBody(PositionBody):
    take_profit_pct: Decimal = Field(Decimal("0.05"), ge=PCT_MIN, le=10, description="0.05 = 5%")

    @field_validator("take_profit_pct")
    @classmethod
    def _short_above_zero(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        if info.data.get("side") == "sell" and value >= 1:
            raise ValueError("a short's take-profit must be under 1 (100%): the price cannot fall")
        return value


class TrailingStopBody(PositionBody):
    trailing_pct: Decimal = Field(Decimal("0.03"), ge=PCT_MIN, lt=1, description="0.03 = 3%")


class CheckBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    current_prices: dict[Symbol, Money] = Field(max_length=1000, description="symbol: price")


def _create(
    ctx: ApiContext, who: str, desk: Desk, kind: Kind, body: PositionBody, pct: Decimal
) -> Response:
    dep = body.deployment_id
    if dep is not None and DeploymentRepository(ctx.db).get(dep) is None:
        raise InputError(f"deployment_id: no deployment {dep!r}")
    fields = body.model_dump(include=set(PositionBody.model_fields))
    order = desk.service.create(who, kind, OrderSpec(pct=pct, **fields))
    message = f"{LABEL[kind]} created at ${order.trigger_price:.2f}"
    return exact({"success": True, "order": order.view(), "message": message})


@router.post("/stop-loss")
def stop_loss(ctx: Ctx, who: Admin, desk: DeskDep, body: StopLossBody) -> Response:
    """A stop ``stop_loss_pct`` against the entry: below a long's, above a short's."""
    return _create(ctx, who.name, desk, "stop_loss", body, body.stop_loss_pct)


@router.post("/take-profit")
def take_profit(ctx: Ctx, who: Admin, desk: DeskDep, body: TakeProfitBody) -> Response:
    """A target ``take_profit_pct`` in the position's favour."""
    return _create(ctx, who.name, desk, "take_profit", body, body.take_profit_pct)


@router.post("/trailing-stop")
def trailing_stop(ctx: Ctx, who: Admin, desk: DeskDep, body: TrailingStopBody) -> Response:
    """A stop ``trailing_pct`` behind the best price seen since the entry (it only tightens)."""
    return _create(ctx, who.name, desk, "trailing_stop", body, body.trailing_pct)


@router.post("/check-triggers")
def check_triggers(who: Admin, desk: DeskDep, body: CheckBody) -> Response:
    """Check the active orders against these prices: trailing stops move, reached orders
    trigger, and a triggered order's counterparts (same position) are canceled."""
    fired = desk.service.check(body.current_prices, who.name)
    return exact({"triggered_count": len(fired), "triggered_orders": fired})


@router.get("/active")
def active(
    _: Viewer,
    desk: DeskDep,
    symbol: Annotated[str | None, Query(max_length=40)] = None,
    position_id: Annotated[str | None, Query(max_length=100)] = None,
    user_id: Annotated[str | None, Query(max_length=100)] = None,
    deployment_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    orders = desk.service.active(
        symbol=symbol, position_id=position_id, user_id=user_id, deployment_id=deployment_id
    )
    return exact({"count": len(orders), "orders": [o.view() for o in orders]})


@router.get("/health", response_model=None)
def health(_: Viewer, desk: DeskDep) -> dict[str, Any] | Response:
    try:
        count = len(desk.service.active())
    except SQLAlchemyError as exc:  # the journal cannot be read: the book cannot be trusted
        detail = {"status": "unhealthy", "service": "stop_loss_take_profit"}
        return JSONResponse({**detail, "error": type(exc).__name__}, status_code=503)
    return {
        "status": "healthy",
        "service": "stop_loss_take_profit",
        "active_orders": count,
        "monitor_running": desk.monitor.running,
    }


@router.post("/monitor/start")
def monitor_start(
    ctx: Ctx,
    who: Admin,
    desk: DeskDep,
    check_interval: Annotated[int, Query(ge=1, le=3600, description="seconds")] = 5,
) -> dict[str, Any]:
    """Check the active orders every ``check_interval`` s against the running deployments'
    marks (a running monitor restarts at the new interval)."""
    desk.monitor.start(check_interval)
    ctx.journal(who.name, "sltp_monitor_started", "monitor", {"check_interval": check_interval})
    return {
        "success": True,
        "message": f"Price monitoring started (checking every {check_interval}s)",
        "status": desk.monitor.status(),
    }


@router.post("/monitor/stop")
def monitor_stop(ctx: Ctx, who: Admin, desk: DeskDep) -> dict[str, Any]:
    was = desk.monitor.stop()
    ctx.journal(who.name, "sltp_monitor_stopped", "monitor", {"was_running": was})
    message = "Price monitoring stopped" if was else "Price monitoring was not running"
    return {"success": True, "was_running": was, "message": message}


@router.get("/monitor/status")
def monitor_status(_: Viewer, desk: DeskDep) -> dict[str, Any]:
    return desk.monitor.status()


@router.delete("/{order_id}")
def cancel(
    who: Admin,
    desk: DeskDep,
    order_id: str,
    reason: Annotated[str, Query(min_length=1, max_length=500)] = "canceled from the API",
) -> Response:
    """Cancel an active order (404 if there is no such order, 409 if it is not active)."""
    try:
        order = desk.service.cancel(order_id, who.name, reason)
    except UnknownOrder as exc:
        raise HTTPException(404, str(exc)) from exc
    message = f"Order {order_id} canceled"
    return exact({"success": True, "order": order.view(), "message": message})
