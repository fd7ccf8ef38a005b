"""A ccxt exchange object from one ``exchanges:`` entry, and instruments from its markets.

``build_exchange`` resolves the ccxt id (``exchange_type``, else the config key; an unknown id is
a clear error listing close matches), passes the credentials (never logged), the timeout, the
rate limit (``rate_limit`` is requests per minute; ccxt wants milliseconds between requests)
and ``ccxt_options`` merged over genebot's defaults, rebases every URL on ``base_url`` and
switches to the sandbox when ``sandbox: true`` (the default).
"""

from __future__ import annotations

import difflib
from decimal import Decimal
from typing import Any

import ccxt
import ccxt.async_support
import ccxt.pro

from genebot.core.errors import InputError
from genebot.domain.instrument import Instrument
from genebot.venues.ccxt.urls import rebase_urls

# genebot's defaults, per ccxt id, under the user's ccxt_options. Spot only, and no
# currency listing on load (a private wallet endpoint sandboxes do not serve).
DEFAULT_OPTIONS: dict[str, dict[str, Any]] = {
    "binance": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False},
}
SECRET_FIELDS = ("apiKey", "secret", "password")


def exchange_id(name: str, exchange_type: str | None) -> str:
    """The ccxt id of ``exchanges.<name>``, or an error naming close matches."""
    wanted = (exchange_type or name).lower()
    if wanted in ccxt.exchanges:
        return wanted
    close = difflib.get_close_matches(wanted, ccxt.exchanges, n=4, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}?" if close else "see `genebot exchange list`"
    raise InputError(
        f"exchanges.{name}: {wanted!r} is not an exchange ccxt knows ({hint}); set "
        "exchange_type to a ccxt id"
    )


def ccxt_settings(name: str, cfg: Any) -> dict[str, Any]:
    """The ccxt constructor's dict for one ExchangeConfig (holds secrets: never log it)."""
    xid = exchange_id(name, cfg.exchange_type)
    settings: dict[str, Any] = {
        "enableRateLimit": True,
        "rateLimit": max(1, round(60_000 / cfg.rate_limit)),
        "timeout": round(cfg.timeout * 1000),
        "options": {**DEFAULT_OPTIONS.get(xid, {}), **cfg.ccxt_options},
    }
    for key, secret in zip(
        SECRET_FIELDS, (cfg.api_key, cfg.api_secret, cfg.passphrase), strict=True
    ):
        if secret is not None:
            settings[key] = secret.get_secret_value()
    return settings


def build_exchange(name: str, cfg: Any, *, asynchronous: bool = False, pro: bool = False) -> Any:
    """The ccxt exchange object for ``exchanges.<name>``: sync, ``ccxt.async_support``'s, or
    ``ccxt.pro``'s (async, with websockets)."""
    xid = exchange_id(name, cfg.exchange_type)
    module = ccxt.pro if pro else ccxt.async_support if asynchronous else ccxt
    exchange = getattr(module, xid)(ccxt_settings(name, cfg))
    if cfg.base_url:
        rebase_urls(exchange, cfg.base_url)
    if cfg.sandbox:
        try:
            exchange.set_sandbox_mode(True)
        except ccxt.NotSupported:
            raise InputError(
                f"exchanges.{name}: {xid} has no sandbox (testnet) in ccxt; set sandbox: false "
                "only once you mean to trade with real money"
            ) from None
    return exchange


def streams_klines(name: str, cfg: Any) -> bool:
    """Whether ccxt.pro can stream this exchange's candles (several per connection)."""
    xid = exchange_id(name, cfg.exchange_type)
    klass = getattr(ccxt.pro, xid, None)
    return klass is not None and bool(klass().has.get("watchOHLCVForSymbols"))


def _step(value: Any, precision_mode: int) -> Decimal:
    """A ccxt precision as a step: TICK_SIZE mode gives the step, DECIMAL_PLACES the digits."""
    if value is None:
        return Decimal("0.00000001")
    if precision_mode == ccxt.TICK_SIZE:
        return Decimal(str(value))
    return Decimal(1).scaleb(-int(value))


def instrument_of(market: dict[str, Any], venue: str, precision_mode: int) -> Instrument:
    """genebot's instrument for a ccxt market: steps, minimums and fees from the exchange."""
    limits = market.get("limits") or {}
    amount, cost = limits.get("amount") or {}, limits.get("cost") or {}
    tick = _step(market["precision"].get("price"), precision_mode)
    return Instrument.create(
        market["symbol"],
        venue,
        tick_size=tick,
        lot_size=_step(market["precision"].get("amount"), precision_mode),
        min_quantity=Decimal(str(amount.get("min") or 0)),
        min_notional=Decimal(str(cost.get("min") or 0)),
        maker_fee=Decimal(str(market.get("maker") or "0.001")),
        taker_fee=Decimal(str(market.get("taker") or "0.001")),
        quote_decimals=max(2, -tick.as_tuple().exponent),  # type: ignore[operator]
    )
