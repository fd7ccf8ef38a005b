"""Suite-wide: commands run by tests record into a throwaway database, never ./genebot.db."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# `genebot run` serves the API on :8000 by default; commands run by tests (in parallel workers)
# do not: the tests of the API start their own servers on free ports.
os.environ.setdefault("GENEBOT_NO_API", "1")
os.environ.setdefault("GENEBOT_NO_LOG_FILES", "1")  # nor the logs/ files (tests that test them ask)


@pytest.fixture(scope="session", autouse=True)
def _scratch_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    previous = os.environ.get("DATABASE_URL")
    path = tmp_path_factory.mktemp("db") / "genebot.db"
    os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    yield
    if previous is None:
        os.environ.pop("DATABASE_URL", None)
    else:
        os.environ["DATABASE_URL"] = previous


@pytest.fixture(autouse=True)
def _fast_loop_always_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    """``engine_mode: fast`` runs the per-bar loop on dense signals (it would be slower); the
    parity tests compare the two loops, so in tests fast always skips. The choice itself is
    tested with the real threshold (``test_engine_auto.py`` sets it back)."""
    import genebot.backtest.runner as runner

    monkeypatch.setattr(runner, "FAST_BREAK_EVEN", 1.0)
