"""When each market trades: crypto around the clock, the forex week and its four sessions in
their own time zones, equity exchanges from a maintained calendar (holidays, early closes), and
the user's ``schedule:`` windows on top. The runtime asks :class:`TradingScheduler` before an
entry and for the next open/close to set its timers; strategies get session events from it.

All times are UTC nanoseconds; daylight saving is handled by the IANA zones.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from genebot.core.errors import ConfigError

NS = 1_000_000_000
UTC = ZoneInfo("UTC")
Session = tuple[str, str, str, str]  # name, start HH:MM, end HH:MM, time zone

# The forex week: Sunday 17:00 to Friday 17:00 New York time, the market's own convention.
FOREX_SESSIONS: tuple[Session, ...] = (
    ("sydney", "07:00", "16:00", "Australia/Sydney"),
    ("tokyo", "09:00", "18:00", "Asia/Tokyo"),
    ("london", "08:00", "17:00", "Europe/London"),
    ("new_york", "08:00", "17:00", "America/New_York"),
)
_NY = ZoneInfo("America/New_York")


class MarketHours(Protocol):
    name: str

    def is_open(self, ts_ns: int) -> bool: ...

    def next_change(self, ts_ns: int) -> int:
        """The first time after ``ts_ns`` the market opens or closes."""


def _dt(ts_ns: int, zone: ZoneInfo = UTC) -> datetime:
    return datetime.fromtimestamp(ts_ns // NS, tz=zone)


def _ns(dt: datetime) -> int:
    return int(dt.timestamp()) * NS


class AlwaysOpen:
    """Crypto: 24/7."""

    name = "crypto"

    def is_open(self, ts_ns: int) -> bool:
        return True

    def next_change(self, ts_ns: int) -> int:
        return ts_ns + 365 * 86_400 * NS


class ForexWeek:
    """Open from Sunday 17:00 to Friday 17:00 in New York (DST follows New York)."""

    name = "forex"

    def is_open(self, ts_ns: int) -> bool:
        local = _dt(ts_ns, _NY)
        day, minutes = local.weekday(), local.hour * 60 + local.minute
        if day == 5:  # Saturday
            return False
        if day == 6:  # Sunday: from 17:00
            return minutes >= 17 * 60
        if day == 4:  # Friday: until 17:00
            return minutes < 17 * 60
        return True

    def next_change(self, ts_ns: int) -> int:
        local = _dt(ts_ns, _NY)
        target_day = 6 if not self.is_open(ts_ns) else 4  # opens Sunday, closes Friday
        ahead = (target_day - local.weekday()) % 7
        candidate = datetime.combine(local.date() + timedelta(days=ahead), time(17), tzinfo=_NY)
        if _ns(candidate) <= ts_ns:
            candidate = datetime.combine(candidate.date() + timedelta(days=7), time(17), tzinfo=_NY)
        return _ns(candidate)

    @staticmethod
    def sessions(ts_ns: int) -> list[str]:
        """The forex sessions under way at ``ts_ns`` (each in its own city's time)."""
        if not ForexWeek().is_open(ts_ns):
            return []
        out = []
        for name, start, end, zone in FOREX_SESSIONS:
            local = _dt(ts_ns, ZoneInfo(zone))
            now = local.hour * 60 + local.minute
            lo, hi = (int(x[:2]) * 60 + int(x[3:]) for x in (start, end))
            if lo <= now < hi and local.weekday() < 5:
                out.append(name)
        return out


class ExchangeHours:
    """An equity exchange by its ISO MIC (``XNYS``, ``XLON``, ...) from exchange_calendars:
    regular sessions, holidays, early closes and breaks."""

    def __init__(self, mic: str, start: str = "2000-01-01", end: str | None = None) -> None:
        import exchange_calendars as xcals  # type: ignore[import-untyped]  # heavy: lazily
        import pandas as pd

        self.name = mic
        self._pd = pd
        try:
            kwargs = {"start": start} | ({"end": end} if end else {})
            self._cal = xcals.get_calendar(mic, **kwargs)
        except xcals.errors.InvalidCalendarName:
            known = ", ".join(sorted(xcals.get_calendar_names())[:12])
            raise ConfigError(f"market {mic!r}: no such exchange calendar (e.g. {known})") from None

    def _ts(self, ts_ns: int) -> object:
        return self._pd.Timestamp(ts_ns, tz="UTC").floor("min")

    def is_open(self, ts_ns: int) -> bool:
        return bool(self._cal.is_open_on_minute(self._ts(ts_ns)))

    def next_change(self, ts_ns: int) -> int:
        ts = self._ts(ts_ns)
        if self.is_open(ts_ns):
            return int(self._cal.next_close(ts).value)
        return int(self._cal.next_open(ts).value)


def market_hours(kind: Literal["crypto", "forex", "equity"], mic: str | None = None) -> MarketHours:
    if kind == "crypto":
        return AlwaysOpen()
    if kind == "forex":
        return ForexWeek()
    if not mic:
        raise ConfigError("an equity market needs its exchange (e.g. exchange: XNYS)")
    return ExchangeHours(mic)


class Window:
    """A trading window the user allows: days of the week and a time span in a time zone."""

    DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

    def __init__(self, days: list[str], start: str, end: str, timezone: str) -> None:
        bad = [d for d in days if d not in self.DAYS]
        if bad:
            raise ConfigError(f"schedule window days {bad}: allowed {', '.join(self.DAYS)}")
        self.days = {self.DAYS.index(d) for d in days}
        self.start, self.end = (time.fromisoformat(x) for x in (start, end))
        self.zone = ZoneInfo(timezone)

    def contains(self, ts_ns: int) -> bool:
        local = _dt(ts_ns, self.zone)
        now = local.time()
        if self.start <= self.end:
            return local.weekday() in self.days and self.start <= now < self.end
        # over midnight: the window belongs to the day it starts on
        if now >= self.start:
            return local.weekday() in self.days
        return (local.weekday() - 1) % 7 in self.days and now < self.end


class TradingScheduler:
    """May a strategy open positions now, and when does that change? The market's hours and
    the user's windows (none: the whole market day). ``flatten_before_close_s`` says when
    positions should be closed ahead of a market close."""

    def __init__(
        self,
        market: MarketHours,
        windows: list[Window] | None = None,
        *,
        flatten_before_close_s: int = 0,
    ) -> None:
        self.market = market
        self.windows = windows or []
        self.flatten_before_close_ns = flatten_before_close_s * NS

    def can_trade(self, ts_ns: int) -> bool:
        if not self.market.is_open(ts_ns):
            return False
        return not self.windows or any(w.contains(ts_ns) for w in self.windows)

    def should_flatten(self, ts_ns: int) -> bool:
        """True in the last ``flatten_before_close_s`` before the market closes."""
        if not self.flatten_before_close_ns or not self.market.is_open(ts_ns):
            return False
        return self.market.next_change(ts_ns) - ts_ns <= self.flatten_before_close_ns

    def next_change(self, ts_ns: int, step_s: int = 60) -> int:
        """The next time :meth:`can_trade` flips (market changes, or a window edge, found at
        ``step_s`` resolution within a week)."""
        now = self.can_trade(ts_ns)
        limit = min(self.market.next_change(ts_ns), ts_ns + 7 * 86_400 * NS)
        if not self.windows:
            return limit
        t = ts_ns + step_s * NS
        while t < limit:
            if self.can_trade(t) != now:
                return t
            t += step_s * NS
        return limit
