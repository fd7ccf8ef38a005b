"""``genebot db`` and ``genebot report``, and the backtest's own record, run as a user runs
them (real subprocesses) against SQLite and the real PostgreSQL."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from genebot.persistence.database import Database
from genebot.persistence.migrate import upgrade
from genebot.persistence.tables import BacktestRun
from genebot.testkit import run_cli

ROOT = Path(__file__).resolve().parents[2]
SHORT = ("--end-date", "2021-05-02", "--quiet")


def genebot(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=ROOT)


def _url(db: Database) -> str:
    return db.url.render_as_string(hide_password=False)


def _runs(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(BacktestRun)) or 0


def test_init_current_and_a_second_init_refused(empty_database: Database) -> None:
    url = ("--database-url", _url(empty_database))
    before = genebot("db", "current", *url)
    assert before.returncode == 0 and "genebot db init" in before.stdout
    created = genebot("db", "init", *url)
    assert created.returncode == 0, created.stderr
    assert "up to date" in genebot("db", "current", *url).stdout
    again = genebot("db", "init", *url)
    assert again.returncode == 2 and "genebot db upgrade" in again.stderr
    assert "Traceback" not in again.stderr
    assert genebot("db", "downgrade", "base", *url).returncode == 2  # needs --yes


def test_a_backtest_refuses_a_database_without_the_schema(
    empty_database: Database, tmp_path: Path
) -> None:
    if empty_database.dialect == "sqlite":  # a brand-new SQLite file is created instead
        empty_database = Database(f"sqlite:///{tmp_path / 'x.db'}")
        with sqlite3.connect(tmp_path / "x.db") as conn:
            conn.execute("CREATE TABLE unrelated (x)")
    out = tmp_path / "out"
    proc = genebot(
        "backtest", "--database-url", _url(empty_database), "--output-dir", str(out), *SHORT
    )
    assert proc.returncode == 1
    assert "genebot db init" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()  # refused before any compute or output


def test_a_backtest_is_recorded_and_reported(database: Database, tmp_path: Path) -> None:
    url = ("--database-url", _url(database))
    proc = genebot("backtest", *url, "--output-dir", str(tmp_path / "out"), *SHORT)
    assert proc.returncode == 0, proc.stderr
    assert "stored as run 1" in proc.stdout
    listing = genebot("report", "runs", *url)
    assert listing.returncode == 0 and "moving_average" in listing.stdout
    shown = genebot("report", "run", "1", *url)
    assert shown.returncode == 0 and "final_equity (exact)" in shown.stdout
    assert "round trips" in shown.stdout
    missing = genebot("report", "run", "99", *url)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    unstored = genebot("backtest", "--no-store", *url, *SHORT, "--output-dir", str(tmp_path))
    assert unstored.returncode == 0
    assert _runs(database) == 1


def test_a_new_sqlite_file_gets_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    proc = genebot("backtest", "--database-url", url, "--output-dir", str(tmp_path), *SHORT)
    assert proc.returncode == 0, proc.stderr
    assert "created database" in proc.stderr
    assert _runs(Database(url)) == 1


def test_backup_and_restore_keep_what_was_recorded(database: Database, tmp_path: Path) -> None:
    url = ("--database-url", _url(database))
    out = ("--output-dir", str(tmp_path / "out"))
    assert genebot("backtest", *url, *out, *SHORT).returncode == 0
    backup = tmp_path / "backup.dump"
    made = genebot("db", "backup", str(backup), *url)
    assert made.returncode == 0, made.stderr
    assert genebot("db", "backup", str(backup), *url).returncode == 2  # never overwrites
    _store_another_run(database)
    assert _runs(database) == 2
    database.dispose()
    assert genebot("db", "restore", str(backup), *url).returncode == 2  # needs --yes
    restored = genebot("db", "restore", str(backup), *url, "--yes")
    assert restored.returncode == 0, restored.stderr
    assert _runs(database) == 1
    if database.dialect == "sqlite":  # what the restore replaced is kept beside it
        (saved,) = tmp_path.glob("genebot.db.before-restore-*")
        assert _runs(Database(f"sqlite:///{saved}")) == 2


def _store_another_run(db: Database) -> None:
    from decimal import Decimal

    from genebot.persistence.repositories import BacktestRunRepository, RunRecord

    record = RunRecord("later", ["s"], {}, {}, None, None, None, Decimal("1.5"))
    BacktestRunRepository(db).save(record, [])


def test_a_bad_backup_file_is_refused(database: Database, tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_text("not a database")
    proc = genebot("db", "restore", str(junk), "--database-url", _url(database), "--yes")
    assert proc.returncode in (1, 2) and "Traceback" not in proc.stderr
    assert _runs(database) == 0


_WATCH_RUN = """
import sys
import genebot.backtest.runner as runner
real = runner.run
def watched(*args, **kw):
    print("sqlalchemy loaded during the run:", "sqlalchemy" in sys.modules, file=sys.stderr)
    return real(*args, **kw)
runner.run = watched
from genebot.cli.main import main
sys.argv = ["genebot", "backtest", *sys.argv[1:]]
main()
"""


def test_a_sqlite_record_loads_no_database_layer_beside_the_run(tmp_path: Path) -> None:
    """New or current, the file is checked with sqlite3; SQLAlchemy loads to store, after."""
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    for number in (1, 2):  # a new file, then one at this genebot's schema
        proc = subprocess.run(
            [sys.executable, "-c", _WATCH_RUN, "--database-url", url,
             "--output-dir", str(tmp_path / f"o{number}"), *SHORT],
            cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert "sqlalchemy loaded during the run: False" in proc.stderr
        assert f"stored as run {number}" in proc.stdout
    assert _runs(Database(url)) == 2


def test_a_sqlite_file_behind_the_schema_is_refused_before_the_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(Database(url), "0003")
    out = tmp_path / "out"
    proc = genebot("backtest", "--database-url", url, "--output-dir", str(out), *SHORT)
    assert proc.returncode == 1
    assert "genebot db upgrade" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()
