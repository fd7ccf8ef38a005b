"""``config validate`` and ``config-help``: check config files with YAML line numbers, and write
an annotated template generated from the models (descriptions, defaults, choices, bounds)."""

from __future__ import annotations

import os
import re
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, SecretStr, ValidationError

from genebot.config.loader import (
    Loc,
    _interpolate,
    _path,
    _problem,
    _read_yaml,
    written_loc,
)
from genebot.config.models import GenebotConfig, OrchestratorConfig
from genebot.core.config import unwrap
from genebot.core.errors import ConfigError
from genebot.orchestrator.settings import ALLOCATION_KEYS

_NESTED = {flat: key for key, flat in ALLOCATION_KEYS.items()}


class _LenientEnv(Mapping[str, str]):
    """The environment; an unset variable reads as empty so a file validates anywhere."""

    def __init__(self) -> None:
        self.missing: list[str] = []

    def __getitem__(self, key: str) -> str:
        return os.environ.get(key, "")

    def get(self, key: str, default: object = None) -> Any:
        if key not in os.environ:
            self.missing.append(key)
        return os.environ.get(key, "")

    def __iter__(self) -> Iterator[str]:
        return iter(os.environ)

    def __len__(self) -> int:
        return len(os.environ)


def _line_of(node: yaml.Node | None, loc: Loc) -> int:
    """1-based line of the deepest node along ``loc`` (the file's first line if none)."""
    line = 1 if node is None else node.start_mark.line + 1
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if str(key.value) == str(part):
                    child, line = value, key.start_mark.line + 1
                    break
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line


def validate_file(path: Path) -> list[str]:
    """Every problem of one config file as ``file:line: key.path: what is wrong``; [] if OK.

    Besides the schema: every strategy's class exists and its parameters are within the
    class's declared bounds (what a run would refuse)."""
    data = _read_yaml(path)  # syntax errors: ConfigError with line and column
    root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    resolved = _interpolate(data, _LenientEnv(), (), str(path))
    lines: dict[str, str] = {}

    def add(loc: Loc, message: str, shown: str | None = None) -> None:
        where = written_loc(loc, data)
        line = f"{path}:{_line_of(root, where)}: {_path(where)}: {message}"
        line += f" (got {shown})" if shown else ""
        if not (where != loc and _path(where) in lines):  # a derived copy yields
            lines[_path(where)] = line

    try:
        cfg = GenebotConfig.model_validate(resolved)
    except ValidationError as exc:
        for error in exc.errors():
            add(*_problem(error))
        return list(lines.values())
    for loc, message in strategy_problems(cfg):
        add(loc, message)
    return list(lines.values())


def strategy_problems(cfg: GenebotConfig) -> list[tuple[Loc, str]]:
    """(key path, message) for each strategy whose class is unknown or whose parameters its
    class refuses (unknown name, out of bounds, inconsistent)."""
    from genebot.core.errors import InputError
    from genebot.strategies.registry import strategy_class, user_catalog

    try:
        catalog = user_catalog(cfg.strategies_path)
    except InputError as exc:
        return [(("strategies_path",), str(exc))]
    found: list[tuple[Loc, str]] = []
    for key, entry in cfg.strategies.items():
        try:
            cls = strategy_class(entry.type or key, catalog)
        except InputError as exc:
            found.append((("strategies", key, "type"), str(exc)))
            continue
        params = dict(entry.parameters)
        try:
            cls(params, strategy_id=key)
        except InputError as exc:
            message = str(exc).removeprefix(f"strategy {key}: ")
            words = set(re.findall(r"[A-Za-z_]\w*", message))
            named = [p for p in params if p in words]
            found.append((("strategies", key, "parameters", *named[:1]), message))
    return found


def check_files(paths: list[Path]) -> tuple[list[str], bool]:
    """("path: OK" or the problems of each file, all fine?)."""
    out: list[str] = []
    ok = True
    for path in paths:
        try:
            problems = validate_file(path)
        except ConfigError as exc:
            problems = [str(exc)]
        ok = ok and not problems
        out.extend(problems or [f"{path}: OK"])
    return out, ok


# ---------------------------------------------------------------------------------------------
# config-help


