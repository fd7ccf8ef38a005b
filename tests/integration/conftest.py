"""Databases for the persistence tests: every test that takes ``database`` runs twice, on
SQLite and on the real PostgreSQL at 127.0.0.1:5432.

PostgreSQL tests get a private database per test process (created here, dropped at the end), so
parallel workers and concurrent runs never meet. Without a reachable PostgreSQL those tests are
skipped with the reason, unless ``GENEBOT_REQUIRE_POSTGRES=1`` (CI) turns that into a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import inspect, text

from genebot.persistence.database import Database
from genebot.persistence.migrate import migration_status, upgrade

PG_ADMIN = os.environ.get("GENEBOT_TEST_PG_URL", "postgresql://127.0.0.1:5432/test")
DIALECTS = ["sqlite", "postgresql"]


def _pg_admin() -> psycopg.Connection:
    try:
        return psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL not reachable at {PG_ADMIN} ({str(exc).strip()[:120]})"
        if os.environ.get("GENEBOT_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason + " and GENEBOT_REQUIRE_POSTGRES=1")
        pytest.skip(reason + ": set GENEBOT_TEST_PG_URL to run the PostgreSQL tests")


class PgDatabases:
    """Creates private databases on the server and drops them at the end of the session."""

    def __init__(self) -> None:
        self.created: list[str] = []
        self.prefix = f"genebot_test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"

    def url(self, suffix: str) -> str:
        name = f"{self.prefix}_{suffix}"
        if name not in self.created:
            with _pg_admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{name}"')
            self.created.append(name)
        base = PG_ADMIN.rsplit("/", 1)[0]
        return f"{base}/{name}"

    def drop_all(self) -> None:
        if not self.created:
            return
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[PgDatabases]:
    dbs = PgDatabases()
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "genebot.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    db.dispose()
    return path


@pytest.fixture(scope="session")
def _pg_at_head(pg_databases: PgDatabases) -> str:
    url = pg_databases.url("head")
    db = Database(url)
    upgrade(db)
    db.dispose()
    return url


def make_database(request: pytest.FixtureRequest, tmp_path: Path, *, schema: bool) -> Database:
    if request.param == "sqlite":
        path = tmp_path / "genebot.db"
        if schema:
            shutil.copy(request.getfixturevalue("_sqlite_template"), path)
        return Database(f"sqlite:///{path}")
    if schema:
        db = Database(request.getfixturevalue("_pg_at_head"))
        _truncate(db)
        return db
    db = Database(request.getfixturevalue("pg_databases").url("scratch"))
    with db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    return db


def _truncate(db: Database) -> None:
    tables = [t for t in inspect(db.engine).get_table_names() if t != "alembic_version"]
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        head = migration_status(db).head  # a test may have moved the recorded revision
        conn.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})


@pytest.fixture(params=DIALECTS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database at the newest schema with no rows."""
    db = make_database(request, tmp_path, schema=True)
    yield db
    db.dispose()


@pytest.fixture(params=DIALECTS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database with no schema at all."""
    db = make_database(request, tmp_path, schema=False)
    yield db
    db.dispose()
