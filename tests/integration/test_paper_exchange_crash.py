"""Crash safety of paper trading on live prices (``genebot run --live-prices``): a run on the
local emulator's candles, in its own process, is killed with SIGKILL at 12 moments (half at
random, half while a position is held) and restarted each time. Afterwards the wallet is
exactly the starting balances plus every journaled fill (none lost, none booked twice), each
restart carried the net position of all fills before it, every earlier run's orders ended, and
the exchange saw no order."""

from __future__ import annotations

import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from genebot.persistence.database import Database
from genebot.persistence.tables import Deployment, FillRow, JournalEntry, OrderRow
from genebot.testkit.binance_emulator import BinanceEmulator
from genebot.testkit.ccxt_venue import MARKET, SYMBOL

KILLS = 12
PERIOD = 4
OPEN = {"INITIALIZED", "SUBMITTED", "ACCEPTED", "PARTIALLY_FILLED", "TRIGGERED", "EMULATED"}


def _candles(first_ms: int, n: int) -> list[list[object]]:
    rows = []
    for k in range(n):
        c = round(50000 + 3 * math.sin(2 * math.pi * k / PERIOD), 2)
        rows.append([first_ms + k * 1000, c, c + 1, c - 1, c, 1])
    return rows


def _start(tmp_path: Path, *extra: str) -> subprocess.Popen[bytes]:
    args = ["run", "--live-prices", "--config", str(tmp_path / "paper.yaml"), "--quiet"]
    args += ["--database-url", f"sqlite:///{tmp_path / 'paper.db'}", "--no-api", *extra]
    log = (tmp_path / "runs.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "genebot.cli.main", *args], cwd=tmp_path, env=dict(os.environ),
        stdout=log, stderr=log,
    )  # fmt: skip


def _wait_holding(tmp_path: Path, timeout_s: float = 20.0) -> bool:
    """Wait until the journaled fills of every run so far leave a position."""
    db = Database(f"sqlite:///{tmp_path / 'paper.db'}")
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            time.sleep(0.2)
            try:
                with db.reader() as session:
                    rows = session.execute(select(FillRow.side, FillRow.quantity)).all()
            except Exception:  # the first run has not created the tables yet
                continue
            if sum((q if side == "BUY" else -q for side, q in rows), Decimal(0)):
                return True
        return False
    finally:
        db.dispose()


def test_sigkill_at_12_moments_keeps_the_wallet_exact(tmp_path: Path) -> None:
    rng = random.Random(20261207)
    with BinanceEmulator(markets={SYMBOL: MARKET}, balances={"USDT": "0"}) as emu:
        emu.set_price(SYMBOL, "50000")
        emu.add_klines(SYMBOL, "1s", _candles((int(time.time()) - 30) * 1000, 30 + 900))
        (tmp_path / "paper.yaml").write_text(
            f"exchanges:\n  binance:\n    sandbox: false\n    base_url: {emu.url}\n"
            "strategies:\n  moving_average:\n    enabled: true\n    symbols: [BTC/USDT]\n"
            "    timeframes: [1s]\n    parameters: {short_period: 2, long_period: 4}\n"
            "    position_sizing: {method: fixed_quantity, quantity: 0.01}\n"
            "paper:\n  starting_balances: {USDT: 100000}\n"
            "risk_management:\n  limits: {max_consecutive_losses: 1000}\n"  # every trade loses
            "live:\n  warmup_bars: 20\n  poll_delay_s: 0.2\n"
        )
        for k in range(KILLS):
            proc = _start(tmp_path)
            if k % 2 and _wait_holding(tmp_path):  # half the kills: while a position is held
                time.sleep(rng.uniform(0.0, 0.8))
            else:
                time.sleep(rng.uniform(3.0, 9.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        final = _start(tmp_path, "--max-bars", "3")
        assert final.wait(timeout=120) == 0, (tmp_path / "runs.log").read_text()[-3000:]
        assert emu.orders() == []  # paper: nothing reached the exchange
    out = (tmp_path / "runs.log").read_text()
    found = re.findall(r"wallet (?:BTC ([0-9.]+), )?USDT ([0-9.]+);", out)
    assert len(found) == 1, out[-2000:]
    btc, usdt = Decimal(found[0][0] or 0), Decimal(found[0][1])

    db = Database(f"sqlite:///{tmp_path / 'paper.db'}")
    with db.reader() as session:
        deps = list(session.scalars(select(Deployment.id).order_by(Deployment.started_at)))
        fills = session.execute(
            select(OrderRow.deployment_id, FillRow.side, FillRow.quantity, FillRow.price,
                   FillRow.fee)
            .join(OrderRow, FillRow.order_id == OrderRow.id)
            .order_by(FillRow.id)
        ).all()  # fmt: skip
        statuses = session.execute(select(OrderRow.deployment_id, OrderRow.status)).all()
        started = session.execute(
            select(JournalEntry.deployment_id, JournalEntry.payload).where(
                JournalEntry.kind == "runtime.started"
            )
        ).all()
    db.dispose()
    assert len(deps) > KILLS // 2 and len(fills) >= 4, len(fills)
    cash, held = Decimal(100000), Decimal(0)
    net_before: dict[str, Decimal] = {}
    for dep in deps:
        net_before[dep] = held
        for d, side, qty, px, fee in fills:
            if d == dep:
                sign = 1 if side == "BUY" else -1
                cash -= sign * (qty * px).quantize(Decimal("0.01")) + fee
                held += sign * qty
    assert (usdt, btc) == (cash, held)  # the final wallet: the start plus every fill once
    assert any(net_before[d] for d, _ in started)  # some kills left a position to carry
    for dep, payload in started:  # each restart carried the net of all earlier fills
        carried = json.loads(payload)["carried"]
        quantity = sum((Decimal(c["quantity"]) for c in carried), Decimal(0))
        assert quantity == net_before[dep], dep
    unfinished = [(d, s) for d, s in statuses if d != deps[-1] and s in OPEN]
    assert unfinished == []  # every stopped run's orders ended in its journal
