"""One runner per database: the lock a ``genebot run`` process holds while it owns the
deployments, so two processes never trade the same account.

The lock dies with the process that holds it (a crash or SIGKILL frees it at once): on
PostgreSQL a session-level advisory lock on a connection kept open for the runner's life; on
SQLite an exclusive ``flock`` on ``<database file>.runner.lock``, which also records the holder's
pid for the message a second runner gets.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, text

from genebot.core.errors import InputError
from genebot.persistence.database import Database

# pg_try_advisory_lock takes a bigint; one constant key names "the genebot runner".
_PG_KEY = 0x67656E65626F74  # "genebot"


class RunnerLocked(InputError):
    """Another runner owns this database's deployments."""


class RunnerLock:
    """``with RunnerLock(db):`` or :meth:`acquire` / :meth:`release`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._conn: Connection | None = None
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        if self.db.dialect == "postgresql":
            self._acquire_pg()
        else:
            self._acquire_file()

    def release(self) -> None:
        if self._conn is not None:
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_KEY})
            self._conn.close()
            self._conn = None
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> RunnerLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    # -- PostgreSQL: an advisory lock held by a connection of our own ---------------------------
    def _acquire_pg(self) -> None:
        conn = self.db.engine.connect()
        conn.execution_options(isolation_level="AUTOCOMMIT")
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _PG_KEY}).scalar()
        if not got:
            holder = conn.execute(
                text(
                    "SELECT a.pid, a.client_addr, a.backend_start FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
                    "AND l.granted AND ((l.classid::bigint << 32) | l.objid::bigint) = :k"
                ),
                {"k": _PG_KEY},
            ).first()
            conn.close()
            who = (
                f" (PostgreSQL backend {holder[0]} from {holder[1] or 'local'}, since "
                f"{holder[2]:%Y-%m-%d %H:%M:%S})"
                if holder
                else ""
            )
            raise RunnerLocked(
                f"another genebot runner owns the deployments of {self.db.display_url}{who}: "
                "stop it first (`genebot stop`), or point DATABASE_URL at another database"
            )
        self._conn = conn

    # -- SQLite: flock on a file next to the database -------------------------------------------
    def _lock_path(self) -> Path:
        database = self.db.url.database
        if not database or database == ":memory:":
            raise InputError("an in-memory SQLite database cannot be shared by runners")
        return Path(f"{database}.runner.lock")

    def _acquire_file(self) -> None:
        path = self._lock_path()
        handle = path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            pid = handle.read().strip() or "?"
            handle.close()
            raise RunnerLocked(
                f"another genebot runner (pid {pid}) owns the deployments of "
                f"{self.db.display_url}: stop it first (`genebot stop`), or use another "
                "database"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
