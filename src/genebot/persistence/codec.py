"""Order events to JSON and back, exactly: Decimals travel as text, timestamps as integer ns.

The journal stores every order event this way, so an order can be rebuilt after a restart by
replaying its journal rows through :meth:`genebot.domain.orders.Order.rebuild`.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, get_args

from genebot.domain.events import OrderEvent

EVENT_TYPES: dict[str, type] = {cls.__name__: cls for cls in get_args(OrderEvent)}
_DECIMAL_FIELDS = frozenset(
    {"quantity", "price", "trigger_price", "trailing_offset", "last_qty", "last_px", "fee"}
)


def event_payload(event: OrderEvent) -> str:
    """The event's fields as canonical JSON (sorted keys; Decimals as text)."""
    fields = {
        key: (str(value) if type(value) is Decimal else value)
        for key, value in zip(event._fields, event, strict=True)
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"))


def event_from_payload(kind: str, payload: str) -> OrderEvent:
    """Rebuild the event journalled as ``kind`` with ``payload``."""
    cls = EVENT_TYPES.get(kind)
    if cls is None:
        raise ValueError(f"journal kind {kind!r} is not an order event")
    fields: dict[str, Any] = json.loads(payload)
    for key in _DECIMAL_FIELDS.intersection(fields):
        if fields[key] is not None:
            fields[key] = Decimal(fields[key])
    event: OrderEvent = cls(**fields)
    return event


def to_json(value: object) -> str:
    """JSON for config and stats columns: Decimals as text, everything else as JSON knows it."""
    return json.dumps(value, sort_keys=True, default=_default, allow_nan=False)


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} as JSON")
