"""Config mappings that differ only in strategy parameters, validated once.

A study's configs are one mapping with new ``parameters`` per trial. :class:`ConfigOverlay`
validates the rest of the mapping once (``load_config``) and per config only the parameters
(the ``parameters`` field of a strategy, the same validator), then copies them into the
validated config: the same :class:`GenebotConfig` as ``load_config(mapping)`` (tested). Anything
else — a parameter with a ``$`` (environment interpolation), an orchestrator section, an entry
that is not plain data, a mapping that does not validate — takes ``load_config`` itself, so
errors keep their messages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from genebot.config.loader import GenebotConfig, load_config
from genebot.config.models import StrategyConfig
from genebot.core.errors import ConfigError

_PLAIN = (str, int, float, bool, type(None))
_MISSING = object()


def _plain(value: object) -> bool:
    """Data whose ``repr`` tells it apart from any other (no objects with their own repr)."""
    if isinstance(value, _PLAIN):
        return True
    if isinstance(value, dict | list | tuple):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        return all(isinstance(k, _PLAIN) and _plain(v) for k, v in items)
    return False


def _interpolated(value: object) -> bool:
    if isinstance(value, str):
        return "$" in value
    if isinstance(value, dict | list | tuple):
        values = value.values() if isinstance(value, dict) else value
        return any(_interpolated(v) for v in values)
    return False


class ConfigOverlay:
    """``load(mapping)`` equals ``finish(load_config(mapping))``; the part of the mapping
    outside the strategies' parameters is validated (and finished) once per distinct value."""

    def __init__(self, finish: Callable[[GenebotConfig], GenebotConfig] | None = None) -> None:
        self._finish = finish or (lambda cfg: cfg)
        self._bases: dict[str, GenebotConfig] = {}

    def load(self, config: Mapping[str, Any]) -> GenebotConfig:
        split = self._split(config)
        if split is None:
            return self._finish(load_config(config))
        key, base, params = split
        cfg = self._bases.get(key)
        if cfg is None:
            try:
                cfg = self._finish(load_config(base))
            except ConfigError:
                return self._finish(load_config(config))  # its own message, parameters too
            self._bases[key] = cfg
        return self._with_parameters(cfg, params) or self._finish(load_config(config))

    @staticmethod
    def _split(config: Mapping[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
        """(key of the rest, the rest, parameters by strategy) or None: not for an overlay."""
        strategies = config.get("strategies")
        if "orchestrator" in config or not isinstance(strategies, dict) or not strategies:
            return None
        rest: dict[str, Any] = {}
        params: dict[str, Any] = {}
        for name, entry in strategies.items():
            if not isinstance(entry, dict):
                return None
            rest[name] = {k: v for k, v in entry.items() if k != "parameters"}
            params[name] = entry.get("parameters", _MISSING)
        base = {**config, "strategies": rest}
        if not _plain(base) or not _plain([p for p in params.values() if p is not _MISSING]):
            return None
        if _interpolated(list(params.values())):
            return None
        return repr(base), base, params

    @staticmethod
    def _with_parameters(cfg: GenebotConfig, params: dict[str, Any]) -> GenebotConfig | None:
        if list(cfg.strategies) != list(params):
            return None
        strategies = dict(cfg.strategies)
        for name, given in params.items():
            if given is _MISSING:
                continue
            try:
                checked = StrategyConfig.model_validate({"parameters": given}).parameters
            except ValidationError:
                return None
            strategies[name] = strategies[name].model_copy(update={"parameters": checked})
        return cfg.model_copy(update={"strategies": strategies})
