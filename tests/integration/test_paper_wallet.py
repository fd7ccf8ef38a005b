"""``paper.starting_balances``: the simulated wallet of a paper replay. The account currency's
amount is the strategies' capital (the replay equals a backtest with that initial cash); the
other currencies sit in the wallet beside it; a wallet without the account currency is
refused by name."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from genebot.backtest import run
from genebot.config.loader import load_config
from genebot.core.errors import ConfigError
from genebot.live.runtime import PaperRuntime
from genebot.persistence.database import Database
from genebot.persistence.migrate import ensure_current
from genebot.persistence.tables import Deployment

ROOT = Path(__file__).resolve().parents[2]
DATA = str(ROOT / "data" / "sample")


def _cfg(**paper: Any) -> dict[str, Any]:
    return {
        "backtest": {"data_dir": DATA, "start_date": "2021-05-01", "end_date": "2021-05-08"},
        "strategies": {
            "moving_average": {
                "parameters": {"short_period": 10, "long_period": 20},
                "symbols": ["BTC/USDT"], "timeframes": ["5m"],
            }
        },
        "paper": paper,
    }  # fmt: skip


def _db(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'wallet.db'}")
    ensure_current(db)
    return db


def test_the_wallet_is_the_capital_and_holds_the_other_currencies(tmp_path: Path) -> None:
    cfg = load_config(_cfg(starting_balances={"usdt": 5000, "BTC": 0.25}))
    runtime = PaperRuntime(cfg, _db(tmp_path), speed=None)
    paper = runtime.run().result
    assert runtime.opened is not None
    account = runtime.opened.setup.venues[0].account
    assert account.balance("BTC") >= Decimal("0.25")  # the starting BTC stays (spot: long only)
    same = _cfg()
    same["backtest"]["initial_cash"] = 5000
    backtest = run(same)
    assert len(paper.trades) > 0
    assert paper.trades.equals(backtest.trades)  # 5,000 USDT of capital, as the backtest's
    assert paper.orders["quantity"].tolist() == backtest.orders["quantity"].tolist()


def test_a_wallet_without_the_account_currency_is_refused(tmp_path: Path) -> None:
    cfg = load_config(_cfg(starting_balances={"EUR": 5000, "BTC": 1}))
    db = _db(tmp_path)
    with pytest.raises(ConfigError, match=r"paper.starting_balances: no USDT .* add USDT"):
        PaperRuntime(cfg, db, speed=None).run()
    with db.reader() as session:  # refused before anything was recorded
        assert session.scalar(select(func.count()).select_from(Deployment)) == 0
