"""Fast-mode scans: the first bar at which a resting level or a trailing stop can act.

They take anything with ``high`` and ``low`` float arrays and a length (venue bar columns, feeds).
Conservative by design: they may name a bar where nothing happens (a harmless visit), never a
bar too late.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Protocol

import numpy as np
import numpy.typing as npt

from genebot.core.precision import to_decimal

F64 = npt.NDArray[np.float64]
_REL_TOL = 1e-9  # wake a little early rather than late: a visit that does nothing is harmless


class HighLow(Protocol):
    high: F64
    low: F64

    def __len__(self) -> int: ...


def first_row(
    mask_fn: Callable[[int, int], npt.NDArray[np.bool_]], start: int, n: int
) -> int | None:
    """First row >= start where ``mask_fn(lo, hi)`` (a boolean array for rows lo..hi) is true,
    searching in growing windows so a near hit costs little and a far one stays O(n)."""
    window = 64
    lo = start
    while lo < n:
        hi = min(n, lo + window)
        hits = np.flatnonzero(mask_fn(lo, hi))
        if hits.size:
            return lo + int(hits[0])
        lo = hi
        window *= 4
    return None


def scan_level(bars: HighLow, start: int, level: Decimal, above: bool) -> int | None:
    """First row >= start whose high reaches ``level`` (above) or whose low reaches it."""
    x = float(level)
    if above:
        return first_row(lambda lo, hi: bars.high[lo:hi] >= x * (1 - _REL_TOL), start, len(bars))
    return first_row(lambda lo, hi: bars.low[lo:hi] <= x * (1 + _REL_TOL), start, len(bars))


def scan_trailing(
    bars: HighLow,
    start: int,
    watermark: Decimal,
    offset: Decimal,
    buy: bool,
    tick: Decimal = Decimal(0),
) -> int | None:
    """First row >= start where a trailing stop (watermark moved by earlier bars) is hit.
    The matcher rounds the stop to the tick, so the scan allows one tick of slack."""
    n = len(bars)
    wm, off, slack = float(watermark), float(offset), float(tick)
    lo = start
    window = 64
    while lo < n:
        hi = min(n, lo + window)
        if buy:
            marks = np.minimum.accumulate(np.concatenate(([wm], bars.low[lo : hi - 1])))
            hits = np.flatnonzero(bars.high[lo:hi] >= marks * (1 + off) * (1 - _REL_TOL) - slack)
            wm = min(wm, float(bars.low[lo:hi].min()))
        else:
            marks = np.maximum.accumulate(np.concatenate(([wm], bars.high[lo : hi - 1])))
            hits = np.flatnonzero(bars.low[lo:hi] <= marks * (1 - off) * (1 + _REL_TOL) + slack)
            wm = max(wm, float(bars.high[lo:hi].max()))
        if hits.size:
            return lo + int(hits[0])
        lo = hi
        window *= 4
    return None


def trail_over(
    extremes: F64,
    watermark: Decimal,
    buy: bool,
    stop_at: Callable[[Decimal], Decimal],
    stop: Decimal | None,
) -> tuple[Decimal, Decimal | None, int]:
    """A trailing stop moved over skipped bars at once, exactly as bar by bar: ``extremes`` are
    the bars' lows (a buy stop) or highs (a sell stop) in order, none of which triggered it.
    Returns the new watermark, the new stop (None when it does not change) and the index of the
    bar whose move set it (the bar per_bar mode would stamp the change with)."""
    running = np.minimum.accumulate(extremes) if buy else np.maximum.accumulate(extremes)
    # Only a new running extreme can move the watermark: visit those bars, in Decimal.
    changed = np.flatnonzero(running[1:] != running[:-1]) + 1 if len(running) else running
    moved: Decimal | None = None
    at = -1
    for i in (0, *changed.tolist()) if len(running) else ():
        extreme = to_decimal(float(extremes[i]))
        if (buy and extreme < watermark) or (not buy and extreme > watermark):
            watermark = extreme
            level = stop_at(extreme)
            if level != stop:
                stop = moved = level
                at = i
    return watermark, moved, at


def trailing_stop_rule(
    round_price: Callable[[Decimal], Decimal], buy: bool, offset: Decimal | None
) -> Callable[[Decimal], Decimal]:
    """A trailing stop's level for a watermark: ``offset`` (a fraction) away from it, on the
    tick (``round_price``); above the watermark for a buy stop, below it for a sell stop."""
    factor = 1 + (offset or Decimal(0)) if buy else 1 - (offset or Decimal(0))
    return lambda mark: round_price(mark * factor)
