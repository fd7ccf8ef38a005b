"""Alembic environment: the engine comes from genebot's Database (see migrate.py)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from genebot.persistence.tables import Base

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError("run migrations with `genebot db upgrade`, not the alembic command")

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=engine.dialect.name == "sqlite",  # SQLite alters by copying tables
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
