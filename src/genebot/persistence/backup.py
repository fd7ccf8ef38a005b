"""``genebot db backup`` and ``genebot db restore``.

SQLite: SQLite's online backup API copies a consistent snapshot while the engine keeps writing
(WAL and all); a restore first saves the current database beside itself, so nothing already
recorded is lost, then copies the backup in through the same API (it takes the proper locks).
PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore --clean --single-transaction``, the
password handed over in the environment (never on a command line anyone can list).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from genebot.core.errors import InputError, StopError
from genebot.persistence.database import Database


def backup(db: Database, target: str | Path) -> Path:
    path = Path(target)
    if path.exists():
        raise InputError(f"backup {path}: the file exists; choose a new name")
    if not path.parent.is_dir():
        raise InputError(f"backup {path}: folder {path.parent} does not exist")
    if db.dialect == "sqlite":
        _sqlite_copy(_sqlite_source(db), path)
        _check_sqlite_file(path)
    else:
        _run_pg(db, "pg_dump", ["--format=custom", f"--file={path}"])
    return path


def restore(db: Database, source: str | Path) -> Path | None:
    """Restore ``source``; returns where the replaced SQLite database was saved."""
    path = Path(source)
    if not path.is_file():
        raise InputError(f"restore {path}: file not found")
    if db.dialect != "sqlite":
        _run_pg(db, "pg_restore", ["--clean", "--if-exists", "--single-transaction", str(path)])
        return None
    _check_sqlite_file(path)
    live = _sqlite_source(db)
    saved = None
    if live.is_file():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        saved = live.with_name(f"{live.name}.before-restore-{stamp}")
        _sqlite_copy(live, saved)
    db.dispose()  # no pooled connection may keep a view of the old pages
    _sqlite_copy(path, live)
    return saved


def _sqlite_source(db: Database) -> Path:
    name = db.url.database
    if not name or name == ":memory:":
        raise InputError("an in-memory SQLite database cannot be backed up or restored")
    return Path(name)


def _sqlite_copy(source: Path, target: Path) -> None:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=15)
    dst = sqlite3.connect(target, timeout=15)
    try:
        src.backup(dst, pages=1024)
    finally:
        dst.close()
        src.close()


def _check_sqlite_file(path: Path) -> None:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            (ok,) = conn.execute("PRAGMA integrity_check").fetchone()
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise InputError(f"{path}: not a SQLite database ({exc})") from None
    if ok != "ok":
        raise StopError(f"{path}: integrity check failed: {ok}")
    if "alembic_version" not in tables:
        raise InputError(f"{path}: not a genebot database (no alembic_version table)")


def _run_pg(db: Database, tool: str, args: list[str]) -> None:
    exe = shutil.which(tool)
    url = db.url.set(drivername="postgresql")
    guidance = (
        f"{tool} {' '.join(args)} --dbname=postgresql://{url.host or 'localhost'}:"
        f"{url.port or 5432}/{url.database} (password in PGPASSWORD)"
    )
    if exe is None:
        raise InputError(f"{tool} is not installed here; run it where it is: {guidance}")
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    dbname = url.set(password=None).render_as_string(hide_password=False)
    done = subprocess.run(
        [exe, *args, f"--dbname={dbname}"], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["failed"])[0]
        raise StopError(f"{tool} failed: {first}")
