"""Time helpers. Internally a timestamp is an ``int`` of nanoseconds since the Unix epoch, UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from genebot.core.errors import InputError

NS_PER_SECOND = 1_000_000_000
NS_PER_MINUTE = 60 * NS_PER_SECOND

_TF_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_TF_RE = re.compile(r"^(\d+)([smhdw])$")


def timeframe_to_ns(timeframe: str) -> int:
    """Convert a timeframe such as ``5m``, ``1h`` or ``1d`` to nanoseconds."""
    match = _TF_RE.match(timeframe.strip())
    if not match or int(match.group(1)) <= 0:
        raise InputError(
            f"timeframe {timeframe!r} is not valid: use a number and a unit s, m, h, d or w "
            "(for example 1m, 5m, 1h, 1d)"
        )
    return int(match.group(1)) * _TF_UNITS[match.group(2)] * NS_PER_SECOND


def ns_to_timeframe(ns: int) -> str:
    """Inverse of :func:`timeframe_to_ns` for the largest unit that divides ``ns``."""
    seconds = ns // NS_PER_SECOND
    for unit, size in sorted(_TF_UNITS.items(), key=lambda kv: -kv[1]):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def ns_to_datetime(ns: int) -> datetime:
    """A timezone-aware UTC datetime for a nanosecond timestamp (microsecond resolution)."""
    return datetime.fromtimestamp(ns / NS_PER_SECOND, tz=UTC).replace(
        microsecond=(ns // 1000) % 1_000_000
    )


def datetime_to_ns(at: datetime) -> int:
    """Nanoseconds since the epoch of a datetime (microsecond resolution; naive = UTC), the
    inverse of :func:`ns_to_datetime`."""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return int(aware.timestamp()) * NS_PER_SECOND + aware.microsecond * 1000


def ns_to_iso(ns: int) -> str:
    """ISO-8601 UTC text with a ``Z`` suffix, e.g. ``2021-04-20T20:42:00Z``."""
    dt = ns_to_datetime(ns)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        text += f".{dt.microsecond:06d}".rstrip("0")
    return text + "Z"


def parse_datetime(text: str, *, field: str = "date") -> int:
    """Parse an ISO-8601 date or datetime (naive means UTC) into nanoseconds."""
    value = text.strip()
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"{field} {text!r} is not a valid date: use ISO-8601, e.g. 2021-01-31 or "
            "2021-01-31T12:00:00Z"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    delta = dt - epoch
    return (delta.days * 86400 + delta.seconds) * NS_PER_SECOND + delta.microseconds * 1000
