"""Crash safety of ``genebot run --live``: a deployment trading on the local emulator (through
the real ccxt, in its own process) is killed with SIGKILL at 20 moments and restarted each
time. A third of the kills land at random; a third while an order the exchange executed has
its reply held back (between send and acknowledgement); a third while an order that never
executed is pending (the send that never arrived: the journal holds it, the exchange does
not). Afterwards every emulator order is in genebot's books exactly once with the exchange's
outcome, no client order id was sent twice, and genebot's fills add up to the exchange's
position."""

from __future__ import annotations

import math
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from genebot.persistence.database import Database
from genebot.persistence.tables import FillRow, JournalEntry, OrderRow
from genebot.testkit.binance_emulator import BinanceEmulator, Fault
from genebot.testkit.ccxt_venue import MARKET, SYMBOL

KILLS = 20
PERIOD = 4  # seconds per price wave: an order every couple of bars
STATUS = {"FILLED": "FILLED", "CANCELED": "CANCELED", "EXPIRED": "EXPIRED"}


def _candles(first_ms: int, n: int) -> list[list[object]]:
    rows = []
    for k in range(n):
        c = round(50000 + 3 * math.sin(2 * math.pi * k / PERIOD), 2)  # calm: under the vol limit
        rows.append([first_ms + k * 1000, c, c + 1, c - 1, c, 1])
    return rows


def _config(tmp_path: Path, emu: BinanceEmulator) -> Path:
    path = tmp_path / "live.yaml"
    path.write_text(
        "dry_run: false\n"
        "exchanges:\n  binance:\n    api_key: ${GB_EMU_KEY}\n    api_secret: ${GB_EMU_SECRET}\n"
        f"    sandbox: false\n    base_url: {emu.url}\n    timeout: 10\n"
        "strategies:\n  moving_average:\n    enabled: true\n    symbols: [BTC/USDT]\n"
        "    timeframes: [1s]\n    parameters: {short_period: 2, long_period: 4}\n"
        "    position_sizing: {method: fixed_quantity, quantity: 0.01}\n"
        "live:\n  warmup_bars: 20\n  poll_delay_s: 0.2\n  resolve_after_s: 30\n"
    )
    return path


def _start(tmp_path: Path, emu: BinanceEmulator, *extra: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, GB_EMU_KEY=emu.api_key, GB_EMU_SECRET=emu.secret)
    env["GENEBOT_LIVE_CONFIRM"] = "1"
    args = ["run", "--live", "--yes", "--config", str(tmp_path / "live.yaml"), "--quiet"]
    args += ["--database-url", f"sqlite:///{tmp_path / 'live.db'}", *extra]
    log = (tmp_path / "runs.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "genebot.cli.main", *args], cwd=tmp_path, env=env,
        stdout=log, stderr=log,
    )  # fmt: skip


def _posts(emu: BinanceEmulator) -> list[str]:
    return [
        p.get("newClientOrderId", "")
        for m, path, p in emu.requests
        if m == "POST" and path.endswith("/order")
    ]


def _wait_for_post(emu: BinanceEmulator, before: int, timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if len(_posts(emu)) > before:
            return True
        time.sleep(0.05)
    return False


def _kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def test_sigkill_at_20_moments_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    rng = random.Random(20261206)
    balances = {"USDT": "1000000", "BTC": "0"}
    with BinanceEmulator(
        markets={SYMBOL: MARKET}, balances=balances, fee_rate="0.001", fault_delay=2.0
    ) as emu:
        emu.set_price(SYMBOL, "50000")
        emu.add_klines(SYMBOL, "1s", _candles((int(time.time()) - 30) * 1000, 30 + 900))
        _config(tmp_path, emu)
        moments = Counter()
        for k in range(KILLS):
            kind = ("random", "executed, reply held", "never executed")[k % 3]
            proc = _start(tmp_path, emu)
            if kind == "random":
                time.sleep(rng.uniform(1.0, 6.0))
            else:
                fault = Fault.EXECUTED_TIMEOUT if k % 3 == 1 else Fault.TIMEOUT
                emu.inject(fault, path="/api/v3/order", method="POST", times=1)
                if _wait_for_post(emu, len(_posts(emu))):
                    time.sleep(rng.uniform(0.05, 1.5))  # inside the held reply (2 s)
                    moments[kind] += 1
            _kill(proc)
        final = _start(tmp_path, emu, "--max-bars", "3")
        assert final.wait(timeout=120) == 0, (tmp_path / "runs.log").read_text()[-3000:]
        orders = emu.orders()
        btc = emu.balances()["BTC"]
        posts = _posts(emu)
    assert moments["executed, reply held"] >= 5 and moments["never executed"] >= 5, moments
    assert len(orders) >= 6
    sent_twice = [cid for cid, n in Counter(posts).items() if n > 1]
    assert sent_twice == []

    db = Database(f"sqlite:///{tmp_path / 'live.db'}")
    with db.reader() as session:
        rows = session.execute(
            select(OrderRow.deployment_id, OrderRow.client_order_id, OrderRow.status,
                   OrderRow.filled_qty, OrderRow.id)
        ).all()  # fmt: skip
        fills = session.execute(select(FillRow.side, FillRow.quantity, FillRow.trade_id)).all()
        kinds = list(session.scalars(select(JournalEntry.kind)))
    db.dispose()
    books = Counter(f"gb-{dep[:6]}-{coid}" for dep, coid, *_ in rows)
    by_vid = {f"gb-{dep[:6]}-{coid}": (status, qty) for dep, coid, status, qty, _ in rows}
    for order in orders:  # every exchange order once in genebot's books, with its outcome
        vid = order["clientOrderId"]
        assert books[vid] == 1, vid
        status, qty = by_vid[vid]
        assert status == STATUS.get(order["status"], status), (vid, status, order["status"])
        assert qty == order["executedQty"], vid
    exchange_ids = {o["clientOrderId"] for o in orders}
    for vid, (status, _) in by_vid.items():  # what the exchange never saw ended unsent
        if vid not in exchange_ids:
            assert status in ("REJECTED", "DENIED", "CANCELED", "EMULATED", "RELEASED"), vid
    assert len({t for *_, t in fills}) == len(fills)  # no fill twice
    net = sum((q if side == "BUY" else -q for side, q, _ in fills), Decimal(0))
    assert net == btc[0] + btc[1]
    assert kinds.count("runtime.recovered") >= KILLS // 2
