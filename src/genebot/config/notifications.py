"""The ``notifications:`` section (seed 003's layout) and how it becomes channels.

.. code-block:: yaml

    notifications:
      enabled: true
      services: [email, telegram]          # or a mapping: {email: {enabled: true}, sms: {url: …}}
      notification_levels: [WARNING, ERROR, CRITICAL]
      trade_notifications: true
      error_notifications: true
      performance_notifications: true
      system_notifications: true
      urls: ["ntfy://${NTFY_TOPIC}"]       # any apprise URL, ${VAR} from the environment
      daily_summary: {enabled: true, time: "20:00", timezone: Europe/London}

Credentials come from the environment (``SMTP_SERVER``, ``SLACK_WEBHOOK_URL``,
``TELEGRAM_BOT_TOKEN`` … — see :mod:`genebot.notify.channels`). Without ``services:`` every
channel the environment configures is used; with it, only the enabled entries.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from genebot.core.config import FrozenModel, KeyedValueError, TimeZone
from genebot.core.errors import InputError
from genebot.notify import CATEGORIES, ChannelFilter, ServiceSpec, Severity
from genebot.notify.channels import KNOWN_SERVICES, Channel, build_channels
from genebot.notify.dispatcher import DailySummary, Dispatcher, log, parse_hhmm

Level = Literal["INFO", "WARNING", "ERROR", "CRITICAL"]
ALL_LEVELS: tuple[Level, ...] = ("INFO", "WARNING", "ERROR", "CRITICAL")
_FLAGS = ("trade", "error", "performance", "system")


def _upper_levels(value: Any) -> Any:
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list | tuple):
        return [v.strip().upper() if isinstance(v, str) else v for v in value]
    return value


class ServiceConfig(FrozenModel):
    """One ``notifications.services`` entry; unset filters inherit the section's."""

    enabled: bool = Field(default=True, description="use this channel")
    url: str | None = Field(
        default=None,
        description="apprise URL for this service (needed for sms and services genebot does "
        "not read from the environment)",
    )
    notification_levels: tuple[Level, ...] | None = Field(
        default=None, description="severities this channel gets (default: the section's)"
    )
    trade_notifications: bool | None = None
    error_notifications: bool | None = None
    performance_notifications: bool | None = None
    system_notifications: bool | None = None

    _levels = field_validator("notification_levels", mode="before")(_upper_levels)


class DailySummaryConfig(FrozenModel):
    """``daily_summary:`` — P&L, trades and risk state once a day."""

    enabled: bool = Field(default=False, description="send the daily summary")
    time: str = Field(default="20:00", description="HH:MM (24-hour) in timezone")
    timezone: TimeZone = Field(default="UTC", description="IANA time zone of time")

    @field_validator("time", mode="before")
    @classmethod
    def _sexagesimal(cls, value: Any) -> Any:
        # YAML 1.1 reads an unquoted 20:00 as the base-60 number 1200.
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
            return f"{value // 60:02d}:{value % 60:02d}"
        return value

    @field_validator("time")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        try:
            return parse_hhmm(value).strftime("%H:%M")
        except InputError:
            raise ValueError("use HH:MM (24-hour), for example 20:00") from None


