"""The Hall of Fame: evolved strategies kept in the database, listed, shown and exported as a
strategy config (YAML) with their statistics.

An entry keeps the sections its statistics were computed with (``settings.base``), resolved to
every setting when it is stored: the risk management in full (``enabled: false`` when it was
off) and the backtest's cash, costs and fills. The export carries them, with the data file the
entry was evolved on, so a backtest of the exported file over the entry's in-sample (or
held-out) period gives the entry's in-sample (or held-out) figures, and a deployment trades
under the same risk settings."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml
from sqlalchemy import select

from genebot.core.errors import InputError
from genebot.core.time import timeframe_to_ns
from genebot.evolution.search import Candidate, EvolutionResult
from genebot.persistence.database import Database
from genebot.persistence.tables import HallOfFameRow


@dataclass(frozen=True)
class Entry:
    id: int
    created_at: str
    strategy: str
    rules: str
    parameters: dict[str, Any]
    in_sample: dict[str, Any]
    walk_forward: list[dict[str, Any]]
    held_out: dict[str, Any]
    deflated_sharpe: float | None
    candidates: int
    data: dict[str, Any]
    periods: dict[str, str]
    seed: int
    settings: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def store(db: Database, result: EvolutionResult, data: dict[str, Any]) -> list[int]:
    """Keep every candidate of ``result``; returns their ids. ``data`` describes the bars
    (symbol, timeframe, source, bars)."""
    s = result.settings
    # (with ``base``: the backtest and risk sections the statistics were computed under)
    settings = {k: v for k, v in asdict(s).items() if k not in ("symbol", "timeframe")}
    settings["base"] = computed_with(s.base)
    now = datetime.now(UTC)
    rows = [_row(c, result, data, settings, now) for c in result.candidates]
    with db.session() as session:
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def _row(
    c: Candidate,
    result: EvolutionResult,
    data: dict[str, Any],
    settings: dict[str, Any],
    now: datetime,
) -> HallOfFameRow:
    return HallOfFameRow(
        created_at=now,
        strategy=c.spec["type"],
        rules=c.rules,
        parameters=json.dumps(c.spec["parameters"], sort_keys=True),
        in_sample=json.dumps(c.in_sample),
        walk_forward=json.dumps(c.walk_forward),
        held_out=json.dumps(c.held_out),
        deflated_sharpe=c.deflated_sharpe,
        candidates=result.tried,
        data=json.dumps(data, sort_keys=True),
        periods=json.dumps(result.periods),
        seed=result.settings.seed,
        settings=json.dumps(settings, sort_keys=True),
    )


def _entry(row: HallOfFameRow) -> Entry:
    return Entry(
        id=row.id,
        created_at=row.created_at.isoformat(),
        strategy=row.strategy,
        rules=row.rules,
        parameters=json.loads(row.parameters),
        in_sample=json.loads(row.in_sample),
        walk_forward=json.loads(row.walk_forward),
        held_out=json.loads(row.held_out),
        deflated_sharpe=row.deflated_sharpe,
        candidates=row.candidates,
        data=json.loads(row.data),
        periods=json.loads(row.periods),
        seed=row.seed,
        settings=json.loads(row.settings),
    )


def entries(db: Database) -> list[Entry]:
    """Every entry, best held-out Sharpe first."""
    with db.reader() as session:
        rows = session.scalars(select(HallOfFameRow).order_by(HallOfFameRow.id)).all()
        found = [_entry(r) for r in rows]
    return sorted(found, key=lambda e: -_number(e.held_out.get("sharpe")))


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else float("-inf")


def entry(db: Database, entry_id: int) -> Entry:
    with db.reader() as session:
        row = session.get(HallOfFameRow, entry_id)
        if row is None:
            raise InputError(f"no Hall of Fame entry {entry_id}; see `genebot halloffame list`")
        return _entry(row)


# Backtest settings that say what a run covers or where it writes, not how it trades.
_NOT_HOW = ("start_date", "end_date", "output_dir", "data")


def computed_with(base: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` (the backtest, risk_management and exchanges sections of a search) resolved to
    every setting that shapes a backtest: risk_management in full (only ``enabled: false``
    when off), the backtest section without its period, output folder and data files, and the
    exchanges as given. Resolving it again changes nothing."""
    from genebot.config.loader import load_config

    cfg = load_config({k: base[k] for k in ("backtest", "risk_management") if k in base})
    risk = cfg.risk_management
    out: dict[str, Any] = {
        "backtest": cfg.backtest.model_dump(
            mode="json", by_alias=True, exclude_none=True, exclude=set(_NOT_HOW)
        ),
        "risk_management": (
            risk.model_dump(mode="json", by_alias=True) if risk.enabled else {"enabled": False}
        ),
    }
    if base.get("exchanges"):
        out["exchanges"] = base["exchanges"]
    return out


