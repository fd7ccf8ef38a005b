"""Market data values.

Bars carry their OPEN time in ``ts``; a bar is known at ``ts + timeframe``.
"""

from __future__ import annotations

from typing import NamedTuple


class Bar(NamedTuple):
    instrument_id: str
    timeframe_ns: int
    ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float


class QuoteTick(NamedTuple):
    instrument_id: str
    ts: int
    bid: float
    ask: float
    bid_size: float
    ask_size: float
