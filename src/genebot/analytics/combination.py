"""An orchestrated backtest of a few of the configured strategies, with one allocation
method, over the last N days of the data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from genebot.analytics.runs import check_names, run_alone
from genebot.backtest.runner import run
from genebot.config.loader import GenebotConfig, apply_overrides
from genebot.core.errors import InputError, ParameterError


@dataclass
class Combination:
    start: str
    stats: dict[str, object]
    attribution: list[dict[str, object]]


def run_combination(
    cfg: GenebotConfig, names: Sequence[str], method: str, days: int
) -> Combination:
    """The orchestrator over just ``names`` with ``method``, from ``days`` days before the
    data's last bar (the data's first bar when it covers fewer)."""
    if cfg.orchestrator is None or not cfg.orchestrator.enabled:
        raise InputError("the config has no enabled orchestrator: section")
    check_names(cfg, names)
    if days < 1:
        raise InputError(f"--days {days}: at least 1")
    end = run_alone(cfg, names[0]).equity.index[-1]
    start = (pd.Timestamp(end) - pd.Timedelta(days=days - 1)).strftime("%Y-%m-%d")
    chosen = apply_overrides(cfg, strategies=list(names), start_date=start)
    assert chosen.orchestrator is not None
    settings = chosen.orchestrator.model_copy(update={"allocation_method": method})
    chosen = chosen.model_copy(update={"orchestrator": settings})
    try:
        result = run(chosen)
    except ParameterError as exc:
        raise InputError(f"cannot run: {exc}") from None
    rows = (
        []
        if result.orchestration is None
        else result.orchestration.attribution.to_dict(orient="records")
    )
    return Combination(start, dict(result.stats), [{str(k): v for k, v in r.items()} for r in rows])