def strategy_config(e: Entry) -> dict[str, Any]:
    """The entry as a config: its ``strategies:`` section, the ``risk_management``,
    ``backtest`` (and ``exchanges``) sections its statistics were computed with, the data file
    it was evolved on, and its statistics (``hall_of_fame``)."""
    key = f"hof_{e.id}"
    symbol, timeframe = e.data.get("symbol", "BTC/USDT"), e.data.get("timeframe", "1h")
    sections = computed_with(e.settings.get("base") or {})
    if e.data.get("source"):
        sections["backtest"]["data"] = [
            {"file": str(e.data["source"]), "symbol": symbol, "timeframe": timeframe}
        ]
    return {
        "strategies": {
            key: {
                "type": e.strategy,
                "parameters": e.parameters,
                "symbols": [symbol],
                "timeframes": [timeframe],
            }
        },
        **sections,
        "hall_of_fame": {
            "id": e.id,
            "rules": e.rules,
            "deflated_sharpe": e.deflated_sharpe,
            "candidates": e.candidates,
            "seed": e.seed,
            "data": e.data,
            "periods": e.periods,
            "in_sample": e.in_sample,
            "walk_forward": e.walk_forward,
            "held_out": e.held_out,
        },
    }


def replay_periods(e: Entry) -> dict[str, tuple[str | None, str | None]]:
    """``in_sample`` and ``held_out``: the (start_date, end_date) of a backtest of the export
    that reproduces those figures (end exclusive: one bar past the period's last)."""
    p = e.periods
    bar = timedelta(microseconds=timeframe_to_ns(str(e.data.get("timeframe", "1h"))) / 1000)
    end = p.get("held_out_end")
    after = (datetime.fromisoformat(end) + bar).isoformat() if end else None
    return {
        "in_sample": (p.get("in_sample_start"), p.get("held_out_start")),
        "held_out": (p.get("held_out_start"), after),
    }


def export_yaml(e: Entry) -> str:
    """A strategy config to run the entry (``strategies:``, ``risk_management:``,
    ``backtest:``); how to reproduce its figures and its statistics follow as comments, so the
    file loads as a genebot config as it is."""
    cfg = strategy_config(e)
    stats = yaml.safe_dump({"hall_of_fame": cfg.pop("hall_of_fame")}, sort_keys=False)
    head = [f"# genebot Hall of Fame entry {e.id}: {e.rules}"]
    for name, (start, end) in replay_periods(e).items():
        if start and end:
            head.append(
                f"# {name} figures: genebot backtest --config FILE --start-date {start} "
                f"--end-date {end}"
            )
    body = yaml.safe_dump(cfg, sort_keys=False)
    return "\n".join(head) + "\n" + body + "".join(f"# {line}\n" for line in stats.splitlines())


def held_out_equity(e: Entry, max_points: int = 500) -> list[tuple[str, float]]:
    """The entry's equity over its held-out bars, backtested as the search scored it (the same
    base sections, risk as it was), thinned to at most ``max_points``; empty when the data
    file it was evolved on is not here any more."""
    from pathlib import Path

    from genebot.backtest import run
    from genebot.data.readers import read_ohlcv
    from genebot.evolution.fitness import run_config

    source, start = e.data.get("source"), e.periods.get("held_out_start")
    symbol, timeframe = e.data.get("symbol", "BTC/USDT"), e.data.get("timeframe", "1h")
    if not source or not start or not Path(str(source)).is_file():
        return []
    frame = read_ohlcv(Path(str(source)), timeframe=str(timeframe)).frame
    tail = frame[frame.index >= datetime.fromisoformat(str(start))]
    spec = {"type": e.strategy, "parameters": e.parameters}
    config = run_config(e.settings.get("base") or {}, spec, str(symbol), str(timeframe))
    equity = run(config, data={str(symbol): tail}).equity["equity"]
    n = len(equity)
    step = max(1, n // max_points)
    rows = sorted({*range(0, n, step), n - 1}) if n else []
    stamps, values = equity.index[rows], equity.to_numpy()[rows]
    return [(ts.isoformat(), float(v)) for ts, v in zip(stamps, values, strict=True)]
