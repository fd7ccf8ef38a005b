"""``genebot run --live`` as a user runs it (a subprocess) against the local emulator: the
three yeses (--live, dry_run: false, the confirmation or --yes with GENEBOT_LIVE_CONFIRM=1),
each missing one refused with what to do and nothing sent; the banner; the keys never
printed. The typed confirmation itself is checked in-process (a subprocess has no terminal)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from genebot.config.loader import load_config
from genebot.core.errors import InputError
from genebot.live import golive
from genebot.testkit import run_cli
from genebot.testkit.binance_emulator import BinanceEmulator
from genebot.testkit.ccxt_venue import SYMBOL, funded_emulator


@pytest.fixture
def emu() -> Iterator[BinanceEmulator]:
    with funded_emulator() as emulator:
        first = (int(time.time()) - 40) * 1000
        rows = [[first + k * 1000, 50000, 50001, 49999, 50000, 1] for k in range(100)]
        emulator.add_klines(SYMBOL, "1s", rows)
        yield emulator


def _config(tmp_path: Path, emu: BinanceEmulator, dry_run: bool, sandbox: bool = False) -> Path:
    path = tmp_path / "live.yaml"
    path.write_text(
        f"dry_run: {str(dry_run).lower()}\n"
        "exchanges:\n  binance:\n    api_key: ${GB_EMU_KEY}\n    api_secret: ${GB_EMU_SECRET}\n"
        f"    sandbox: {str(sandbox).lower()}\n    base_url: {emu.url}\n"
        "strategies:\n  moving_average:\n    enabled: true\n    symbols: [BTC/USDT]\n"
        "    timeframes: [1s]\n    parameters: {short_period: 2, long_period: 4}\n"
        "live:\n  warmup_bars: 10\n  poll_delay_s: 0.2\n"
    )
    return path


def _run(
    tmp_path: Path, emu: BinanceEmulator, *args: str, dry_run: bool = False, **env: str
) -> tuple[int, str]:
    environ = {k: v for k, v in os.environ.items() if k != golive.CONFIRM_ENV}
    environ.update(GB_EMU_KEY=emu.api_key, GB_EMU_SECRET=emu.secret, **env)
    cfg = _config(tmp_path, emu, dry_run)
    url = f"sqlite:///{tmp_path / 'live.db'}"
    done = run_cli(
        "run", "--live", "--config", str(cfg), "--database-url", url, *args,
        cwd=tmp_path, env=environ,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def _orders_sent(emu: BinanceEmulator) -> int:
    return sum(1 for m, path, _ in emu.requests if m == "POST" and path.endswith("/order"))


def test_dry_run_true_refuses(tmp_path: Path, emu: BinanceEmulator) -> None:
    code, out = _run(tmp_path, emu, "--yes", dry_run=True, GENEBOT_LIVE_CONFIRM="1")
    assert code == 2, out
    assert "dry_run is true (the default): set dry_run: false" in out
    assert emu.requests == []  # not even connected


def test_no_terminal_and_no_yes_refuses(tmp_path: Path, emu: BinanceEmulator) -> None:
    code, out = _run(tmp_path, emu)
    assert code == 2 and "no terminal to confirm on" in out and emu.requests == []


def test_yes_without_the_environment_variable_refuses(tmp_path: Path, emu: BinanceEmulator) -> None:
    code, out = _run(tmp_path, emu, "--yes")
    assert code == 2 and "--yes needs GENEBOT_LIVE_CONFIRM=1" in out and emu.requests == []


def test_all_three_trade_with_a_banner_and_no_key_printed(
    tmp_path: Path, emu: BinanceEmulator
) -> None:
    code, out = _run(
        tmp_path, emu, "--yes", "--max-bars", "2", "--log-level", "DEBUG",
        GENEBOT_LIVE_CONFIRM="1",
    )  # fmt: skip
    assert code == 0, out
    assert "LIVE: trading REAL MONEY on binance, key …" + emu.api_key[-4:] in out
    assert "(live on binance): 2 bars" in out and "stopped: 2 bars handled" in out
    assert "DEBUG" in out  # every request logged, and still no key
    assert emu.api_key not in out and emu.secret not in out
    assert _orders_sent(emu) == 0  # flat prices: no signal, nothing sent


def test_the_typed_confirmation_names_exchange_and_key(emu: BinanceEmulator) -> None:
    cfg = load_config(
        {
            "dry_run": False,
            "exchanges": {"binance": {"api_key": "k" * 60 + "3f9a", "api_secret": "s" * 64}},
            "strategies": {"moving_average": {"enabled": True, "symbols": [SYMBOL]}},
        }
    )
    prompts: list[str] = []

    def typed(answer: str) -> Callable[[str], str]:
        return lambda prompt: prompts.append(prompt) or answer

    target = golive.check(cfg, "live.yaml", yes=False, env={}, ask=typed("binance 3f9a"))
    assert target.phrase == "binance 3f9a" and target.sandbox  # sandbox: true by default
    assert "Type 'binance 3f9a' to start" in prompts[0] and "SANDBOX" in prompts[0]
    with pytest.raises(InputError, match="confirmation did not match 'binance 3f9a'"):
        golive.check(cfg, "live.yaml", yes=False, env={}, ask=typed("binance"))
    assert all("s" * 64 not in p and "k" * 60 not in p for p in prompts)
