"""``genebot exchange test NAME`` (the seed's test_exchange_connection) against the local
emulator through the real ccxt, as a user runs it (a subprocess): each check's verdict, the
keys never printed, a failure's exit code, the withdrawal warning, unknown names refused."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from genebot.testkit import run_cli
from genebot.testkit.binance_emulator import BinanceEmulator
from genebot.testkit.ccxt_venue import MARKET, SYMBOL

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def emu() -> Iterator[BinanceEmulator]:
    with BinanceEmulator(markets={SYMBOL: MARKET}, balances={"USDT": "1234.5"}) as emulator:
        emulator.set_price(SYMBOL, "50000")
        yield emulator


def _config(tmp_path: Path, emu: BinanceEmulator, sandbox: bool = True) -> Path:
    path = tmp_path / "bot.yaml"
    path.write_text(
        "exchanges:\n  binance:\n    api_key: ${GB_EMU_KEY}\n    api_secret: ${GB_EMU_SECRET}\n"
        f"    sandbox: {str(sandbox).lower()}\n    base_url: {emu.url}\n"
        "strategies:\n  moving_average:\n    enabled: true\n    symbols: [BTC/USDT]\n"
    )
    return path


def _run(
    tmp_path: Path, emu: BinanceEmulator, secret: str, *args: str, sandbox: bool = True
) -> tuple[int, str]:
    env = dict(os.environ, GB_EMU_KEY=emu.api_key, GB_EMU_SECRET=secret)
    cfg = _config(tmp_path, emu, sandbox)
    done = run_cli("exchange", "test", *args, "--config", str(cfg), cwd=tmp_path, env=env)
    return done.returncode, done.stdout + done.stderr


def test_every_check_passes_and_no_key_is_printed(tmp_path: Path, emu: BinanceEmulator) -> None:
    code, out = _run(tmp_path, emu, emu.secret, "binance")
    assert code == 0, out
    for check in ("reachable", "clock offset", "markets", "auth + balances"):
        assert f"pass {check}:" in out, out
    assert "SANDBOX" in out and "USDT 1234.5" in out
    assert f"pass reachable: {emu.url}/api/v3 answered" in out
    assert "warn withdrawal permission: not checkable on the sandbox" in out
    assert emu.api_key not in out and emu.secret not in out


def test_a_live_key_that_cannot_withdraw_passes(tmp_path: Path, emu: BinanceEmulator) -> None:
    code, out = _run(tmp_path, emu, emu.secret, "binance", sandbox=False)
    assert code == 0, out
    assert "LIVE" in out
    assert "pass withdrawal permission: the key cannot withdraw" in out


def test_a_bad_secret_fails_with_the_reason(tmp_path: Path, emu: BinanceEmulator) -> None:
    wrong = "x" * len(emu.secret)
    code, out = _run(tmp_path, emu, wrong, "binance")
    assert code == 1
    assert "fail auth + balances: AuthenticationError" in out, out
    assert "stopped sending orders; check the API key" in out
    assert wrong not in out and "Traceback" not in out


def test_a_key_that_can_withdraw_is_warned(tmp_path: Path) -> None:
    with BinanceEmulator(markets={SYMBOL: MARKET}, can_withdraw=True) as emu:
        code, out = _run(tmp_path, emu, emu.secret, "binance", sandbox=False)
    assert code == 0, out
    assert "warn withdrawal permission: this key can WITHDRAW funds" in out


def test_an_unknown_exchange_name_is_refused(tmp_path: Path, emu: BinanceEmulator) -> None:
    code, out = _run(tmp_path, emu, emu.secret, "kraken")
    assert code == 2
    assert "exchange 'kraken' is not in the config's exchanges: section (it has: binance)" in out


def test_the_seed_script_runs_the_same_checks(tmp_path: Path, emu: BinanceEmulator) -> None:
    import subprocess

    env = dict(os.environ, GB_EMU_KEY=emu.api_key, GB_EMU_SECRET=emu.secret)
    script = ROOT / "scripts" / "test_exchange_connection.py"
    cfg = _config(tmp_path, emu)
    done = subprocess.run(
        [sys.executable, str(script), "binance", "--config", str(cfg)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "pass auth + balances:" in done.stdout
