"""Strategy parameters: declared on the class with a default, hard bounds and an optimization range.

class MyStrategy(Strategy):
    period = Param(14, min=2, max=500, opt=(5, 50, 1), doc="lookback in bars")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from genebot.core.errors import ParameterError

Scalar = int | float | bool | str


@dataclass(frozen=True)
class Param:
    """One parameter. ``min``/``max`` are enforced; ``opt`` is the optimizer's (low, high, step)."""

    default: Any
    min: float | None = None
    max: float | None = None
    opt: tuple[float, float, float] | None = None
    choices: Sequence[Scalar] | None = None
    doc: str = ""
    name: str = ""

    def __set_name__(self, owner: type, name: str) -> None:
        object.__setattr__(self, "name", name)
        problem = self._declaration_problem()
        if problem:  # a class that contradicts itself is refused where it is written
            raise ParameterError(f"{owner.__name__}.{name}: {problem}")

    def _declaration_problem(self) -> str | None:
        """What is inconsistent in this declaration (bounds, default, choices, range)."""
        low, high, default = self.min, self.max, self.default
        if low is not None and high is not None and low > high:
            return f"min {low} is above max {high}"
        number = isinstance(default, int | float) and not isinstance(default, bool)
        if number and low is not None and default < low:
            return f"default {default} is below its min {low}"
        if number and high is not None and default > high:
            return f"default {default} is above its max {high}"
        if self.choices is not None and default not in self.choices:
            return f"default {default!r} is not one of its choices {list(self.choices)}"
        if self.opt is not None:
            start, stop, step = self.opt
            if not (step > 0 and start <= stop):
                return f"opt {self.opt} must be (low, high, step) with low <= high and step > 0"
            if (low is not None and start < low) or (high is not None and stop > high):
                return f"opt {self.opt} goes outside min {low} .. max {high}"
        return None

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return instance.params[self.name]

    def __set__(self, instance: Any, value: Any) -> None:
        # A data descriptor: an attribute of the same name can never shadow a parameter.
        raise AttributeError(
            f"parameter {self.name!r} is read-only; set it through the strategy's parameters"
        )

    def coerce(self, value: Any, where: str) -> Any:
        """Check one value against type, bounds and choices; return it in the default's type."""
        expected = type(self.default)
        if isinstance(self.default, bool):
            if not isinstance(value, bool):
                raise ParameterError(f"{where}: {self.name}={value!r} must be true or false")
            return value
        if isinstance(self.default, int | float) and not isinstance(self.default, bool):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ParameterError(f"{where}: {self.name}={value!r} must be a number")
            if expected is int and float(value) != int(value):
                raise ParameterError(f"{where}: {self.name}={value!r} must be a whole number")
            value = expected(value)
            if self.min is not None and value < self.min:
                raise ParameterError(
                    f"{where}: {self.name}={value} is below the minimum {self.min}"
                )
            if self.max is not None and value > self.max:
                raise ParameterError(
                    f"{where}: {self.name}={value} is above the maximum {self.max}"
                )
            return value
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(map(str, self.choices))
            raise ParameterError(f"{where}: {self.name}={value!r} is not one of {allowed}")
        if isinstance(self.default, list) and not isinstance(value, list):
            raise ParameterError(f"{where}: {self.name}={value!r} must be a list")
        return value


def check_choice_list(
    where: str, field: str, values: Sequence[Any], allowed: Sequence[str], noun: str
) -> None:
    """A list parameter must name at least one of ``allowed``, only those, each once; the
    message names the parameter, the bad value and what is allowed."""
    listed = ", ".join(allowed)
    if not values:
        raise ParameterError(f"{where}: {field} must list at least one of {listed}")
    for value in values:
        if value not in allowed:
            raise ParameterError(f"{where}: {field}: {value!r} is not a {noun}; use {listed}")
    if len(set(values)) != len(values):
        raise ParameterError(f"{where}: {field} lists a {noun.split()[-1]} twice: {values}")


def resolve_params(
    declared: Mapping[str, Param], given: Mapping[str, Any] | None, where: str
) -> dict[str, Any]:
    """Defaults overlaid with ``given``; unknown names and bad values raise ParameterError."""
    given = dict(given or {})
    unknown = sorted(set(given) - set(declared))
    if unknown:
        allowed = ", ".join(declared) or "(none)"
        raise ParameterError(f"{where}: unknown parameter {', '.join(unknown)}; allowed: {allowed}")
    values = {name: p.default for name, p in declared.items()}
    for name, value in given.items():
        values[name] = declared[name].coerce(value, where)
    return values
