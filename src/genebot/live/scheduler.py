"""The seed's TradingScheduler (market hours, sessions, trading windows): it lives in
:mod:`genebot.engine.sessions`, below the backtest, so a schedule restricts backtests, paper
and live trading alike."""

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

__all__ = [
    "FOREX_SESSIONS",
    "AlwaysOpen",
    "ExchangeHours",
    "ForexWeek",
    "MarketHours",
    "TradingScheduler",
    "Window",
    "market_hours",
]
