"""Built-in strategies by config key and by class name."""

from __future__ import annotations

import importlib

from genebot.core.errors import InputError
from genebot.strategies.moving_average import MovingAverageStrategy
from genebot.trading.strategy import Strategy

BUILTIN: tuple[type[Strategy], ...] = (MovingAverageStrategy,)


def strategy_class(name: str) -> type[Strategy]:
    """Find a strategy by config key (``moving_average``), class name, or import path
    (``package.module:ClassName``)."""
    if ":" in name:
        return _import(name)
    for cls in BUILTIN:
        if name in (cls.name, cls.__name__):
            return cls
    known = ", ".join(f"{c.name} ({c.__name__})" for c in BUILTIN)
    raise InputError(f"unknown strategy {name!r}; available: {known}")


def _import(path: str) -> type[Strategy]:
    module_name, _, attr = path.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise InputError(f"strategy {path!r} cannot be imported: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise InputError(f"strategy {path!r} is not a subclass of genebot Strategy")
    return cls
