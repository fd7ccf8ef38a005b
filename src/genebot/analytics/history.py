"""The analytics' windows from what a paper or live deployment traded (``--deployment ID``) or
what a stored backtest run holds (``--run ID``), instead of fresh backtests: each strategy's
closed round trips from the database, and its equity as its capital plus the realized P&L of
those trades (a closed-trade curve: open positions are not marked), cut to the last N days of
the period (a deployment's equity snapshots' times — a replay's are the data's —, else its
wall-clock start and stop; a run's dates).

A strategy's capital is its share of the config's ``backtest.initial_cash`` (split evenly
between its enabled strategies, as the run splits it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, func, select

from genebot.analytics.runs import MIN_DAYS, StrategyWindow
from genebot.core.errors import InputError
from genebot.live.deployments import trading_config_of
from genebot.persistence.database import Database
from genebot.persistence.tables import BacktestRun, Deployment, EquitySnapshot, TradeRow

DEFAULT_CASH = 100_000.0


@dataclass
class Traded:
    """What one deployment or stored backtest run traded, and over which period."""

    label: str  # "deployment 1a2b3c…" | "run 7"
    config: dict[str, Any]
    trades: pd.DataFrame  # strategy, symbol, side, entry_time, exit_time, pnl
    start: pd.Timestamp
    end: pd.Timestamp


def of_deployment(db: Database, wanted: str) -> Traded:
    """A paper or live deployment (``wanted``: its id or a prefix of it)."""
    with db.reader() as session:
        rows = session.scalars(select(Deployment).where(Deployment.id.startswith(wanted))).all()
    if len(rows) != 1:
        what = "no deployment" if not rows else f"{len(rows)} deployments start with"
        raise InputError(f"{what} {wanted!r}: see `genebot deployments` for the ids")
    dep = rows[0]
    config = trading_config_of(dep.config)
    start, end = _span(db, dep)
    trades = _trades(db, TradeRow.deployment_id == dep.id)
    return Traded(f"deployment {dep.id[:12]}", config, trades, start, end)


def of_run(db: Database, run_id: int) -> Traded:
    """A stored backtest run (``genebot report runs``)."""
    with db.reader() as session:
        run = session.get(BacktestRun, run_id)
    if run is None:
        raise InputError(f"no stored backtest run {run_id}: see `genebot report runs` for the ids")
    trades = _trades(db, TradeRow.backtest_run_id == run.id)
    first = run.start or (trades["entry_time"].min() if not trades.empty else run.created_at)
    last = run.end or (trades["exit_time"].max() if not trades.empty else run.created_at)
    config = json.loads(run.config)
    risk = config.get("risk_management")
    if isinstance(risk, dict) and "global_" in risk:  # stored before configs kept their keys
        risk["global"] = risk.pop("global_")
    return Traded(f"run {run.id}", config, trades, _utc(first), _utc(last))


def windows_of(traded: Traded, names: Sequence[str] | None, days: int) -> dict[str, StrategyWindow]:
    """Each strategy's window of what was traded (``names``: only these)."""
    if days < MIN_DAYS:
        raise InputError(f"--days {days}: at least {MIN_DAYS} days are needed")
    config, trades = traded.config, traded.trades
    enabled = [k for k, s in (config.get("strategies") or {}).items() if s.get("enabled", True)]
    chosen = list(names) if names is not None else enabled
    unknown = [n for n in chosen if n not in enabled]
    if unknown:
        raise InputError(
            f"unknown strategy {', '.join(unknown)}; {traded.label} traded "
            f"{', '.join(enabled) or 'none'}"
        )
    cash = float((config.get("backtest") or {}).get("initial_cash") or DEFAULT_CASH)
    capital = cash / max(1, len(enabled))
    start, end = traded.start, traded.end
    if not trades.empty:
        start, end = min(start, trades["entry_time"].min()), max(end, trades["exit_time"].max())
    if (end - start) / pd.Timedelta(days=1) < MIN_DAYS:
        raise InputError(
            f"{traded.label} covers {(end - start) / pd.Timedelta(days=1):.1f} days; "
            f"at least {MIN_DAYS} are needed"
        )
    by = trades["strategy"]
    return {n: _window(n, trades[by == n], capital, start, end, days) for n in chosen}


def _span(db: Database, dep: Deployment) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The period the deployment traded: its equity snapshots' (a replay's are the data's
    times), else its wall-clock start and stop."""
    with db.reader() as session:
        first, last = session.execute(
            select(func.min(EquitySnapshot.ts), func.max(EquitySnapshot.ts)).where(
                EquitySnapshot.deployment_id == dep.id
            )
        ).one()
    if first is not None and last is not None:
        return _utc(first), _utc(last)
    return _utc(dep.started_at), _utc(dep.stopped_at or datetime.now(UTC))


def _trades(db: Database, owner: ColumnElement[bool]) -> pd.DataFrame:
    with db.reader() as session:
        rows = session.execute(
            select(TradeRow.strategy_id, TradeRow.instrument_id, TradeRow.side,
                   TradeRow.entry_time, TradeRow.exit_time, TradeRow.pnl)
            .where(owner)
            .order_by(TradeRow.exit_time, TradeRow.id)
        ).all()  # fmt: skip
    frame = pd.DataFrame(
        [(s, i.split("@")[0], side, _utc(a), _utc(b), float(p)) for s, i, side, a, b, p in rows],
        columns=["strategy", "symbol", "side", "entry_time", "exit_time", "pnl"],
    )
    if frame.empty:
        frame["exit_time"] = pd.to_datetime(frame["exit_time"], utc=True)
    return frame


def _window(
    name: str, trades: pd.DataFrame, capital: float, start: pd.Timestamp, end: pd.Timestamp,
    days: int,
) -> StrategyWindow:  # fmt: skip
    times = [start, *trades["exit_time"], end]
    pnl = [0.0, *trades["pnl"].cumsum(), float(trades["pnl"].sum())]
    equity = pd.Series([capital + p for p in pnl], index=pd.DatetimeIndex(times), dtype=float)
    equity = equity[~equity.index.duplicated(keep="last")]
    first = end - pd.Timedelta(days=days)
    before, window = equity[equity.index <= first], equity[equity.index > first]
    if not before.empty:
        window = pd.concat([before.iloc[-1:], window])
    shown = trades[trades["exit_time"] > first].reset_index(drop=True)
    return StrategyWindow(name, window, shown, None)


def _utc(at: datetime | pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(at)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
