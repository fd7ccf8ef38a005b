"""Column types that keep money exact and time in UTC on every database.

``ExactDecimal`` is NUMERIC with no precision limit on PostgreSQL (the value and its scale come
back exactly as written) and TEXT on SQLite (SQLite's own NUMERIC affinity would store a REAL and
lose digits). Floats are refused: a float has already lost the exact value.
``UtcDateTime`` stores an aware UTC datetime (TIMESTAMPTZ on PostgreSQL, ISO text on SQLite) and
always gives back an aware UTC datetime.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import DateTime, Dialect, Numeric, String, TypeDecorator
from sqlalchemy.types import TypeEngine


class ExactDecimal(TypeDecorator[Decimal]):
    """A ``Decimal`` stored without loss (NUMERIC on PostgreSQL, TEXT on SQLite)."""

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String())
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        exact = as_exact(value)
        return str(exact) if dialect.name == "sqlite" else exact

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


def as_exact(value: object) -> Decimal:
    """``value`` as a finite Decimal; floats and non-numbers are refused with a clear error."""
    if type(value) is Decimal and value.is_finite():  # the usual case, first
        return value
    if isinstance(value, bool | float):
        raise TypeError(f"exact column got {value!r} ({type(value).__name__}): pass a Decimal")
    try:
        exact = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise TypeError(f"exact column got {value!r}: not a number") from None
    if not exact.is_finite():
        raise TypeError(f"exact column got {value!r}: only finite numbers are stored")
    return exact


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime in and out; a naive datetime is refused (its zone is unknown)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise TypeError(f"time column got {value!r}: pass an aware UTC datetime")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        when: datetime = value
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
