"""Load, validate, override and show the genebot configuration.

``load_config`` reads a YAML file (or a mapping), substitutes ``${VAR}`` / ``${VAR:-default}``
from the environment and validates it into a frozen :class:`GenebotConfig`. Every problem becomes
one line naming the file, the key path and what is allowed, raised as :class:`ConfigError`.
``apply_overrides`` applies CLI flags and reports a bad flag by its name.
"""

from __future__ import annotations

import copy
import difflib
import logging
import os
import re
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_core import ErrorDetails

from genebot.config.models import (
    BacktestConfig,
    DataFileConfig,
    EnvStr,
    ExchangeConfig,
    GenebotConfig,
    PositionSizingConfig,
    StrategyConfig,
)
from genebot.config.schema_keys import allowed_keys, type_at
from genebot.config.sections import LoggingConfig
from genebot.core.config import KeyedValueError
from genebot.core.errors import ConfigError
from genebot.orchestrator.settings import ALLOCATION_KEYS
from genebot.risk.config import RiskManagementConfig

log = logging.getLogger("genebot.backtest")

__all__ = [
    "BacktestConfig",
    "DataFileConfig",
    "ExchangeConfig",
    "GenebotConfig",
    "LoggingConfig",
    "PositionSizingConfig",
    "RiskManagementConfig",
    "StrategyConfig",
    "apply_overrides",
    "default_data_config",
    "format_validation_error",
    "hide_secrets",
    "load_config",
    "redacted_dict",
]

Loc = tuple[str | int, ...]
_SECRET_KEYS = ("api_key", "api_secret", "passphrase", "password")

# ---------------------------------------------------------------------------------------------
# YAML reading


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of silently keeping the last one."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, typing.Hashable) and key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first given on line {seen[key] + 1})",
                key_node.start_mark,
            )
        if isinstance(key, typing.Hashable):
            seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=True)


def _construct_timestamp(loader: _StrictLoader, node: yaml.ScalarNode) -> str:
    # Keep dates as typed: the models parse them, and 2021-13-01 must not crash the loader.
    return str(loader.construct_scalar(node))


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def _read_yaml(path: Path) -> dict[str, Any]:
    """Parse ``path``; the top level must be a mapping (an empty file means all defaults)."""
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory, expected a YAML config file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc}") from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(_yaml_error_line(path, exc)) from None
    except (ValueError, TypeError) as exc:  # a scalar PyYAML cannot construct
        raise ConfigError(f"{path}: invalid YAML value: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: top level must be a mapping of sections (exchanges, backtest, strategies, "
            f"risk_management, logging), got {type(data).__name__}"
        )
    return data


