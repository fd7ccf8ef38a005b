"""Showing statistics (no pandas or plotly here: the command line imports it at start)."""

from __future__ import annotations

import math
import re
from decimal import Decimal

PERCENT_KEYS = frozenset(
    {
        "total_return",
        "cagr",
        "annual_volatility",
        "max_drawdown",
        "avg_drawdown",
        "win_rate",
        "best_trade",
        "worst_trade",
        "avg_trade",
        "exposure",
    }
)
"""Statistics that are fractions and read best as percentages."""

DURATION_KEYS = frozenset({"duration", "max_drawdown_duration", "avg_trade_duration"})
"""Statistics that are durations in whole seconds (``int``), shown as ``3 days 04:05:00``."""

# A pandas timedelta text, as stored by older runs: "0 days 01:25:44.680851063".
_TIMEDELTA = re.compile(r"(-?\d+) days? (\d{2}):(\d{2}):(\d{2})(\.\d+)?")


def format_duration(seconds: int) -> str:
    """``3 days 04:05:00`` (``1 day``, ``0 days``; whole seconds, negative with a minus)."""
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    unit = "day" if days == 1 else "days"
    return f"{sign}{days} {unit} {hours:02d}:{minutes:02d}:{secs:02d}"


def _duration_text(text: str) -> str:
    """An older run's timedelta text, rounded to the second (half-even)."""
    match = _TIMEDELTA.fullmatch(text.strip())
    if match is None:
        return text
    days, hours, minutes, secs, fraction = match.groups()
    whole = abs(int(days)) * 86_400 + int(hours) * 3_600 + int(minutes) * 60 + int(secs)
    if fraction:
        part = Decimal(fraction)
        whole += 1 if part > Decimal("0.5") or (part == Decimal("0.5") and whole % 2) else 0
    return format_duration(-whole if days.startswith("-") else whole)


def format_stat(key: str, value: object) -> str:
    """Format one statistic for display: fractions as percents, durations (whole seconds) as
    ``3 days 04:05:00``, exact Decimals with all their digits, None as an em dash."""
    if value is None:
        return "—"
    if key in DURATION_KEYS and not isinstance(value, bool):
        if isinstance(value, int):
            return format_duration(value)
        if isinstance(value, str):
            return _duration_text(value)
    if isinstance(value, Decimal):  # exact money: every digit, grouped
        return f"{value:,f}" if value.is_finite() else "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return "—"
    if key in PERCENT_KEYS:
        return f"{value * 100:.2f}%"
    return f"{value:,.4f}"
