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
    action: Literal["pause_deployment", "emergency_stop"] | None = Field(
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
