"""The trading-safety use cases (seed 002's safety service) over a deployment's database:
its status in the seed's shape, and the journaled admin reset of its kill switch."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from genebot.core.errors import InputError
from genebot.persistence.database import Database
from genebot.persistence.journal import TradingStore
from genebot.persistence.repositories import (
    DeploymentRepository,
    EquityRepository,
    RiskRepository,
    TradeRepository,
)
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
    resets = [e for e in history if e.kind == "reset"]
    trades = TradeRepository(db).history(deployment_id, per_page=500).items  # newest first
    today = [t for t in trades if t.exit_time.date() == now.date()]
    streak = 0
    for t in trades:
        if t.pnl >= 0:
            break
        streak += 1
    daily = dict(EquityRepository(db).daily_pnl(deployment_id))
    config = json.loads(deployment.config or "{}")
    risk = RiskManagementConfig.model_validate(config.get("risk_management") or {})
    return {
        "deployment_id": deployment_id,
        "kill_switch_active": active,
        "kill_switch_reason": f"{last.rule}: {last.reason}" if active and last else None,
        "daily_pnl": daily.get(now.date(), Decimal(0)),  # exact: written by dumps_exact
        "trades_today": len(today),
        "consecutive_losses": streak,
        "last_reset": resets[-1].ts.isoformat() if resets else None,
        "configuration": seed_configuration(risk),
    }


def reset_kill_switch(db: Database, deployment_id: str, who: str, reason: str) -> dict[str, str]:
    """The admin override: journaled (who, when, why); the deployment's runner applies it."""
    if not reason.strip():
        raise InputError("reason: say why trading may resume (it is journaled)")
    TradingStore(db, deployment_id).record_kill_switch("reset", "admin", who, reason.strip())
    return {"deployment_id": deployment_id, "reset_by": who, "reason": reason.strip()}
