"""Paper trading on an exchange's live prices (``paper.prices: exchange``) against the local
Binance emulator through the real ccxt, on 1-second candles in real time: no order reaches
the exchange, the fills are the backtest's on the same candles, the wallet is
``paper.starting_balances``, and a restart continues the wallet, the position and its stops
from the journal without re-executing the history."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pytest
from sqlalchemy import select

from genebot.backtest import run as backtest
from genebot.config.loader import load_config
from genebot.live.paper_exchange import PaperExchangeRuntime
from genebot.live.status_store import read_status
from genebot.persistence.database import Database
from genebot.persistence.migrate import upgrade
from genebot.persistence.tables import Deployment, FillRow, JournalEntry, OrderRow
from genebot.testkit import run_cli
from genebot.testkit.binance_emulator import BinanceEmulator
from genebot.testkit.ccxt_venue import MARKET, SYMBOL
from genebot.trading.strategy import Strategy

D = Decimal
S_MS = 1000
WARM = 30
PERIOD = 8
FLAT = WARM + 8
START = {"USDT": 20000, "BTC": 0.5}


def wave(i: int) -> float:
    return (
        50000.0 if i < FLAT else round(50000 + 40 * math.sin(2 * math.pi * (i - FLAT) / PERIOD), 2)
    )


def candles(first_ms: int, n: int) -> list[list[object]]:
    return [
        [first_ms + k * S_MS, wave(k - 1), max(wave(k - 1), wave(k)) + 1,
         min(wave(k - 1), wave(k)) - 1, wave(k), 1]
        for k in range(n)
    ]  # fmt: skip


@pytest.fixture
def emu() -> Iterator[BinanceEmulator]:
    with BinanceEmulator(markets={SYMBOL: MARKET}, balances={"USDT": "0"}) as e:
        e.set_price(SYMBOL, "50000")
        yield e


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'paper.db'}")
    upgrade(database)
    yield database
    database.dispose()


def config(emu: BinanceEmulator, **paper: Any) -> dict[str, Any]:
    return {
        "exchanges": {"binance": {"sandbox": False, "base_url": emu.url}},  # no API key
        "strategies": {
            "moving_average": {
                "enabled": True, "symbols": [SYMBOL], "timeframes": ["1s"],
                "parameters": {"short_period": 2, "long_period": 4},
                "position_sizing": {"method": "fixed_quantity", "quantity": 0.01},
            }
        },
        "paper": {"prices": "exchange", "starting_balances": START, **paper},
        "live": {"warmup_bars": WARM, "poll_delay_s": 0.2},
    }  # fmt: skip


def serve(emu: BinanceEmulator, ahead_s: int = 90) -> int:
    first = (int(time.time()) - WARM - 5) * S_MS
    emu.add_klines(SYMBOL, "1s", candles(first, WARM + 5 + ahead_s))
    return first


def runtime(emu: BinanceEmulator, db: Database, bars: int, **kw: Any) -> PaperExchangeRuntime:
    return PaperExchangeRuntime(load_config(config(emu)), db, name="pl", max_bars=bars, **kw)


def held(rt: PaperExchangeRuntime) -> Decimal:
    assert rt.live is not None
    return rt.live.kernel.portfolio.position("moving_average", f"{SYMBOL}@binance").quantity


def wallet(rt: PaperExchangeRuntime) -> dict[str, Decimal]:
    assert rt.live is not None
    return dict(rt.live.kernel.venues["binance"].account.balances)  # type: ignore[attr-defined]


def test_paper_on_live_prices_sends_nothing_and_fills_as_the_backtest(
    emu: BinanceEmulator, db: Database
) -> None:
    first = serve(emu)
    rt = runtime(emu, db, 18)
    outcome = rt.run()
    assert outcome.bars == 18 and outcome.fills >= 2
    assert emu.orders() == [] and emu.trades() == []  # the exchange saw no order
    status = read_status(db, outcome.deployment_id)
    assert status is not None and status["mode"] == "paper" and status["exchange"] == "binance"
    with db.reader() as session:
        mode = session.scalar(select(Deployment.mode).where(Deployment.id == rt.deployment_id))
    assert mode == "paper"
    assert rt.live is not None
    log = rt.live.kernel.execution.order_log
    fills = [(o.side, o.filled_qty, o.avg_px.normalize(), o.tag) for o in log if o.filled_qty]
    last_open = rt.live.parts.bars.streams[0].last_open_ns // 10**6
    rows = [r for r in candles(first, WARM + 100) if int(str(r[0])) <= last_open]
    frame = pd.DataFrame(
        [r[1:6] for r in rows], columns=["open", "high", "low", "close", "volume"],
        index=pd.to_datetime([r[0] for r in rows], unit="ms", utc=True), dtype=float,
    )  # fmt: skip
    cfg = config(emu)
    cfg["backtest"] = {"initial_cash": START["USDT"]}
    result = backtest(cfg, {SYMBOL: frame})
    done = result.orders[result.orders["avg_price"].astype(str).str.len() > 0]
    paper = [
        (s, D(str(q)), D(str(p)).normalize(), t)
        for s, q, p, t in zip(done["side"], done["filled_qty"], done["avg_price"], done["tag"],
                              strict=True)
    ]  # fmt: skip
    assert fills and fills == paper  # the simulated venue on live candles is the backtest's
    balances = wallet(rt)
    bought = sum((q if s == "BUY" else -q for s, q, _, _ in fills), D(0))
    assert balances["BTC"] == D("0.5") + bought  # the starting BTC, plus what was traded
    assert balances["USDT"] < D(20000) + D(1000)  # paid in USDT (fees included)


def test_a_restart_continues_the_wallet_position_and_stops(
    emu: BinanceEmulator, db: Database
) -> None:
    serve(emu, ahead_s=120)
    first = runtime(emu, db, 40, on_bar=lambda live: held(first) and first.stop("held"))
    first.run()
    before = wallet(first)
    assert held(first) == D("0.01")
    second = runtime(emu, db, 40, on_bar=lambda live: held(second) == 0 and second.stop("flat"))
    second.run()
    assert held(second) == 0  # carried, then closed by the exit signal
    with db.reader() as session:
        started = json.loads(
            session.scalars(
                select(JournalEntry.payload).where(
                    JournalEntry.deployment_id == second.deployment_id,
                    JournalEntry.kind == "runtime.started",
                )
            ).one()
        )
    # at its start, before any bar: the wallet rebuilt from the journaled fills, the position
    assert {k: D(v) for k, v in started["balances"].items()} == before
    assert [D(c["quantity"]) for c in started["carried"]] == [D("0.01")]
    with db.reader() as session:
        replaced = session.execute(
            select(OrderRow.parent_id, OrderRow.trigger_price, OrderRow.price).where(
                OrderRow.deployment_id == second.deployment_id,
                OrderRow.parent_id.like("carried:%"),
            )
        ).all()
        old = session.execute(
            select(OrderRow.client_order_id, OrderRow.trigger_price, OrderRow.price,
                   OrderRow.status)
            .where(OrderRow.deployment_id == first.deployment_id, OrderRow.order_type != "MARKET")
        ).all()  # fmt: skip
        fills = session.execute(
            select(FillRow.side, FillRow.quantity, FillRow.price, FillRow.fee)
            .join(OrderRow, FillRow.order_id == OrderRow.id)
            .where(OrderRow.deployment_id.in_([first.deployment_id, second.deployment_id]))
        ).all()  # fmt: skip
    assert old and all(status == "CANCELED" for *_, status in old)  # in the first journal
    assert sorted((f"carried:{c}", t, p) for c, t, p, _ in old) == sorted(replaced)
    usdt, btc = D(20000), D("0.5")
    for side, qty, px, fee in fills:
        sign = 1 if side == "BUY" else -1
        notional = (qty * px).quantize(D("0.01"))  # the ledger books money at its quantum
        usdt, btc = usdt - sign * notional - fee, btc + sign * qty
    assert wallet(second)["USDT"] == usdt and wallet(second)["BTC"] == btc  # nothing twice
    third = runtime(emu, db, 1, fresh=True)
    third.run()
    assert wallet(third) == {"USDT": D(20000), "BTC": D("0.5")}  # --fresh: a new wallet


def test_genebot_run_live_prices_as_a_user_runs_it(emu: BinanceEmulator, tmp_path: Path) -> None:
    """The command line: the banner says paper, the run ends with the wallet, nothing is sent,
    and a config with no key at all is enough."""
    serve(emu)
    path = tmp_path / "paper.yaml"
    path.write_text(
        f"exchanges:\n  binance:\n    sandbox: false\n    base_url: {emu.url}\n"
        "strategies:\n  moving_average:\n    enabled: true\n    symbols: [BTC/USDT]\n"
        "    timeframes: [1s]\n    parameters: {short_period: 2, long_period: 4}\n"
        "paper:\n  starting_balances: {USDT: 5000}\n"
        f"live:\n  warmup_bars: {WARM}\n  poll_delay_s: 0.2\n"
    )
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    done = run_cli(
        "run", "--live-prices", "--config", str(path), "--database-url", url,
        "--max-bars", "3", "--quiet", cwd=tmp_path,
    )  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "PAPER TRADING on binance's live prices" in out
    assert "(paper on binance's prices): 3 bars" in out
    found = re.search(r"wallet (?:BTC ([0-9.]+), )?USDT ([0-9.]+)", out)
    assert found is not None, out
    worth = D(found.group(2)) + D(found.group(1) or 0) * 50000
    assert abs(worth - 5000) < 50  # the 5,000 USDT of paper.starting_balances, fees aside
    assert emu.orders() == []


class QuoteBuyer(Strategy):
    """Buys 0.01 on its third quote, sells on its sixth; remembers each quote it saw."""

    seen: ClassVar[dict[int, tuple[int, float, float]]] = {}  # row → time, bid, ask

    def on_quote(self, quote: Any) -> None:
        QuoteBuyer.seen[quote.i] = (quote.ts, quote.bid, quote.ask)
        if quote.i == 2:
            self.buy(quantity=0.01)
        if quote.i == 5 and not self.position().is_flat:
            self.close()


@pytest.mark.parametrize("timeframes", [[], ["1s"]], ids=["quotes", "quotes and 1s bars"])
def test_quotes_on_live_prices_fill_at_the_touch(
    emu: BinanceEmulator, db: Database, timeframes: list[str]
) -> None:
    """``quotes: true`` on live prices: the exchange's best bid and ask reach ``on_quote``
    one at a time (with the candles, in the replay order: a quote waits for the candles that
    close before it); a market order fills on the next quote at its ask (buy) or bid (sell)."""
    serve(emu)
    QuoteBuyer.seen = {}
    cfg = config(emu)
    cfg["strategies"]["moving_average"].update(
        type="test_paper_exchange:QuoteBuyer", quotes=True, timeframes=timeframes, parameters={}
    )
    cfg["live"]["quote_interval_s"] = 0.2
    cfg["risk_management"] = {"enabled": False}
    prices = iter(range(50000, 50100, 7))

    def step(live: Any) -> None:
        emu.set_price(SYMBOL, str(next(prices)))  # a new last price: a new bid and ask
        if len(QuoteBuyer.seen) >= 8:
            rt.stop("eight quotes")

    rt = PaperExchangeRuntime(load_config(cfg), db, name="quotes", on_bar=step)
    outcome = rt.run()
    assert outcome.stop_reason == "eight quotes" and emu.orders() == []
    assert (outcome.bars > 0) == bool(timeframes)  # the candles arrived beside the quotes
    assert rt.live is not None
    log = rt.live.kernel.execution.order_log
    buy, sell = (o for o in log if o.filled_qty)
    quotes = QuoteBuyer.seen  # row 0 is the quote the run started on (no callback)
    assert sorted(quotes) == list(range(1, len(quotes) + 1))  # each live quote, in order
    times = [quotes[i][0] for i in sorted(quotes)]
    assert times == sorted(times)
    assert buy.side == "BUY" and buy.avg_px == Decimal(str(quotes[3][2]))  # the next ask
    assert sell.side == "SELL" and sell.avg_px == Decimal(str(quotes[6][1]))  # the next bid
    assert all(ask - bid == pytest.approx(0.02) for _, bid, ask in quotes.values())


def test_live_prices_without_an_exchange_says_what_to_add(tmp_path: Path) -> None:
    path = tmp_path / "none.yaml"
    path.write_text(
        "strategies:\n  moving_average:\n    enabled: true\n    symbols: [BTC/USDT]\n"
        "    timeframes: [1m]\n"
    )
    done = run_cli(
        "run", "--live-prices", "--config", str(path), "--quiet", "--no-api",
        "--database-url", f"sqlite:///{tmp_path / 'n.db'}", cwd=tmp_path,
    )  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert "trades on no exchange" in out and "add an exchanges: entry" in out
    assert "Traceback" not in out
