"""Crash safety of a live MT5 deployment: the runtime (in its own process, on the stand-in's
account kept in a file) is killed with SIGKILL at random moments and restarted each time.
Afterwards no order comment was sent twice, every deal on the account belongs to one order in
genebot's books that is FILLED, and genebot's fills add up to the account's position."""

from __future__ import annotations

import pickle
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
from genebot.persistence.migrate import upgrade
from genebot.persistence.tables import FillRow, JournalEntry, OrderRow
from genebot.testkit.mt5_standin import C, Mt5Standin

KILLS = 6
# bars a killed run may go at most: six of them and the final one stay inside the bundled
# 2018 EUR/USD hours whatever the machine's speed (past the data no candle ever comes)
RUN_BARS = 24 * 30
DRIVER = Path(__file__).with_name("mt5_crash_driver.py")
START = "2018-02-01T00:00:30Z"


def _start(tmp: Path, bars: int, kill_after: int = 0) -> subprocess.Popen[bytes]:
    log = (tmp / "runs.log").open("ab")
    url = f"sqlite:///{tmp / 'live.db'}"
    return subprocess.Popen(
        [sys.executable, str(DRIVER), str(tmp / "terminal.pkl"), url, str(bars),
         str(kill_after)],
        cwd=tmp, stdout=log, stderr=log,
    )  # fmt: skip


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    rng = random.Random(20261207)
    mt5 = Mt5Standin.with_eurusd(balance=100_000.0)
    mt5.set_time(START)
    (tmp_path / "terminal.pkl").write_bytes(pickle.dumps(mt5))
    db = Database(f"sqlite:///{tmp_path / 'live.db'}")
    upgrade(db)
    db.dispose()
    targeted = 0
    for k in range(KILLS):
        if k % 2:  # right after an order executed, before its reply reaches genebot
            proc = _start(tmp_path, RUN_BARS, kill_after=rng.randint(1, 3))
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:  # no order that soon: killed from outside
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=30)
            targeted += proc.returncode == -signal.SIGKILL
        else:  # anywhere
            proc = _start(tmp_path, RUN_BARS)
            time.sleep(rng.uniform(3.0, 6.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
    final = _start(tmp_path, 24 * 5)
    assert final.wait(timeout=600) == 0, (tmp_path / "runs.log").read_text()[-3000:]
    mt5 = pickle.loads((tmp_path / "terminal.pkl").read_bytes())
    log = (tmp_path / "runs.log").read_text()
    assert "BooksDisagree" not in log and targeted >= 1
    sent = [r["comment"] for name, r in mt5.calls if name == "order_send" and "comment" in r]
    assert len(sent) >= 3, "the deployment traded between the kills"
    assert [c for c, n in Counter(sent).items() if n > 1] == []

    db = Database(f"sqlite:///{tmp_path / 'live.db'}")
    with db.reader() as session:
        rows = session.execute(
            select(OrderRow.deployment_id, OrderRow.client_order_id, OrderRow.status)
        ).all()
        fills = session.execute(select(FillRow.side, FillRow.quantity, FillRow.trade_id)).all()
        kinds = list(session.scalars(select(JournalEntry.kind)))
    db.dispose()
    books = Counter(f"gb-{dep[:6]}-{coid}" for dep, coid, _ in rows)
    status = {f"gb-{dep[:6]}-{coid}": st for dep, coid, st in rows}
    trades = {t for *_, t in fills}
    for deal in mt5.deals:  # every deal's order once in genebot's books, filled
        if deal.reason in (C.DEAL_REASON_SL, C.DEAL_REASON_TP):  # the position's own stop
            assert f"mt5:{deal.ticket}" in trades, deal
            continue
        assert books[deal.comment] == 1, deal.comment
        assert status[deal.comment] == "FILLED", (deal.comment, status[deal.comment])
    assert len({t for *_, t in fills}) == len(fills) == len(mt5.deals)  # no fill twice
    net = sum((q if side == "BUY" else -q for side, q, _ in fills), Decimal(0))
    held = sum(
        (
            Decimal(str(p.volume)) * 100_000 * (1 if p.type == 0 else -1)
            for p in mt5.positions.values()
        ),
        Decimal(0),
    )
    assert net == held
    assert kinds.count("runtime.recovered") >= KILLS // 2
