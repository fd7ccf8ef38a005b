"""The locks ``genebot run`` processes hold while they trade, so two processes never trade
the same thing: a live runner holds the database's lock (one live runner per database: it owns
the account), a paper runner the lock of its deployment's name (several paper deployments run
side by side, each in its own process; the same one never twice). :func:`scope_of` names the
lock of a deployment, :func:`held` says whether a process holds one now.

The lock dies with the process that holds it (a crash or SIGKILL frees it at once): on
PostgreSQL a session-level advisory lock on a connection kept open for the runner's life; on
SQLite an exclusive ``flock`` on ``<database file>.runner.lock``, which also records the holder's
pid for the message a second runner gets.
"""

from __future__ import annotations

import fcntl
import os
import time
import zlib
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, text

from genebot.core.errors import InputError
from genebot.persistence.database import Database

# pg_try_advisory_lock takes a bigint; one constant key names "the genebot runner" (the
# database's lock); a named scope is the pair (_PG_CLASS, crc32 of its name).
_PG_KEY = 0x67656E65626F74  # "genebot"
_PG_CLASS = 0x67656E65  # "gene"
DATABASE = ""  # the scope of the whole database (live runners)


def scope_of(mode: str, name: str) -> str:
    """The lock a deployment's runner holds: the database's for live, its name's for paper."""
    return DATABASE if mode == "live" else f"paper:{name}"


def held(db: Database, scope: str = DATABASE) -> bool:
    """Whether some process (this one included) holds ``scope``'s lock now."""
    lock = RunnerLock(db, scope)
    try:
        lock.acquire()
    except RunnerLocked:
        return True
    lock.release()
    return False


class RunnerLocked(InputError):
    """Another runner owns this database's deployments."""


class RunnerLock:
    """``with RunnerLock(db):`` or :meth:`acquire` / :meth:`release`."""

    def __init__(self, db: Database, scope: str = DATABASE) -> None:
        self.db, self.scope = db, scope
        self._conn: Connection | None = None
        self._file: IO[str] | None = None

    @property
    def _crc(self) -> int:
        return zlib.crc32(self.scope.encode("utf-8"))

    @property
    def _pg_args(self) -> str:
        return ":k" if self.scope == DATABASE else ":c, :o"

    @property
    def _pg_key(self) -> dict[str, int]:
        if self.scope == DATABASE:
            return {"k": _PG_KEY}
        crc = self._crc
        return {"c": _PG_CLASS, "o": crc - 2**32 if crc >= 2**31 else crc}

    @property
    def _what(self) -> str:
        if self.scope == DATABASE:
            return f"owns the deployments of {self.db.display_url}"
        kind, _, name = self.scope.partition(":")
        return f"is trading {kind} deployment {name!r} on {self.db.display_url}"

    def acquire(self, wait_s: float = 0.0) -> None:
        """Take the lock, trying again for ``wait_s`` (a watcher's :func:`held` holds it for
        an instant: a starting runner must not take that for another runner)."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                return (
                    self._acquire_pg() if self.db.dialect == "postgresql" else self._acquire_file()
                )
            except RunnerLocked:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)

    def release(self) -> None:
        if self._conn is not None:
            self._conn.execute(text(f"SELECT pg_advisory_unlock({self._pg_args})"), self._pg_key)
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
        got = conn.execute(
            text(f"SELECT pg_try_advisory_lock({self._pg_args})"), self._pg_key
        ).scalar()
        if not got:
            holder = conn.execute(
                text(
                    "SELECT a.pid, a.client_addr, a.backend_start FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
                    "AND l.granted AND ((l.classid::bigint << 32) | l.objid::bigint) = :k"
                ),
                {"k": _PG_KEY if self.scope == DATABASE else (_PG_CLASS << 32) | self._crc},
            ).first()
            conn.close()
            who = (
                f" (PostgreSQL backend {holder[0]} from {holder[1] or 'local'}, since "
                f"{holder[2]:%Y-%m-%d %H:%M:%S})"
                if holder
                else ""
            )
            raise RunnerLocked(
                f"another genebot runner {self._what}{who}: stop it first (`genebot stop`), "
                "or point DATABASE_URL at another database"
            )
        self._conn = conn

    # -- SQLite: flock on a file next to the database -------------------------------------------
    def _lock_path(self) -> Path:
        database = self.db.url.database
        if not database or database == ":memory:":
            raise InputError("an in-memory SQLite database cannot be shared by runners")
        if self.scope == DATABASE:
            return Path(f"{database}.runner.lock")
        return Path(f"{database}.runner-{self._crc:08x}.lock")

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
                f"another genebot runner (pid {pid}) {self._what}: stop it first "
                "(`genebot stop`), or use another database"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