def _yaml_error_line(path: Path, exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    detail = f"{problem} ({context})" if context else problem
    return f"{path}: {where}invalid YAML: {detail}"


# ---------------------------------------------------------------------------------------------
# ${VAR} interpolation

_TOKEN_RE = re.compile(r"\$\$|\$\{([^}]*)\}|\$\{")
_EXPR_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$", re.DOTALL)
_WHOLE_RE = re.compile(r"^\$\{[^}]*\}$")


def _interpolate(value: object, env: Mapping[str, str], loc: Loc, source: str) -> object:
    """Substitute ``${VAR}`` and ``${VAR:-default}`` in every string; ``$$`` is a literal ``$``."""
    if isinstance(value, Mapping):
        return {k: _interpolate(v, env, (*loc, str(k)), source) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_interpolate(v, env, (*loc, i), source) for i, v in enumerate(value)]
    if not isinstance(value, str) or "$" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "$$":
            return "$"
        expr = _EXPR_RE.match(match.group(1) or "")
        if token == "${" or expr is None:
            shown = "" if loc and loc[-1] in _SECRET_KEYS else f" in {value!r}"  # a typed secret?
            raise ConfigError(
                f"{source}: {_path(loc)}: malformed variable reference{shown}; "
                "use ${NAME} or ${NAME:-default}"
            )
        name, default = expr.group(1), expr.group(2)
        found = env.get(name)
        if default is not None and not found:
            return default
        if found is None:
            raise ConfigError(
                f"{source}: {_path(loc)}: environment variable {name} is not set "
                f"(set it, or give a default with ${{{name}:-default}})"
            )
        return found

    result = _TOKEN_RE.sub(substitute, value)
    return EnvStr(result) if _WHOLE_RE.match(value) else result


# ---------------------------------------------------------------------------------------------
# Error formatting


def _path(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _show(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower() if value is not None else "null"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    text = repr(str(value)) if isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _problem(error: ErrorDetails) -> tuple[Loc, str, str | None]:
    """(key path, message, shown input or None) for one pydantic error."""
    loc: Loc = tuple(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, KeyedValueError):
        return (*loc, *cause.key), cause.message, None
    if loc and loc[-1] == "[key]":
        return loc[:-2], f"key {loc[-2]!r} must be text (quote it in YAML)", None
    if kind == "extra_forbidden":
        model = type_at(loc[:-1])
        if isinstance(model, type) and issubclass(model, BaseModel):
            allowed = allowed_keys(model)
            message = f"unknown key; allowed: {', '.join(allowed)}"
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            return loc, message + (f"; did you mean {close[0]}?" if close else ""), None
        return loc, "unknown key", None
    if kind == "missing":
        return loc, "is required", None
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        message = "must not be empty"
    elif kind in ("model_type", "dict_type", "model_attributes_type"):
        message = "must be a mapping of keys to values"
    elif kind in ("tuple_type", "list_type"):
        message = "must be a list"
    elif kind == "literal_error":
        message = f"must be one of {ctx.get('expected')}"
    elif isinstance(cause, ValueError):
        message = str(cause)
    else:
        message = error["msg"].replace("Input should be", "must be")
        message = message.replace("Value error, ", "")
    secret = type_at(loc) is SecretStr or bool(loc and loc[-1] in _SECRET_KEYS)
    return loc, message, "***" if secret else _show(error["input"])


def strategy_origin(data: Mapping[str, Any]) -> dict[str, int]:
    """Name -> index in ``orchestrator.strategies`` when the file has no ``strategies:`` of its
    own (the strategies to run are then derived from that list)."""
    if isinstance(data.get("strategies"), Mapping) and data["strategies"]:
        return {}
    orch = data.get("orchestrator")
    listed = orch.get("strategies") if isinstance(orch, Mapping) else None
    if not isinstance(listed, list):
        return {}
    return {e["name"]: i for i, e in enumerate(listed) if isinstance(e, Mapping) and "name" in e}


def written_loc(loc: Loc, data: Mapping[str, Any]) -> Loc:
    """Where the user wrote ``loc``: a derived ``strategies.<name>...`` is its entry in
    ``orchestrator.strategies``; a flat allocation key given nested is ``allocation.<key>``."""
    origin = strategy_origin(data)
    if len(loc) >= 2 and loc[0] == "strategies" and loc[1] in origin:
        return ("orchestrator", "strategies", origin[str(loc[1])], *loc[2:])
    orch = data.get("orchestrator")
    nested = orch.get("allocation") if isinstance(orch, Mapping) else None
    if len(loc) >= 2 and loc[0] == "orchestrator" and isinstance(nested, Mapping):
        for key, flat in ALLOCATION_KEYS.items():
            if loc[1] == flat and key in nested:
                return ("orchestrator", "allocation", key, *loc[2:])
    return loc


def format_validation_error(
    exc: ValidationError, source: str, data: Mapping[str, Any] | None = None
) -> str:
    """One line per problem: ``<source>: <key.path>: <what is wrong> (got <value>)``."""
    lines: dict[str, str] = {}
    for error in exc.errors():
        loc, message, shown = _problem(error)
        where = written_loc(loc, data or {})
        line = f"{source}: {_path(where)}: {message}" + (f" (got {shown})" if shown else "")
        keep_first = where != loc  # a derived copy's error yields to the written entry's
        if not (keep_first and _path(where) in lines):
            lines[_path(where)] = line
    return "\n".join(lines.values())


# ---------------------------------------------------------------------------------------------
# Public API


ConfigInput = str | Path | Mapping[str, object] | GenebotConfig | None  # what load_config reads


def load_config(
    source: ConfigInput,
    *,
    env: Mapping[str, str] | None = None,
) -> GenebotConfig:
    """Load and validate a config from a YAML path, a mapping, a config (returned as is) or None.

    ``None`` gives the defaults. Strings are interpolated from ``env`` (default ``os.environ``).
    Raises :class:`ConfigError` listing every problem, one per line.
    """
    if source is None:
        return GenebotConfig()
    if isinstance(source, GenebotConfig):
        return source
    if isinstance(source, Mapping):
        label, data = "<config>", dict(source)
    else:
        label, data = str(source), _read_yaml(Path(source))
    resolved = _interpolate(data, os.environ if env is None else env, (), label)
    try:
        return GenebotConfig.model_validate(resolved)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, label, data)) from None


_ANY = object()


def _matches(loc: Loc, pattern: tuple[object, ...]) -> bool:
    if len(loc) < len(pattern):
        return False
    return all(p is _ANY or p == part for p, part in zip(pattern, loc[: len(pattern)], strict=True))


def _select_strategies(strategies: dict[str, Any], names: Sequence[str], flag: str) -> None:
    """Enable exactly ``names`` (config keys or class names); add unknown ones with defaults."""
    selected: set[str] = set()
    template = next(iter(strategies.values()), None)
    for name in names:
        if not name or not name.strip():
            raise ConfigError(f"{flag} {name!r}: must name a strategy")
        by_type = [key for key, s in strategies.items() if s.get("type") == name]
        if name in strategies:
            selected.add(name)
        elif by_type:
            selected.update(by_type)
        else:
            entry: dict[str, Any] = {"enabled": True, "parameters": {}}
            if template is not None:
                for key in ("symbols", "timeframes", "position_sizing"):
                    entry[key] = template[key]
            strategies[name] = entry
            selected.add(name)
    for key, entry in strategies.items():
        entry["enabled"] = key in selected


def apply_overrides(
    cfg: GenebotConfig,
    *,
    strategy: str | None = None,
    strategies: Sequence[str] | None = None,
    symbols: Sequence[str] | None = None,
    timeframe: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    data_dir: str | None = None,
    output_dir: str | None = None,
    fee: float | None = None,
    initial_cash: float | None = None,
    data_file: str | None = None,
    engine_mode: str | None = None,
    on_broken: str | None = None,
    on_gap: str | None = None,
) -> GenebotConfig:
    """Return a new validated config with CLI flags applied; ``None`` leaves a value unchanged.

    ``strategy``/``strategies`` enable only the named strategies (config keys or class names); a
    name not in the config is added with empty parameters and the symbols, timeframes and
    position sizing of the first configured strategy. ``symbols``/``timeframe`` replace those of
    every enabled strategy; ``data_file`` makes ``backtest.data`` that one file for the first
    symbol, at ``timeframe`` or else at the timeframe its bars have (read from the file), which
    the enabled strategies then trade. A bad value raises :class:`ConfigError` naming the flag,
    e.g. ``--fee 2: must be >= 0 and < 0.1``.
    """
    if data_file and timeframe is None:  # (an empty name is refused below, as the flag's)
        from genebot.data.readers import infer_timeframe  # pandas: only when a file is read

        timeframe = infer_timeframe(data_file)
        log.info("%s: timeframe %s inferred from the data", data_file, timeframe)
    data: dict[str, Any] = cfg.model_dump(by_alias=True)
    backtest: dict[str, Any] = data["backtest"]
    flags: list[tuple[tuple[object, ...], str, str]] = []
    simple = [
        ("fee", "--fee", fee),
        ("initial_cash", "--initial-cash", initial_cash),
        ("start_date", "--start-date", start_date),
        ("end_date", "--end-date", end_date),
        ("data_dir", "--data-dir", data_dir),
        ("output_dir", "--output-dir", output_dir),
        ("engine_mode", "--engine-mode", engine_mode),
        ("on_broken", "--on-broken", on_broken),
        ("on_gap", "--on-gap", on_gap),
    ]
    _set_backtest_keys(backtest, simple, flags)
    if end_date is not None and start_date is None:
        flags.append((("backtest", "start_date"), "--end-date", _show_flag(end_date)))

    names = [*([strategy] if strategy is not None else []), *(strategies or [])]
    if strategy is not None or strategies is not None:
        flag = "--strategy" if strategy is not None else "--strategies"
        if not names:
            raise ConfigError(f"{flag}: must name at least one strategy")
        _select_strategies(data["strategies"], names, flag)
    enabled = [s for s in data["strategies"].values() if s.get("enabled", True)]
    if symbols is not None:
        if not symbols:
            raise ConfigError("--symbols: must name at least one symbol, e.g. BTC/USDT")
        for entry in enabled:
            entry["symbols"] = list(symbols)
        flags.append((("strategies", _ANY, "symbols"), "--symbols", ",".join(symbols)))
    if timeframe is not None:
        for entry in enabled:
            entry["timeframes"] = [timeframe]
        flags.append((("strategies", _ANY, "timeframes"), "--timeframe", _show_flag(timeframe)))
    if data_file is not None:
        _pin_data_file(data, enabled, data_file, symbols, timeframe)
        flags.append((("backtest", "data"), "--data-file", _show_flag(data_file)))
    if names:
        flag = "--strategy" if strategy is not None else "--strategies"
        flags.append((("strategies",), flag, ",".join(names)))

    try:
        return GenebotConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_override_message(exc, flags)) from None


