"""Alembic, driven from Python: the migrations ship inside the package.

``genebot db init`` and ``genebot db upgrade`` both bring a database to the newest revision
(``init`` refuses a database that already has a schema, so a typo in DATABASE_URL cannot
silently point it at the wrong place); ``genebot db current`` says where a database stands.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import inspect

from genebot.core.errors import InputError
from genebot.persistence.database import Database

MIGRATIONS = Path(__file__).with_name("migrations")


@dataclass(frozen=True)
class MigrationStatus:
    current: str | None
    head: str
    pending: tuple[str, ...]  # revisions still to apply, oldest first


def alembic_config(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = db.engine
    return config


def migration_status(db: Database) -> MigrationStatus:
    script = ScriptDirectory.from_config(alembic_config(db))
    head = script.get_current_head()
    assert head is not None, "genebot ships at least one migration"
    with db.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    known = {rev.revision for rev in script.walk_revisions()}
    if current is not None and current not in known:
        return MigrationStatus(current, head, ())
    pending = [
        rev.revision for rev in script.iterate_revisions(head, current or "base")
    ]  # newest first
    return MigrationStatus(current, head, tuple(reversed(pending)))


def upgrade(db: Database, revision: str = "head") -> MigrationStatus:
    with _known_revision(revision):
        command.upgrade(alembic_config(db), revision)
    return migration_status(db)


def downgrade(db: Database, revision: str) -> MigrationStatus:
    with _known_revision(revision):
        command.downgrade(alembic_config(db), revision)
    return migration_status(db)


@contextmanager
def _known_revision(revision: str) -> Iterator[None]:
    """A revision Alembic cannot use is the user's input: one line, not a traceback."""
    try:
        yield
    except CommandError as exc:
        known = ", ".join(sorted(r.revision for r in _script().walk_revisions()))
        raise InputError(f"revision {revision!r}: {exc} (known: {known}, head, base)") from None


def _script() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


def init(db: Database) -> MigrationStatus:
    """Create the schema in an empty database."""
    tables = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
    if tables or migration_status(db).current is not None:
        raise InputError(
            f"database {db.display_url} is not empty ({len(tables)} tables): "
            "use `genebot db upgrade` to bring it up to date"
        )
    return upgrade(db)


def ensure_current(db: Database) -> bool:
    """For the backtest's own store: create the schema in a brand-new SQLite database, else
    require the schema to be current. Returns whether a schema was created."""
    if db.dialect == "sqlite":
        tables = set(inspect(db.engine).get_table_names())
        if not tables:
            upgrade(db)
            return True
    db.require_current()
    return False
