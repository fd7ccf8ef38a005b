"""A symbol's trading sessions on the broker's server clock: the weekend close, the daily
rollover pause, and when the market opens again.

The Python API of MT5 does not expose a symbol's session table (``SymbolInfoSessionTrade`` is
MQL5 only), so the table is given per weekday in the broker's **server** wall time — what the
terminal's "Specification" window lists — and defaults to the convention brokers set their
server clock for (GMT+2, GMT+3 in the US summer, so that New York's 17:00 is midnight: five
daily candles a week): Monday 00:00 to Friday 23:55 server time. Every instant is UTC inside
genebot; the :class:`~genebot.venues.mt5.symbols.ServerClock` converts each session edge, so a
DST change of the server's zone moves the edges in UTC and nothing else.

Around each server midnight (the rollover: swaps are charged, spreads widen, some brokers stop
quoting for minutes) **new entries** pause for ``rollover_pause_min`` minutes either side
(``0``: no pause). Exits and protective orders are never paused by genebot.

:class:`BrokerSessions` is a :class:`~genebot.engine.sessions.MarketHours` (``is_open``,
``next_change``), so it also plugs into a :class:`~genebot.engine.sessions.TradingScheduler`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from genebot.core.errors import InputError
from genebot.venues.mt5.symbols import S_NS, ServerClock

DAY_S = 86_400
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Span = tuple[int, int]  # minutes after the server day's midnight: [start, end), end <= 1440
FOREX_TABLE: dict[int, tuple[Span, ...]] = {
    0: ((0, 1440),), 1: ((0, 1440),), 2: ((0, 1440),), 3: ((0, 1440),), 4: ((0, 23 * 60 + 55),),
}  # fmt: skip


def parse_table(table: Mapping[str, object]) -> dict[int, tuple[Span, ...]]:
    """``{"mon": "00:00-24:00", "fri": ["00:00-12:00", "13:00-23:55"], "sat": []}`` (server
    time; a day not named is closed) as the weekday → spans table."""
    out: dict[int, tuple[Span, ...]] = {}
    for key, value in table.items():
        day = str(key).strip().lower()[:3]
        if day not in WEEKDAYS:
            raise InputError(f"sessions: {key!r} is not a weekday (mon ... sun)")
        items = [value] if isinstance(value, str) else list(value or ())  # type: ignore[call-overload]
        out[WEEKDAYS.index(day)] = tuple(_span(str(item), day) for item in items)
    return out


def _span(text: str, day: str) -> Span:
    start, sep, end = text.replace(" ", "").partition("-")
    try:
        lo, hi = _minutes(start), _minutes(end)
    except ValueError:
        lo = hi = -1
    if not sep or not 0 <= lo < hi <= 1440:
        raise InputError(f"sessions.{day}: {text!r} is not a span like 00:00-23:55 (server time)")
    return lo, hi


def _minutes(text: str) -> int:
    hours, _, minutes = text.partition(":")
    return int(hours) * 60 + int(minutes or 0)


@dataclass(frozen=True)
class BrokerSessions:
    """When one symbol trades, from the broker's session table (see the module docstring)."""

    server: ServerClock = field(default_factory=lambda: ServerClock("+2"))
    table: Mapping[int, tuple[Span, ...]] = field(default_factory=lambda: dict(FOREX_TABLE))
    rollover_pause_min: int = 0
    name: str = "broker sessions"

    # -- the sessions as UTC intervals ----------------------------------------------------
    def _day_spans(self, server_day: int) -> Iterator[tuple[int, int]]:
        weekday = (server_day + 3) % 7  # 1970-01-01 was a Thursday (Monday = 0)
        for lo, hi in self.table.get(weekday, ()):
            base = server_day * DAY_S
            yield self.server.to_utc_ns(base + lo * 60), self.server.to_utc_ns(base + hi * 60)

    def intervals(self, from_ns: int, to_ns: int) -> list[tuple[int, int]]:
        """The open intervals (UTC ns, touching ones merged) overlapping [from_ns, to_ns)."""
        first = self.server.to_server_s(from_ns) // DAY_S - 1
        last = self.server.to_server_s(to_ns) // DAY_S + 1
        merged: list[tuple[int, int]] = []
        for day in range(first, last + 1):
            for lo, hi in self._day_spans(day):
                if merged and lo <= merged[-1][1]:
                    merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
                else:
                    merged.append((lo, hi))
        return [(lo, hi) for lo, hi in merged if hi > from_ns and lo < to_ns]

    def _around(self, utc_ns: int) -> list[tuple[int, int]]:
        return self.intervals(utc_ns - 8 * DAY_S * S_NS, utc_ns + 15 * DAY_S * S_NS)

    # -- MarketHours ----------------------------------------------------------------------
    def is_open(self, utc_ns: int) -> bool:
        """Whether the symbol trades at ``utc_ns``."""
        return any(lo <= utc_ns < hi for lo, hi in self.intervals(utc_ns, utc_ns + 1))

    def next_change(self, utc_ns: int) -> int:
        """The first time after ``utc_ns`` the market opens or closes (within two weeks)."""
        for lo, hi in self._around(utc_ns):
            if lo > utc_ns:
                return lo
            if hi > utc_ns:
                return hi
        return utc_ns + 14 * DAY_S * S_NS

    def next_open_ns(self, utc_ns: int) -> int:
        """When the market next opens (``utc_ns`` itself while it is open)."""
        return utc_ns if self.is_open(utc_ns) else self.next_change(utc_ns)

    def seconds_to_open(self, utc_ns: int) -> float:
        return (self.next_open_ns(utc_ns) - utc_ns) / S_NS

    def open_ns_between(self, from_ns: int, to_ns: int) -> int:
        """How long the market was open between the two instants (ns)."""
        if to_ns <= from_ns:
            return 0
        spans = self.intervals(from_ns, to_ns)
        return sum(min(hi, to_ns) - max(lo, from_ns) for lo, hi in spans)

    # -- entries --------------------------------------------------------------------------
    def in_rollover(self, utc_ns: int) -> bool:
        """Within ``rollover_pause_min`` of a server midnight (new entries pause)."""
        if self.rollover_pause_min <= 0:
            return False
        wall = self.server.to_server_s(utc_ns) % DAY_S
        pause = self.rollover_pause_min * 60
        return wall < pause or wall >= DAY_S - pause

    def may_enter(self, utc_ns: int) -> bool:
        return self.is_open(utc_ns) and not self.in_rollover(utc_ns)

    def closed_reason(self, utc_ns: int) -> str | None:
        """Why no entry may be sent at ``utc_ns`` (None: it may), with when that ends."""
        if not self.is_open(utc_ns):
            opens = self._when(self.next_change(utc_ns))
            return f"the market is closed (broker session); it opens {opens}"
        if self.in_rollover(utc_ns):
            wall = self.server.to_server_s(utc_ns)
            midnight = (wall + self.rollover_pause_min * 60) // DAY_S * DAY_S
            end = self.server.to_utc_ns(midnight + self.rollover_pause_min * 60)
            return (
                f"rollover pause ({self.rollover_pause_min} min either side of the server's "
                f"midnight) until {self._when(end)}"
            )
        return None

    def _when(self, utc_ns: int) -> str:
        utc = dt.datetime.fromtimestamp(utc_ns // S_NS, dt.UTC)
        wall = dt.datetime.fromtimestamp(self.server.to_server_s(utc_ns), dt.UTC)
        return f"{utc:%a %Y-%m-%d %H:%M} UTC ({wall:%a %H:%M} server time)"


def sessions_of(cfg: object, server: ServerClock) -> BrokerSessions:
    """The sessions of an ``exchanges.<mt5>`` entry: ``sessions`` (a weekday table in server
    time; default the forex week) and ``rollover_pause_minutes`` (default 0)."""
    table = getattr(cfg, "sessions", None)
    pause = int(getattr(cfg, "rollover_pause_minutes", 0) or 0)
    parsed = parse_table(table) if table else dict(FOREX_TABLE)
    return BrokerSessions(server, parsed, pause)


class ForexWeek(BrokerSessions):
    """The forex week: Monday 00:00 to Friday ``close`` server time, entries pausing
    ``rollover_pause_min`` either side of each server midnight."""

    def __init__(
        self,
        server: ServerClock | None = None,
        close: dt.time = dt.time(23, 55),
        rollover_pause_min: int = 5,
    ) -> None:
        table = dict(FOREX_TABLE)
        table[4] = ((0, close.hour * 60 + close.minute),)
        super().__init__(server or ServerClock("+2"), table, rollover_pause_min, "forex week")
