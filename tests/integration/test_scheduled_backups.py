"""Scheduled backups (``backup:``): a consistent copy every interval while a runner trades,
the newest ``keep`` kept, none before the first interval, a failure logged and retried."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from genebot.config.sections import BackupSectionConfig
from genebot.persistence.database import Database
from genebot.persistence.migrate import ensure_current
from genebot.persistence.repositories import DeploymentRepository
from genebot.services.backups import BackupScheduler, take


def _db(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'live.db'}")
    ensure_current(db)
    DeploymentRepository(db).start("paper-btc", "paper", {})
    return db


def test_take_writes_a_readable_copy_and_keeps_the_newest(tmp_path: Path) -> None:
    db = _db(tmp_path)
    t0 = datetime(2026, 12, 7, tzinfo=UTC)
    made = [take(db, tmp_path / "b", keep=3, now=t0 + timedelta(hours=h)) for h in range(5)]
    left = sorted(p.name for p in (tmp_path / "b").glob("*.db"))
    assert left == [p.name for p in made[2:]]
    with sqlite3.connect(made[-1]) as copy:
        assert copy.execute("select name from deployments").fetchall() == [("paper-btc",)]


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_scheduler_backs_up_once_an_interval_and_never_at_the_start(tmp_path: Path) -> None:
    db, clock = _db(tmp_path), _Clock()
    settings = BackupSectionConfig(every_hours=1, directory=str(tmp_path / "s"), keep=5)
    scheduler = BackupScheduler(db, settings, clock=clock).start()
    time.sleep(1.5)
    assert scheduler.taken == []  # a short run writes none
    clock.now = 3600.0
    deadline = time.monotonic() + 10
    while not scheduler.taken and time.monotonic() < deadline:
        time.sleep(0.05)
    scheduler.stop()
    assert len(scheduler.taken) == 1 and scheduler.taken[0].is_file()


def test_a_failed_backup_is_logged_and_trading_goes_on(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    db, clock = _db(tmp_path), _Clock()
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    settings = BackupSectionConfig(every_hours=1, directory=str(blocker), keep=5)
    scheduler = BackupScheduler(db, settings, clock=clock).start()
    clock.now = 3600.0
    deadline = time.monotonic() + 10
    while "scheduled backup failed" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.05)
    scheduler.stop()
    assert "scheduled backup failed (tried again in 1.0 h)" in caplog.text
    assert scheduler.taken == []
