"""``genebot exchange``: test an exchange connection (the seed's test_exchange_connection),
list the exchange ids ccxt knows."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genebot.cli.common import console, find_config, guarded, refuse, say

exchange_app = typer.Typer(no_args_is_help=True, help="Exchanges: test a connection, list ids.")
DEFAULT_CONFIGS = (Path("config/trading_bot_config.yaml"), Path("config/backtest.yaml"))
_STYLE = {"pass": "green", "warn": "yellow", "fail": "red"}


def _load(path: Path | None) -> object:
    from genebot.config.loader import load_config

    return load_config(find_config(path, DEFAULT_CONFIGS))


@exchange_app.command("test")
def exchange_test(
    name: Annotated[
        str | None, typer.Argument(help="the exchanges: key (default: the first enabled)")
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML config")] = None,
) -> None:
    """Reachability, clock offset, markets, auth and balances, withdrawal permission."""
    from genebot.services.exchange_check import check_exchange
    from genebot.venues.ccxt.factory import build_exchange

    cfg = guarded(lambda: _load(config))
    exchanges = cfg.exchanges  # type: ignore[attr-defined]
    if name is None:
        name = next((k for k, v in exchanges.items() if v.enabled), None)
        if name is None:
            refuse("the config has no enabled exchange: add one under exchanges: or name it")
    if name not in exchanges:
        known = ", ".join(exchanges) or "none"
        refuse(f"exchange {name!r} is not in the config's exchanges: section (it has: {known})")
    entry = exchanges[name]
    symbols = sorted(
        {
            s
            for strategy in cfg.strategies.values()  # type: ignore[attr-defined]
            if strategy.enabled and name in (strategy.venues or (strategy.venue,))
            for s in strategy.symbols or ()
        }
    )
    exchange = guarded(lambda: build_exchange(name, entry))
    mode = "SANDBOX (testnet)" if entry.sandbox else "LIVE (real money)"
    console.print(f"exchange {name} ({exchange.id}), {mode}", highlight=False)
    checks = check_exchange(exchange, symbols)
    for check in checks:
        say(console, f"{check.outcome:>4}", _STYLE[check.outcome], f"{check.name}: {check.detail}")
    if any(c.outcome == "fail" for c in checks):
        raise typer.Exit(1)


@exchange_app.command("list")
def exchange_list() -> None:
    """Every exchange id ccxt knows (use it as exchange_type)."""
    import ccxt

    console.print(" ".join(ccxt.exchanges), highlight=False, soft_wrap=True)
