"""A paced paper replay's closed trades reach the database (the API's trade history) within
about a second of closing, not at the next 250-step checkpoint: at 600x on 5m bars that
checkpoint is two minutes of wall time away (and hours in a live run on 1m bars)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from genebot.config.loader import load_config
from genebot.live.runtime import CHECKPOINT_EVERY, PaperRuntime
from genebot.persistence.database import Database
from genebot.persistence.migrate import ensure_current
from genebot.persistence.repositories import TradeRepository

ROOT = Path(__file__).resolve().parents[2]
CONFIG = {
    "backtest": {"data_dir": str(ROOT / "data/sample"), "start_date": "2021-05-01",
                 "end_date": "2021-05-04"},
    "strategies": {"moving_average": {"parameters": {"short_period": 5, "long_period": 10},
                                      "symbols": ["BTC/USDT"], "timeframes": ["5m"]}},
}  # fmt: skip


def test_a_closed_trade_reaches_the_history_within_seconds(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'h.db'}")
    ensure_current(db)
    runtime = PaperRuntime(load_config(CONFIG), db, speed=600.0)
    thread = threading.Thread(target=runtime.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and (
            runtime.context is None or not runtime.context.kernel.portfolio.trades
        ):
            time.sleep(0.02)
        closed_at = time.monotonic()
        kernel = runtime.context.kernel  # type: ignore[union-attr]
        assert kernel.portfolio.trades, "no trade closed in 90 s"
        dep = runtime.deployment_id
        assert dep is not None
        while time.monotonic() - closed_at < 5 and not TradeRepository(db).history(dep).total:
            time.sleep(0.05)
        stored = TradeRepository(db).history(dep)
        assert stored.total >= 1, "the closed trade is not in the history 5 s later"
        assert stored.items[-1].exit_reason == kernel.portfolio.trades[0].exit_reason
        # 250 steps of 5m bars at 600x take 125 s: this was not the periodic checkpoint
        assert thread.is_alive() and CHECKPOINT_EVERY == 250
    finally:
        runtime.stop()
        thread.join(60)
    assert not thread.is_alive()
