"""ForexSessionStrategy: breakouts during the liquid trading sessions of the forex day.

Trades: inside a preferred session, buys when the close rises above the highest high of the
previous ``breakout_period`` bars and the market moves enough (``ATR / close >=
volatility_filter``). Closes the long at the end of the sessions or when the close falls below
the lowest low of the previous ``breakout_period // 2`` bars. Long only. Made for major forex
pairs on intraday bars, such as the bundled Oanda EUR/USD 1h data (2018).

Sessions are local business hours in their own time zones (``zoneinfo``), so they follow each
place's daylight-saving changes: Sydney 08:00-17:00 Australia/Sydney, Tokyo 09:00-18:00
Asia/Tokyo, London 08:00-17:00 Europe/London, New York 08:00-17:00 America/New_York. London
opens at 08:00 UTC in winter and 07:00 UTC in British summer time.

A bar is *in session* (indicator ``in_session``, 1.0/0.0) when its open time is inside a
preferred session. The clock is known in advance, so the strategy also asks whether the next
bar, at ``open + timeframe``, is still in session: an entry needs that (its order fills at the
next open), and a long is closed on the bar after which the sessions end, so the exit fills at
the session's end.

Parameters: ``preferred_sessions`` (default london, new_york; any of sydney, tokyo, london,
new_york), ``volatility_filter`` (default 0.0005, optimize 0-0.003), ``breakout_period``
(default 20, optimize 10-50) and ``atr_period`` (default 14).
"""

from __future__ import annotations

from collections.abc import Mapping
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import talib

from genebot.data.timeindex import utc_index
from genebot.trading.data import F64, BarData, Signals
from genebot.trading.params import Param, check_choice_list
from genebot.trading.strategy import Strategy

# name -> (time zone, opening minute of the local day, closing minute)
SESSIONS: dict[str, tuple[str, int, int]] = {
    "sydney": ("Australia/Sydney", 8 * 60, 17 * 60),
    "tokyo": ("Asia/Tokyo", 9 * 60, 18 * 60),
    "london": ("Europe/London", 8 * 60, 17 * 60),
    "new_york": ("America/New_York", 8 * 60, 17 * 60),
}


def session_mask(ts: npt.NDArray[np.int64], sessions: list[str]) -> npt.NDArray[np.bool_]:
    """True where the UTC instant ``ts`` (ns) lies inside any of ``sessions``' local hours."""
    out = np.zeros(ts.shape[0], dtype=bool)
    if ts.shape[0] == 0:
        return out
    utc = utc_index(ts)
    for name in sessions:
        zone, start, end = SESSIONS[name]
        local = utc.tz_convert(ZoneInfo(zone))
        minute = np.asarray(local.hour * 60 + local.minute)
        out |= (minute >= start) & (minute < end)
    return out


def _rolling_prev(values: F64, period: int, *, highest: bool) -> F64:
    """Highest (or lowest) of the ``period`` bars before bar *i*, excluding bar *i*."""
    out = np.full(values.shape[0], np.nan)
    if values.shape[0] > period:
        fn = talib.MAX if highest else talib.MIN
        out[1:] = fn(values, timeperiod=period)[:-1]
    return out


class ForexSessionStrategy(Strategy):
    """Session breakout, long only."""

    name = "forex_session"
    default_data = ("EUR/USD", "1h")
    preferred_sessions = Param(["london", "new_york"], doc=f"any of {', '.join(SESSIONS)}")
    volatility_filter = Param(
        0.0005, min=0.0, max=1.0, opt=(0.0, 0.003, 0.00025), doc="minimum ATR / close"
    )
    breakout_period = Param(20, min=2, max=10_000, opt=(10, 50, 5), doc="bars of the breakout")
    atr_period = Param(14, min=1, max=10_000, opt=(7, 28, 7), doc="bars in the ATR")

    def validate_parameters(self) -> None:
        check_choice_list(
            f"strategy {self.strategy_id}",
            "preferred_sessions",
            self.preferred_sessions,
            list(SESSIONS),
            "session",
        )

    def indicators(self, data: BarData) -> Mapping[str, F64]:
        sessions = list(self.preferred_sessions)
        in_session = session_mask(data.ts, sessions)
        next_in = session_mask(data.ts + int(data.timeframe_ns), sessions)
        atr = talib.ATR(data.high, data.low, data.close, timeperiod=self.atr_period)
        return {
            "in_session": in_session.astype(np.float64),
            "next_in_session": next_in.astype(np.float64),
            "breakout_high": _rolling_prev(data.high, self.breakout_period, highest=True),
            "exit_low": _rolling_prev(data.low, max(1, self.breakout_period // 2), highest=False),
            "atr_pct": atr / data.close,
        }

    def signals(self, data: BarData, ind: Mapping[str, F64]) -> Signals:
        close = data.close
        with np.errstate(invalid="ignore"):
            session_ends = ind["next_in_session"] == 0.0
            exits = session_ends | (close < ind["exit_low"])
            entries = (
                (ind["in_session"] == 1.0)
                & (close > ind["breakout_high"])
                & (ind["atr_pct"] >= self.volatility_filter)
                & ~exits
            )
        return Signals(entries=entries, exits=exits)
