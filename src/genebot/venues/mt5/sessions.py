"""The forex trading week in the broker's server time: weekend close and the rollover pause.

The Python API of MT5 does not expose a symbol's session table (``SymbolInfoSessionTrade`` is
MQL5 only), so genebot uses the convention brokers set their server clock for (GMT+2, GMT+3 in
the US summer: five daily candles a week): the market is open from Monday 00:00 to Friday
``close`` server time, and around each server midnight (the rollover, when swaps are charged
and spreads widen) new entries pause for ``rollover_pause_min`` minutes either side.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from genebot.venues.mt5.symbols import S_NS, ServerClock

DAY_S = 86_400


@dataclass(frozen=True)
class ForexWeek:
    server: ServerClock = field(default_factory=lambda: ServerClock("+2"))
    close: dt.time = dt.time(23, 55)  # Friday, server time
    rollover_pause_min: int = 5

    def _server_wall(self, utc_ns: int) -> dt.datetime:
        seconds = self.server.to_server_s(utc_ns)
        return dt.datetime.fromtimestamp(seconds, dt.UTC).replace(tzinfo=None)

    def is_open(self, utc_ns: int) -> bool:
        """Whether the market trades at ``utc_ns`` (Monday 00:00 – Friday ``close``)."""
        wall = self._server_wall(utc_ns)
        if wall.weekday() >= 5:  # Saturday, Sunday
            return False
        return not (wall.weekday() == 4 and wall.time() >= self.close)

    def in_rollover(self, utc_ns: int) -> bool:
        """Within ``rollover_pause_min`` of a server midnight (entries pause)."""
        wall = self._server_wall(utc_ns)
        since_midnight = wall.hour * 3600 + wall.minute * 60 + wall.second
        pause = self.rollover_pause_min * 60
        return since_midnight < pause or since_midnight >= DAY_S - pause

    def may_enter(self, utc_ns: int) -> bool:
        return self.is_open(utc_ns) and not self.in_rollover(utc_ns)

    def next_open_ns(self, utc_ns: int) -> int:
        """When the market next opens (``utc_ns`` itself when it is open): Monday 00:00."""
        if self.is_open(utc_ns):
            return utc_ns
        wall = self._server_wall(utc_ns)
        monday = (wall + dt.timedelta(days=7 - wall.weekday())).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        server_s = int(monday.replace(tzinfo=dt.UTC).timestamp())
        return self.server.to_utc_ns(server_s)

    def seconds_to_open(self, utc_ns: int) -> float:
        return (self.next_open_ns(utc_ns) - utc_ns) / S_NS