class NotificationsConfig(FrozenModel):
    """The ``notifications:`` section."""

    enabled: bool = Field(default=True, description="false: no notifications at all")
    services: dict[str, ServiceConfig] | None = Field(
        default=None,
        description="channels to use: a list of names or a mapping name: {enabled, url, "
        "notification_levels, *_notifications}; default every channel the environment sets",
    )
    notification_levels: tuple[Level, ...] = Field(
        default=ALL_LEVELS, description="severities sent: INFO, WARNING, ERROR, CRITICAL"
    )
    trade_notifications: bool = Field(default=True, description="fills, orders, positions")
    error_notifications: bool = Field(default=True, description="errors and rejections")
    performance_notifications: bool = Field(default=True, description="performance reports")
    system_notifications: bool = Field(default=True, description="start, stop, health")
    urls: tuple[str, ...] = Field(default=(), description="more channels: apprise URLs")
    queue_size: Annotated[int, Field(ge=1)] = Field(
        default=1000, description="messages queued per channel before the oldest INFO is dropped"
    )
    retries: Annotated[int, Field(ge=0, le=100)] = Field(
        default=3, description="retries of a failed delivery before it is given up"
    )
    backoff_s: Annotated[float, Field(ge=0)] = Field(
        default=1.0, description="first retry delay; doubles on each retry"
    )
    max_backoff_s: Annotated[float, Field(ge=0)] = Field(
        default=60.0, description="longest retry delay"
    )
    flush_timeout_s: Annotated[float, Field(ge=0)] = Field(
        default=10.0, description="how long the end of a run waits for queued messages"
    )
    daily_summary: DailySummaryConfig = Field(default_factory=DailySummaryConfig)

    _levels = field_validator("notification_levels", mode="before")(_upper_levels)

    @field_validator("services", mode="before")
    @classmethod
    def _name_list(cls, value: Any) -> Any:
        """The seed's ``services: ["email", "telegram"]``: those names, enabled."""
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            return {name: {} for name in value}
        return value

    @model_validator(mode="after")
    def _check(self) -> NotificationsConfig:
        if not self.notification_levels:
            raise KeyedValueError("notification_levels", "must list at least one severity")
        for name, service in (self.services or {}).items():
            if name not in KNOWN_SERVICES and not service.url:
                known = ", ".join(KNOWN_SERVICES)
                raise KeyedValueError(
                    ("services", name), f"unknown service; known: {known} (or give it url:)"
                )
            if name == "sms" and service.enabled and not service.url:
                raise KeyedValueError(
                    ("services", "sms", "url"), "sms needs an apprise SMS URL (twilio://, sns://…)"
                )
        for index, url in enumerate(self.urls):
            if "://" not in url:
                raise KeyedValueError(("urls", index), "must be an apprise URL (scheme://…)")
        return self

    def channel_filter(self, service: ServiceConfig | None = None) -> ChannelFilter:
        """The filter of ``service`` (its own settings over the section's)."""
        levels = (service.notification_levels if service else None) or self.notification_levels
        categories = {"alert"}
        for flag in _FLAGS:
            own = getattr(service, f"{flag}_notifications", None) if service else None
            if (getattr(self, f"{flag}_notifications") if own is None else own) is True:
                categories.add(flag)
        return ChannelFilter(
            levels=frozenset(Severity[level] for level in levels),
            categories=frozenset(c for c in CATEGORIES if c in categories),
        )

    def build_channels(
        self, environ: Mapping[str, str] | None = None
    ) -> tuple[list[Channel], list[str]]:
        """``(channels, problems)`` for this section and ``environ`` (default ``os.environ``)."""
        if not self.enabled:
            return [], []
        specs = None
        if self.services is not None:
            specs = {
                name: ServiceSpec(s.enabled, s.url, self.channel_filter(s))
                for name, s in self.services.items()
            }
        env = os.environ if environ is None else environ
        return build_channels(env, services=specs, urls=self.urls, default=self.channel_filter())

    def dispatcher(self, environ: Mapping[str, str] | None = None) -> Dispatcher:
        """A started :class:`~genebot.notify.dispatcher.Dispatcher` over the channels that work
        (the others are logged as warnings)."""
        channels, problems = self.build_channels(environ)
        for problem in problems:
            log.warning("notify: %s", problem)
        return Dispatcher(
            channels,
            queue_size=self.queue_size,
            retries=self.retries,
            backoff_s=self.backoff_s,
            max_backoff_s=self.max_backoff_s,
            flush_timeout_s=self.flush_timeout_s,
        )

    def summary(self, since: datetime | None = None) -> DailySummary | None:
        """The :class:`~genebot.notify.dispatcher.DailySummary` schedule, or None when off."""
        if not self.daily_summary.enabled:
            return None
        return DailySummary(parse_hhmm(self.daily_summary.time), self.daily_summary.timezone, since)
