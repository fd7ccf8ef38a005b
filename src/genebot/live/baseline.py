"""Where a running deployment's baseline comes from (the red flag of
:mod:`genebot.monitoring.baseline`): an explicit stored backtest run or paper deployment, or
(``source: auto``) for a live deployment the latest other paper deployment that ran the same
strategy settings (parameters, symbols, timeframes) with enough trades, else the latest stored
backtest with those settings; for a paper deployment, that backtest. Read once, at the start."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from statistics import NormalDist
from typing import Any, NamedTuple

from sqlalchemy import select

from genebot.config.alerts import BaselineConfig
from genebot.core.time import datetime_to_ns
from genebot.monitoring.baseline import Baseline, BaselineFlag
from genebot.persistence.database import Database
from genebot.persistence.repositories import BacktestRunRepository, DeploymentRepository
from genebot.persistence.tables import Deployment, TradeRow

log = logging.getLogger("genebot.alerts")
SETTINGS = ("parameters", "symbols", "timeframes")
SCAN = 50  # stored runs / deployments looked at, newest first


def _strategies(config_text: str) -> dict[str, dict[str, Any]]:
    """Each enabled strategy's settings in a stored config (a deployment's or a run's)."""
    try:
        data = json.loads(config_text)
    except ValueError:
        return {}
    inner = data.get("config", data) if isinstance(data, dict) else {}
    out = {}
    for sid, entry in (inner.get("strategies") or {}).items():
        if isinstance(entry, dict) and entry.get("enabled", True):
            out[sid] = {k: entry.get(k) for k in SETTINGS}
    return out


def _trades(db: Database, *, run_id: int | None = None, dep: str | None = None) -> list[TradeRow]:
    query = select(TradeRow).order_by(TradeRow.id)
    if run_id is not None:
        query = query.where(TradeRow.backtest_run_id == run_id)
    else:
        query = query.where(TradeRow.deployment_id == dep)
    with db.reader() as session:
        return list(session.scalars(query))


class Round(NamedTuple):
    """A stored round trip as the comparison reads it (times in ns, like the kernel's)."""

    strategy_id: str
    entry_ts: int
    exit_ts: int
    pnl: Decimal
    entry_price: Decimal
    quantity: Decimal


def _of(rows: list[TradeRow], sid: str, source: str) -> Baseline:
    mine = [
        Round(
            sid,
            datetime_to_ns(t.entry_time),
            datetime_to_ns(t.exit_time),
            t.pnl,
            t.entry_price,
            t.quantity,
        )
        for t in rows
        if t.strategy_id == sid
    ]
    return Baseline(sid, mine, source)


# a candidate baseline, newest first: (shown source, stored config, its trades when needed)
Candidate = tuple[str, str, Callable[[], list[TradeRow]]]


def _first_matching(
    candidates: Iterable[Candidate], wanted: Mapping[str, dict[str, Any]], need: int
) -> dict[str, Baseline]:
    """Per strategy, the newest candidate with its settings and ``need`` trades of it."""
    found: dict[str, Baseline] = {}
    for source, config, load in candidates:
        settings = _strategies(config)
        sids = [s for s in wanted if s not in found and settings.get(s) == wanted[s]]
        rows = load() if sids else []
        for sid in sids:
            base = _of(rows, sid, source)
            if len(base.trades) >= need:
                found[sid] = base
    return found


def _runs(db: Database) -> Iterator[Candidate]:
    for run in BacktestRunRepository(db).recent(SCAN):
        yield f"backtest run {run.id}", run.config, functools.partial(_trades, db, run_id=run.id)


def _papers(db: Database, me: str) -> Iterator[Candidate]:
    deployments = [d for d in DeploymentRepository(db).recent() if d.mode == "paper" and d.id != me]
    for dep in reversed(deployments[-SCAN:]):
        load = functools.partial(_trades, db, dep=dep.id)
        yield f"paper deployment {dep.id[:12]}", dep.config, load


def find_baselines(db: Database, cfg: BaselineConfig, me: Deployment) -> dict[str, Baseline]:
    """Each of the deployment's strategies' baseline (a strategy without one is not compared)."""
    wanted = _strategies(me.config)
    if cfg.run_id is not None:
        rows = _trades(db, run_id=cfg.run_id)
        return {s: _of(rows, s, f"backtest run {cfg.run_id}") for s in wanted}
    if cfg.deployment_id is not None:
        rows = _trades(db, dep=cfg.deployment_id)
        return {s: _of(rows, s, f"paper deployment {cfg.deployment_id[:12]}") for s in wanted}
    found: dict[str, Baseline] = {}
    if cfg.source == "paper" or (cfg.source == "auto" and me.mode == "live"):
        found = _first_matching(_papers(db, me.id), wanted, cfg.min_trades)
    if cfg.source != "paper":
        rest = {s: v for s, v in wanted.items() if s not in found}
        found |= _first_matching(_runs(db), rest, cfg.min_trades)
    return found


def baseline_flag(db: Database, cfg: BaselineConfig, deployment_id: str) -> BaselineFlag | None:
    """The red flag for a deployment, or None (off, or nothing to compare with: logged)."""
    me = DeploymentRepository(db).get(deployment_id)
    if not cfg.enabled or me is None:
        return None
    baselines = find_baselines(db, cfg, me)
    if not baselines:
        log.info(
            "baseline red flag: no paper deployment or stored backtest of the same strategy "
            "settings with %d trades; not compared",
            cfg.min_trades,
        )
        return None
    for sid, base in baselines.items():
        log.info("baseline red flag: %s compared with %s", sid, base.source)
    action = None if cfg.action == "none" else cfg.action
    z = NormalDist().inv_cdf(cfg.confidence) if cfg.confidence > 0 else 0.0
    return BaselineFlag(baselines, cfg.metrics, cfg.max_degradation, cfg.min_trades, action, z)
