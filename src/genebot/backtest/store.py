"""Storing a finished backtest in the database, in bulk, after the run (the run itself never
touches the database, so the fast path stays fast)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

from genebot.backtest.result import BacktestResult
from genebot.config.loader import GenebotConfig
from genebot.persistence.database import Database
from genebot.persistence.repositories import AllocationRecord, BacktestRunRepository, RunRecord


def store_run(
    db: Database, cfg: GenebotConfig, result: BacktestResult, output_dir: str | Path | None
) -> int:
    """Save the run's config (secrets redacted), stats and round trips; returns its id."""
    record = RunRecord(
        title=result.title,
        strategies=[key for key, s in cfg.strategies.items() if s.enabled],
        # the YAML's own keys (``global``, not ``global_``): a stored config loads back;
        # SecretStr fields dump as "**********"
        config=cfg.model_dump(mode="json", by_alias=True),
        stats=result.stats,
        output_dir=str(Path(output_dir).resolve()) if output_dir is not None else None,
        start=_when(result.stats.get("start")),
        end=_when(result.stats.get("end")),
        final_equity=result.final_equity_exact,
        attribution=(
            result.orchestration.attribution.to_dict(orient="records")
            if result.orchestration is not None
            else None
        ),
    )
    allocations = _allocations(result)
    return BacktestRunRepository(db).save(record, result.closed_trades, allocations)


def _allocations(result: BacktestResult) -> list[AllocationRecord]:
    if result.orchestration is None:
        return []
    frame = result.orchestration.allocations
    return [
        AllocationRecord(
            ts=datetime.fromisoformat(ts.replace("Z", "+00:00")),
            strategy=strategy,
            weight=Decimal(str(weight)),
            capital=Decimal(capital),
            trigger=trigger,
        )
        for ts, strategy, weight, capital, trigger in zip(
            frame["timestamp"],
            frame["strategy"],
            frame["weight"],
            frame["capital"],
            frame["trigger"],
            strict=True,
        )
    ]


def _when(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
