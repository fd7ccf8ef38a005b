"""Scheduled database backups while a runner trades (``backup:``): every ``every_hours`` a
``genebot db backup`` into ``directory`` (SQLite: a consistent copy; PostgreSQL: ``pg_dump``),
the newest ``keep`` kept. The first is taken one interval after the start, so a short run
writes none. A failed backup is logged as an error and tried again at the next interval;
trading never waits for one (it runs in its own thread)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from genebot.core.errors import GenebotError
from genebot.persistence.backup import backup
from genebot.persistence.database import Database

log = logging.getLogger("genebot.backup")
PREFIX = "genebot-"


def take(db: Database, directory: Path, keep: int, now: datetime | None = None) -> Path:
    """One backup into ``directory`` (made if missing); the oldest beyond ``keep`` removed."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")
    suffix = ".db" if db.dialect == "sqlite" else ".dump"
    path = backup(db, directory / f"{PREFIX}{stamp}{suffix}")
    kept = sorted(directory.glob(f"{PREFIX}*{suffix}"))
    for old in kept[: max(0, len(kept) - keep)]:
        for part in (old, old.with_name(old.name + "-wal"), old.with_name(old.name + "-shm")):
            part.unlink(missing_ok=True)
    log.info("database backed up to %s", path)
    return path


class BackupScheduler:
    """``start()`` a daemon thread taking a backup every ``every_s``; ``stop()`` ends it."""

    def __init__(
        self,
        db: Database,
        settings: Any,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db, self.settings, self.clock = db, settings, clock
        self.every_s = float(settings.every_hours) * 3600.0
        self.taken: list[Path] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="genebot-backup", daemon=True)

    def start(self) -> BackupScheduler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        due = self.clock() + self.every_s
        while not self._stop.wait(min(1.0, max(0.0, due - self.clock()))):
            if self.clock() < due:
                continue
            due = self.clock() + self.every_s
            try:
                directory = Path(self.settings.directory)
                self.taken.append(take(self.db, directory, int(self.settings.keep)))
            except (GenebotError, OSError) as exc:
                log.error("scheduled backup failed (tried again in %s h): %s",
                          self.settings.every_hours, exc)  # fmt: skip


def start_backups(cfg: Any, db: Database) -> BackupScheduler | None:
    settings = cfg.backup
    if not settings.enabled:
        return None
    return BackupScheduler(db, settings).start()
