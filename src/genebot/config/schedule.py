"""The ``schedule:`` section: when strategies may open positions (market hours, the user's
trading windows) and whether to flatten before the market closes. The same in backtest, paper
and live."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from genebot.core.config import FrozenModel, KeyedValueError, TimeZone
from genebot.risk.config import _check_clock

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Clock = Annotated[str, AfterValidator(_check_clock)]


class WindowConfig(FrozenModel):
    """A trading window: days of the week and a local time span (over midnight allowed)."""

    days: tuple[Day, ...] = Field(
        default=("mon", "tue", "wed", "thu", "fri"), description="days the window opens"
    )
    start: Clock = Field(description="HH:MM, local time")
    end: Clock = Field(description="HH:MM, local time (before start: over midnight)")
    timezone: TimeZone = "UTC"


class ScheduleConfig(FrozenModel):
    """Outside the market's hours or the windows, new entries are denied (rule ``schedule``);
    exits and protective orders always work."""

    enabled: bool = False
    market: Literal["crypto", "forex", "equity"] = Field(
        default="crypto",
        description="crypto: 24/7; forex: Sunday 17:00 to Friday 17:00 New York; equity: the "
        "exchange's calendar (holidays, early closes)",
    )
    exchange: str | None = Field(default=None, description="ISO MIC of an equity exchange")
    windows: tuple[WindowConfig, ...] = Field(
        default=(), description="trading windows (none: the whole market day)"
    )
    flatten_before_close_minutes: Annotated[int, Field(ge=0, le=1440)] = Field(
        default=0, description="close positions this long before the market closes (0: never)"
    )

    @model_validator(mode="after")
    def _equity_needs_exchange(self) -> ScheduleConfig:
        if self.enabled and self.market == "equity" and not self.exchange:
            raise KeyedValueError("exchange", "is required for market equity (e.g. XNYS)")
        return self
