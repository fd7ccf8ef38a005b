"""The cross-venue and crypto-forex arbitrage strategies on their bundled (derived, synthetic)
default data: `genebot check lookahead --strategy NAME` needs no data flags, passes, and the
strategy really trades there (a lookahead check on zero orders would prove nothing)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import genebot.backtest as bt
from genebot.backtest.lookahead import check_lookahead
from genebot.config.loader import GenebotConfig, default_data_config, load_config
from genebot.data.catalog import find_data_file, list_data_files

DERIVED = Path("data/sample/derived")
NO_RISK = {
    "backtest": {"initial_cash": 100_000, "fee": 0.001},
    "risk_management": {"enabled": False},
}
STRATEGIES = ["cross_market_arbitrage", "crypto_forex_arbitrage"]


def defaults(name: str, base: str | dict = NO_RISK) -> GenebotConfig:
    cfg = default_data_config(load_config(base), name)
    assert cfg is not None
    return cfg


def test_cross_market_runs_on_binance_and_a_synthetic_second_venue() -> None:
    cfg = defaults("cross_market_arbitrage")
    entry = cfg.strategies["cross_market_arbitrage"]
    assert entry.enabled and entry.venues == ("binance", "venue_b")
    assert {n: cfg.exchanges[n].account_type for n in entry.venues} == {
        "binance": "margin",
        "venue_b": "margin",
    }
    files = {(d.venue, d.file) for d in cfg.backtest.data}
    assert files == {
        ("binance", "data/sample/crypto/binance_BTC-USDT_1m.csv"),
        ("venue_b", "data/sample/derived/venue-b_BTC-USDT_1m.synthetic.csv"),
    }


def test_the_setup_is_merged_over_the_users_config() -> None:
    cfg = defaults("crypto_forex_arbitrage", "config/backtest.yaml")
    assert cfg.backtest.quote_currency == "USD"
    assert cfg.backtest.fill_timing == "next_open"  # the user's, untouched
    assert cfg.risk_management.enabled
    assert [s for s, e in cfg.strategies.items() if e.enabled] == ["crypto_forex_arbitrage"]
    assert cfg.strategies["crypto_forex_arbitrage"].symbols == ("BTC/USD", "BTC/EUR", "EUR/USD")
    cross = defaults("cross_market_arbitrage", "config/backtest.yaml")
    assert cross.exchanges["binance"].sandbox  # merged key by key, not replaced
    assert cross.exchanges["binance"].account_type == "margin"


def test_a_strategy_without_default_data_gets_none(tmp_path: Path) -> None:
    (tmp_path / "mine.py").write_text(
        "from genebot.trading.strategy import Strategy\n\n"
        "class Mine(Strategy):\n    name = 'mine'\n"
    )
    cfg = load_config({"strategies_path": str(tmp_path)})
    assert default_data_config(cfg, "mine") is None
    plain = default_data_config(cfg, "moving_average")  # no default_setup: symbols, timeframe
    assert plain is not None and plain.strategies["moving_average"].timeframes == ("5m",)


@pytest.mark.parametrize("name", STRATEGIES)
def test_lookahead_passes_on_the_default_data(name: str) -> None:
    report = check_lookahead(defaults(name))
    assert report.passed, report.problems
    assert report.bars == 2_880 and len(report.cutoffs) == 4


def test_cross_market_opens_and_closes_hedged_pairs() -> None:
    result = bt.run(defaults("cross_market_arbitrage"))
    assert not result.strategy_errors
    orders = result.orders
    opened = orders[orders.tag == "arbitrage"]
    assert len(opened) >= 8 and (opened.status == "FILLED").all()
    assert set(opened.venue) == {"binance", "venue_b"}
    assert set(result.trades.exit_reason) == {"converged"}
    assert result.stats["open_positions"] == 0
    assert result.stats["final_equity"] > 100_000  # dislocations of 0.7 %+ beat 0.4 % of fees


def test_crypto_forex_completes_cycles() -> None:
    result = bt.run(defaults("crypto_forex_arbitrage"))
    assert not result.strategy_errors
    filled = result.orders[result.orders.status == "FILLED"].tag.value_counts()
    assert filled["leg3"] >= 20  # complete round trips through all three pairs
    assert set(result.orders.symbol) == {"BTC/USD", "BTC/EUR", "EUR/USD"}
    assert result.stats["final_equity"] > 100_000


@pytest.mark.parametrize("name", STRATEGIES)
def test_with_the_shipped_config_it_trades_and_passes(name: str) -> None:
    # As `genebot check lookahead --strategy NAME` runs it from the repository root: the risk
    # engine of config/backtest.yaml denies some legs on the crash day, but orders still fill.
    cfg = defaults(name, "config/backtest.yaml")
    assert (bt.run(cfg).orders.status == "FILLED").sum() >= 10
    assert check_lookahead(cfg).passed


def test_synthetic_files_are_never_found_by_symbol() -> None:
    # Named *.synthetic.csv so that a search for BTC/USDT 1m keeps finding the real file.
    assert not [p for _, _, p in list_data_files("data/sample") if "synthetic" in p.name]
    real = Path("data/sample/crypto/binance_BTC-USDT_1m.csv")
    assert find_data_file("data/sample", "BTC/USDT", "1m") == real


def test_the_generator_rewrites_the_files_byte_for_byte(tmp_path: Path) -> None:
    copy = tmp_path / "derived"
    copy.mkdir()
    (copy / "make_derived.py").write_bytes((DERIVED / "make_derived.py").read_bytes())
    (tmp_path / "crypto").mkdir()
    source = Path("data/sample/crypto/binance_BTC-USDT_1m.csv")
    (tmp_path / "crypto" / source.name).write_bytes(source.read_bytes())
    subprocess.run([sys.executable, str(copy / "make_derived.py")], check=True)
    written = sorted(p.name for p in copy.glob("*.csv"))
    assert written == sorted(p.name for p in DERIVED.glob("*.csv")) and len(written) == 3
    for name in written:
        assert (copy / name).read_bytes() == (DERIVED / name).read_bytes(), name
