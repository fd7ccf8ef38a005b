"""JSON with exact numbers: a Decimal is written as a JSON number from its own text
(``100532.88883000``), never through a float; ``json.loads(text, parse_float=Decimal)`` reads
it back exactly. Used by every output that carries money: stats.json, the API."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal

_RAW = "\x00genebot-decimal-{}\x00"


def dumps_exact(value: object, *, indent: int | None = None) -> str:
    raw: list[str] = []

    def mark(v: object) -> object:
        if isinstance(v, Decimal):
            if not v.is_finite():
                raise ValueError(f"{v} is not a JSON number")
            raw.append(f"{v:f}")
            return _RAW.format(len(raw) - 1)
        if isinstance(v, Mapping):
            return {k: mark(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [mark(x) for x in v]
        return v

    text = json.dumps(mark(value), indent=indent, allow_nan=False)
    for i, number in enumerate(raw):
        text = text.replace(json.dumps(_RAW.format(i)), number, 1)
    return text
