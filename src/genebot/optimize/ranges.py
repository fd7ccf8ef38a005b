"""The search space of a strategy: its declared ``Param(opt=(low, high, step))`` ranges, or a
``--parameter-ranges`` YAML file that overrides them.

The file maps a parameter to a range or to a list of choices::

    short_period: {low: 5, high: 30, step: 1}
    long_period: {low: 20, high: 200}        # step: the declared one, else 1 (whole numbers)
    fast_ma: [ema, sma]                      # choices

It may also nest them under the strategy's name (``moving_average: {short_period: ...}``).
A bad file raises :class:`InputError` naming the file, the key and the value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from genebot.core.errors import InputError
from genebot.trading.params import Param

Choice = int | float | bool | str


@dataclass(frozen=True)
class Range:
    """One parameter's search range: numeric ``low..high`` by ``step``, or ``choices``."""

    name: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    integer: bool = False
    choices: tuple[Choice, ...] | None = None

    def size(self) -> int:
        """How many distinct values the range has (0: continuous)."""
        if self.choices is not None:
            return len(self.choices)
        if self.step is None or self.low is None or self.high is None:
            return 0
        return round((self.high - self.low) / self.step) + 1

    def describe(self) -> str:
        if self.choices is not None:
            return f"{self.name} in {list(self.choices)}"
        step = f" step {_num(self.step)}" if self.step is not None else ""
        return f"{self.name} {_num(self.low)}..{_num(self.high)}{step}"


def _num(value: float | None) -> str:
    if value is None:
        return "?"
    return str(int(value)) if float(value).is_integer() else str(value)


def declared_ranges(parameters: Mapping[str, Param]) -> dict[str, Range]:
    """The ranges a strategy class declares: every Param with ``opt`` (numbers) and every
    Param with ``choices``."""
    ranges: dict[str, Range] = {}
    for name, param in parameters.items():
        integer = isinstance(param.default, int) and not isinstance(param.default, bool)
        if param.opt is not None:
            low, high, step = param.opt
            ranges[name] = Range(name, float(low), float(high), float(step), integer)
        elif param.choices is not None and not isinstance(param.default, list):
            ranges[name] = Range(name, choices=tuple(param.choices))
    return ranges


def read_ranges_file(path: Path) -> Any:
    if not path.is_file():
        raise InputError(f"--parameter-ranges {path}: file not found")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise InputError(f"{path}: not valid YAML{where}") from None


def load_ranges(path: Path, strategy: str, parameters: Mapping[str, Param]) -> dict[str, Range]:
    """The declared ranges overridden by the file's. Unknown parameters, bad bounds, steps or
    choices raise :class:`InputError` naming file, key and value."""
    raw = read_ranges_file(path)
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise InputError(
            f"{path}: expected a mapping of parameter → {{low, high, step}} or a list of "
            f"choices, got a {type(raw).__name__}"
        )
    if strategy in raw and isinstance(raw[strategy], Mapping) and strategy not in parameters:
        raw = raw[strategy]
    ranges = declared_ranges(parameters)
    for key, spec in raw.items():
        name = str(key)
        if name not in parameters:
            allowed = ", ".join(parameters) or "(none)"
            raise InputError(f"{path}: {name}: not a parameter of {strategy}; allowed: {allowed}")
        ranges[name] = parse_range(path, name, spec, parameters[name])
    return ranges


def parse_range(path: Path, name: str, spec: Any, param: Param) -> Range:
    """One entry of the file: a ``{low, high[, step]}`` mapping or a list of choices."""
    where = f"{path}: {name}"
    if isinstance(spec, Sequence) and not isinstance(spec, str):
        return _choices(where, name, spec, param)
    if not isinstance(spec, Mapping):
        raise InputError(
            f"{where}: {spec!r} is not a range; use {{low: L, high: H, step: S}} or a list "
            "of choices"
        )
    unknown = sorted(set(map(str, spec)) - {"low", "high", "step"})
    if unknown:
        raise InputError(f"{where}: unknown key {', '.join(unknown)}; allowed: low, high, step")
    for bound in ("low", "high"):
        if bound not in spec:
            raise InputError(f"{where}: {bound} is missing")
    values = {k: spec[k] for k in ("low", "high", "step") if k in spec}
    for k, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise InputError(f"{where}: {k}={v!r} must be a number")
    integer = isinstance(param.default, int) and not isinstance(param.default, bool)
    if not integer and (isinstance(param.default, bool) or not isinstance(param.default, float)):
        raise InputError(
            f"{where}: a numeric range for a {type(param.default).__name__} parameter; "
            "give a list of choices"
        )
    low, high = float(values["low"]), float(values["high"])
    declared_step = param.opt[2] if param.opt is not None else None
    step = values.get(
        "step", declared_step if declared_step is not None else (1 if integer else None)
    )
    if low > high:
        raise InputError(f"{where}: low={_num(low)} is above high={_num(high)}")
    if step is not None and float(step) <= 0:
        raise InputError(f"{where}: step={step} must be above 0")
    if integer and (
        not low.is_integer()
        or not high.is_integer()
        or (step is not None and not float(step).is_integer())
    ):
        raise InputError(
            f"{where}: low, high and step must be whole numbers ({name} is an integer)"
        )
    for label, v in (("low", low), ("high", high)):
        if param.min is not None and v < param.min:
            raise InputError(
                f"{where}: {label}={_num(v)} is below the parameter's minimum {_num(param.min)}"
            )
        if param.max is not None and v > param.max:
            raise InputError(
                f"{where}: {label}={_num(v)} is above the parameter's maximum {_num(param.max)}"
            )
    return Range(name, low, high, None if step is None else float(step), integer)


def _choices(where: str, name: str, spec: Sequence[Any], param: Param) -> Range:
    if not spec:
        raise InputError(f"{where}: the list of choices is empty")
    out: list[Choice] = []
    for value in spec:
        if not isinstance(value, int | float | bool | str):
            raise InputError(f"{where}: choice {value!r} must be a number, true/false or text")
        out.append(param.coerce(value, where))  # ParameterError names file, key and value
    if len(set(out)) != len(out):
        raise InputError(f"{where}: a choice is listed twice: {list(spec)}")
    return Range(name, choices=tuple(out))
