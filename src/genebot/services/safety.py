"""The trading-safety use cases (seed 002's safety service) over a deployment's database:
its status in the seed's shape, and the journaled admin reset of its kill switch."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from genebot.core.errors import InputError
from genebot.live.status_store import read_status
from genebot.persistence.database import Database
from genebot.persistence.journal import TradingStore
from genebot.persistence.repositories import (
    DeploymentRepository,
    EquityRepository,
    RiskRepository,
    TradeRepository,
)
from genebot.persistence.tables import JournalEntry
from genebot.risk.config import RiskManagementConfig


class NoDeployment(InputError):
    """No (or no such) deployment to act on."""


def pick_deployment(db: Database, wanted: str | None) -> str:
    """``wanted``, else the only running deployment; a clear error otherwise."""
    repo = DeploymentRepository(db)
    if wanted is not None:
        if repo.get(wanted) is None:
            known = ", ".join(d.id for d in repo.recent()[:10]) or "none"
            raise NoDeployment(f"no deployment {wanted!r} (known: {known})")
        return wanted
    running = [d for d in repo.recent() if d.status == "running"]
    if len(running) == 1:
        return running[0].id
    if not running:
        raise NoDeployment(
            "no running paper/live deployment in this database: nothing to reset (a backtest's "
            "halts reset by risk_management.halts: daily | manual)"
        )
    raise NoDeployment(
        f"several deployments are running: name one ({', '.join(d.id for d in running)})"
    )


def seed_configuration(risk: RiskManagementConfig) -> dict[str, float | int]:
    """The limits under seed 002's names."""
    return {
        "max_position_size_pct": risk.position_limits.max_position_size,
        "daily_loss_limit_pct": risk.daily_loss_limit,
        "max_consecutive_losses": risk.limits.max_consecutive_losses,
        "min_account_balance": risk.limits.min_account_balance,
        "max_slippage_pct": risk.limits.slippage_tolerance,
        "max_portfolio_heat": risk.limits.max_portfolio_heat,
    }


def safety_status(
    db: Database, deployment_id: str, now: datetime | None = None
) -> dict[str, object]:
    """Seed 002's ``GET /api/trading-safety/status`` for one deployment, from its journal."""
    now = now or datetime.now(UTC)
    deployment = DeploymentRepository(db).get(deployment_id)
    if deployment is None:
        raise NoDeployment(f"no deployment {deployment_id!r}")
    history = RiskRepository(db).kill_switch_history(deployment_id)
    last = history[-1] if history else None
    active = last is not None and last.kind == "activated"
    reason = f"{last.rule}: {last.reason}" if active and last else None
    live = read_status(db, deployment_id) if deployment.status == "running" else None
    if live and live.get("mode") == "paper" and int(live.get("ts_ns") or 0) > 0:
        now = datetime.fromtimestamp(int(live["ts_ns"]) / 1e9, UTC)  # a replay's "today"
    halted = (live or {}).get("risk", {})
    if halted.get("state") == "HALTED":  # the running risk engine's own halt
        active, reason = True, f"{halted.get('halt_rule')}: {halted.get('halt_detail')}"
    resets = [e for e in history if e.kind == "reset"]
    closed = TradeRepository(db).history(deployment_id, per_page=500).items
    outside = recorded_trades(db, deployment_id)  # made outside genebot (record-trade)
    results = sorted(
        [(t.exit_time, t.pnl) for t in closed] + outside,
        key=lambda r: r[0],
        reverse=True,
    )  # newest first
    today = [pnl for when, pnl in results if when.date() == now.date()]
    streak = 0
    for _, pnl in results:
        if pnl >= 0:
            break
        streak += 1
    daily = dict(EquityRepository(db).daily_pnl(deployment_id))
    extra = sum(
        (pnl for when, pnl in outside if when.date() == now.date()),
        Decimal(0),
    )
    daily_pnl = Decimal(live["daily_pnl"]) if live else daily.get(now.date(), Decimal(0))
    daily_pnl += extra
    risk = configured_risk(db, deployment_id)
    return {
        "deployment_id": deployment_id,
        "kill_switch_active": active,
        "kill_switch_reason": reason,
        "daily_pnl": daily_pnl,  # exact: written by dumps_exact
        "trades_today": len(today),
        "consecutive_losses": streak,
        "last_reset": resets[-1].ts.isoformat() if resets else None,
        "configuration": seed_configuration(risk),
    }


def recorded_trades(db: Database, deployment_id: str) -> list[tuple[datetime, Decimal]]:
    """Trades recorded through ``record-trade`` (made outside genebot): (when, pnl)."""
    with db.reader() as session:
        rows = session.execute(
            select(JournalEntry.recorded_at, JournalEntry.payload)
            .where(JournalEntry.deployment_id == deployment_id)
            .where(JournalEntry.kind == f"api.{RECORDED_TRADE}")
            .order_by(JournalEntry.id)
        ).all()
    return [(when, Decimal(json.loads(payload)["pnl"])) for when, payload in rows]


def reset_kill_switch(db: Database, deployment_id: str, who: str, reason: str) -> dict[str, str]:
    """The admin override: journaled (who, when, why); the deployment's runner applies it."""
    if not reason.strip():
        raise InputError("reason: say why trading may resume (it is journaled)")
    TradingStore(db, deployment_id).record_kill_switch("reset", "admin", who, reason.strip())
    return {"deployment_id": deployment_id, "reset_by": who, "reason": reason.strip()}


