"""Persistence: SQLAlchemy tables, repositories, the event journal and Alembic migrations.

The domain never imports this package. ``DATABASE_URL`` picks the database (SQLite by default,
PostgreSQL in production); every value that is money is stored exactly.
"""

from genebot.persistence.database import Database, DatabaseUnavailable, MigrationRequired

__all__ = ["Database", "DatabaseUnavailable", "MigrationRequired"]
