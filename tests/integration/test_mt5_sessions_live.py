"""The broker's sessions in a live MT5 run (the MetaTrader5 stand-in over a weekend of the
bundled EUR/USD hours): the weekend is no stale data (no alert, no pause), an entry while the
market is closed is denied with a "market closed" reason and never sent, and trading resumes
at the session open."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import select
from test_mt5_live_runtime import NS, config

from genebot.config.loader import load_config
from genebot.live.exchange_runtime import STALE_PAUSE, LiveRuntime
from genebot.live.exchange_setup import LiveKernel
from genebot.persistence.database import Database
from genebot.persistence.migrate import upgrade
from genebot.persistence.tables import JournalEntry, OrderRow
from genebot.testkit.mt5_standin import Mt5Standin
from genebot.venues.mt5.sessions import BrokerSessions
from genebot.venues.mt5.symbols import ServerClock

FRIDAY = "2018-02-09T00:00:30Z"
CLOSE, OPEN = pd.Timestamp("2018-02-09T21:55:00Z"), pd.Timestamp("2018-02-11T22:00:00Z")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'live.db'}")
    upgrade(database)
    yield database
    database.dispose()


def run_over_the_weekend(db: Database, monkeypatch: pytest.MonkeyPatch, **mt5: Any) -> Any:
    terminal = Mt5Standin.with_eurusd(balance=100_000.0)
    terminal.set_time(FRIDAY)
    monkeypatch.setitem(sys.modules, "MetaTrader5", terminal.as_module())
    cfg = config()
    cfg["exchanges"]["mt5"].update(mt5)
    seen: list[tuple[int, str | None, bool, Any]] = []

    def on_bar(live: LiveKernel) -> None:
        now = terminal.now * NS
        refusal = live.parts.venue.entry_refusal("EUR/USD@mt5")
        paused = STALE_PAUSE in (rt.control.paused if rt.control else set())
        order = None
        if refusal is not None and not any(s[3] for s in seen):  # one entry while closed
            inst = live.kernel.instruments["EUR/USD@mt5"]
            order = live.kernel.execution.create("swing_trend_momentum", inst, "BUY", Decimal(1000))
        seen.append((now, refusal, paused, order))

    def sleep(seconds: float) -> None:
        terminal.set_time((terminal.now // 3600 + 1) * 3600 + 2)

    rt = LiveRuntime(load_config(cfg), db, max_bars=24 * 4, clock=lambda: terminal.now * NS,
                     sleep=sleep, on_bar=on_bar)  # fmt: skip
    rt.run()
    return terminal, seen


def test_the_weekend_is_no_stale_data_and_entries_wait_for_the_open(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal, seen = run_over_the_weekend(db, monkeypatch)
    with db.reader() as s:
        kinds = list(s.scalars(select(JournalEntry.kind)))
        rows = list(s.scalars(select(OrderRow)))
    assert "runtime.stale" not in kinds and not any(paused for _, _, paused, _ in seen)
    closed = [(t, why) for t, why, _, _ in seen if why is not None]
    assert closed and all(CLOSE.value <= t < OPEN.value for t, _ in closed)
    assert all("market is closed" in why and "Sun 2018-02-11 22:00 UTC" in why for _, why in closed)
    (tried,) = [o for *_, o in seen if o is not None]
    assert tried.status.value == "DENIED" and (tried.reason or "").startswith(
        "market_closed: EURUSD"
    )
    (row,) = [r for r in rows if r.client_order_id == tried.client_order_id]
    assert row.status == "DENIED" and "market_closed" in (row.reason or "")
    comments = {r.get("comment") for name, r in terminal.calls if name == "order_send"}
    assert not any(c and c.endswith(tried.client_order_id) for c in comments)  # never sent
    reopened = [t for t, why, _, _ in seen if why is None and t >= OPEN.value]
    assert reopened  # the run goes on after the open, entries allowed again


def test_a_rollover_pause_denies_entries_around_the_servers_midnight(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (``exchanges.mt5.rollover_pause_minutes: 15``, once the configuration has the key)
    import genebot.venues.mt5.factory as factory

    def paused_sessions(cfg: Any, server: ServerClock) -> BrokerSessions:
        return BrokerSessions(server, rollover_pause_min=15)

    monkeypatch.setattr(factory, "sessions_of", paused_sessions)
    _, seen = run_over_the_weekend(db, monkeypatch)
    paused = [pd.Timestamp(t, unit="ns", tz="UTC") for t, why, _, _ in seen
              if why and "rollover pause" in why]  # fmt: skip
    assert paused and all(p.hour == 22 and p.minute < 15 for p in paused)  # server 00:00 +2