# -- seed 002's pre-trade checks ------------------------------------------------------------
SEED_KEYS = {  # seed name -> the (section, field)s in risk_management it sets
    "max_position_size_pct": (("position_limits", "max_position_size"),),
    "daily_loss_limit_pct": (("global", "max_daily_loss"), ("position_limits", "max_daily_loss")),
    "max_consecutive_losses": (("limits", "max_consecutive_losses"),),
    "min_account_balance": (("limits", "min_account_balance"),),
    "max_slippage_pct": (("limits", "slippage_tolerance"),),
    "max_portfolio_heat": (("limits", "max_portfolio_heat"),),
}
CONFIGURATION = "safety.configuration"
RECORDED_TRADE = "safety.trade_recorded"


def check(name: str, passed: bool, detail: str) -> dict[str, object]:
    return {"rule": name, "passed": passed, "detail": detail}


def validate_trade(
    risk: RiskManagementConfig,
    state: dict[str, object],
    quantity: Decimal,
    price: Decimal,
    balance: Decimal,
    exposure: Decimal,
) -> dict[str, object]:
    """Would this trade pass every limit? The first rule that denies it, and the quantity the
    position-size limit allows (seed 002 resizes rather than refuses)."""
    cfg = seed_configuration(risk)
    checks = [
        check(
            "kill_switch",
            not state["kill_switch_active"],
            str(state.get("kill_switch_reason") or "not active"),
        ),
        check(
            "min_account_balance",
            balance >= Decimal(str(cfg["min_account_balance"])),
            f"balance {balance} (minimum {cfg['min_account_balance']})",
        ),
    ]
    daily = Decimal(str(state.get("daily_pnl", 0)))
    limit = Decimal(str(cfg["daily_loss_limit_pct"])) * balance
    checks.append(check("daily_loss", daily > -limit, f"daily P&L {daily} (limit -{limit})"))
    streak = int(str(state.get("consecutive_losses", 0)))
    most = int(cfg["max_consecutive_losses"])
    checks.append(check("consecutive_losses", streak < most, f"{streak} in a row (max {most})"))
    cap = Decimal(str(cfg["max_position_size_pct"])) * balance
    adjusted = quantity if quantity * price <= cap else (cap / price).quantize(Decimal("1e-8"))
    checks.append(
        check(
            "position_size",
            adjusted > 0,
            f"notional {quantity * price} (max {cap}); quantity {adjusted}",
        )
    )
    heat = Decimal(str(cfg["max_portfolio_heat"])) * balance
    after = exposure + adjusted * price
    checks.append(check("portfolio_heat", after <= heat, f"exposure {after} (max {heat})"))
    denied = next((c for c in checks if not c["passed"]), None)
    return {
        "valid": denied is None,
        "approved": denied is None,
        "original_quantity": quantity,
        "adjusted_quantity": adjusted if denied is None else Decimal(0),
        "resized": denied is None and adjusted != quantity,
        "denied_by": denied["rule"] if denied else None,
        "reason": denied["detail"] if denied else "every limit passes",
        "checks": checks,
    }


def slippage(side: str, expected: Decimal, actual: Decimal, tolerance: float) -> dict[str, object]:
    """Adverse slippage as a fraction of the expected price (buying higher, selling lower)."""
    signed = (actual - expected) / expected
    adverse = signed if side == "buy" else -signed
    limit = Decimal(str(tolerance))
    return {
        "acceptable": adverse <= limit,
        "slippage_pct": float(adverse),
        "max_slippage_pct": tolerance,
        "expected_price": expected,
        "actual_price": actual,
        "message": (
            f"slippage {float(adverse):.4%} within {tolerance:.4%}"
            if adverse <= limit
            else f"slippage {float(adverse):.4%} exceeds {tolerance:.4%}: refuse the fill price"
        ),
    }


def configured_risk(db: Database, deployment_id: str | None) -> RiskManagementConfig:
    """The deployment's risk section with the latest PATCHed seed limits applied."""
    data: dict[str, object] = {}
    if deployment_id is not None:
        deployment = DeploymentRepository(db).get(deployment_id)
        config = json.loads(deployment.config or "{}") if deployment else {}
        inner = config.get("config", config)
        data = dict(inner.get("risk_management") or {})
    with db.reader() as session:
        query = select(JournalEntry.payload).where(JournalEntry.kind == f"api.{CONFIGURATION}")
        if deployment_id is None:
            query = query.where(JournalEntry.deployment_id.is_(None))
        else:
            query = query.where(JournalEntry.deployment_id == deployment_id)
        patches = session.scalars(query.order_by(JournalEntry.id)).all()
    for payload in patches:
        data = apply_seed_limits(data, json.loads(payload)["changes"])
    return RiskManagementConfig.model_validate(data)


def apply_seed_limits(data: dict[str, object], changes: dict[str, object]) -> dict[str, object]:
    out: dict[str, Any] = json.loads(json.dumps(data))
    for key, value in changes.items():
        for section, name in SEED_KEYS[key]:
            out.setdefault(section, {})[name] = value
    return out
