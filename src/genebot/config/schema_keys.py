"""Schema introspection for the error formatter in :mod:`genebot.config.loader`: the keys a
model accepts and the declared type at an error location."""

from __future__ import annotations

import typing
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import AliasChoices, BaseModel

from genebot.config.models import GenebotConfig
from genebot.core.config import unwrap


def _field_keys(model: type[BaseModel]) -> dict[str, str]:
    """Map every accepted key (name, alias, alias choices) to the field name."""
    keys: dict[str, str] = {}
    for name, field in model.model_fields.items():
        if isinstance(field.validation_alias, AliasChoices):
            for choice in field.validation_alias.choices:
                keys[str(choice)] = name
        keys[field.alias or name] = name
    return keys


def allowed_keys(model: type[BaseModel]) -> list[str]:
    """The keys ``model`` accepts, as a user writes them (aliases where set)."""
    allowed: list[str] = []
    for name, field in model.model_fields.items():
        if field.alias:
            allowed.append(field.alias)
        elif isinstance(field.validation_alias, AliasChoices):
            allowed.append(str(field.validation_alias.choices[0]))
        else:
            allowed.append(name)
    return allowed


def type_at(loc: tuple[str | int, ...]) -> Any:
    """The declared type at an error location in GenebotConfig; None if it leaves the schema."""
    tp: Any = GenebotConfig
    for part in loc:
        tp = unwrap(tp)
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            name = _field_keys(tp).get(str(part))
            if name is None:
                return None
            tp = tp.model_fields[name].annotation
        elif origin in (dict, Mapping):
            tp = typing.get_args(tp)[1]
        elif origin in (list, tuple, Sequence):
            tp = typing.get_args(tp)[0]
        else:
            return None
    return unwrap(tp)
