"""``genebot validate --strategy NAME``: the readiness report of genebot.services.readiness,
built from a real out-of-sample backtest, the system's checks and the paper record."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from genebot.backtest import run as backtest
from genebot.config.loader import GenebotConfig, apply_overrides
from genebot.persistence.database import Database
from genebot.services.readiness import THRESHOLDS, Check, Report, judge, system

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
NOTIFY_ENV = (
    "SMTP_SERVER",
    "SLACK_WEBHOOK_URL",
    "TELEGRAM_BOT_TOKEN",
    "DISCORD_WEBHOOK_URL",
    "GENEBOT_WEBHOOK_URL",
)


def _seconds(timeframe: str) -> int:
    found = re.fullmatch(r"(\d+)([smhdw])", timeframe)
    return int(found.group(1)) * UNITS[found.group(2)] if found else 0


def out_of_sample(cfg: GenebotConfig, strategy: str, fraction: float) -> tuple[GenebotConfig, Any]:
    """The strategy alone on the last ``fraction`` of the period (a first run finds it)."""
    alone = apply_overrides(cfg, strategy=strategy)
    whole = backtest(alone)
    start = datetime.fromisoformat(str(whole.stats["start"]).replace("Z", "+00:00"))
    end = datetime.fromisoformat(str(whole.stats["end"]).replace("Z", "+00:00"))
    cut = start + timedelta(seconds=(end - start).total_seconds() * (1 - fraction))
    late = apply_overrides(alone, start_date=cut.date().isoformat())
    return late, backtest(late)


def _quality(cfg: GenebotConfig, stats: Mapping[str, Any]) -> tuple[bool, str]:
    frames = [_seconds(tf) for s in cfg.enabled_strategies.values() for tf in s.timeframes]
    step = min((f for f in frames if f > 0), default=0)
    duration = float(stats.get("duration") or 0)
    if not step or not duration:
        return False, "no bars to judge"
    expected = duration / step + 1
    share = min(1.0, float(stats.get("bars") or 0) / expected)
    return share > 0.95, f"{share:.1%} of the expected bars present (needs > 95 %)"


def _exchanges(cfg: GenebotConfig) -> tuple[bool, str]:
    enabled = [n for n, e in cfg.exchanges.items() if e.enabled]
    if not enabled or cfg.dry_run:
        return True, "paper trading: no exchange needed (dry_run)"
    from genebot.services.exchange_check import check_exchange
    from genebot.venues.ccxt.factory import build_exchange

    failed = []
    for name in enabled:
        checks = check_exchange(build_exchange(name, cfg.exchanges[name]))
        failed += [f"{name} {c.name}: {c.detail}" for c in checks if c.outcome == "fail"]
    return not failed, "; ".join(failed) or f"{', '.join(enabled)} reachable, keys work"


def _alerting(cfg: GenebotConfig) -> tuple[bool, str]:
    channels = [v for v in NOTIFY_ENV if os.environ.get(v)]
    rules = len(cfg.alerting.rules)
    ok = rules > 0 and bool(channels)
    return ok, f"{rules} alert rule(s); channels: {', '.join(channels) or 'none configured'}"


def _breakers(cfg: GenebotConfig) -> tuple[bool, str]:
    risk = cfg.risk_management
    if not risk.enabled:
        return False, "risk_management.enabled is false: no kill switch, no halts"
    return True, (
        f"kill switch at {risk.daily_loss_limit:.1%} daily loss and "
        f"{risk.limits.max_consecutive_losses} losses in a row; drawdown halt at "
        f"{risk.global_.max_drawdown}"
    )


def finished_stats(db: Database, deployment_id: str) -> dict[str, Any] | None:
    """The statistics a finished paper run journaled (over every bar), if it did."""
    import json

    from sqlalchemy import select

    from genebot.live.runtime import STATS
    from genebot.persistence.tables import JournalEntry

    with db.reader() as session:
        text = session.scalar(
            select(JournalEntry.payload)
            .where(JournalEntry.deployment_id == deployment_id, JournalEntry.kind == STATS)
            .order_by(JournalEntry.id.desc())
        )
    stats = json.loads(text).get("stats") if text else None
    return stats if isinstance(stats, dict) else None


def paper_stats(db: Database, deployment_id: str) -> dict[str, Any]:
    """A paper deployment's statistics by the backtests' own definitions
    (genebot.reporting.statistics): its equity snapshots (data time) and its closed trades."""
    import numpy as np

    from genebot.live.status_store import read_status
    from genebot.persistence.repositories import EquityRepository, TradeRepository
    from genebot.reporting.statistics import (
        TradeFigures,
        stats_of_arrays,
        trading_days_per_year_ns,
    )

    curve = EquityRepository(db).curve(deployment_id)
    if not curve:
        return {}
    trades, page = [], 1
    while True:
        got = TradeRepository(db).history(deployment_id, page=page, per_page=500)
        trades += got.items
        if page * 500 >= got.total:
            break
        page += 1
    status = read_status(db, deployment_id) or {}
    initial = float(status.get("initial_equity") or curve[0][1])
    figures = TradeFigures(
        np.array([float(t.pnl) for t in trades], dtype=float),
        np.array([float(t.pnl / (t.entry_price * t.quantity)) for t in trades], dtype=float),
        np.array([int((t.exit_time - t.entry_time).total_seconds() * 1e9) for t in trades],
                 dtype=np.int64),
    )  # fmt: skip
    ns = np.array([int(ts.timestamp() * 1e9) for ts, _ in curve], dtype=np.int64)
    equity = np.array([float(v) for _, v in curve], dtype=float)
    return stats_of_arrays(
        ns,
        equity,
        figures,
        initial_equity=initial,
        fees=float(sum(t.fees for t in trades)),
        in_market=np.zeros(len(equity), dtype=bool),
        periods_per_year=trading_days_per_year_ns(ns),
    )


def _paper(
    report: Report, db: Database | None, strategy: str, thresholds: Mapping[str, float]
) -> None:
    from genebot.persistence.repositories import DeploymentRepository

    found = None
    for row in reversed(DeploymentRepository(db).recent()) if db is not None else []:
        if row.mode == "paper" and strategy in row.config:
            found = row
            break
    if found is None or db is None:
        report.warnings.append(f"no paper deployment of {strategy} yet: run it on paper first")
        judge(report, "paper", {}, thresholds, 4.0, "paper")
        return
    stats = finished_stats(db, found.id) or paper_stats(db, found.id)
    if stats.get("sharpe") is None:
        report.warnings.append(
            f"paper {found.name}: fewer than two days of equity, no Sharpe yet (counts as failed)"
        )
    judge(report, "paper", stats, thresholds, 4.0, f"paper {found.name}")


def readiness(
    cfg: GenebotConfig,
    strategy: str,
    db: Database | None,
    *,
    oos_fraction: float = 0.3,
    thresholds: Mapping[str, float] = THRESHOLDS,
) -> Report:
    report = Report(strategy)
    late, result = out_of_sample(cfg, strategy, oos_fraction)
    judge(
        report,
        "performance",
        result.stats,
        thresholds,
        8.0,
        f"out-of-sample from {late.backtest.start_date}",
    )

    def database() -> tuple[bool, str]:
        if db is None:
            return False, "no database"
        db.ping()
        return True, db.display_url

    checks: dict[str, Check] = {
        "database": database,
        "exchange_connectivity": lambda: _exchanges(cfg),
        "data_quality": lambda: _quality(late, result.stats),
        "alerting": lambda: _alerting(cfg),
        "circuit_breakers": lambda: _breakers(cfg),
    }
    system(report, checks, ("database", "circuit_breakers"))
    _paper(report, db, strategy, thresholds)
    return report
