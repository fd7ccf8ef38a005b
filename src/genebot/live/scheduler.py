"""The seed's TradingScheduler (market hours, sessions, trading windows): it lives in
:mod:`genebot.engine.sessions`, below the backtest, so a schedule restricts backtests, paper
and live trading alike.

On an MT5 account the broker's own sessions per symbol (:class:`BrokerSessions`: the weekend
close in the server's time, the daily rollover pause) are applied by the venue in live runs:
a closed market is not stale data, and an entry while it is closed is denied
(``market_closed``). A :class:`BrokerSessions` is also a ``MarketHours`` for a
:class:`TradingScheduler`."""

from genebot.engine.sessions import (
    FOREX_SESSIONS,
    AlwaysOpen,
    ExchangeHours,
    ForexWeek,
    MarketHours,
    TradingScheduler,
    Window,
    market_hours,
)
from genebot.venues.mt5.sessions import BrokerSessions

__all__ = [
    "FOREX_SESSIONS",
    "AlwaysOpen",
    "BrokerSessions",
    "ExchangeHours",
    "ForexWeek",
    "MarketHours",
    "TradingScheduler",
    "Window",
    "market_hours",
]
