"""Opening the database: one engine per process, SQLite tuned for safety, PostgreSQL as is.

SQLite runs in WAL mode (readers never block the writer), with foreign keys on, ``synchronous =
FULL`` (a committed transaction survives a crash of the process or the machine) and a busy
timeout so a reader and the engine never fail on a momentary lock. Transactions are real
SQLite transactions, so a multi-row write is all or nothing: :meth:`Database.session` (for
writes) starts with ``BEGIN IMMEDIATE``, taking the write lock up front, so a read-then-write
waits its turn instead of failing at once when another writer committed in between;
:meth:`Database.reader` (for queries) starts a plain ``BEGIN`` and never holds the write lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from genebot.core.errors import ConfigError, RetryableError, StopError
from genebot.persistence.settings import SCHEMA_HEAD, database_url

SUPPORTED = ("sqlite", "postgresql")
BUSY_TIMEOUT_MS = 15_000


class DatabaseUnavailable(RetryableError):
    """The database cannot be reached right now."""


class MigrationRequired(StopError):
    """The database schema is not at the version this genebot needs."""


class Database:
    """The connection pool and session factory for one database URL."""

    def __init__(self, url: str | None = None) -> None:
        self.url = parse_url(url if url is not None else database_url())
        self.engine = _create_engine(self.url, "BEGIN IMMEDIATE")
        self.read_engine = (
            _create_engine(self.url, "BEGIN") if self.dialect == "sqlite" else self.engine
        )
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.url.get_backend_name()

    @property
    def display_url(self) -> str:
        """The URL with any password hidden: safe for logs and messages."""
        return self.url.render_as_string(hide_password=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work that writes: commits on success, rolls back on any error."""
        with self._unit(self.sessions) as session:
            yield session

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A read-only unit of work (one consistent snapshot; never takes the write lock)."""
        with self._unit(self.read_sessions) as session:
            yield session

    @contextmanager
    def _unit(self, factory: sessionmaker[Session]) -> Iterator[Session]:
        with factory() as session:
            try:
                yield session
                session.commit()
            except OperationalError as exc:
                session.rollback()
                raise DatabaseUnavailable(f"{self.display_url}: {_first_line(exc)}") from exc
            except BaseException:
                session.rollback()
                raise

    def ping(self) -> None:
        """Connect once, so an unreachable database is one clear error, not a traceback."""
        try:
            with self.engine.connect():
                pass
        except OperationalError as exc:
            raise DatabaseUnavailable(
                f"cannot open {self.display_url}: {_first_line(exc)}"
            ) from None

    def schema_is_current(self) -> bool:
        """Whether the schema is at this genebot's newest revision, by one query (no Alembic,
        whose import costs a backtest process 11 MB): the common case, asked first."""
        try:
            with self.engine.connect() as conn:
                found = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except SQLAlchemyError:  # no such table (a new database), or cannot connect
            return False
        return found == SCHEMA_HEAD

    def require_current(self) -> None:
        """Refuse to go on against a schema that is behind (or ahead of) this genebot."""
        if self.schema_is_current():
            return
        from genebot.persistence.migrate import migration_status

        status = migration_status(self)
        if status.current == status.head:
            return
        if status.current is None:
            raise MigrationRequired(
                f"database {self.display_url} has no genebot schema: run `genebot db init`"
            )
        if status.pending:
            raise MigrationRequired(
                f"database {self.display_url} is at revision {status.current}, "
                f"{len(status.pending)} migration(s) behind {status.head}: "
                "run `genebot db upgrade`"
            )
        raise MigrationRequired(
            f"database {self.display_url} is at revision {status.current}, which this genebot "
            f"does not know (its newest is {status.head}): upgrade genebot"
        )

    def dispose(self) -> None:
        self.engine.dispose()
        self.read_engine.dispose()


def parse_url(text: str) -> URL:
    """A database URL genebot supports, or one clear error naming what is allowed."""
    allowed = "use sqlite:///path/to/genebot.db or postgresql+psycopg://user:pass@host/db"
    try:
        url = make_url(text)
    except ArgumentError:
        raise ConfigError(
            f"DATABASE_URL {_redact(text)!r} is not a database URL: {allowed}"
        ) from None
    if url.get_backend_name() not in SUPPORTED:
        raise ConfigError(
            f"DATABASE_URL: database {url.get_backend_name()!r} is not supported: {allowed}"
        )
    if url.get_backend_name() == "postgresql" and url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")  # psycopg 3, not the absent psycopg2
    return url


def _redact(text: str) -> str:
    try:
        return make_url(text).render_as_string(hide_password=True)
    except ArgumentError:
        return text.split("@")[-1]


def _create_engine(url: URL, begin: str) -> Engine:
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", lambda conn: conn.exec_driver_sql(begin))
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: object) -> None:
    dbapi_connection.isolation_level = None  # we send BEGIN ourselves (see the module doc)
    cursor = dbapi_connection.cursor()
    for pragma in (
        "journal_mode = WAL",
        "foreign_keys = ON",
        "synchronous = FULL",
        f"busy_timeout = {BUSY_TIMEOUT_MS}",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
