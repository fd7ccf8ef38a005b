"""``genebot reconcile --show | --accept-exchange`` against the emulator: --show lists every
difference (what a restart would record, the position it would carry, genebot orders no
journal holds, a balance moved outside genebot) and changes nothing; --accept-exchange
finishes the journals from the exchange, cancels genebot orders no journal holds and
journals the exchange's balances, after which a live start is no longer refused."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import test_live_runtime as live_tests
from test_live_runtime import config, journal, serve_candles

from genebot.config.loader import load_config
from genebot.live import books
from genebot.live.exchange_runtime import BooksDisagree, LiveRuntime
from genebot.persistence.database import Database
from genebot.testkit import run_cli
from genebot.testkit.binance_emulator import BinanceEmulator
from genebot.testkit.ccxt_venue import SYMBOL

STRAY = "gb-0a1b2c-O-00000009"
emu, db = live_tests.emu, live_tests.db  # the live tests' fixtures: a funded emulator, a database


def _held_position(emu: BinanceEmulator, db: Database) -> LiveRuntime:
    """A live run stopped while it holds a position (its stop and target held locally)."""
    serve_candles(emu, ahead_s=90)

    def until_long(live: Any) -> None:
        if live.kernel.portfolio.position("moving_average", f"{SYMBOL}@binance").quantity:
            rt.stop("held")

    rt = LiveRuntime(load_config(config(emu)), db, max_bars=40, on_bar=until_long)
    rt.run()
    return rt


def test_show_lists_every_difference_and_changes_nothing(
    emu: BinanceEmulator, db: Database
) -> None:
    _held_position(emu, db)
    emu.deposit("USDT", "5")
    emu.place_foreign_order(SYMBOL, "BUY", "0.01", "40000", client_order_id=STRAY)
    emu.place_foreign_order(SYMBOL, "BUY", "0.01", "41000", client_order_id="web_1")
    before, requests = journal(db), len(emu.requests)
    text = "\n".join(books.show(load_config(config(emu)), db))
    assert "would record: deployment" in text and "Canceled" in text  # its held stop, target
    assert "would carry: moving_average 0.01 BTC/USDT@binance" in text
    assert f"client id {STRAY}): genebot's prefix, in no journal here" in text
    assert "client id web_1): not placed by genebot" in text
    assert "balance USDT:" in text and "(difference +5)" in text
    assert journal(db) == before
    assert not any(m == "DELETE" for m, _, _ in emu.requests[requests:])
    assert all(o["status"] == "NEW" for o in emu.orders() if o["type"] == "LIMIT")


def test_accept_exchange_clears_the_way_for_a_start(emu: BinanceEmulator, db: Database) -> None:
    serve_candles(emu, ahead_s=90)
    emu.place_foreign_order(SYMBOL, "BUY", "0.01", "40000", client_order_id=STRAY)
    cfg = load_config(config(emu))
    with pytest.raises(BooksDisagree, match="a genebot run placed"):
        LiveRuntime(cfg, db, max_bars=1).run()
    lines = books.accept_exchange(cfg, db, "operator:test")
    assert any(f"canceled {STRAY}" in line for line in lines)
    assert any("accepted the exchange's balances" in line for line in lines)
    assert "operator.accept_exchange" in journal(db)
    stray = next(o for o in emu.orders() if o["clientOrderId"] == STRAY)
    assert stray["status"] == "CANCELED"
    assert LiveRuntime(cfg, db, max_bars=1).run().bars == 1


def test_the_command_line(tmp_path: Path, emu: BinanceEmulator) -> None:
    path = tmp_path / "live.yaml"
    path.write_text(
        "exchanges:\n  binance:\n    api_key: ${GB_EMU_KEY}\n    api_secret: ${GB_EMU_SECRET}\n"
        f"    sandbox: false\n    base_url: {emu.url}\n"
        "strategies:\n  moving_average:\n    enabled: true\n    symbols: [BTC/USDT]\n"
    )
    env = dict(os.environ, GB_EMU_KEY=emu.api_key, GB_EMU_SECRET=emu.secret)
    url = f"sqlite:///{tmp_path / 'r.db'}"
    base = ("reconcile", "--config", str(path), "--database-url", url)
    done = run_cli(*base, "--show", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "genebot's books and the exchange agree" in done.stdout
    both = run_cli(*base, "--show", "--accept-exchange", cwd=tmp_path, env=env)
    assert both.returncode == 2 and "--show or --accept-exchange, not both" in both.stderr
    assert emu.secret not in done.stdout + done.stderr
