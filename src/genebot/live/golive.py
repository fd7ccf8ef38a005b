"""Going live takes three separate yeses: ``genebot run --live``, ``dry_run: false`` in the
config, and a typed confirmation of the exchange and account (for a service with no terminal:
``--yes`` together with ``GENEBOT_LIVE_CONFIRM=1`` in its environment). Any one missing and
nothing is sent: the refusal says which one and how to give it.

The account is named by the API key's last four characters (enough to tell keys apart, not
enough to use one); the secret is never shown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from genebot.config.loader import GenebotConfig
from genebot.core.errors import InputError
from genebot.live.exchange_setup import traded
from genebot.venues.mt5.factory import is_mt5

CONFIRM_ENV = "GENEBOT_LIVE_CONFIRM"


@dataclass(frozen=True)
class GoLive:
    exchange: str
    sandbox: bool
    account: str  # the API key's last four characters
    phrase: str  # what the operator types

    @property
    def banner(self) -> str:
        if self.sandbox:
            return (
                f"SANDBOX: trading on {self.exchange}'s testnet (sandbox: true), key …"
                f"{self.account}: test funds, real orders on the test exchange"
            )
        return (
            f"LIVE: trading REAL MONEY on {self.exchange}, key …{self.account}. "
            "Ctrl-C stops after the current bar; working orders stay on the exchange"
        )


def describe(cfg: GenebotConfig) -> GoLive:
    name, _ = traded(cfg)
    entry = cfg.exchanges[name]
    if is_mt5(name, entry):  # an MT5 account: its login and password
        if entry.login is None or entry.password is None:
            raise InputError(
                f"exchanges.{name}: login and password are needed to trade through MetaTrader "
                "5 (from the environment: login: ${MT5_LOGIN}, password: ${MT5_PASSWORD})"
            )
        login = str(entry.login)
        return GoLive(name, False, login[-4:], f"mt5 {login}")
    key = entry.api_key.get_secret_value() if entry.api_key is not None else ""
    if not key or not entry.api_secret:
        raise InputError(
            f"exchanges.{name}: api_key and api_secret are needed to trade (set them from the "
            f"environment: api_key: ${{{name.upper()}_API_KEY}}); check with "
            f"`genebot exchange test {name}`"
        )
    account = key[-4:]
    return GoLive(name, entry.sandbox, account, f"{name} {account}")


def check(
    cfg: GenebotConfig,
    source: str,
    *,
    yes: bool,
    env: Mapping[str, str],
    ask: Callable[[str], str] | None,
) -> GoLive:
    """The go-live checks in order; returns what is about to trade, or raises why not."""
    if cfg.dry_run:
        raise InputError(
            f"{source}: dry_run is true (the default): set dry_run: false to trade on the "
            "exchange, or run without --live to paper trade"
        )
    target = describe(cfg)
    if yes:
        if env.get(CONFIRM_ENV) != "1":
            raise InputError(
                f"--yes needs {CONFIRM_ENV}=1 in the environment too (for services); at a "
                "terminal, leave --yes out and type the confirmation"
            )
        return target
    if ask is None:
        raise InputError(
            "no terminal to confirm on: type the confirmation at a terminal, or pass --yes "
            f"with {CONFIRM_ENV}=1 in the environment"
        )
    typed = ask(f"{target.banner}\nType '{target.phrase}' to start: ").strip()
    if typed != target.phrase:
        raise InputError(f"confirmation did not match {target.phrase!r}: nothing was sent")
    return target
