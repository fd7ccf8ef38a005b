"""Every strategy genebot knows: the built-ins and the user's own, by config key or class name.

Built-ins are imported lazily, one module each, so one broken module never hides the others.
User strategies are classes inheriting :class:`Strategy` in ``.py`` files of the folder named
by ``strategies_path``; a file that fails to import, or a class that fails its own parameter
check, is reported in one line and skipped — the rest still load.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import sys
from dataclasses import dataclass, field
from pathlib import Path

from genebot.core.errors import ConfigError, GenebotError, InputError, ParameterError
from genebot.trading.strategy import Strategy

# (config key, module, class): a built-in is imported only when it is asked for.
BUILTIN_MODULES: tuple[tuple[str, str, str], ...] = (
    ("moving_average", "genebot.strategies.moving_average", "MovingAverageStrategy"),
    ("rsi_strategy", "genebot.strategies.rsi_strategy", "RSIStrategy"),
    ("mean_reversion", "genebot.strategies.mean_reversion", "MeanReversionStrategy"),
    ("multi_indicator", "genebot.strategies.multi_indicator", "MultiIndicatorStrategy"),
    ("advanced_momentum", "genebot.strategies.momentum", "AdvancedMomentumStrategy"),
    ("atr_volatility", "genebot.strategies.atr_volatility", "ATRVolatilityStrategy"),
    ("ml_pattern", "genebot.strategies.ml_pattern", "MLPatternStrategy"),
    ("forex_session", "genebot.strategies.forex_session", "ForexSessionStrategy"),
    ("forex_news", "genebot.strategies.forex_news", "ForexNewsStrategy"),
    (
        "swing_trend_momentum",
        "genebot.strategies.swing_trend_momentum",
        "SwingTrendMomentumStrategy",
    ),
    ("forex_carry", "genebot.strategies.forex_carry", "ForexCarryTradeStrategy"),
    (
        "cross_market_arbitrage",
        "genebot.strategies.cross_market_arbitrage",
        "CrossMarketArbitrageStrategy",
    ),
    (
        "triangular_arbitrage",
        "genebot.strategies.triangular_arbitrage",
        "TriangularArbitrageStrategy",
    ),
    (
        "crypto_forex_arbitrage",
        "genebot.strategies.crypto_forex_arbitrage",
        "CryptoForexArbitrageStrategy",
    ),
    ("evolved", "genebot.strategies.evolved", "EvolvedStrategy"),
)


@dataclass
class Catalog:
    """The strategies found, where each came from, and what could not be loaded."""

    classes: list[type[Strategy]] = field(default_factory=list)
    sources: dict[type[Strategy], str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def find(self, name: str) -> type[Strategy] | None:
        for cls in self.classes:
            if name in (cls.name, cls.__name__):
                return cls
        return None


def builtin_catalog() -> Catalog:
    catalog = Catalog()
    for _key, module_name, class_name in BUILTIN_MODULES:
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # not shipped in this build
            catalog.problems.append(f"built-in {class_name}: {type(exc).__name__}: {exc}")
            continue
        except Exception as exc:  # a broken module must not hide the other strategies
            catalog.problems.append(f"built-in {class_name}: {type(exc).__name__}: {exc}")
            continue
        catalog.classes.append(cls)
        catalog.sources[cls] = "built-in"
    return catalog


def load_user_strategies(path: str | Path, catalog: Catalog | None = None) -> Catalog:
    """Import every ``*.py`` in ``path`` and collect the Strategy subclasses defined there."""
    catalog = catalog or Catalog()
    folder = Path(path)
    if not folder.is_dir():  # named on purpose: running without those strategies would mislead
        what = "is a file, not a folder" if folder.exists() else "folder not found"
        raise ConfigError(f"strategies_path {folder}: {what}")
    for file in sorted(folder.glob("*.py")):
        if file.name.startswith("_"):
            continue
        module_name = f"genebot_user_strategies.{file.stem}"
        try:
            spec = importlib.util.spec_from_file_location(module_name, file)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
        except Exception as exc:  # any error in user code: report it, keep going
            if isinstance(exc.__cause__, ParameterError):  # a Param's own check (Python 3.11
                exc = exc.__cause__  # wraps errors of __set_name__ in a RuntimeError)
            catalog.problems.append(f"{file}: cannot be imported: {type(exc).__name__}: {exc}")
            continue
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Strategy) and cls is not Strategy and cls.__module__ == module_name:
                _add_user_class(catalog, cls, file)
    return catalog


def _add_user_class(catalog: Catalog, cls: type[Strategy], file: Path) -> None:
    if not cls.name:
        cls.name = cls.__name__
    try:
        cls()  # the defaults must pass the class's own parameter checks
    except GenebotError as exc:
        catalog.problems.append(f"{file}: {cls.__name__}: {exc}")
        return
    except Exception as exc:
        catalog.problems.append(
            f"{file}: {cls.__name__} fails to start: {type(exc).__name__}: {exc}"
        )
        return
    clash = catalog.find(cls.name) or catalog.find(cls.__name__)
    builtin = next((c for k, _, c in BUILTIN_MODULES if {cls.name, cls.__name__} & {k, c}), None)
    if clash is not None or builtin is not None:
        other = (
            f"{clash.__name__} from {catalog.sources[clash]}" if clash else f"{builtin} (built-in)"
        )
        catalog.problems.append(
            f"{file}: {cls.__name__} ({cls.name}) clashes with {other}; rename it"
        )
        return
    catalog.classes.append(cls)
    catalog.sources[cls] = str(file)


def catalog_for(strategies_path: str | Path | None) -> Catalog:
    """Every strategy: all built-ins (imported) and the user's."""
    catalog = builtin_catalog()
    if strategies_path:
        load_user_strategies(strategies_path, catalog)
    return catalog


