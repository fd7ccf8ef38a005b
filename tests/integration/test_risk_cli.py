"""``genebot risk reset|status``: the admin override is a journaled command with who and why,
against SQLite and the real PostgreSQL (real subprocesses, as a user runs it)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from genebot.persistence.database import Database
from genebot.persistence.journal import TradingStore
from genebot.persistence.repositories import (
    DeploymentRepository,
    JournalRepository,
    RiskRepository,
)
from genebot.testkit import run_cli

ROOT = Path(__file__).resolve().parents[2]


def genebot(db: Database, *args: str) -> subprocess.CompletedProcess[str]:
    url = db.url.render_as_string(hide_password=False)
    return run_cli("risk", *args, "--database-url", url, cwd=ROOT)


def test_reset_is_journaled_with_who_and_why(database: Database) -> None:
    dep = DeploymentRepository(database).start("paper-btc", "paper", {"strategies": {}})
    TradingStore(database, dep).record_kill_switch("activated", "daily_loss", "engine", "loss 5%")
    done = genebot(database, "reset", "--reason", "reviewed the fills", "--who", "alice")
    assert done.returncode == 0, done.stderr
    assert f"reset recorded for deployment {dep} by alice: reviewed the fills" in done.stdout
    history = RiskRepository(database).kill_switch_history(dep)
    assert [(e.kind, e.rule, e.who, e.reason) for e in history] == [
        ("activated", "daily_loss", "engine", "loss 5%"),
        ("reset", "admin", "alice", "reviewed the fills"),
    ]
    kinds = [e.kind for e in JournalRepository(database).read(dep)]
    assert kinds[-1] == "kill_switch.reset"
    status = genebot(database, "status")
    assert status.returncode == 0 and "reviewed the fills" in status.stdout


def test_reset_needs_a_reason_and_a_deployment(database: Database) -> None:
    none = genebot(database, "reset", "--reason", "x")
    assert none.returncode == 2 and "no running paper/live deployment" in none.stderr
    DeploymentRepository(database).start("a", "paper", {})
    blank = genebot(database, "reset", "--reason", "  ")
    assert blank.returncode == 2 and "--reason" in blank.stderr
    unknown = genebot(database, "reset", "--reason", "x", "--deployment", "nope")
    assert unknown.returncode == 2 and "no deployment 'nope'" in unknown.stderr
    missing = genebot(database, "reset")
    assert missing.returncode == 2 and "--reason" in missing.stderr
    for result in (none, blank, unknown, missing):
        assert "Traceback" not in result.stderr
