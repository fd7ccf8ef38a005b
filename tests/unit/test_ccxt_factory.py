"""An exchanges: entry becomes a ccxt exchange object: ids checked with close matches, every
REST and websocket URL on base_url (paths kept), options merged over genebot's defaults,
rate_limit as requests per minute, sandbox by default, markets as instruments."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import ccxt
import ccxt.pro
import pytest

from genebot.config.loader import load_config
from genebot.config.models import ExchangeConfig
from genebot.core.errors import InputError
from genebot.venues.ccxt.factory import build_exchange, ccxt_settings, exchange_id, instrument_of
from genebot.venues.ccxt.urls import parse_base_url, rebase_urls

BASE = "http://127.0.0.1:8765"


def _all_urls(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [u for v in node.values() for u in _all_urls(v)]
    return []


def test_every_api_url_moves_to_the_base_host_and_keeps_its_path() -> None:
    ex = ccxt.binance()
    before = _all_urls(ex.urls["api"])
    rebase_urls(ex, BASE)
    after = _all_urls(ex.urls["api"])
    assert len(after) == len(before) > 10
    assert all(u.startswith(BASE + "/") for u in after)
    assert ex.urls["api"]["public"] == BASE + "/api/v3"
    assert ex.urls["api"]["sapi"] == BASE + "/sapi/v1"
    ex.set_sandbox_mode(True)  # the testnet tree was rebased too
    assert ex.urls["api"]["private"] == BASE + "/api/v3"


def test_websocket_urls_stay_websockets() -> None:
    ex = ccxt.pro.binance()
    rebase_urls(ex, "https://127.0.0.1:9443")
    assert ex.urls["api"]["ws"]["spot"] == "wss://127.0.0.1:9443/ws"
    rebase_urls(ex, BASE)
    assert ex.urls["api"]["ws"]["spot"] == "ws://127.0.0.1:8765/ws"


@pytest.mark.parametrize(
    "bad", ["127.0.0.1:80", "ftp://127.0.0.1", "http://127.0.0.1/api/v3", "http://"]
)
def test_a_base_url_that_is_not_a_host_is_a_clear_error(bad: str) -> None:
    with pytest.raises(InputError, match="base_url"):
        parse_base_url(bad)
    with pytest.raises(ValueError, match="base_url"):
        ExchangeConfig(base_url=bad)


def test_unknown_exchange_ids_name_close_matches() -> None:
    assert exchange_id("binance", None) == "binance"
    assert exchange_id("main", "Kraken") == "kraken"
    with pytest.raises(InputError, match=r"exchanges\.binanse: 'binanse' .*did you mean binance"):
        exchange_id("binanse", None)


def test_settings_merge_options_and_convert_the_rate_limit() -> None:
    cfg = ExchangeConfig(
        api_key="k" * 16,
        api_secret="s" * 32,
        rate_limit=600,
        timeout=5,
        ccxt_options={"recvWindow": 10000, "fetchCurrencies": True},
    )
    settings = ccxt_settings("binance", cfg)
    assert settings["rateLimit"] == 100  # 600 a minute: one every 100 ms
    assert settings["timeout"] == 5000
    assert settings["options"] == {
        "fetchMarkets": {"types": ["spot"]},
        "fetchCurrencies": True,  # the user's value wins over the default
        "recvWindow": 10000,
    }
    assert (settings["apiKey"], settings["secret"]) == ("k" * 16, "s" * 32)
    assert "password" not in settings


def test_sandbox_is_the_default_and_base_url_applies() -> None:
    ex = build_exchange("binance", ExchangeConfig(base_url=BASE))
    assert ex.isSandboxModeEnabled
    assert ex.urls["api"]["public"] == BASE + "/api/v3"
    live = build_exchange("binance", ExchangeConfig(sandbox=False))
    assert not live.isSandboxModeEnabled
    assert live.urls["api"]["public"] == ccxt.binance().urls["api"]["public"]  # ccxt's own


def test_seed_layout_reads_base_url_and_ccxt_options(tmp_path: Path) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text(
        "exchanges:\n  binance:\n    api_key: ${GB_TEST_KEY:-}\n    sandbox: true\n"
        f"    base_url: {BASE}\n    ccxt_options: {{recvWindow: 7000}}\n"
    )
    entry = load_config(path).exchanges["binance"]
    assert entry.base_url == BASE and entry.ccxt_options == {"recvWindow": 7000}
    assert entry.api_key is None and entry.sandbox is True


def test_a_market_becomes_an_instrument_with_the_exchange_rules() -> None:
    market = {
        "symbol": "BTC/USDT",
        "precision": {"price": 0.01, "amount": 0.00001},
        "limits": {"amount": {"min": 0.00001}, "cost": {"min": 5.0}},
        "maker": 0.001,
        "taker": 0.001,
    }
    inst = instrument_of(market, "binance", ccxt.TICK_SIZE)
    assert (inst.tick_size, inst.lot_size) == (Decimal("0.01"), Decimal("0.00001"))
    assert (inst.min_quantity, inst.min_notional) == (Decimal("0.00001"), Decimal("5.0"))
    assert inst.minimum_problem(Decimal("0.00002"), Decimal("50000")) is not None
    places = dict(market, precision={"price": 2, "amount": 5})
    assert instrument_of(places, "binance", ccxt.DECIMAL_PLACES).lot_size == Decimal("0.00001")
