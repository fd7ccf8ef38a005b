"""Deployments as a trader watches them: a card per deployment (status, mode, uptime, trades,
win rate, P&L, open positions, drawdown), its positions with marks, its trade history.

Read from the database only (the runner writes its status row a few times a second), so the
same answers come from the runner's own process and from ``genebot serve`` beside it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from genebot.live.status_store import read_status
from genebot.persistence.database import Database
from genebot.persistence.repositories import DeploymentRepository, TradeRepository
from genebot.persistence.tables import Deployment, TradeRow

ZERO = Decimal(0)
MONEY = ("quantity", "entry_price", "current_price", "unrealized_pnl")  # exact, as text in the row
EXIT_REASONS = ("signal", "stop_loss", "take_profit", "trailing_stop", "manual", "emergency_stop")


def _reason(tag: str) -> str:
    """A trade's exit reason in the dashboard's words."""
    tag = (tag or "signal").lower()
    if tag in EXIT_REASONS:
        return tag
    if tag.startswith(("operator", "manual")):
        return "manual"
    if "emergency" in tag:
        return "emergency_stop"
    if "trail" in tag:
        return "trailing_stop"
    if "stop" in tag:
        return "stop_loss"
    if "profit" in tag or tag == "tp":
        return "take_profit"
    return "signal"


def card_status(row: Deployment, live: dict[str, Any] | None, runner_up: bool) -> str:
    """active | paused | stopped | error (the seed's card colours)."""
    if row.status == "crashed":
        return "error"
    if row.status != "running":
        return "stopped"
    if not runner_up:
        return "error"  # marked running, but no runner holds it: the process died
    if live and (live.get("paused") or live.get("stop_reason")):
        return "paused"
    if live and live.get("risk", {}).get("state") == "HALTED":
        return "paused"
    return "active"


def _pct(part: Decimal, whole: Decimal) -> float | None:
    return float(part / whole) if whole else None


def card(db: Database, row: Deployment, runner_up: bool) -> dict[str, Any]:
    live = read_status(db, row.id) or {}
    config = json.loads(row.config or "{}")
    strategies = _strategies(config)
    equity = Decimal(live.get("equity", "0"))
    initial = Decimal(live.get("initial_equity", "0"))
    total = equity - initial if live else ZERO
    daily = Decimal(live.get("daily_pnl", "0"))
    end = row.stopped_at or datetime.now(UTC)
    return {
        "id": row.id,
        "name": row.name,
        "mode": row.mode,
        "status": card_status(row, live or None, runner_up),
        "state": row.status,
        "strategies": [s["name"] for s in strategies],
        "symbols": sorted({sym for s in strategies for sym in s["symbols"]}),
        "timeframes": sorted({tf for s in strategies for tf in s["timeframes"]}),
        "started_at": row.started_at.isoformat(),
        "stopped_at": row.stopped_at.isoformat() if row.stopped_at else None,
        "uptime_s": max(0.0, (end - row.started_at).total_seconds()),
        "trades": int(live.get("trades", 0)),
        "orders": int(live.get("orders", 0)),
        "win_rate": live.get("win_rate"),
        "equity": equity,
        "initial_equity": initial,
        "total_pnl": total,
        "total_pnl_pct": _pct(total, initial),
        "daily_pnl": daily,
        "daily_pnl_pct": _pct(daily, equity - daily),
        "open_positions": len(live.get("positions", [])),
        "drawdown": float(live.get("drawdown", 0.0)),
        "risk_state": live.get("risk", {}).get("state", "OFF"),
        "halt_rule": live.get("risk", {}).get("halt_rule"),
        "paused": live.get("paused", []),
        "progress": {"step": live.get("step"), "total": live.get("total")},
        "updated_at": live.get("updated_at"),
        "data_time": _data_time(live),
    }


def _data_time(live: dict[str, Any]) -> int | None:
    """The time (unix seconds) of the last bar the runner handled: a replay's "now"."""
    ts = int(live.get("ts_ns") or 0)
    return ts // 10**9 if ts > 0 else None


def _strategies(config: dict[str, Any]) -> list[dict[str, Any]]:
    inner = config.get("config", config)
    out = []
    for name, entry in (inner.get("strategies") or {}).items():
        if isinstance(entry, dict) and entry.get("enabled", True):
            out.append(
                {
                    "name": name,
                    "symbols": list(entry.get("symbols") or []),
                    "timeframes": list(entry.get("timeframes") or []),
                }
            )
    return out


def cards(
    db: Database, runner_for: Callable[[Deployment], bool], *, active_only: bool = False
) -> list[dict[str, Any]]:
    """Every deployment's card; ``runner_for(row)``: whether a runner trades it now."""
    rows = DeploymentRepository(db).recent()
    out = [card(db, r, r.status == "running" and runner_for(r)) for r in rows]
    if active_only:
        out = [c for c in out if c["status"] in ("active", "paused")]
    return out


def positions(db: Database, deployment_id: str) -> list[dict[str, Any]]:
    live = read_status(db, deployment_id) or {}
    now = datetime.now(UTC)
    out = []
    for p in live.get("positions", []):
        opened = p.get("opened_at")
        duration = None
        if opened:
            duration = (now - datetime.fromisoformat(opened)).total_seconds()
        numbers = {k: Decimal(p[k]) for k in MONEY if p.get(k) is not None}
        out.append({**p, **numbers, "duration_s": duration})
    return out


def trade_json(t: TradeRow) -> dict[str, Any]:
    basis = t.entry_price * t.quantity
    return {
        "id": t.id,
        "strategy": t.strategy_id,
        "symbol": t.instrument_id.split("@", 1)[0],
        "instrument_id": t.instrument_id,
        "side": t.side.lower(),
        "entry_time": t.entry_time.isoformat(),
        "exit_time": t.exit_time.isoformat(),
        "entry_price": t.entry_price,
        "exit_price": t.exit_price,
        "quantity": t.quantity,
        "pnl": t.pnl,
        "pnl_pct": float(t.pnl / basis) if basis else None,
        "fees": t.fees,
        "reason": _reason(t.exit_reason),
        "exit_tag": t.exit_reason,
    }


def history(
    db: Database,
    deployment_id: str,
    *,
    page: int = 1,
    per_page: int = 50,
    strategy: str | None = None,
    symbol: str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """One page of closed trades, newest first; ``reason`` filters on the dashboard's reason."""
    repo = TradeRepository(db)
    if reason is None:
        got = repo.history(
            deployment_id, page=page, per_page=per_page, strategy=strategy, symbol=symbol
        )
        items, total = [trade_json(t) for t in got.items], got.total
    else:  # the reason is derived from the exit tag: filter after mapping
        everything = repo.history(
            deployment_id, page=1, per_page=500, strategy=strategy, symbol=symbol
        ).items
        matching = [trade_json(t) for t in everything if _reason(t.exit_reason) == reason]
        total = len(matching)
        items = matching[(page - 1) * per_page : page * per_page]
    pages = max(1, -(-total // per_page))
    return {"items": items, "total": total, "page": page, "per_page": per_page, "pages": pages}
