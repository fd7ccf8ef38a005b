"""Reaching the terminal: the lazy import (a clear error saying how to install), the mt5linux
bridge, the ``exchanges.mt5`` config, and the password kept out of every output."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from genebot.config.loader import hide_secrets, load_config, redacted_dict
from genebot.core.errors import InputError
from genebot.testkit.mt5_standin import Mt5Standin
from genebot.venues.mt5.factory import connect_mt5, is_mt5, magic_of
from genebot.venues.mt5.terminal import TerminalError, load_module

SECRET = "s3cr3t-Pa55"
CONFIG = {
    "exchanges": {
        "mt5": {
            "login": "${MT5_LOGIN}", "password": "${MT5_PASSWORD}", "server": "Broker-Demo",
            "terminal_path": "C:/MT5/terminal64.exe", "bridge": "mt5linux", "host": "127.0.0.1",
            "port": 18812, "server_timezone": "+2",
        }
    }
}  # fmt: skip
ENV = {"MT5_LOGIN": "5012345", "MT5_PASSWORD": SECRET}


def _missing(name: str) -> Any:
    raise ImportError(f"No module named {name!r}")


@pytest.mark.parametrize(
    ("bridge", "package"), [("native", "MetaTrader5"), ("mt5linux", "mt5linux")]
)
def test_a_missing_package_says_how_to_install_it(bridge: str, package: str) -> None:
    with pytest.raises(InputError, match=f"needs the {package} package.*pip install {package}"):
        load_module(bridge, importer=_missing)


def test_the_mt5linux_bridge_is_reached_at_host_and_port() -> None:
    seen: dict[str, Any] = {}

    class Bridge:
        def MetaTrader5(self, host: str, port: int) -> str:
            seen.update(host=host, port=port)
            return "proxy"

    assert load_module("mt5linux", "10.0.0.5", 18813, importer=lambda n: Bridge()) == "proxy"
    assert seen == {"host": "10.0.0.5", "port": 18813}
    with pytest.raises(InputError, match="bridge"):
        load_module("wine")


def test_exchanges_mt5_validates_and_hides_the_password() -> None:
    cfg = load_config(CONFIG, env=ENV)
    entry = cfg.exchanges["mt5"]
    assert (entry.login, entry.server, entry.bridge, entry.port) == (
        5012345, "Broker-Demo", "mt5linux", 18812,
    )  # fmt: skip
    assert entry.password is not None and entry.password.get_secret_value() == SECRET
    assert is_mt5("mt5", entry)
    raw = {"exchanges": {"mt5": {"login": 5012345, "password": SECRET}}}
    for shown in (repr(cfg), str(cfg), str(redacted_dict(cfg)), str(hide_secrets(raw))):
        assert SECRET not in shown
    assert redacted_dict(cfg)["exchanges"]["mt5"]["password"] == "***"


def test_login_never_shows_the_password(caplog: pytest.LogCaptureFixture) -> None:
    cfg = load_config(CONFIG, env=ENV).exchanges["mt5"].model_copy(update={"bridge": "native"})
    mt5 = Mt5Standin.with_eurusd(password=SECRET)
    mt5.set_time("2018-03-06T10:30:00Z")
    caplog.set_level(logging.DEBUG)
    parts = connect_mt5("mt5", cfg, [("EUR/USD", "1h")], "abc123", importer=lambda n: mt5)
    assert parts.account.login == 5012345 and list(parts.instruments) == ["EUR/USD@mt5"]
    assert (
        parts.client.magic == magic_of("genebot:mt5:5012345")
        and parts.client.id_prefix == "gb-abc123-"
    )
    assert all("password" not in str(kw) for _, kw in mt5.calls)
    wrong = cfg.model_copy(update={"password": None})
    with pytest.raises(TerminalError) as err:
        connect_mt5("mt5", wrong, [("EUR/USD", "1h")], "abc123", importer=lambda n: mt5)
    assert "Authorization failed" in str(err.value) and "5012345" in str(err.value)
    assert SECRET not in caplog.text and SECRET not in str(err.value)


def test_a_symbol_the_terminal_lacks_is_named() -> None:
    cfg = load_config(CONFIG, env=ENV).exchanges["mt5"].model_copy(update={"bridge": "native"})
    mt5 = Mt5Standin.with_eurusd(password=SECRET)
    with pytest.raises(InputError, match="no symbol GBPUSD"):
        connect_mt5("mt5", cfg, [("GBP/USD", "1h")], "t", importer=lambda n: mt5)
