"""``genebot run --live`` on an MT5 account: the live runtime, unchanged, against the MetaTrader5
stand-in (installed as the ``MetaTrader5`` module): warm-up on the terminal's closed bars,
seed 003's SwingTrendMomentum on EUR/USD trading through ``order_send``, every order journaled,
the books reconciled with the terminal's."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import select

from genebot.backtest import run as backtest
from genebot.config.loader import load_config
from genebot.live.exchange_runtime import LiveRuntime
from genebot.persistence.database import Database
from genebot.persistence.migrate import upgrade
from genebot.persistence.tables import OrderRow
from genebot.testkit.mt5_standin import Mt5Standin, load_bars

NS = 1_000_000_000
START = "2018-02-01T00:00:30Z"


@pytest.fixture
def mt5(monkeypatch: pytest.MonkeyPatch) -> Mt5Standin:
    terminal = Mt5Standin.with_eurusd(balance=100_000.0)
    terminal.set_time(START)
    monkeypatch.setitem(sys.modules, "MetaTrader5", terminal.as_module())
    return terminal


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'live.db'}")
    upgrade(database)
    yield database
    database.dispose()


def config(**live: Any) -> dict[str, Any]:
    return {
        "dry_run": False,
        "exchanges": {
            "mt5": {"login": 5012345, "password": "demo-secret", "server": "Broker-Demo",
                    "server_timezone": "+2", "account_type": "margin", "sandbox": False}
        },
        "strategies": {
            "swing_trend_momentum": {
                "type": "SwingTrendMomentumStrategy", "symbols": ["EUR/USD"],
                "timeframes": ["1h"],
                "position_sizing": {"method": "fixed_quantity", "quantity": 10000},
            }
        },
        "live": {"warmup_bars": 300, "poll_delay_s": 1, "staged_sizing": False,
                 "reconcile_interval": 86_400, **live},
    }  # fmt: skip


def runtime(mt5: Mt5Standin, db: Database, bars: int) -> LiveRuntime:
    def sleep(seconds: float) -> None:  # the terminal's clock jumps to the next bar's close
        mt5.set_time((mt5.now // 3600 + 1) * 3600 + 2)

    return LiveRuntime(
        load_config(config()), db, max_bars=bars, clock=lambda: mt5.now * NS, sleep=sleep
    )


def test_a_live_run_trades_through_order_send_and_journals_every_order(
    mt5: Mt5Standin, db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rt = runtime(mt5, db, 24 * 40)
    outcome = rt.run()
    assert "demo-secret" not in caplog.text  # the password: in no log line, no journal row
    assert b"demo-secret" not in (tmp_path / "live.db").read_bytes()
    sent = [r for name, r in mt5.calls if name == "order_send" and "comment" in r]
    assert outcome.bars == 24 * 40 and outcome.sent > 0 and outcome.fills > 0
    assert rt.live is not None
    guards = [v for v in rt.live.parts.client.venue_ids.values() if v.startswith("sltp:")]
    assert guards and len(sent) == outcome.sent - len(guards)  # stops rest on the positions
    with db.session() as s:
        rows = s.scalars(select(OrderRow)).all()
    comments = {r["comment"] for r in sent}
    assert all(c.startswith(f"gb-{outcome.deployment_id[:6]}-") for c in comments)
    assert {f"gb-{outcome.deployment_id[:6]}-{r.client_order_id}" for r in rows} >= comments
    assert len(mt5.deals) == outcome.fills


def test_the_books_agree_with_the_terminal_and_paper_gives_the_same_orders(
    mt5: Mt5Standin, db: Database
) -> None:
    rt = runtime(mt5, db, 24 * 40)
    rt.run()
    assert rt.live is not None
    venue = rt.live.parts.venue
    assert venue.account.balances["USD"] == Decimal(str(mt5.account_info().balance))
    kinds = {e.kind for e in venue.account.entries}
    assert {"realized_pnl", "fee", "financing"} <= kinds  # swaps booked as financing
    assert sum(d.swap for d in mt5.deals) != 0
    log = rt.live.kernel.execution.order_log
    live = [(o.side, o.quantity, o.ts_init) for o in log if o.order_type == "MARKET"]
    stream = rt.live.parts.bars.streams[0]
    bars = load_bars()
    first = pd.Timestamp(START) - pd.Timedelta(hours=300)
    last = pd.Timestamp(stream.last_open_ns, unit="ns", tz="UTC")
    frame = bars[(bars.index >= first.floor("1h")) & (bars.index <= last)].astype(float)
    cfg = config()
    result = backtest(cfg | {"backtest": {"initial_cash": 100_000, "quote_currency": "USD"}},
                      {"EUR/USD": frame})  # fmt: skip
    market = result.orders[result.orders["type"] == "MARKET"]
    columns = zip(market["side"], market["quantity"], market["created"], strict=True)
    # the same orders at the same bars; the broker's lot step (0.01 lot = 1000 EUR) rounds
    # the backtest's sizes down (the backtest infers a finer step from the file)
    lot = rt.live.parts.instruments["EUR/USD@mt5"]
    paper = [
        (side, lot.round_quantity(Decimal(str(q))), pd.Timestamp(c).value) for side, q, c in columns
    ]
    assert len(live) >= 4 and live == paper


class Killed(BaseException):
    """The process dying (as under SIGKILL: no handler runs, the deployment stays open)."""


def test_killed_between_execution_and_reply_the_restart_adopts_the_order_never_resends(
    mt5: Mt5Standin, db: Database
) -> None:
    real_send = mt5.order_send
    state = {"sends": 0}

    def dying_send(request: dict[str, Any]) -> Any:
        state["sends"] += "comment" in request  # orders (not a position's sl/tp)
        result = real_send(request)
        if state["sends"] == 2 and "comment" in request:  # executed; the reply never seen
            raise Killed
        return result

    module = mt5.as_module()
    module.order_send = dying_send
    sys.modules["MetaTrader5"] = module
    with pytest.raises(Killed):
        runtime(mt5, db, 24 * 40).run()
    assert len(mt5.deals) == 2
    lost = mt5.deals[-1].comment
    sys.modules["MetaTrader5"] = mt5.as_module()
    rt = runtime(mt5, db, 24 * 10)
    rt.run()
    comments = [r["comment"] for name, r in mt5.calls if name == "order_send" and "comment" in r]
    assert comments.count(lost) == 1  # never resent
    with db.session() as s:
        rows = s.scalars(select(OrderRow)).all()
    (row,) = [r for r in rows if lost == f"gb-{r.deployment_id[:6]}-{r.client_order_id}"]
    assert row.status == "FILLED"  # found by its comment at the restart, with its deal
    assert Decimal(str(row.filled_qty)) == Decimal(str(mt5.deals[1].volume)) * 100_000
    assert len(mt5.deals) == len(comments)  # one deal per send: nothing twice
    assert rt.live is not None
    venue = rt.live.parts.venue
    assert venue.account.balances["USD"] == Decimal(str(mt5.account_info().balance))


def test_paper_on_the_terminals_prices_sends_nothing_and_fills_as_the_backtest(
    mt5: Mt5Standin, db: Database
) -> None:
    """``--live-prices`` on an MT5 account: the terminal's bars, simulated fills (a margin
    wallet of ``paper.starting_balances``), no ``order_send``; the orders are a backtest's."""
    from genebot.live.paper_exchange import PaperExchangeRuntime

    def sleep(seconds: float) -> None:
        mt5.set_time((mt5.now // 3600 + 1) * 3600 + 2)

    cfg = config() | {"paper": {"prices": "exchange", "starting_balances": {"USD": 100_000}}}
    rt = PaperExchangeRuntime(
        load_config(cfg), db, max_bars=24 * 40, clock=lambda: mt5.now * NS, sleep=sleep
    )
    outcome = rt.run()
    assert outcome.fills > 0 and not [c for c, _ in mt5.calls if c == "order_send"]
    assert rt.live is not None
    log = rt.live.kernel.execution.order_log
    paper = [(o.side, o.quantity, o.ts_init) for o in log if o.order_type == "MARKET"]
    last = pd.Timestamp(rt.live.parts.bars.streams[0].last_open_ns, unit="ns", tz="UTC")
    bars = load_bars()
    first = pd.Timestamp(START) - pd.Timedelta(hours=300)
    frame = bars[(bars.index >= first.floor("1h")) & (bars.index <= last)].astype(float)
    result = backtest(cfg | {"backtest": {"initial_cash": 100_000, "quote_currency": "USD"}},
                      {"EUR/USD": frame})  # fmt: skip
    market = result.orders[result.orders["type"] == "MARKET"]
    lot = rt.live.parts.instruments["EUR/USD@mt5"]  # the broker's lot step, as live
    columns = zip(market["side"], market["quantity"], market["created"], strict=True)
    expected = [
        (s, lot.round_quantity(Decimal(str(q))), pd.Timestamp(c).value) for s, q, c in columns
    ]
    assert len(paper) >= 4 and paper == expected
