"""Seed 003's DEMO mode on a broker's demo account: which account a LiveTrader config trades,
and the check that a DEMO run really is on a demo account.

A config with an enabled exchange account and ``dry_run: false`` trades that account through
the live runtime (orders to the broker's demo server); without one, DEMO is a paper replay.
For MT5 the terminal says what the account is (``account_info().trade_mode``: 0 demo,
1 contest, 2 real): DEMO on a real-money account is refused, so a seed script never trades
real money by mistake. Real money stays with ``genebot run --live`` and its typed
confirmation. A ccxt exchange has no such flag: DEMO needs its ``sandbox: true``.
"""

from __future__ import annotations

from genebot.config.loader import GenebotConfig
from genebot.live.exchange_setup import traded
from genebot.venues.mt5.factory import is_mt5
from genebot.venues.mt5.terminal import connect, load_module, settings_of

ACCOUNT_TRADE_MODE = {0: "demo", 1: "contest", 2: "real"}


def account_of(cfg: GenebotConfig) -> str | None:
    """The exchange entry a config trades on (None: a paper replay)."""
    if cfg.dry_run or not any(e.enabled for e in cfg.exchanges.values()):
        return None
    name, _ = traded(cfg)
    return name


def demo_refusal(cfg: GenebotConfig, name: str) -> str | None:
    """Why a DEMO run may not trade ``exchanges.<name>`` (not a demo account), or None."""
    entry = cfg.exchanges[name]
    if not is_mt5(name, entry):
        if getattr(entry, "sandbox", False):
            return None
        return (
            f"mode DEMO trades exchanges.{name} only on its sandbox (set sandbox: true); real "
            "money goes through `genebot run --live`"
        )
    settings = settings_of(entry)
    mt5 = load_module(settings.bridge, settings.host, settings.port)
    password = entry.password.get_secret_value() if entry.password is not None else None
    try:
        account = connect(mt5, settings, password)
        mode = ACCOUNT_TRADE_MODE.get(int(account.trade_mode), f"mode {account.trade_mode}")
    finally:
        mt5.shutdown()
    if mode == "demo":
        return None
    return (
        f"mode DEMO, but MT5 account {account.login} on {account.server} is a {mode} account: "
        "trade real money with `genebot run --live` (it asks you to confirm the account)"
    )
