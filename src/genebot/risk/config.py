"""The ``risk_management:`` section: seed layout (``global``, ``stop_loss``, ``take_profit``,
``position_limits``) plus every other limit of the risk engine, with the seed defaults.

Fractions are of equity unless said otherwise. Every model is frozen and rejects unknown keys.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from genebot.core.config import Fraction, FrozenModel, TimeZone, drop_empty_sections

PositiveInt = Annotated[int, Field(ge=1)]
Minutes = Annotated[float, Field(ge=0)]


def _check_clock(value: str) -> str:
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        raise ValueError("must be a time of day HH:MM, e.g. 00:00 or 17:00")
    return value


class GlobalRiskConfig(FrozenModel):
    """Seed ``risk_management.global``."""

    max_portfolio_risk: Fraction = Field(
        0.02, description="max risk per trade: (entry − stop) × quantity / equity"
    )
    max_daily_loss: Fraction = 0.05
    max_drawdown: Fraction | None = Field(
        0.15, description="halt beyond this drawdown from the equity peak; null = off"
    )
    position_sizing_method: Literal[
        "fixed_fractional", "percent_equity", "fixed_amount", "atr", "staged"
    ] = "fixed_fractional"


class StopLossConfig(FrozenModel):
    """Protective stop placed after every entry fills (long and short)."""

    enabled: bool = True
    default_percentage: Fraction = 0.02
    trailing_stop: bool = False
    trailing_percentage: Fraction = 0.03
    trailing_atr_multiple: Annotated[float, Field(gt=0)] | None = Field(
        None, description="trail by k × ATR instead of a percentage"
    )
    break_even_trigger: Fraction | None = Field(
        None, description="move the stop to the entry price once price moved this far"
    )
    time_exit_bars: PositiveInt | None = Field(None, description="close after this many bars")


class TakeProfitConfig(FrozenModel):
    """Profit target placed after every entry fills; one-cancels-other with the stop."""

    enabled: bool = True
    default_percentage: Fraction = 0.05


class PositionLimitsConfig(FrozenModel):
    """Seed ``risk_management.position_limits``."""

    max_position_size: Fraction = Field(
        0.10, description="largest position as a fraction of equity; larger orders are resized down"
    )
    max_positions: PositiveInt = 5
    max_positions_per_symbol: PositiveInt = 1
    max_daily_loss: Fraction = 0.05
    min_trade_amount: Annotated[float, Field(ge=0)] = 0.0


class LimitsConfig(FrozenModel):
    """The other pre-trade limits."""

    min_account_balance: Annotated[float, Field(ge=0)] = 100.0
    max_consecutive_losses: PositiveInt = 3
    max_portfolio_heat: Fraction = 0.30
    slippage_tolerance: Fraction = 0.005
    slippage_action: Literal["deny", "limit"] = "deny"
    volatility_limit: Annotated[float, Field(gt=0)] = Field(
        0.10, description="daily realized volatility above which no new entries pass"
    )
    volatility_window: Annotated[int, Field(ge=2)] = 20
    correlation_limit: Fraction = 0.7
    correlation_lookback: Annotated[int, Field(ge=5)] = 100
    max_orders_per_second: Annotated[float, Field(gt=0)] = 10.0


class CircuitBreakerConfig(FrozenModel):
    """Errors (strategy exceptions, rejected orders) in a window halt trading."""

    max_errors: PositiveInt = 5
    window_minutes: Annotated[float, Field(gt=0)] = 60.0


class StoplossGuardConfig(FrozenModel):
    enabled: bool = True
    trade_limit: PositiveInt = 3
    lookback_minutes: Annotated[float, Field(gt=0)] = 60.0
    lock_minutes: Annotated[float, Field(gt=0)] = 120.0


class LowProfitConfig(FrozenModel):
    enabled: bool = False
    trade_limit: PositiveInt = 2
    lookback_minutes: Annotated[float, Field(gt=0)] = 1440.0
    required_profit: float = 0.0
    lock_minutes: Annotated[float, Field(gt=0)] = 60.0


class ProtectionsConfig(FrozenModel):
    """Pair locks in the manner of freqtrade's protections."""

    _empty = model_validator(mode="before")(drop_empty_sections)

    cooldown_minutes: Minutes = 0.0
    stoploss_guard: StoplossGuardConfig = Field(default_factory=StoplossGuardConfig)
    low_profit: LowProfitConfig = Field(default_factory=LowProfitConfig)


