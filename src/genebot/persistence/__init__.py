"""Persistence: SQLAlchemy tables, repositories, the event journal and Alembic migrations.

The domain never imports this package. ``DATABASE_URL`` picks the database (SQLite by default,
PostgreSQL in production); every value that is money is stored exactly. Importing the package
loads nothing heavy: ``genebot.persistence.settings`` (the URL, the schema revision) is read
without SQLAlchemy; ``Database`` and its errors load it on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Database", "DatabaseUnavailable", "MigrationRequired"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from genebot.persistence import database

        return getattr(database, name)
    raise AttributeError(f"module 'genebot.persistence' has no attribute {name!r}")
