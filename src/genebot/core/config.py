"""Base pieces for component configs: frozen pydantic models that reject unknown keys, range
validators that state the whole allowed range, and errors that name the exact key."""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, model_validator


class KeyedValueError(ValueError):
    """A validation problem that belongs to ``key`` (a path relative to the failing model)."""

    def __init__(self, key: str | tuple[str | int, ...], message: str) -> None:
        self.key: tuple[str | int, ...] = (key,) if isinstance(key, str) else key
        self.message = message
        super().__init__(f"{'.'.join(map(str, self.key))}: {message}")


def ranged(
    low: float, high: float, *, low_inclusive: bool, high_inclusive: bool
) -> Callable[[float], float]:
    """A validator that states the whole allowed range in its message."""
    low_text = f">= {low:g}" if low_inclusive else f"> {low:g}"
    high_text = f"<= {high:g}" if high_inclusive else f"< {high:g}"

    def check(value: float) -> float:
        above = value >= low if low_inclusive else value > low
        below = value <= high if high_inclusive else value < high
        if not (above and below):
            raise ValueError(f"must be {low_text} and {high_text}")
        return value

    check.allowed = f"{low_text} and {high_text}"  # type: ignore[attr-defined]  # config-help
    return check


Fraction = Annotated[float, AfterValidator(ranged(0, 1, low_inclusive=False, high_inclusive=True))]
"""A fraction in (0, 1]."""
FeeRate = Annotated[float, AfterValidator(ranged(0, 0.1, low_inclusive=True, high_inclusive=False))]
"""A fee rate in [0, 0.1)."""


def _check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "America" is a folder of zones
        raise ValueError(
            "is not a known time zone: use an IANA name such as UTC, "
            "Europe/London or America/New_York"
        ) from None
    return value


TimeZone = Annotated[str, AfterValidator(_check_zone)]
"""An IANA time zone name that zoneinfo knows (UTC, Europe/London)."""


def drop_empty_sections(data: Any) -> Any:
    """A section left empty in YAML (``exchanges:`` with nothing under it) means its defaults."""
    if isinstance(data, Mapping):  # returns a new dict: callers may fill it in
        return {k: v for k, v in data.items() if v is not None}
    return data


class FrozenModel(BaseModel):
    """Base of every config model: immutable, unknown keys rejected, finite numbers only."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_bools_for_numbers(cls, data: Any) -> Any:
        # pydantic's lax mode reads `initial_cash: yes` as 1.0; a number field wants a number.
        if isinstance(data, Mapping):
            for name, field in cls.model_fields.items():
                value = data.get(field.alias or name)
                if isinstance(value, bool) and unwrap(field.annotation) in (int, float):
                    raise KeyedValueError(
                        field.alias or name, f"must be a number (got {str(value).lower()})"
                    )
        return data


def unwrap(tp: Any) -> Any:
    """Strip Annotated and Optional so the walk sees the underlying type."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp
