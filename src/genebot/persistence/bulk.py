"""Multi-row inserts handed to the database driver in one call, for the journal's hot tables.

SQLAlchemy's Core insert still builds a parameter dict and runs each column's bind processor
for every row; for the journal (several entries per order, thousands per replayed year) that
was a third of what journaling cost. :class:`DriverInsert` compiles the insert once per
dialect, converts each value with the column type's own bind processor (so the stored form is
exactly what Core would store: exact decimals, UTC times), reuses the conversion of a value
repeated across rows (a transaction's one ``recorded_at``), and executes every row in one
``executemany``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Dialect, Table, insert
from sqlalchemy.types import TypeEngine

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Plan:
    sql: str
    order: tuple[str, ...]  # the columns in the statement's parameter order
    processors: tuple[Processor, ...]
    positional: bool


class DriverInsert:
    """``INSERT INTO table (columns) VALUES (...)`` for many rows at once."""

    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        self.table = table
        self.columns = tuple(columns)
        self._plans: dict[str, _Plan] = {}

    def execute(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        plan = self._plan(conn)
        columns = [[row[name] for row in rows] for name in plan.order]
        converted = [
            _convert(values, proc) for values, proc in zip(columns, plan.processors, strict=True)
        ]
        if plan.positional:
            params: list[Any] = list(zip(*converted, strict=True))
        else:
            params = [dict(zip(plan.order, v, strict=True)) for v in zip(*converted, strict=True)]
        conn.exec_driver_sql(plan.sql, params)

    def _plan(self, conn: Connection) -> _Plan:
        dialect = conn.dialect
        plan = self._plans.get(dialect.name)
        if plan is None:
            compiled = insert(self.table).compile(dialect=dialect, column_keys=list(self.columns))
            positional = bool(compiled.positional)
            order = tuple(compiled.positiontup or ()) if positional else self.columns
            processors = tuple(_processor(self.table.c[name].type, dialect) for name in order)
            plan = self._plans[dialect.name] = _Plan(compiled.string, order, processors, positional)
        return plan


def _convert(values: list[Any], processor: Processor) -> list[Any]:
    if processor is None:
        return values
    out: list[Any] = []
    last_in: object = object()
    last_out: Any = None
    for value in values:
        if value is not last_in:  # the same object again (a batch's time): converted once
            last_in, last_out = value, processor(value)
        out.append(last_out)
    return out


def _processor(column_type: TypeEngine[Any], dialect: Dialect) -> Processor:
    """What Core runs on a value of this column for this dialect (a type decorator's
    dialect-specific implementation included: exact decimals as text on SQLite)."""
    return column_type.dialect_impl(dialect).bind_processor(dialect)
