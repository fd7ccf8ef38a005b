"""Paper trading's simulated wallet (``paper.starting_balances``), per currency.

The account currency's amount is the strategies' capital: it replaces ``backtest.initial_cash``
(so the sleeves, the orchestrator and the risk engine count from it, as in a backtest of the
same config). Other currencies (``BTC: 0.1``) are deposited in the first venue's account
beside it: a spot sell can use them, and the equity counts them at the mark.
"""

from __future__ import annotations

from decimal import Decimal

from genebot.backtest.recorder import EquityRecorder
from genebot.backtest.setup import RunSetup
from genebot.config.loader import GenebotConfig, load_config
from genebot.core.errors import ConfigError
from genebot.core.precision import to_decimal


def account_currency(cfg: GenebotConfig) -> str | None:
    """The currency ``paper.starting_balances`` funds the strategies in (None: not set)."""
    balances = cfg.paper.starting_balances
    if not balances:
        return None
    configured = cfg.backtest.quote_currency.upper()
    if configured in balances:
        return configured
    if len(balances) == 1:
        return next(iter(balances))
    raise ConfigError(
        f"paper.starting_balances: no {configured} (backtest.quote_currency, the currency the "
        f"strategies' capital is counted in) among {', '.join(sorted(balances))}: add "
        f"{configured}: <amount>, or set backtest.quote_currency to one of them"
    )


def with_starting_balances(cfg: GenebotConfig) -> GenebotConfig:
    """``cfg`` whose initial cash (and account currency) are the wallet's."""
    currency = account_currency(cfg)
    if currency is None:
        return cfg
    amount = (cfg.paper.starting_balances or {})[currency]
    if amount <= 0:
        raise ConfigError(
            f"paper.starting_balances.{currency}: {amount} — the strategies' capital must be "
            "above 0"
        )
    data = cfg.model_dump(by_alias=True)
    data["backtest"]["initial_cash"] = amount
    data["backtest"]["quote_currency"] = currency
    return load_config(data)


def fund_others(cfg: GenebotConfig, setup: RunSetup, recorder: EquityRecorder) -> None:
    """Deposit the wallet's other currencies in the first venue's account (before any step)."""
    currency = account_currency(cfg)
    if currency is None or not setup.venues:
        return
    account = setup.venues[0].account
    for name, amount in sorted((cfg.paper.starting_balances or {}).items()):
        if name != currency and amount > 0:
            account.deposit(0, name, to_decimal(amount))
    recorder.snapshot_initial()


def balances_text(balances: dict[str, Decimal]) -> dict[str, str]:
    return {k: str(v) for k, v in sorted(balances.items()) if v}