def _set_backtest_keys(
    backtest: dict[str, Any],
    given: Sequence[tuple[str, str, object]],
    flags: list[tuple[tuple[object, ...], str, str]],
) -> None:
    """``backtest.<key>`` from each (key, flag, value) given (not None), noting the flag."""
    for key, flag, value in given:
        if value is not None:
            backtest[key] = value
            flags.append((("backtest", key), flag, _show_flag(value)))


def _pin_data_file(
    data: dict[str, Any],
    enabled: list[dict[str, Any]],
    data_file: str,
    symbols: Sequence[str] | None,
    timeframe: str | None,
) -> None:
    """``--data-file``: the one file of the run; the enabled strategies trade its symbol only."""
    if symbols is not None and len(symbols) > 1:
        raise ConfigError(
            f"--data-file holds the bars of one symbol but --symbols names {len(symbols)}: "
            f"{', '.join(symbols)}; name one"
        )
    pool = [*enabled, *data["strategies"].values()]
    first = symbols[0] if symbols else (pool[0]["symbols"][0] if pool else "BTC/USDT")
    for entry in enabled:
        entry["symbols"] = [first]
    pinned: dict[str, Any] = {"file": data_file, "symbol": first}
    if timeframe is not None:
        pinned["timeframe"] = timeframe
    data["backtest"]["data"] = [pinned]


