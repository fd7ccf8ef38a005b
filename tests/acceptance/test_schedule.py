"""The trading schedule (issue 14): outside the market's hours or the user's windows no entry
is placed (denied with rule schedule, counted); positions are closed before a market close
when asked; the same in a backtest and in a paper replay."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from genebot.backtest import run
from genebot.config.loader import load_config
from genebot.core.errors import ConfigError
from genebot.live.runtime import PaperRuntime
from genebot.persistence.database import Database
from genebot.persistence.migrate import ensure_current

ROOT = Path(__file__).resolve().parents[2]
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


def _crypto(schedule: dict[str, Any]) -> dict[str, Any]:
    return {
        "backtest": {"data_dir": str(ROOT / "data/sample"), "end_date": "2021-05-20"},
        "strategies": {"moving_average": {"symbols": ["BTC/USDT"], "timeframes": ["5m"]}},
        "risk_management": {"enabled": False},
        "schedule": schedule,
    }


WINDOW = {
    "enabled": True,
    "windows": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00",
                 "end": "17:00", "timezone": "Europe/London"}],
}  # fmt: skip


def _local(ns: int, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, zone)


def test_entries_only_inside_the_window() -> None:
    free = run(_crypto({}))
    held = run(_crypto(WINDOW))
    entries = [o for o in held.order_log if not o.reduce_only and o.parent_id is None]
    placed = [o for o in entries if o.status.value != "DENIED"]
    denied = [o for o in entries if o.status.value == "DENIED"]
    assert placed and denied
    for order in placed:
        local = _local(order.ts_init, LONDON)
        assert local.weekday() < 5 and 8 <= local.hour < 17, local
    for order in denied:
        assert order.reason == "schedule: outside the trading schedule"
    assert held.stats["schedule_denied"] == len(denied)
    assert len(held.trades) < len(free.trades)  # it did restrict something


def test_a_paper_replay_follows_the_same_schedule(tmp_path: Path) -> None:
    cfg = load_config(_crypto(WINDOW))
    db = Database(f"sqlite:///{tmp_path / 's.db'}")
    ensure_current(db)
    paper = PaperRuntime(cfg, db, speed=None).run().result
    assert paper.orders.equals(run(cfg).orders)


def test_flatten_before_the_forex_weekly_close() -> None:
    cfg = {
        "backtest": {"data_dir": str(ROOT / "data/sample")},
        "strategies": {"mean_reversion": {"symbols": ["EUR/USD"], "timeframes": ["1h"]}},
        "exchanges": {"oanda": {"account_type": "margin", "leverage": 20}},
        "risk_management": {"enabled": False},
        "schedule": {"enabled": True, "market": "forex", "flatten_before_close_minutes": 120},
    }
    result = run(cfg)
    exits = [o for o in result.order_log if o.tag == "schedule_exit"]
    assert exits and result.stats["schedule_flattened"] == len(exits)
    for order in exits:  # Friday, within two hours of the 17:00 New York close
        local = _local(order.ts_init, NEW_YORK)
        assert local.weekday() == 4 and 15 <= local.hour < 17, local
    for trade in result.closed_trades:  # no position held over a weekly close
        opened, closed = _local(trade.entry_ts, NEW_YORK), _local(trade.exit_ts, NEW_YORK)
        friday = (opened + timedelta(days=(4 - opened.weekday()) % 7)).replace(
            hour=17, minute=0, second=0, microsecond=0
        )
        if friday <= opened:
            friday += timedelta(days=7)
        assert closed <= friday, (opened, closed)


def test_bad_schedules_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"schedule\.exchange: is required for market equity"):
        load_config({"schedule": {"enabled": True, "market": "equity"}})
    with pytest.raises(ConfigError, match=r"schedule.windows\[0\].days"):
        load_config({"schedule": {"windows": [{"days": ["funday"], "start": "08:00",
                                               "end": "10:00"}]}})  # fmt: skip