def user_catalog(strategies_path: str | Path | None) -> Catalog:
    """Only the user's strategies (built-ins are found lazily by :func:`strategy_class`)."""
    catalog = Catalog()
    if strategies_path:
        load_user_strategies(strategies_path, catalog)
    return catalog


def strategy_class(name: str, catalog: Catalog | None = None) -> type[Strategy]:
    """Find a strategy by config key (``moving_average``), class name, or import path
    (``package.module:ClassName``)."""
    if ":" in name:
        return _import(name)
    if catalog is not None:
        found = catalog.find(name)
        if found is not None:
            return found
    for key, module_name, class_name in BUILTIN_MODULES:
        if name in (key, class_name):
            return _import(f"{module_name}:{class_name}")
    known = [f"{key} ({cls})" for key, _, cls in BUILTIN_MODULES]
    if catalog is not None:
        known += [
            f"{c.name} ({c.__name__})"
            for c in catalog.classes
            if catalog.sources.get(c) != "built-in"
        ]
    keys = [key for key, _, _ in BUILTIN_MODULES] + [cls for _, _, cls in BUILTIN_MODULES]
    if catalog is not None:
        keys += [n for c in catalog.classes for n in (c.name, c.__name__)]
    raise InputError(
        f"unknown strategy {name!r}{did_you_mean(name, keys)}; known: {', '.join(known)}"
    )


def did_you_mean(name: str, candidates: list[str]) -> str:
    """`` (did you mean X?)`` for the closest of ``candidates`` to ``name``, or ``""``."""
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    if not close:  # a prefix typed short ("moving_avg") is still a strong hint
        close = [c for c in candidates if c.lower().startswith(name.lower())][:1] if name else []
    return f" (did you mean {close[0]}?)" if close else ""


def _import(path: str) -> type[Strategy]:
    module_name, _, attr = path.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise InputError(f"strategy {path!r} cannot be imported: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise InputError(f"strategy {path!r} is not a subclass of genebot Strategy")
    return cls