def default_data_config(base: GenebotConfig, strategy: str) -> GenebotConfig | None:
    """``base`` running only ``strategy`` on the bundled data its class declares, or None when
    it declares none. ``default_data`` gives the symbols and timeframe; ``default_setup`` adds
    what those cannot say (a second venue, explicit files, the account currency): its
    ``exchanges`` and ``backtest`` sections are merged over ``base``, file paths taken relative
    to ``backtest.data_dir``, and its ``strategy`` section over the strategy's entry."""
    from genebot.strategies.registry import catalog_for, strategy_class

    cls = strategy_class(strategy, catalog_for(base.strategies_path))
    if cls.default_data is None:
        return None
    symbols, timeframe = cls.default_data
    cfg = apply_overrides(base, strategy=strategy, symbols=symbols.split(","), timeframe=timeframe)
    setup = copy.deepcopy(dict(cls.default_setup))
    if not setup:
        return cfg
    data = cfg.model_dump(by_alias=True)
    for entry in setup.get("backtest", {}).get("data", []):
        entry["file"] = str(Path(cfg.backtest.data_dir) / entry["file"])
    for section in ("exchanges", "backtest"):
        data[section] = _merged(data[section], setup.get(section, {}))
    for key, entry in data["strategies"].items():
        if entry["enabled"]:
            data["strategies"][key] = _merged(entry, setup.get("strategy", {}))
    try:
        return GenebotConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, f"{cls.__name__}.default_setup")) from None


def _merged(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` merged in: mappings key by key, anything else replaced."""
    out = dict(base)
    for key, value in extra.items():
        old = out.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            out[key] = _merged(old, value)
        else:
            out[key] = value
    return out


def _show_flag(value: object) -> str:
    """A flag value as typed on the command line ('' for an empty string)."""
    return "''" if value == "" else _show(value).strip("'")


def _override_message(
    exc: ValidationError, flags: list[tuple[tuple[object, ...], str, str]]
) -> str:
    lines: list[str] = []
    for error in exc.errors():
        loc, message, shown = _problem(error)
        flag = next(((f, v) for pattern, f, v in flags if _matches(loc, pattern)), None)
        if flag is not None:
            line = f"{flag[0]} {flag[1]}: {message}"
            if shown and shown.strip("'") != flag[1]:
                line += f" (got {shown})"
        else:
            line = f"overrides: {_path(loc)}: {message}" + (f" (got {shown})" if shown else "")
        if line not in lines:
            lines.append(line)
    return "\n".join(lines)


def _plain(value: object) -> object:
    if isinstance(value, SecretStr):
        return "***"
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def hide_secrets(data: Any) -> Any:
    """Raw config data (as read from YAML) with every set secret shown as ``***``."""
    if isinstance(data, Mapping):
        return {
            key: ("***" if key in _SECRET_KEYS and value else hide_secrets(value))
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [hide_secrets(item) for item in data]
    return data


def redacted_dict(cfg: GenebotConfig) -> dict[str, Any]:
    """The config as plain data for ``config show``; every secret that is set becomes ``***``."""
    return {key: _plain(value) for key, value in cfg.model_dump(by_alias=True).items()}
