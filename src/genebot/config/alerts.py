"""The ``alerting:``, ``orchestration_alerts:`` and ``monitoring:`` sections of the seeds.

Validated now, used by the runtime's alert engine. An alert ``condition`` is parsed by the safe
condition grammar of :mod:`genebot.monitoring.conditions` (``daily_pnl < -0.03``,
``drawdown > 10% and consecutive_losses >= 3``); a bad one names the token and its column.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from genebot.core.config import Fraction, FrozenModel, KeyedValueError
from genebot.monitoring.conditions import ConditionError, parse_condition


def _check_condition(value: str) -> str:
    try:
        parse_condition(value)
    except ConditionError as exc:
        raise ValueError(str(exc)) from None
    return value.strip()


class AlertRule(FrozenModel):
    """One alert rule: when ``condition`` holds, send ``message`` at ``severity``."""

    name: Annotated[str, Field(min_length=1, description="rule name, unique")]
    condition: Annotated[str, AfterValidator(_check_condition)] = Field(
        description="metric op number, e.g. daily_pnl < -0.03"
    )
    severity: Literal["info", "warning", "error", "critical"] = Field(
        default="warning", description="info | warning | error | critical (any case)"
    )
    message: str = Field(default="", description="text of the notification")
    cooldown_s: Annotated[float, Field(ge=0)] = Field(
        default=300, description="seconds before the same rule may alert again"
    )
    channels: tuple[str, ...] = Field(
        default=(), description="notification services to use (empty: every configured one)"
    )
    action: Literal["pause_deployment", "stop_deployment", "emergency_stop"] | None = Field(
        default=None, description="what the bot does when the rule fires (besides alerting)"
    )

    @field_validator("severity", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


class AlertingConfig(FrozenModel):
    """The ``alerting:`` section."""

    rules: tuple[AlertRule, ...] = Field(default=(), description="alert rules")

    @model_validator(mode="after")
    def _unique(self) -> AlertingConfig:
        seen: set[str] = set()
        for index, rule in enumerate(self.rules):
            if rule.name in seen:
                raise KeyedValueError(("rules", index, "name"), f"{rule.name!r} repeats")
            seen.add(rule.name)
        return self


class ThresholdAlert(FrozenModel):
    threshold: Fraction = Field(description="alert above this fraction")


class FailureAlert(FrozenModel):
    consecutive_failures: Annotated[int, Field(ge=1)] = Field(
        default=3, description="alert after this many consecutive strategy failures"
    )


class DegradationAlert(FrozenModel):
    threshold: Annotated[float, Field(ge=-1, lt=0)] = Field(
        default=-0.10, description="alert when performance drops by this (negative) fraction"
    )
    lookback_days: Annotated[int, Field(ge=1)] = Field(default=7, description="days compared")


class OrchestrationAlertsConfig(FrozenModel):
    """The ``orchestration_alerts:`` section."""

    allocation_change: ThresholdAlert | None = Field(
        default=None, description="alert when an allocation changes by more than threshold"
    )
    strategy_failure: FailureAlert | None = None
    correlation_spike: ThresholdAlert | None = Field(
        default=None, description="alert when a strategy correlation exceeds threshold"
    )
    performance_degradation: DegradationAlert | None = None


BaselineMetric = Literal["win_rate", "profit_factor", "avg_trade_return"]


class BaselineConfig(FrozenModel):
    """Seed 001's red flag "performance more than 20 % worse than paper trading", evaluated
    continuously: each strategy's closed trades against its baseline's (a paper deployment or
    a stored backtest of the same strategy), once both have ``min_trades``."""

    enabled: bool = Field(default=True, description="evaluate the baseline red flag")
    source: Literal["auto", "paper", "backtest"] = Field(
        default="auto",
        description="auto: a live deployment compares with the latest paper deployment of the "
        "same strategy settings, else the latest stored backtest; a paper one with the backtest",
    )
    run_id: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="a stored backtest run as the baseline (overrides source)"
    )
    deployment_id: str | None = Field(
        default=None, description="a paper deployment as the baseline (overrides source)"
    )
    max_degradation: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.20, description="a metric this fraction worse than its baseline is a red flag"
    )
    min_trades: Annotated[int, Field(ge=1)] = Field(
        default=20, description="closed trades needed on both sides before comparing"
    )
    confidence: Annotated[float, Field(ge=0, lt=1)] = Field(
        default=0.95,
        description="flag only when the live figure's one-sided upper bound at this confidence "
        "is still worse (0: compare the point estimates)",
    )
    metrics: tuple[BaselineMetric, ...] = Field(
        default=("win_rate", "avg_trade_return"),
        min_length=1,
        description="what is compared",
    )
    action: Literal["stop_deployment", "pause_deployment", "emergency_stop", "none"] = Field(
        default="stop_deployment", description="what the red flag does besides the alert"
    )


class MonitoringConfig(FrozenModel):
    """The ``monitoring:`` section (seed 003's ``config.monitoring.*``): the thresholds of the
    built-in resource and error alerts a runner raises on its own, rules or not."""

    max_cpu_usage: Annotated[float, Field(gt=0, le=100)] = Field(
        default=80.0, description="percent of one core the runner may use before an alert"
    )
    max_memory_usage: Annotated[float, Field(gt=0, le=100)] = Field(
        default=85.0, description="percent of the machine's memory in use before an alert"
    )
    max_disk_usage: Annotated[float, Field(gt=0, le=100)] = Field(
        default=90.0, description="percent of the working directory's disk in use"
    )
    max_exchange_errors: Annotated[int, Field(ge=1)] = Field(
        default=10, description="exchange errors within an hour before an alert"
    )
    max_strategy_errors: Annotated[int, Field(ge=1)] = Field(
        default=5, description="strategy errors within an hour before an alert"
    )
    cooldown_s: Annotated[float, Field(ge=0)] = Field(
        default=900, description="seconds before the same built-in alert may repeat"
    )
    baseline: BaselineConfig = Field(
        default_factory=BaselineConfig, description="the red flag against the paper/backtest"
    )
