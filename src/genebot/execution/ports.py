"""The execution-client port: what the execution engine needs from a venue (sim or ccxt)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from genebot.domain.events import OrderEvent
from genebot.domain.orders import Order


class ExecutionClient(Protocol):
    venue: str

    def set_reporter(self, report: Callable[[OrderEvent], None]) -> None:
        """Where the client sends the venue's order events."""

    def submit(self, order: Order) -> None:
        """Send a new order. Never retried: an unknown outcome waits for reconciliation."""

    def cancel(self, order: Order, reason: str = "canceled") -> None:
        """Cancel a working order."""
