"""Notifications: email, Slack, Telegram, Discord, webhooks and SMS through apprise.

This module holds the message model (light: no apprise import), so configs and callers can build
messages cheaply:

- :class:`Message` — title, body, :class:`Severity` (INFO, WARNING, ERROR, CRITICAL) and category
  (trade, error, performance, system, alert);
- :class:`ChannelFilter` — which severities and categories a channel takes (the seed's
  ``notification_levels`` and ``*_notifications`` flags).

:mod:`genebot.notify.channels` builds the channels (apprise URLs from the seed's environment
variables and ``notifications.urls``); :mod:`genebot.notify.dispatcher` delivers without ever
blocking the caller (bounded queue, retry with backoff, outage alerts, bounded flush) and holds
the daily summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Literal, get_args

from genebot.core.errors import InputError

Category = Literal["trade", "error", "performance", "system", "alert"]
CATEGORIES: tuple[Category, ...] = get_args(Category)


class Severity(IntEnum):
    INFO = 20
    WARNING = 30
    ERROR = 40
    CRITICAL = 50

    @classmethod
    def parse(cls, value: str | Severity) -> Severity:
        """``Severity.parse("warning")``: any case; an unknown name is an InputError."""
        if isinstance(value, Severity):
            return value
        try:
            return cls[value.strip().upper()]
        except KeyError:
            allowed = ", ".join(s.name for s in cls)
            raise InputError(f"unknown severity {value!r}; allowed: {allowed}") from None


@dataclass(frozen=True)
class Message:
    """One notification. ``channels`` limits it to those channels (empty: every channel);
    ``always`` passes the level and category filters (a test message, the daily summary)."""

    title: str
    body: str
    severity: Severity = Severity.INFO
    category: Category = "system"
    channels: tuple[str, ...] = ()
    always: bool = False

    @property
    def subject(self) -> str:
        """The title as sent: ``[WARNING] Daily loss over 3%``."""
        return f"[{self.severity.name}] {self.title}"


@dataclass(frozen=True)
class ChannelFilter:
    """Which messages a channel takes: severities (``notification_levels``) and categories
    (``trade_notifications`` …; ``alert`` is always on)."""

    levels: frozenset[Severity] = frozenset(Severity)
    categories: frozenset[str] = frozenset(CATEGORIES)

    def accepts(self, message: Message) -> bool:
        if message.always:
            return True
        return message.severity in self.levels and message.category in self.categories


@dataclass(frozen=True)
class ServiceSpec:
    """A ``notifications.services`` entry: on or off, its own URL, its own filter."""

    enabled: bool = True
    url: str | None = None
    filter: ChannelFilter | None = None


class DeliveryError(Exception):
    """A channel did not take a message; the reason is already redacted."""


__all__ = [
    "CATEGORIES",
    "Category",
    "ChannelFilter",
    "DeliveryError",
    "Message",
    "ServiceSpec",
    "Severity",
]
