"""``genebot run --live`` against the local Binance emulator through the real ccxt, on 1-second
candles in real time: the kernel warms up on the exchange's closed candles, trades at each bar
close, journals every order before it is sent, and its orders are the backtest's on the same
candles (paper vs live); an earlier run's open order refuses the start; stale data pauses
new entries."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import select

from genebot.backtest import run as backtest
from genebot.config.loader import load_config
from genebot.live.exchange_runtime import BooksDisagree, LiveRuntime
from genebot.live.status_store import read_status
from genebot.persistence.database import Database
from genebot.persistence.migrate import upgrade
from genebot.persistence.tables import JournalEntry, OrderRow, RiskEventRow
from genebot.testkit.binance_emulator import BinanceEmulator
from genebot.testkit.ccxt_venue import MARKET, SYMBOL

D = Decimal
S_MS = 1000
WARM = 30  # warm-up candles
PERIOD = 8  # seconds per price wave: SMA 2/4 cross every few bars
FLAT = WARM + 8  # candles before the wave starts: no signal while warming up


def wave(i: int) -> float:
    if i < FLAT:
        return 50000.0
    return round(50000 + 40 * math.sin(2 * math.pi * (i - FLAT) / PERIOD), 2)


def candles(first_ms: int, n: int, start: int = 0) -> list[list[object]]:
    rows = []
    for k in range(start, start + n):
        c, o = wave(k), wave(k - 1)
        rows.append([first_ms + k * S_MS, o, max(o, c) + 1, min(o, c) - 1, c, 1])
    return rows


@pytest.fixture
def emu() -> Iterator[BinanceEmulator]:
    balances = {"USDT": "100000", "BTC": "0"}
    with BinanceEmulator(markets={SYMBOL: MARKET}, balances=balances, fee_rate="0.001") as e:
        e.set_price(SYMBOL, "50000")
        yield e


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'live.db'}")
    upgrade(database)
    yield database
    database.dispose()


def config(emu: BinanceEmulator, **live: Any) -> dict[str, Any]:
    return {
        "dry_run": False,
        "exchanges": {
            "binance": {"api_key": emu.api_key, "api_secret": emu.secret, "sandbox": False,
                        "base_url": emu.url}
        },
        "strategies": {
            "moving_average": {
                "enabled": True, "symbols": [SYMBOL], "timeframes": ["1s"],
                "parameters": {"short_period": 2, "long_period": 4},
                "position_sizing": {"method": "fixed_quantity", "quantity": 0.01},
            }
        },
        "live": {"warmup_bars": WARM, "poll_delay_s": 0.2, "staged_sizing": False, **live},
    }  # fmt: skip


def serve_candles(emu: BinanceEmulator, ahead_s: int = 60) -> int:
    """Candles from WARM + 5 seconds ago to ``ahead_s`` from now (the emulator serves what
    is asked; the client takes only what has closed); returns the first open (ms)."""
    first = (int(time.time()) - WARM - 5) * S_MS
    emu.add_klines(SYMBOL, "1s", candles(first, WARM + 5 + ahead_s))
    return first


def runtime(emu: BinanceEmulator, db: Database, bars: int | None, **kw: Any) -> LiveRuntime:
    keys = ("stale_after_bars", "reconcile_interval", "staged_sizing")
    live = {k: kw.pop(k) for k in list(kw) if k in keys}
    return LiveRuntime(load_config(config(emu, **live)), db, max_bars=bars, **kw)


def journal(db: Database) -> list[str]:
    with db.reader() as session:
        return list(session.scalars(select(JournalEntry.kind).order_by(JournalEntry.id)))


def test_live_trades_journals_before_sending_and_equals_paper(
    emu: BinanceEmulator, db: Database
) -> None:
    first = serve_candles(emu)
    rt = runtime(emu, db, 18)
    outcome = rt.run()
    assert outcome.bars == 18
    orders = emu.orders()
    assert len(orders) >= 4, "an 8-second wave over 18 bars crosses the 2/4 SMAs"
    assert outcome.sent == len(orders) and outcome.fills == len(emu.trades())
    ids = [o["clientOrderId"] for o in orders]
    assert len(set(ids)) == len(ids) and all(i.startswith("gb-") for i in ids)
    # each entry's stop and target rest on the exchange as one OCO (native_stops, the default)
    lists = [o["orderListId"] for o in orders if o["orderListId"] != -1]
    assert lists and all(lists.count(n) == 2 for n in lists)
    kinds = journal(db)
    assert kinds.count("OrderSubmitted") == len(orders)
    assert kinds.count("OrderFilled") == len(emu.trades())
    first_sent = kinds.index("OrderSubmitted")
    assert kinds[first_sent - 1] == "OrderInitialized"  # journaled before the exchange saw it
    assert kinds[0] == "runtime.started" and kinds[-1] == "runtime.finished"
    status = read_status(db, outcome.deployment_id)  # what the API and dashboard show
    assert status is not None and status["mode"] == "live" and status["exchange"] == "binance"
    assert status["strategy_errors"] == 0
    parts = rt.live.parts  # type: ignore[union-attr]
    assert status["exchange_errors"] == parts.caller.error_count + parts.bars.errors
    assert status["staged_sizing"] is None  # off in this config
    calls = status["exchange_latency"]
    assert calls["create"]["calls"] >= 1 and calls["read"]["seconds"] > 0  # timed, each call
    assert status["orders"] == len(rt.live.kernel.execution.order_log)  # type: ignore[union-attr]
    held = sum((D(o["executedQty"]) * (1 if o["side"] == "BUY" else -1) for o in orders), D(0))
    assert emu.balances()["BTC"][0] == held  # genebot's fills are the exchange's
    # paper vs live: a backtest of the same candles gives the same orders at the same bars
    assert rt.live is not None
    log = rt.live.kernel.execution.order_log
    live_orders = [(o.side, o.quantity, o.ts_init) for o in log if o.order_type == "MARKET"]
    live_exits = [(o.tag, o.quantity) for o in log if o.parent_id]
    for o in log:  # at the configured distances from the fill they protect (not paper's)
        if o.parent_id:
            fill = rt.live.kernel.execution.index[o.parent_id].avg_px
            assert (o.trigger_price or o.price) in (fill * D("0.98"), fill * D("1.05"))
    last_open = rt.live.parts.bars.streams[0].last_open_ns // 10**6
    rows = [r for r in candles(first, WARM + 70) if int(str(r[0])) <= last_open]
    frame = pd.DataFrame(
        [r[1:6] for r in rows], columns=["open", "high", "low", "close", "volume"],
        index=pd.to_datetime([r[0] for r in rows], unit="ms", utc=True), dtype=float,
    )  # fmt: skip
    result = backtest(config(emu), {SYMBOL: frame})
    market = result.orders[result.orders["type"] == "MARKET"]
    columns = zip(market["side"], market["quantity"], market["created"], strict=True)
    paper = [(side, D(str(qty)), pd.Timestamp(created).value) for side, qty, created in columns]
    assert live_orders == paper
    exits = result.orders[result.orders["type"] != "MARKET"]
    paper_exits = [(t, D(str(q))) for t, q in zip(exits["tag"], exits["quantity"], strict=True)]
    assert live_exits and live_exits == paper_exits  # the same stops and targets, native here


def test_a_genebot_order_no_journal_holds_refuses_the_start(
    emu: BinanceEmulator, db: Database
) -> None:
    serve_candles(emu)
    emu.place_foreign_order(SYMBOL, "BUY", "0.01", "40000", client_order_id="gb-0a1b2c-O-00000007")
    with pytest.raises(BooksDisagree, match="a genebot run placed") as err:
        runtime(emu, db, 1).run()
    assert "client id gb-0a1b2c-O-00000007" in str(err.value)
    assert emu.orders()[0]["status"] == "NEW"  # left alone, nothing else sent
    assert [m for m, path, _ in emu.requests if path.endswith("/order")] == []
    assert journal(db)[-1] == "runtime.error"


def test_a_strangers_open_order_does_not_block(emu: BinanceEmulator, db: Database) -> None:
    serve_candles(emu)
    emu.place_foreign_order(SYMBOL, "BUY", "0.01", "40000", client_order_id="web_abc")
    assert runtime(emu, db, 1).run().bars == 1


def test_stale_data_pauses_entries_until_candles_return(emu: BinanceEmulator, db: Database) -> None:
    first = serve_candles(emu, ahead_s=2)
    seen: list[bool] = []

    def watch(live: Any) -> None:
        paused = "*" in rt.control.paused  # type: ignore[union-attr]
        if paused and not any(seen):  # stale: the exchange serves the rest now
            n = (int(time.time()) + 30) * S_MS - first
            emu.add_klines(SYMBOL, "1s", candles(first, n // S_MS))
        if seen and seen[-1] and not paused:
            rt.stop("test: data came back")
        seen.append(paused)

    rt = runtime(emu, db, None, stale_after_bars=2, on_bar=watch)
    rt.run()
    kinds = journal(db)
    assert "runtime.stale" in kinds and "runtime.fresh" in kinds
    assert kinds.index("runtime.stale") < kinds.index("runtime.fresh")
    assert any(seen) and not seen[-1]


def test_a_balance_that_differs_stops_trading_with_the_fix(
    emu: BinanceEmulator, db: Database
) -> None:
    serve_candles(emu)

    deposited: list[str] = []

    def deposit_once(live: Any) -> None:  # someone moves funds on the account mid-run
        if not deposited:
            emu.deposit("USDT", "5")
            deposited.append("5")

    rt = runtime(emu, db, 30, reconcile_interval=0.5, on_bar=deposit_once)
    with pytest.raises(BooksDisagree) as err:
        rt.run()
    text = str(err.value)
    assert "USDT: genebot's books hold 100000, the exchange 100005 (difference +5)" in text
    assert "genebot reconcile --config FILE --show" in text
    assert "runtime.reconciled" in journal(db)


def _position(rt: LiveRuntime) -> Decimal:
    assert rt.live is not None
    kernel = rt.live.kernel
    return kernel.portfolio.position("moving_average", f"{SYMBOL}@binance").quantity


def test_a_restart_carries_the_position_and_its_exit_closes_it(
    emu: BinanceEmulator, db: Database
) -> None:
    serve_candles(emu, ahead_s=90)
    first = runtime(emu, db, 40, on_bar=lambda live: _position(first) and first.stop("held"))
    first.run()
    assert sum(emu.balances()["BTC"]) == D("0.01")  # stopped holding a position (its OCO)
    seen: list[Decimal] = []

    def watch(live: Any) -> None:
        seen.append(_position(second))
        if seen[-1] == 0:
            second.stop("closed")

    second = runtime(emu, db, 40, on_bar=watch)
    second.run()
    assert seen[0] == D("0.01") and seen[-1] == 0  # carried, then closed by the exit signal
    assert emu.balances()["BTC"] == (0, 0)
    kinds = journal(db)
    assert kinds.count("runtime.recovered") == 1
    assert kinds.index("runtime.recovered") < kinds.index("runtime.started", 1)
    with db.reader() as session:
        held = session.execute(
            select(OrderRow.status, OrderRow.reason).where(
                OrderRow.deployment_id == first.deployment_id, OrderRow.order_type != "MARKET"
            )
        ).all()
    assert held and all(s == "CANCELED" and "stopped runner" in r for s, r in held)
    with db.reader() as session:
        replaced = session.execute(
            select(OrderRow.parent_id, OrderRow.status, OrderRow.trigger_price, OrderRow.price,
                   OrderRow.venue_order_id)
            .where(OrderRow.deployment_id == second.deployment_id)
            .where(OrderRow.parent_id.like("carried:%"))
        ).all()  # fmt: skip
        old = session.execute(
            select(OrderRow.client_order_id, OrderRow.trigger_price, OrderRow.price).where(
                OrderRow.deployment_id == first.deployment_id, OrderRow.order_type != "MARKET"
            )
        ).all()
    # the stop and target re-placed at the same prices, then canceled when the exit closed it
    assert sorted((f"carried:{c}", t, p) for c, t, p in old) == sorted(
        (parent, t, p) for parent, _, t, p, _ in replaced
    )
    assert all(status == "CANCELED" for _, status, _, _, _ in replaced)
    assert all(venue_id for *_, venue_id in replaced)  # re-placed on the exchange (one OCO)


def test_staged_sizing_trades_a_quarter_of_the_size_in_week_one(
    emu: BinanceEmulator, db: Database
) -> None:
    serve_candles(emu)
    rt = runtime(emu, db, 8, staged_sizing=True)
    rt.run()
    entries = [o for o in emu.orders() if o["side"] == "BUY"]
    assert entries and all(D(o["origQty"]) == D("0.0025") for o in entries)  # 25 % of 0.01
    with db.reader() as session:
        rules = session.execute(select(RiskEventRow.rule, RiskEventRow.detail)).all()
    staged = [d for r, d in rules if r == "staged_sizing"]
    assert staged and "live week 1: 25% of the configured size (0.01 → 0.0025)" in staged[0]
    status = read_status(db, rt.deployment_id)  # type: ignore[arg-type]
    assert status is not None and status["staged_sizing"] == {"week": 1, "share": 0.25}


def test_live_takes_candles_from_the_websocket(emu: BinanceEmulator, db: Database) -> None:
    first = serve_candles(emu)
    table = {int(str(r[0])): r for r in candles(first, WARM + 65)}
    stop = threading.Event()

    def pusher() -> None:  # the exchange's stream: the forming candle, twice a second
        while not stop.is_set():
            now_ms = int(time.time()) * S_MS
            if now_ms in table:
                emu.push_kline(SYMBOL, "1s", table[now_ms])
            time.sleep(0.5)

    thread = threading.Thread(target=pusher, daemon=True)
    thread.start()
    try:
        rt = runtime(emu, db, 8)
        outcome = rt.run()
    finally:
        stop.set()
        thread.join()
    assert outcome.bars == 8 and rt.live is not None
    assert rt.live.parts.bars.from_stream >= 6  # the rest by REST: the warm-up edge
    assert emu.streams.connections == 1


def _risk_state(rt: LiveRuntime) -> str:
    assert rt.live is not None and rt.live.kernel.risk is not None
    return rt.live.kernel.risk.state.value


def test_a_halt_survives_a_restart(emu: BinanceEmulator, db: Database) -> None:
    """The kill switch halted by consecutive losses is journaled; the restarted runner starts
    halted (same counters), and enters nothing new."""
    serve_candles(emu, ahead_s=120)
    risk = {"risk_management": {"limits": {"max_consecutive_losses": 1}}}
    cfg = load_config({**config(emu), **risk})
    first = LiveRuntime(cfg, db, max_bars=80)
    first.on_bar = lambda live: _risk_state(first) == "HALTED" and first.stop("halted")
    out = first.run()
    assert out.stop_reason == "halted", "no losing trade halted the first run"
    losses = first.live.kernel.risk.consecutive_losses  # type: ignore[union-attr]
    states: list[str] = []
    second = LiveRuntime(cfg, db, max_bars=10)
    second.on_bar = lambda live: states.append(_risk_state(second))
    second.run()
    assert states and set(states) == {"HALTED"}
    assert second.live.kernel.risk.consecutive_losses == losses  # type: ignore[union-attr]
    with db.reader() as session:
        entries = session.execute(
            select(OrderRow.status, OrderRow.reason).where(
                OrderRow.deployment_id == second.deployment_id, OrderRow.parent_id.is_(None)
            )
        ).all()
        started = session.scalars(
            select(JournalEntry.payload).where(
                JournalEntry.deployment_id == second.deployment_id,
                JournalEntry.kind == "runtime.started",
            )
        ).one()
        kinds = session.scalars(
            select(JournalEntry.kind).where(JournalEntry.deployment_id == second.deployment_id)
        ).all()
    # every entry signal of the restarted runner is denied by the kill switch, none is sent
    assert entries and all(s == "DENIED" and "halted" in r for s, r in entries)
    assert "risk state HALTED restored" in started and "consecutive_losses" in started
    assert "risk.state" in kinds  # the restored state is the new deployment's first snapshot


def test_a_position_carried_through_two_restarts_is_still_held(
    emu: BinanceEmulator, db: Database
) -> None:
    """A position opened in run 1, carried into run 2, which stops before it exits: run 3
    carries it again (its books are every earlier run's fills, not only the last run's)."""
    serve_candles(emu, ahead_s=120)
    first = runtime(emu, db, 40, on_bar=lambda live: _position(first) and first.stop("held"))
    first.run()
    second, third = runtime(emu, db, 1), runtime(emu, db, 1)
    for rt in (second, third):
        rt.stop("stopped at once")  # started, carried the position, stopped before a bar
        rt.run()
    carried = []
    for rt in (second, third):  # what each start carried in
        with db.reader() as session:
            payload = session.scalars(
                select(JournalEntry.payload).where(
                    JournalEntry.deployment_id == rt.deployment_id,
                    JournalEntry.kind == "runtime.started",
                )
            ).one()
        carried.append([D(c["quantity"]) for c in json.loads(payload)["carried"]])
    assert carried == [[D("0.01")], [D("0.01")]]