class PerformanceConfig(FrozenModel):
    """Red flags on recent closed trades."""

    enabled: bool = True
    min_win_rate: Fraction = 0.40
    min_sharpe: float = 0.5
    window_trades: Annotated[int, Field(ge=5)] = 20
    action: Literal["reducing", "halted"] = "reducing"


class DailyResetConfig(FrozenModel):
    """When the trading day starts: the daily counters reset and the halts whose reset is
    ``daily`` (``halts:``) lift."""

    time: Annotated[str, AfterValidator(_check_clock)] = "00:00"
    timezone: TimeZone = "UTC"


ResetPolicy = Literal["daily", "manual"]
HALTING_RULES = (
    "daily_loss",
    "consecutive_losses",
    "max_drawdown",
    "performance",
    "error_circuit_breaker",
)


def _policy_shorthand(data: Any) -> Any:
    """``daily_loss: daily`` is short for ``daily_loss: {reset: daily}``."""
    if isinstance(data, Mapping):
        return {k: ({"reset": v} if isinstance(v, str) else v) for k, v in data.items()}
    return data


class HaltReset(FrozenModel):
    """How one halting rule's halt ends: ``daily`` at the daily reset (``daily_reset``: time and
    time zone), or ``manual``: only an admin reset with a reason (``genebot risk reset``)."""

    reset: ResetPolicy


class HaltsConfig(FrozenModel):
    """Each halting rule's reset. Defaults follow the seeds: the kill switch rules (daily loss,
    consecutive losses) reset daily, with an admin override; drawdown, the performance red
    flags and the error circuit breaker wait for an admin ("stop and investigate")."""

    _short = model_validator(mode="before")(_policy_shorthand)

    daily_loss: HaltReset = HaltReset(reset="daily")
    consecutive_losses: HaltReset = HaltReset(reset="daily")
    max_drawdown: HaltReset = HaltReset(reset="manual")
    performance: HaltReset = HaltReset(reset="manual")
    error_circuit_breaker: HaltReset = HaltReset(reset="manual")

    def policy(self, rule: str) -> ResetPolicy:
        """The reset of ``rule`` (``manual`` for a rule that is not a halting rule)."""
        entry = getattr(self, rule, None)
        return entry.reset if isinstance(entry, HaltReset) else "manual"


class RiskManagementConfig(FrozenModel):
    """The ``risk_management:`` section. ``enabled: false`` turns the risk engine off."""

    _empty = model_validator(mode="before")(drop_empty_sections)

    enabled: bool = True
    global_: GlobalRiskConfig = Field(default_factory=GlobalRiskConfig, alias="global")
    stop_loss: StopLossConfig = Field(default_factory=StopLossConfig)
    take_profit: TakeProfitConfig = Field(default_factory=TakeProfitConfig)
    position_limits: PositionLimitsConfig = Field(default_factory=PositionLimitsConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    circuit_breaker: CircuitBreakerConfig = Field(default_factory=CircuitBreakerConfig)
    protections: ProtectionsConfig = Field(default_factory=ProtectionsConfig)
    performance: PerformanceConfig = Field(default_factory=PerformanceConfig)
    daily_reset: DailyResetConfig = Field(default_factory=DailyResetConfig)
    halts: HaltsConfig = Field(default_factory=HaltsConfig)

    @property
    def daily_loss_limit(self) -> float:
        """The stricter of the two seed keys for the daily loss limit."""
        return min(self.global_.max_daily_loss, self.position_limits.max_daily_loss)
