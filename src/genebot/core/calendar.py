"""Daily boundaries at a wall-clock time in a time zone (DST-correct), in integer nanoseconds."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

NS = 1_000_000_000


class DailyBoundary:
    """``HH:MM`` every day in ``timezone``: the trading-day reset, the forex rollover."""

    def __init__(self, time: str, timezone: str) -> None:
        hh, mm = time.split(":")
        self.hour, self.minute = int(hh), int(mm)
        self.zone = ZoneInfo(timezone)

    def at_or_before(self, now_ns: int) -> int:
        """The last boundary at or before ``now_ns``."""
        # Whole seconds, floored: a float could round a time just before a boundary onto it.
        local = datetime.fromtimestamp(now_ns // NS, tz=self.zone)
        boundary = local.replace(hour=self.hour, minute=self.minute, second=0, microsecond=0)
        if boundary > local:
            boundary = (boundary - timedelta(days=1)).replace(hour=self.hour, minute=self.minute)
        return int(boundary.timestamp()) * NS

    def after(self, boundary_ns: int) -> int:
        """The boundary one calendar day later (same wall-clock time across DST changes)."""
        local = datetime.fromtimestamp(boundary_ns // NS, tz=self.zone)
        nxt = (local + timedelta(days=1)).replace(hour=self.hour, minute=self.minute)
        return int(nxt.timestamp()) * NS

    def weekday(self, boundary_ns: int) -> int:
        """Monday 0 … Sunday 6, in the boundary's own time zone."""
        return datetime.fromtimestamp(boundary_ns // NS, tz=self.zone).weekday()
