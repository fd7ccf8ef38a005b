"""Small top-level config sections: ``logging:`` and ``run:``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from genebot.core.config import FrozenModel


class LoggingConfig(FrozenModel):
    """The ``logging:`` section."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    file: str | None = Field(default=None, description="also log to this file")

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class RunSectionConfig(FrozenModel):
    """The ``run:`` section: how ``genebot run`` (paper trading) behaves."""

    feed: Literal["precomputed", "bar_by_bar"] = Field(
        "precomputed",
        description="how replayed bars reach the strategies: precomputed (fastest) or "
        "bar_by_bar (one close time at a time, signals from the trailing window: the live path)",
    )
    cancel_open_orders_on_stop: bool = Field(
        False,
        description="cancel the deployment's working orders on Ctrl-C / SIGTERM (it then "
        "cannot resume: a re-execution would not cancel them)",
    )

    @field_validator("feed", mode="before")
    @classmethod
    def _dashes(cls, value: Any) -> Any:
        return value.replace("-", "_").lower() if isinstance(value, str) else value
