"""One runner per database: a second process is refused while the first holds the lock, and
the lock dies with its holder (SIGKILL frees it). SQLite and the real PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from genebot.persistence.database import Database
from genebot.persistence.lock import RunnerLock, RunnerLocked

HOLDER = """
import sys, time
from genebot.persistence.database import Database
from genebot.persistence.lock import RunnerLock
lock = RunnerLock(Database(sys.argv[1]))
lock.acquire()
print("locked", flush=True)
time.sleep(60)
"""


def _url(db: Database) -> str:
    return db.url.render_as_string(hide_password=False)


def test_a_second_runner_is_refused_until_the_first_dies(database: Database) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, _url(database)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunnerLocked, match="another genebot runner") as refused:
            RunnerLock(database).acquire()
        if database.dialect == "sqlite":
            assert f"pid {holder.pid}" in str(refused.value)
        else:
            assert "PostgreSQL backend" in str(refused.value)
        assert "genebot stop" in str(refused.value)
        os.kill(holder.pid, signal.SIGKILL)  # a crash: no clean-up code runs
        holder.wait(timeout=10)
        with RunnerLock(database), pytest.raises(RunnerLocked):  # free at once, held again
            RunnerLock(database).acquire()
        with RunnerLock(database):  # released on exit
            pass
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_each_paper_deployment_has_its_own_lock(database: Database) -> None:
    """Two paper deployments run side by side; the same one is refused naming it; a live
    runner's lock (the database's) is apart from both."""
    from genebot.persistence.lock import DATABASE, held, scope_of

    first, second = scope_of("paper", "alpha"), scope_of("paper", "beta")
    assert scope_of("live", "alpha") == DATABASE
    with RunnerLock(database, first):
        assert held(database, first) and not held(database, second)
        assert not held(database, DATABASE)
        with pytest.raises(RunnerLocked, match="paper deployment 'alpha'"):
            RunnerLock(database, first).acquire()
        with RunnerLock(database, second), RunnerLock(database, DATABASE):
            assert held(database, second) and held(database, DATABASE)
    assert not held(database, first) and not held(database, second)
