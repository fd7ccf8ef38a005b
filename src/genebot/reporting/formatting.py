"""Showing statistics (no pandas or plotly here: the command line imports it at start)."""

from __future__ import annotations

import math

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


def format_stat(key: str, value: object) -> str:
    """Format one statistic for display: fractions as percents, None as an em dash."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return "—"
    if key in PERCENT_KEYS:
        return f"{value * 100:.2f}%"
    return f"{value:,.4f}"
