"""Built-in strategies by config key and by class name."""

from __future__ import annotations

from genebot.core.errors import InputError
from genebot.strategies.moving_average import MovingAverageStrategy
from genebot.trading.strategy import Strategy

BUILTIN: tuple[type[Strategy], ...] = (MovingAverageStrategy,)


def strategy_class(name: str) -> type[Strategy]:
    """Find a strategy by config key (``moving_average``) or class name."""
    for cls in BUILTIN:
        if name in (cls.name, cls.__name__):
            return cls
    known = ", ".join(f"{c.name} ({c.__name__})" for c in BUILTIN)
    raise InputError(f"unknown strategy {name!r}; available: {known}")