def _bounds(field: Any) -> list[str]:
    found: list[str] = []
    for meta in (*field.metadata, *_annotated_meta(field.annotation)):
        for attr, op in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            if getattr(meta, attr, None) is not None:
                found.append(f"{op} {getattr(meta, attr)}")
        func = getattr(meta, "func", None)
        if func is not None and func.__qualname__.startswith("ranged."):
            cells = dict(zip(func.__code__.co_freevars, func.__closure__ or (), strict=False))
            found.append(
                f"{cells['low_text'].cell_contents} and {cells['high_text'].cell_contents}"
            )
    return found


def _annotated_meta(tp: Any) -> list[Any]:
    out: list[Any] = []
    for arg in (tp, *typing.get_args(tp)):
        if typing.get_origin(arg) is typing.Annotated:
            out.extend(arg.__metadata__)
    return out


def _choices(tp: Any) -> list[str]:
    tp = unwrap(tp)
    if typing.get_origin(tp) is typing.Literal:
        return [str(c) for c in typing.get_args(tp)]
    return []


def _comment(field: Any) -> str:
    parts = [field.description] if field.description else []
    choices = _choices(field.annotation)
    if choices:
        parts.append("one of " + " | ".join(choices))
    bounds = _bounds(field)
    if bounds:
        parts.append("must be " + ", ".join(bounds))
    return f"  # {'; '.join(parts)}" if parts else ""


def _scalar(value: object) -> str:
    if isinstance(value, SecretStr):
        return '"${API_KEY}"'
    if isinstance(value, tuple):
        value = list(value)
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def _render(model: BaseModel, indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    fields = type(model).model_fields
    if isinstance(model, OrchestratorConfig):
        lines.append(f"{pad}allocation:  # or the same keys flat (allocation_method, ...)")
        for nested, flat in ALLOCATION_KEYS.items():
            value = getattr(model, flat)
            lines.append(f"{pad}  {nested}: {_scalar(value)}{_comment(fields[flat])}")
    for name, field in fields.items():
        if isinstance(model, OrchestratorConfig) and name in _NESTED:
            continue
        key = field.alias or name
        value = getattr(model, name)
        lines.extend(_render_field(pad, key, field, value, indent))
    return lines


def _render_field(pad: str, key: str, field: Any, value: object, indent: int) -> list[str]:
    if isinstance(value, BaseModel):
        return [f"{pad}{key}:{_comment(field)}", *_render(value, indent + 2)]
    inner = unwrap(field.annotation)
    args = typing.get_args(inner)
    item = unwrap(args[0]) if args else None
    empty = isinstance(value, tuple) and not value
    if empty and isinstance(item, type) and issubclass(item, BaseModel):
        keys = ", ".join(f.alias or n for n, f in item.model_fields.items())
        return [f"{pad}{key}: []{_comment(field) or '  #'} entries with: {keys}"]
    if value is None:
        target = unwrap(field.annotation)
        if isinstance(target, type) and issubclass(target, BaseModel):
            keys = ", ".join(f.alias or n for n, f in target.model_fields.items())
            return [f"{pad}{key}: null{_comment(field) or '  #'} or a mapping of: {keys}"]
    return [f"{pad}{key}: {_scalar(value)}{_comment(field)}"]


def _section_value(name: str) -> tuple[Any, object]:
    field = GenebotConfig.model_fields[name]
    value = getattr(GenebotConfig(), name)
    if name == "orchestrator":
        value = OrchestratorConfig()
    elif name == "exchanges":
        from genebot.config.models import ExchangeConfig

        value = {"binance": ExchangeConfig()}
    elif name == "strategies":
        from genebot.config.models import StrategyConfig

        value = {"moving_average": StrategyConfig(type="MovingAverageStrategy")}
    return field, value


SECTIONS = tuple(f.alias or n for n, f in GenebotConfig.model_fields.items())


def config_template(section: str | None = None) -> str:
    """An annotated YAML template for ``section`` (or every section) that validates as is."""
    names = list(SECTIONS) if section is None else [section]
    lines: list[str] = ["# genebot configuration (genebot config-help); every key with its default"]
    for name in names:
        if name not in SECTIONS:
            import difflib

            close = difflib.get_close_matches(name, SECTIONS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"unknown section '{name}'{hint}; sections: {', '.join(SECTIONS)}")
        field, value = _section_value(name)
        if isinstance(value, dict):
            lines.append(f"{name}:{_comment(field)}")
            for key, item in value.items():
                lines.append(f"  {key}:  # an example entry; the key is its name")
                lines.extend(_render(item, 4))
        else:
            lines.extend(_render_field("", name, field, value, 0))
    return "\n".join(lines) + "\n"
