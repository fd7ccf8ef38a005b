"""The ``orchestrator:`` settings: allocation method, rebalancing, triggers, portfolio risk.

The strategies themselves (``orchestrator.strategies``) are strategy configs and are validated
with the rest of the config file; this model holds what the orchestrator itself needs.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from genebot.core.config import Fraction, FrozenModel, KeyedValueError

Share = Annotated[float, Field(ge=0, le=1)]
Method = Literal["equal_weight", "performance_based", "risk_parity"]
Frequency = Literal["daily", "weekly", "monthly", "never"]
Command = Literal["pause_strategy", "resume_strategy", "force_rebalance", "emergency_stop"]


class TriggersConfig(FrozenModel):
    """Rebalance off schedule when a strategy degrades or correlations spike."""

    performance_degradation: Fraction | None = Field(
        default=None,
        description="rebalance when a strategy's drawdown from its peak exceeds this fraction",
    )
    correlation_spike: Annotated[float, Field(gt=0, le=1)] | None = Field(
        default=None,
        description="rebalance when any pair's return correlation rises above this",
    )


class PortfolioRiskConfig(FrozenModel):
    """Portfolio-level limits on top of the per-strategy risk engine."""

    max_portfolio_drawdown: Fraction | None = Field(
        default=None, description="emergency stop when the whole account draws down this much"
    )
    max_strategy_correlation: Annotated[float, Field(gt=0, le=1)] | None = Field(
        default=None, description="strategies correlated above this are de-weighted or paused"
    )
    correlation_action: Literal["deweight", "pause"] = "deweight"
    position_size_limit: Fraction | None = Field(
        default=None, description="largest order as a fraction of the account's equity (resized)"
    )
    stop_loss_threshold: Fraction | None = Field(
        default=None,
        description="pause a strategy and close its positions when its sleeve loses this "
        "fraction of the capital it was last given",
    )


class AutoSelectConfig(FrozenModel):
    """Keep only the best ``top_n`` strategies by ``metric`` over the lookback."""

    enabled: bool = False
    top_n: Annotated[int, Field(ge=1)] = 3
    metric: Literal["sharpe", "return"] = "sharpe"


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class ScheduledIntervention(FrozenModel):
    """An operator command at a given time (naive means UTC): lets a backtest replay what an
    operator did, through the same command bus a live operator uses."""

    at: Annotated[datetime, AfterValidator(_utc)]
    command: Command
    strategy: str | None = None
    reason: str = "scheduled"
    who: str = "operator"

    @model_validator(mode="after")
    def _needs_strategy(self) -> ScheduledIntervention:
        if self.command in ("pause_strategy", "resume_strategy") and not self.strategy:
            raise KeyedValueError("strategy", f"{self.command} needs the strategy's name")
        return self


ALLOCATION_KEYS = {
    "method": "allocation_method",
    "risk_parity_mode": "risk_parity_mode",
    "rebalance_frequency": "rebalance_frequency",
    "lookback_days": "lookback_days",
    "min_allocation": "min_allocation",
    "max_allocation": "max_allocation",
}
"""Keys of the seed's nested ``orchestrator.allocation:`` and the flat key each one sets."""


def flatten_allocation(data: Any) -> Any:
    """The seed's ``allocation: {method, rebalance_frequency, ...}`` (the primary layout) as
    the flat keys (``allocation_method`` ...), which stay accepted as an alias."""
    if not isinstance(data, Mapping) or "allocation" not in data:
        return data
    out = {k: v for k, v in data.items() if k != "allocation"}
    nested = data["allocation"]
    if nested is None:
        return out
    if not isinstance(nested, Mapping):
        raise KeyedValueError("allocation", "must be a mapping of keys to values")
    for key, value in nested.items():
        flat = ALLOCATION_KEYS.get(str(key))
        if flat is None:
            close = difflib.get_close_matches(str(key), list(ALLOCATION_KEYS), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise KeyedValueError(
                ("allocation", str(key)),
                f"unknown key '{key}' in orchestrator.allocation{hint}; "
                f"allowed: {', '.join(ALLOCATION_KEYS)}",
            )
        if flat in out:
            raise KeyedValueError(
                ("allocation", str(key)), f"is also given as {flat}: give it once"
            )
        out[flat] = value
    return out


class OrchestratorSettings(FrozenModel):
    """Allocation (``allocation:`` nested, or flat keys), triggers, portfolio risk."""

    allocation_method: Method = Field(
        default="equal_weight", description="how capital is split (allocation.method)"
    )
    risk_parity_mode: Literal["inverse_volatility", "equal_risk_contribution"] = (
        "inverse_volatility"
    )
    rebalance_frequency: Frequency = "weekly"
    lookback_days: Annotated[int, Field(ge=2, le=3650)] = 30
    min_allocation: Share = 0.0
    max_allocation: Share = 1.0
    triggers: TriggersConfig = Field(default_factory=TriggersConfig)
    risk: PortfolioRiskConfig = Field(default_factory=PortfolioRiskConfig)
    auto_select: AutoSelectConfig = Field(default_factory=AutoSelectConfig)
    interventions: tuple[ScheduledIntervention, ...] = ()

    @model_validator(mode="after")
    def _bounds_order(self) -> OrchestratorSettings:
        if self.min_allocation > self.max_allocation:
            raise KeyedValueError(
                "min_allocation",
                f"{self.min_allocation} is above max_allocation {self.max_allocation}",
            )
        return self
