"""Alembic environment: the engine comes from genebot's Database (see migrate.py).

On SQLite, foreign keys are switched off while migrations run: SQLite alters a table by
copying it, and dropping the old copy with foreign keys on would run ON DELETE CASCADE on the
rows that point at it (a downgrade would wipe stored trades). They are checked afterwards and
switched back on.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from genebot.persistence.tables import Base

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError("run migrations with `genebot db upgrade`, not the alembic command")

sqlite = engine.dialect.name == "sqlite"
with engine.connect() as connection:
    raw = connection.connection.dbapi_connection if sqlite else None
    if raw is not None:
        raw.execute("PRAGMA foreign_keys = OFF")  # outside any transaction, or it is ignored
    try:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=sqlite,  # SQLite alters by copying tables
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        if raw is not None:
            broken = raw.execute("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"migration left rows without their parent: {broken[:5]}")
    finally:
        if raw is not None:
            raw.execute("PRAGMA foreign_keys = ON")
